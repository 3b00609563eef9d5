// Store::ListDeliveries: newest first, through the index that list_source.h chooses (the
// union of the duplicates of its keys), else backwards through deliveries. Works in
// batches so that no read transaction stays open while the caller's visitor runs.
// Deliveries not yet filed in a batched index (index_batch.h) are merged in by key.
#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <unordered_set>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/list_source.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

constexpr size_t kBatchMatches = 256;   // deliveries handed to the visitor per transaction
constexpr size_t kBatchScanned = 4096;  // records examined per transaction

// The deliveries of one batch. Records are decoded into slots kept from batch to batch:
// a long listing reuses their strings' buffers rather than allocating every record (and,
// for a batch's array past malloc's mmap threshold, mapping and unmapping it) afresh.
// DeliveryReader::Load sets every field of the record it decodes.
class DeliveryBatch {
 public:
  DeliveryBatch() { slots_.reserve(kBatchMatches); }
  // Where to decode the next candidate; Keep() adds it to the batch, else it is reused.
  Delivery& Slot() {
    if (size_ == slots_.size()) slots_.emplace_back();
    return slots_[size_];
  }
  void Keep() { ++size_; }
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  std::span<const Delivery> deliveries() const { return {slots_.data(), size_}; }

 private:
  std::vector<Delivery> slots_;
  size_t size_ = 0;
};

// Where a newest-first scan stands: the next candidates are the keys below `bound`.
struct ScanState {
  std::optional<record::DeliveryKeyBytes> bound;
  bool done = false;
};

// Appends up to `want` matching deliveries below state->bound to `out`, advancing the
// state: a newest-first walk through every delivery.
Status ScanDeliveriesBatch(const OpenArchive& archive, const index::PreparedFilter& filter,
                           size_t want, ScanState* state, DeliveryBatch* out) {
  const internal::DeliveryReader reader(archive);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();

  const std::optional<record::DeliveryKeyBytes> bound = state->bound;  // the visitor moves it
  std::optional<std::string_view> below;
  if (bound) below = std::string_view(bound->data(), bound->size());
  size_t scanned = 0;
  bool batch_full = false;
  Status walked = internal::WalkBackwardsBelow(
      *txn, archive.db.deliveries, std::nullopt, below,
      [&](std::string_view key, std::string_view value, bool* stop) {
        Delivery& delivery = out->Slot();
        // An undecodable key is skipped (Verify reports it), not counted as scanned.
        if (!record::DecodeDeliveryKey(key, &delivery.key)) return Status::Ok();
        if (delivery.key.received_us < filter.since_us) {
          *stop = true;
          return Status::Ok();
        }
        state->bound.emplace();
        std::copy(key.begin(), key.end(), state->bound->begin());
        if (reader
                .Load(*txn, value, &delivery.record, record::TraceDecoding::kSkip,
                      filter.load_headers)
                .ok() &&
            filter.Matches(delivery.record)) {
          out->Keep();
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

// The next `want` candidates below `below` (none: from the newest): the union of the
// duplicates of source.keys at or after `since_us`, newest first. *more: there may be
// candidates past them.
Status NextCandidates(const lmdb::Txn& txn, const internal::ListSource& source,
                      std::optional<std::string_view> below, uint64_t since_us, size_t want,
                      std::vector<record::DeliveryKeyBytes>* candidates, bool* more) {
  for (const std::string& index_key : source.keys) {
    size_t taken = 0;
    Status walked = internal::WalkBackwardsBelow(
        txn, source.dbi, index_key, below,
        [&](std::string_view, std::string_view value, bool* stop) {
          DeliveryKey key;
          // An undecodable value is skipped (Verify reports its delivery's missing entry).
          if (!record::DecodeDeliveryKey(value, &key)) return Status::Ok();
          *stop = key.received_us < since_us;
          if (*stop) return Status::Ok();
          candidates->push_back(record::EncodeDeliveryKey(key));
          *stop = ++taken == want;
          *more |= *stop;
          return Status::Ok();
        },
        "list deliveries");
    if (!walked.ok()) return walked;
  }
  // Byte order, as LMDB sorts them (char may be signed: no operator< of the arrays).
  std::sort(candidates->begin(), candidates->end(),
            [](const record::DeliveryKeyBytes& a, const record::DeliveryKeyBytes& b) {
              return std::memcmp(a.data(), b.data(), a.size()) > 0;
            });
  candidates->erase(std::unique(candidates->begin(), candidates->end()), candidates->end());
  if (candidates->size() > want) {
    candidates->resize(want);
    *more = true;
  }
  return Status::Ok();
}

// ScanDeliveriesBatch's work through an index: up to `want` candidates per transaction,
// each read and matched.
Status ScanIndexBatch(const OpenArchive& archive, const internal::ListSource& source,
                      const index::PreparedFilter& filter, size_t want, ScanState* state,
                      DeliveryBatch* out) {
  const internal::DeliveryReader reader(archive);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  std::optional<std::string_view> below;
  if (state->bound) below = std::string_view(state->bound->data(), state->bound->size());
  std::vector<record::DeliveryKeyBytes> candidates;
  bool more = false;
  Status found = NextCandidates(*txn, source, below, filter.since_us, want, &candidates, &more);
  if (!found.ok()) return found;
  for (const record::DeliveryKeyBytes& key : candidates) {
    Delivery& delivery = out->Slot();
    const std::string_view key_bytes(key.data(), key.size());
    std::string_view stored;
    if (record::DecodeDeliveryKey(key_bytes, &delivery.key) &&
        txn->Get(archive.db.deliveries, key_bytes, &stored).ok() &&
        reader
            .Load(*txn, stored, &delivery.record, record::TraceDecoding::kSkip, filter.load_headers)
            .ok() &&
        filter.Matches(delivery.record))
      out->Keep();
  }
  if (!candidates.empty()) state->bound = candidates.back();
  state->done = !more;
  return Status::Ok();
}

// The deliveries of `unindexed` that the filter matches, for a walk through an index the
// batches fill (not idx_source, which is filed at once): read in one transaction first.
struct Unindexed {
  std::vector<Delivery> matches;         // newest first
  std::unordered_set<std::string> keys;  // every listed key: skipped in the index walk
  size_t next = 0;                       // matches[next] is the next one to hand out

  Status Read(const OpenArchive& archive, const index::PreparedFilter& filter) {
    const internal::DeliveryReader reader(archive);
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
    if (!txn.ok()) return txn.status();
    return internal::UnindexedMatches(*txn, archive, reader, filter, &matches, &keys);
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

  internal::ListSource source;
  if (Status chosen = internal::ChooseListSource(archive, prepared, &source); !chosen.ok())
    return chosen;
  if (source.nothing) return Status::Ok();

  // A filter no index serves reads record after record backwards: with the kernel's
  // read-around (the environment has no read-ahead, for lookups).
  std::optional<lmdb::ScanAdvice> advice;
  if (source.dbi == archive.db.deliveries &&
      (!prepared.subject.empty() || !prepared.mailbox.empty()))
    advice.emplace(archive.env, lmdb::MapAccess::kNormal);

  Unindexed unindexed;
  if (source.batched) {
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
  DeliveryBatch batch;
  while (!state.done) {
    size_t want = kBatchMatches;
    if (filter.limit != 0)
      want = static_cast<size_t>(std::min<uint64_t>(want, filter.limit - visited));
    batch.Clear();
    Status scanned = source.indexed
                         ? ScanIndexBatch(archive, source, prepared, want, &state, &batch)
                         : ScanDeliveriesBatch(archive, prepared, want, &state, &batch);
    if (!scanned.ok()) return scanned;
    for (const Delivery& delivery : batch.deliveries()) {
      if (unindexed.Listed(delivery.key)) continue;  // filed since: handed out from the list
      if (!hand_out_unindexed(&delivery.key) || !hand_out(delivery)) return Status::Ok();
    }
  }
  hand_out_unindexed(nullptr);
  return Status::Ok();
}

}  // namespace archiver
