// Store::ListDeliveries: newest first, through idx_rcpt, idx_from, idx_user or idx_source
// when the filter names one, else backwards through deliveries. Works in batches so that
// no read transaction stays open while the caller's visitor runs. Deliveries not yet
// filed in idx_rcpt / idx_from / idx_user (index_batch.h) are merged in by key.
#include <algorithm>
#include <optional>
#include <unordered_set>

#include "archiver/store/store.h"
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

// Puts the cursor on the greatest candidate below state.bound (or the last one).
int PositionBelowBound(lmdb::Cursor& cursor, const Source& source, const ScanState& state,
                       MDB_val* key, MDB_val* value) {
  if (source.index_key) {
    *key = lmdb::ToVal(*source.index_key);
    int rc = cursor.Get(key, value, MDB_SET_KEY);
    if (rc != 0 || !state.bound) return rc == 0 ? cursor.Get(key, value, MDB_LAST_DUP) : rc;
    *value = lmdb::ToVal({state.bound->data(), state.bound->size()});
    rc = cursor.Get(key, value, MDB_GET_BOTH_RANGE);  // first dup >= bound
    if (rc == 0) return cursor.Get(key, value, MDB_PREV_DUP);
    if (rc != MDB_NOTFOUND) return rc;
    *key = lmdb::ToVal(*source.index_key);  // every dup is below the bound
    rc = cursor.Get(key, value, MDB_SET_KEY);
    return rc == 0 ? cursor.Get(key, value, MDB_LAST_DUP) : rc;
  }
  if (!state.bound) return cursor.Get(key, value, MDB_LAST);
  *key = lmdb::ToVal({state.bound->data(), state.bound->size()});
  int rc = cursor.Get(key, value, MDB_SET_RANGE);  // first key >= bound
  if (rc == 0) return cursor.Get(key, value, MDB_PREV);
  return rc == MDB_NOTFOUND ? cursor.Get(key, value, MDB_LAST) : rc;
}

// Appends up to `want` matching deliveries below state->bound to `out`, advancing the state.
Status ScanBatch(const OpenArchive& archive, const Source& source,
                 const index::PreparedFilter& filter, size_t want, ScanState* state,
                 std::vector<Delivery>* out) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(*txn, source.dbi);
  if (!cursor.ok()) return cursor.status();

  MDB_val key = {}, value = {};
  int rc = PositionBelowBound(*cursor, source, *state, &key, &value);
  const MDB_cursor_op previous = source.index_key ? MDB_PREV_DUP : MDB_PREV;
  for (size_t scanned = 0; rc == 0; rc = cursor->Get(&key, &value, previous)) {
    std::string_view key_bytes = lmdb::ToView(source.index_key ? value : key);
    Delivery delivery;
    if (!record::DecodeDeliveryKey(key_bytes, &delivery.key)) continue;  // Verify reports it
    if (delivery.key.received_us < filter.since_us) {
      state->done = true;
      return Status::Ok();
    }
    state->bound.emplace();
    std::copy(key_bytes.begin(), key_bytes.end(), state->bound->begin());

    std::string_view stored = lmdb::ToView(value);
    bool readable = !source.index_key || txn->Get(archive.db.deliveries, key_bytes, &stored).ok();
    if (readable && record::DecodeDelivery(stored, &delivery.record).ok() &&
        filter.Matches(delivery.record)) {
      out->push_back(std::move(delivery));
    }
    if (out->size() >= want || ++scanned >= kBatchScanned) return Status::Ok();
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "list deliveries");
  state->done = true;
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
