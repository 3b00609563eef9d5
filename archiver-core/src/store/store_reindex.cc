// Store::ReindexStep: the resumable backfill of idx_mailbox and idx_subject in an archive
// written before they existed (content_indexes.h), in short write transactions.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "store/content_indexes.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

// The next deliveries to file: up to `max` from `position` (the first when empty), copied
// out of the map. *next: the key to resume from, none when the walk reached the end.
// Records that do not decode are passed over (verify reports them).
Status ReadNextDeliveries(const lmdb::Txn& txn, const OpenArchive& archive,
                          const std::string& position, size_t max,
                          std::vector<std::pair<std::string, DeliveryRecord>>* batch,
                          std::optional<std::string>* next) {
  size_t visited = 0;
  return internal::WalkEntries(
      txn, archive.db.deliveries, position.empty() ? MDB_FIRST : MDB_SET_RANGE, position, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool* stop) {
        if (visited++ == max) {
          next->emplace(key);
          *stop = true;
          return Status::Ok();
        }
        DeliveryRecord record;
        if (record::DecodeDelivery(value, &record).ok())
          batch->emplace_back(std::string(key), std::move(record));
        return Status::Ok();
      },
      "read deliveries to reindex");
}

// After the last delivery: the indexes are complete, and writers of an older format must
// no longer write (they would file no content entries).
Status FinishBackfill(const OpenArchive& archive, lmdb::Txn& txn) {
  Status status = internal::DeleteEntry(txn, archive.db.meta, internal::kReindexPositionKey);
  if (status.ok()) status = internal::MarkContentIndexed(txn, archive.db.meta);
  if (status.ok()) status = internal::RaiseFormatVersion(archive, txn);
  return status;
}

}  // namespace

Result<ReindexProgress> Store::ReindexStep(size_t max_deliveries) {
  OpenArchive& archive = impl_->archive;
  if (max_deliveries == 0) return Status::InvalidArgument("reindex step of 0 deliveries");
  Result<const internal::ContentIndexes*> content = internal::OpenContentIndexes(archive.env, true);
  if (!content.ok()) return content.status();
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  Result<bool> complete = internal::ContentIndexesComplete(*txn, archive.db.meta);
  if (!complete.ok()) return complete.status();
  if (*complete) return ReindexProgress{0, true};  // nothing written: aborted

  std::string position;
  std::string_view stored;
  Status found = txn->Get(archive.db.meta, internal::kReindexPositionKey, &stored);
  if (found.ok())
    position.assign(stored);
  else if (found.code() != Status::Code::kNotFound)
    return found;
  std::vector<std::pair<std::string, DeliveryRecord>> batch;
  std::optional<std::string> next;
  Status status = ReadNextDeliveries(*txn, archive, position, max_deliveries, &batch, &next);
  const std::string what = "reindex deliveries";
  for (size_t i = 0; status.ok() && i < batch.size(); ++i) {
    const std::string& key = batch[i].first;         // not a structured binding: the lambda
    const DeliveryRecord& record = batch[i].second;  // captures it (clang < 16 cannot)
    status = internal::ForEachContentEntry(
        **content, record, [&](MDB_dbi dbi, const char*, std::string entry) {
          return internal::PutEntry(*txn, dbi, index::FitKey(entry, archive.max_key_size), key,
                                    what);
        });
  }
  if (status.ok() && next) {
    status = internal::PutEntry(*txn, archive.db.meta, internal::kReindexPositionKey, *next, what);
  } else if (status.ok()) {
    status = FinishBackfill(archive, *txn);
  }
  if (status.ok()) status = txn->Commit(what);
  if (!status.ok()) return status;
  return ReindexProgress{batch.size(), !next.has_value()};
}

}  // namespace archiver
