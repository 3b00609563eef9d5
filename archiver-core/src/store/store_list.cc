// Store::ListDeliveries: newest first, through idx_rcpt, idx_from, idx_user or idx_source
// when the filter names one, else backwards through deliveries. Works in batches so that
// no read transaction stays open while the caller's visitor runs. Deliveries not yet
// filed in idx_rcpt / idx_from / idx_user (index_batch.h) are merged in by key.
#include <algorithm>
#include <optional>
#include <unordered_set>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

constexpr size_t kBatchMatches = 256;   // deliveries handed to the visitor per transaction
constexpr size_t kBatchScanned = 4096;  // records examined per transaction

// Where a newest-first scan stands: the next candidates are the keys below `bound`.
struct ScanState {
  std::optional<record::DeliveryKeyBytes> bound;
  bool done = false;
};

// The candidates: the dup values (delivery keys) of one index key, or all deliveries.
struct Source {
  MDB_dbi dbi;
  std::optional<std::string> index_key;
};

// Appends up to `want` matching deliveries below state->bound to `out`, advancing the state.
Status ScanBatch(const OpenArchive& archive, const Source& source,
                 const index::PreparedFilter& filter, size_t want, ScanState* state,
                 std::vector<Delivery>* out) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();

  const std::optional<record::DeliveryKeyBytes> bound = state->bound;  // the visitor moves it
  std::optional<std::string_view> below;
  if (bound) below = std::string_view(bound->data(), bound->size());
  size_t scanned = 0;
  bool batch_full = false;
  Status walked = internal::WalkBackwardsBelow(
      *txn, source.dbi, source.index_key, below,
      [&](std::string_view key, std::string_view value, bool* stop) {
        std::string_view key_bytes = source.index_key ? value : key;
        Delivery delivery;
        // An undecodable key is skipped (Verify reports it), not counted as scanned.
        if (!record::DecodeDeliveryKey(key_bytes, &delivery.key)) return Status::Ok();
        if (delivery.key.received_us < filter.since_us) {
          *stop = true;
          return Status::Ok();
        }
        state->bound.emplace();
        std::copy(key_bytes.begin(), key_bytes.end(), state->bound->begin());

        std::string_view stored = value;
        bool readable =
            !source.index_key || txn->Get(archive.db.deliveries, key_bytes, &stored).ok();
        if (readable && record::DecodeDelivery(stored, &delivery.record).ok() &&
            filter.Matches(delivery.record)) {
          out->push_back(std::move(delivery));
        }
        batch_full = out->size() >= want || ++scanned >= kBatchScanned;
        *stop = batch_full;
        return Status::Ok();
      },
      "list deliveries");
  if (!walked.ok()) return walked;
  if (!batch_full) state->done = true;  // below since, or no candidate left
  return Status::Ok();
}

// The deliveries of `unindexed` that the filter matches, for a walk through an index the
// batches fill (not idx_source, which is filed at once): read in one transaction first.
struct Unindexed {
  std::vector<Delivery> matches;     // newest first
  std::unordered_set<std::string> keys;  // every listed key: skipped in the index walk
  size_t next = 0;                   // matches[next] is the next one to hand out

  Status Read(const OpenArchive& archive, const index::PreparedFilter& filter) {
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
    if (!txn.ok()) return txn.status();
    return internal::UnindexedMatches(*txn, archive, filter, &matches, &keys);
  }
  bool Listed(const DeliveryKey& key) const {
    if (keys.empty()) return false;
    record::DeliveryKeyBytes bytes = record::EncodeDeliveryKey(key);
    return keys.count(std::string(bytes.data(), bytes.size())) != 0;
  }
};

}  // namespace

Status Store::ListDeliveries(const ListFilter& filter,
                             const std::function<bool(const Delivery&)>& visit) const {
  const OpenArchive& archive = impl_->archive;
  const index::PreparedFilter prepared(filter);
  if (prepared.since_us >= prepared.until_us) return Status::Ok();

  Source source{archive.db.deliveries, std::nullopt};
  if (!prepared.rcpt.empty()) {
    source = {archive.db.idx_rcpt, std::string(index::FitKey(prepared.rcpt, archive.max_key_size))};
  } else if (!prepared.from.empty()) {
    source = {archive.db.idx_from, std::string(index::FitKey(prepared.from, archive.max_key_size))};
  } else if (!prepared.user.empty()) {
    source = {archive.db.idx_user, std::string(index::FitKey(prepared.user, archive.max_key_size))};
  } else if (!prepared.source.empty()) {
    Result<const internal::SourceIndex*> index = internal::OpenSourceIndex(archive.env, false);
    if (!index.ok()) return index.status();
    if (*index == nullptr) return Status::Ok();  // no source ever wrote to this archive
    source = {(*index)->idx_source,
              std::string(index::FitKey(prepared.source, archive.max_key_size))};
  }

  // A filter no index serves reads record after record backwards: with the kernel's
  // read-around (the environment has no read-ahead, for lookups).
  std::optional<lmdb::ScanAdvice> advice;
  if (source.dbi == archive.db.deliveries && (!prepared.subject.empty() || !prepared.mailbox.empty()))
    advice.emplace(archive.env, lmdb::MapAccess::kNormal);

  Unindexed unindexed;
  const internal::Databases& db = archive.db;
  if (source.dbi == db.idx_rcpt || source.dbi == db.idx_from || source.dbi == db.idx_user) {
    Status read = unindexed.Read(archive, prepared);
    if (!read.ok()) return read;
  }
  uint64_t visited = 0;
  // False once the caller or the limit stops the listing.
  auto hand_out = [&](const Delivery& delivery) {
    return visit(delivery) && (filter.limit == 0 || ++visited < filter.limit);
  };
  // Hands out the unindexed matches newer than `key` (all of them when null).
  auto hand_out_unindexed = [&](const DeliveryKey* key) {
    for (; unindexed.next < unindexed.matches.size(); ++unindexed.next) {
      const Delivery& delivery = unindexed.matches[unindexed.next];
      if (key != nullptr && delivery.key <= *key) return true;
      if (!hand_out(delivery)) return false;
    }
    return true;
  };

  ScanState state;
  if (prepared.until_us != UINT64_MAX)
    state.bound = record::EncodeDeliveryKey({prepared.until_us, 0});
  while (!state.done) {
    size_t want = kBatchMatches;
    if (filter.limit != 0)
      want = static_cast<size_t>(std::min<uint64_t>(want, filter.limit - visited));
    std::vector<Delivery> batch;
    Status scanned = ScanBatch(archive, source, prepared, want, &state, &batch);
    if (!scanned.ok()) return scanned;
    for (const Delivery& delivery : batch) {
      if (unindexed.Listed(delivery.key)) continue;  // filed since: handed out from the list
      if (!hand_out_unindexed(&delivery.key) || !hand_out(delivery)) return Status::Ok();
    }
  }
  hand_out_unindexed(nullptr);
  return Status::Ok();
}

}  // namespace archiver
