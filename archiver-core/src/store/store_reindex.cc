// The resumable upgrades of an archive written by older software, in short write
// transactions while deliveries go on: Store::ReindexStep, the backfill of idx_mailbox and
// idx_subject (content_indexes.h), and Store::CompactRecordsStep, the rewrite of delivery
// records of versions 1 and 2 in the compact version 3 (message_headers.h). Each walks the
// deliveries oldest first from a position kept in meta.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "store/content_indexes.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

// One step's deliveries: (key, value) copied out of the map, and where the next step
// resumes (none: this step reaches the end).
struct StepBatch {
  std::vector<std::pair<std::string, std::string>> entries;
  std::optional<std::string> next;
};

// Up to `max` deliveries from meta `position_key` (the first delivery when it is absent).
Status ReadStep(const lmdb::Txn& txn, const OpenArchive& archive, std::string_view position_key,
                size_t max, StepBatch* batch) {
  std::string position;
  std::string_view stored;
  Status found = txn.Get(archive.db.meta, position_key, &stored);
  if (found.ok())
    position.assign(stored);
  else if (found.code() != Status::Code::kNotFound)
    return found;
  return internal::WalkEntries(
      txn, archive.db.deliveries, position.empty() ? MDB_FIRST : MDB_SET_RANGE, position, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool* stop) {
        if (batch->entries.size() == max) {
          batch->next.emplace(key);
          *stop = true;
        } else {
          batch->entries.emplace_back(std::string(key), std::string(value));
        }
        return Status::Ok();
      },
      "read deliveries to upgrade");
}

// After a step: the position the next one resumes from, or at the end no position and
// `finish` (marks the upgrade complete).
template <typename Finish>
Status EndStep(const OpenArchive& archive, lmdb::Txn& txn, std::string_view position_key,
               const StepBatch& batch, std::string_view what, Finish finish) {
  if (batch.next) return internal::PutEntry(txn, archive.db.meta, position_key, *batch.next, what);
  Status status = internal::DeleteEntry(txn, archive.db.meta, position_key);
  if (status.ok()) status = finish();
  if (status.ok()) status = internal::RaiseFormatVersion(archive, txn);
  return status;
}

Status CheckStepSize(size_t max_deliveries) {
  return max_deliveries == 0 ? Status::InvalidArgument("upgrade step of 0 deliveries")
                             : Status::Ok();
}

}  // namespace

Result<ReindexProgress> Store::ReindexStep(size_t max_deliveries) {
  OpenArchive& archive = impl_->archive;
  if (Status size = CheckStepSize(max_deliveries); !size.ok()) return size;
  Result<const internal::ContentIndexes*> content = internal::OpenContentIndexes(archive.env, true);
  if (!content.ok()) return content.status();
  const internal::DeliveryReader reader(archive);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  Result<bool> complete = internal::ContentIndexesComplete(*txn, archive.db.meta);
  if (!complete.ok()) return complete.status();
  if (*complete) return ReindexProgress{0, true};  // nothing written: aborted

  StepBatch batch;
  Status status = ReadStep(*txn, archive, internal::kReindexPositionKey, max_deliveries, &batch);
  const std::string what = "reindex deliveries";
  for (size_t i = 0; status.ok() && i < batch.entries.size(); ++i) {
    const std::string& key = batch.entries[i].first;  // not a structured binding: the lambda
    DeliveryRecord record;                            // captures it (clang < 16 cannot)
    // A record that does not decode is passed over (verify reports it).
    if (!reader.Load(*txn, batch.entries[i].second, &record, record::TraceDecoding::kSkip).ok())
      continue;
    status = internal::ForEachContentEntry(
        **content, record, [&](MDB_dbi dbi, const char*, std::string entry) {
          return internal::PutEntry(*txn, dbi, index::FitKey(entry, archive.max_key_size), key,
                                    what);
        });
  }
  if (status.ok()) {
    status = EndStep(archive, *txn, internal::kReindexPositionKey, batch, what,
                     [&] { return internal::MarkContentIndexed(*txn, archive.db.meta); });
  }
  if (status.ok()) status = txn->Commit(what);
  if (!status.ok()) return status;
  return ReindexProgress{batch.entries.size(), !batch.next.has_value()};
}

Result<CompactProgress> Store::CompactRecordsStep(size_t max_deliveries) {
  OpenArchive& archive = impl_->archive;
  if (Status size = CheckStepSize(max_deliveries); !size.ok()) return size;
  Result<const internal::MessageHeadersDb*> headers =
      internal::OpenMessageHeaders(archive.env, true);
  if (!headers.ok()) return headers.status();
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  Result<bool> compact = internal::RecordsCompact(*txn, archive.db.meta);
  if (!compact.ok()) return compact.status();
  if (*compact) return CompactProgress{0, 0, true};  // nothing written: aborted

  StepBatch batch;
  Status status = ReadStep(*txn, archive, internal::kCompactPositionKey, max_deliveries, &batch);
  const std::string what = "compact delivery records";
  // The rewritten records are deleted first and put back after, in key order: their
  // pages empty and merge, and the new values fill fresh ones (rewritten in place, a page
  // of old records would keep a quarter of its space in use).
  std::vector<std::pair<std::string_view, std::string>> rewritten;
  for (const auto& [key, value] : batch.entries) {
    DeliveryRecord record;
    // A record of version 3 stays; one that does not decode too (verify reports it).
    if (!status.ok()) break;
    if (!record::DeliveryHoldsHeaders(value) || !record::DecodeDelivery(value, &record).ok())
      continue;
    status = internal::PutMessageHeaders(*txn, **headers, record.id, record.headers, what);
    if (status.ok()) status = internal::DeleteEntry(*txn, archive.db.deliveries, key);
    rewritten.emplace_back(key, record::EncodeDelivery(record));
  }
  for (size_t i = 0; status.ok() && i < rewritten.size(); ++i) {
    status = internal::PutEntry(*txn, archive.db.deliveries, rewritten[i].first,
                                rewritten[i].second, what);
  }
  if (status.ok()) {
    status = EndStep(archive, *txn, internal::kCompactPositionKey, batch, what,
                     [&] { return internal::MarkRecordsCompact(*txn, archive.db.meta); });
  }
  if (status.ok()) status = txn->Commit(what);
  if (!status.ok()) return status;
  return CompactProgress{batch.entries.size(), rewritten.size(), !batch.next.has_value()};
}

}  // namespace archiver
