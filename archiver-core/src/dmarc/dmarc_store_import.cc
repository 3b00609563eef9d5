// DmarcStore::ImportAggregate: a report streamed from the parser into dmarc_records in
// batches. Records are encoded into a buffer while parsing and written in one short
// write transaction per batch (LMDB's write lock is shared with every delivering
// process, so it is never held while parsing). The first commit claims the report's
// dedup key with an "importing" value; the last makes it complete and indexes it, so a
// report is invisible to queries until then. The per-source rollups (dmarc_rollup.h)
// are gathered while parsing (spilled to a temporary file past max_pending_sources,
// dmarc_rollup_gather.h) and written, appended, with the last records: in the last
// commit, or in the last few when they were spilled, so that the report becomes
// complete with them. An importing report whose owner is gone is deleted by the next
// import of the same report. Under a DmarcStore::Bulk a report that fits in one batch is
// written into the bulk's transaction instead (claimed and completed at once); a larger
// one commits the bulk and goes on alone.
#include <unistd.h>

#include <optional>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/time_format.h"
#include "dmarc/dmarc_import_owner.h"
#include "dmarc/dmarc_rollup.h"
#include "dmarc/dmarc_rollup_gather.h"
#include "dmarc/dmarc_store_bulk.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;
using internal::DmarcBulkTxn;
using internal::DmarcDatabases;
using internal::DmarcDbs;

// Who holds a dedup key.
struct KeyHolder {
  enum Kind { kFree, kOurs, kComplete, kBusy, kStale } kind = kFree;
  uint64_t id = 0;
  uint64_t owner_pid = 0;
};

// Stops the parse when the report turns out to be stored already (never returned).
Status DuplicateFound() { return Status::NotFound("duplicate report"); }

class AggregateImporter {
 public:
  AggregateImporter(lmdb::ArchiveEnv& archive, DmarcBulkTxn* bulk,
                    const DmarcImportOptions& options, const DmarcOrigin& origin)
      : archive_(archive),
        bulk_(bulk),
        db_(DmarcDbs(archive)),
        options_(options),
        origin_(origin),
        rollup_(archive.path(), options.max_pending_sources) {
    if (options_.batch_records == 0) options_.batch_records = 1;
    if (options_.max_pending_sources == 0) options_.max_pending_sources = 1;  // (as rollup_)
  }
  ~AggregateImporter() { Register(false); }
  AggregateImporter(const AggregateImporter&) = delete;
  AggregateImporter& operator=(const AggregateImporter&) = delete;

  Result<DmarcImportResult> Run(InputSource& xml) {
    // The bulk's lock is held while this report is parsed: not for long past its limits.
    if (bulk_ != nullptr) {
      Status due = bulk_->CommitIfDue();
      if (!due.ok()) return due;
    }
    Result<AggregateSummary> summary = ParseAggregateReport(
        xml, options_.limits, [this](const AggregateReportMeta& meta) { return OnMeta(meta); },
        [this](const AggregateRecord& record) { return OnRecord(record); });
    Status status = summary.ok() ? Flush(&*summary) : summary.status();
    if (!status.ok() || duplicate_) Abandon();
    DmarcImportResult result;
    if (duplicate_) {
      result.outcome = DmarcImportOutcome::kDuplicate;
      result.id = duplicate_id_;
      return result;
    }
    if (!status.ok()) return status;
    result.id = id_;
    result.records = stored_index_;
    result.messages = tally_.messages;
    result.recovered = summary->recovered;
    return result;
  }

 private:
  // Stops early (before parsing the records) when a complete copy is stored already.
  Status OnMeta(const AggregateReportMeta& meta) {
    meta_ = meta;
    key_ = codec::ReportDedupKey(meta);
    // Pending writes of a bulk count: the same report twice in one bulk is a duplicate.
    lmdb::Txn* bulk_txn = bulk_ != nullptr ? bulk_->open() : nullptr;
    lmdb::Txn txn;
    if (bulk_txn == nullptr) {
      bool present = false;
      Status begun = internal::BeginDmarcRead(archive_, &txn, &present);
      if (!begun.ok() || !present) return begun;
    }
    KeyHolder holder;
    Status resolved = Resolve(bulk_txn != nullptr ? *bulk_txn : txn, key_, &holder);
    if (!resolved.ok()) return resolved;
    if (holder.kind != KeyHolder::kComplete) return Status::Ok();
    duplicate_ = true;
    duplicate_id_ = holder.id;
    return DuplicateFound();
  }

  Status OnRecord(const AggregateRecord& record) {
    if (buffered_index() == UINT32_MAX) {
      return Status::LimitExceeded("a report of more than 4294967295 records");
    }
    codec::EncodeRecord(record, &batch_);
    batch_ends_.push_back(batch_.size());
    codec::CountRecord(record.count, record.disposition, record.dkim, record.spf, &tally_);
    Status gathered =
        rollup_.Add(record.source_ip, record.count, record.disposition, record.dkim, record.spf);
    if (!gathered.ok()) return gathered;
    if (batch_ends_.size() < options_.batch_records) return Status::Ok();
    return Flush(nullptr);
  }

  uint64_t buffered_index() const { return stored_index_ + batch_ends_.size(); }

  Status Resolve(const lmdb::Txn& txn, const MessageId& key, KeyHolder* holder) const {
    std::string_view value;
    Status found = txn.Get(db_.report_keys, codec::View(key), &value);
    if (found.code() == Status::Code::kNotFound) return Status::Ok();
    if (!found.ok()) return found;
    if (!codec::DecodeId(value, &holder->id)) {
      return Status::Corruption("dmarc_report_keys value is not 8 bytes");
    }
    found = txn.Get(db_.reports, codec::View(codec::EncodeId(holder->id)), &value);
    if (found.code() == Status::Code::kNotFound) {
      holder->kind = KeyHolder::kStale;  // a key without its report: drop it
      return Status::Ok();
    }
    if (!found.ok()) return found;
    codec::StoredReport stored;
    Status decoded = codec::DecodeReport(value, &stored);
    if (!decoded.ok()) return decoded.Annotated("DMARC report " + std::to_string(holder->id));
    holder->owner_pid = stored.owner_pid;
    if (!stored.importing) {
      holder->kind = KeyHolder::kComplete;
    } else if (holder->id == id_) {
      holder->kind = KeyHolder::kOurs;
    } else {
      holder->kind = internal::ImportOwnerAlive(archive_, holder->id, stored) ? KeyHolder::kBusy
                                                                              : KeyHolder::kStale;
    }
    return Status::Ok();
  }

  // Deletes up to batch_records records of the importing report `id` and as many of
  // its rollup entries, and the report and `key` once none are left (*gone).
  Status DeleteSome(lmdb::Txn& txn, uint64_t id, const MessageId& key, bool* gone) {
    bool rollups_gone = false;
    Status rollups = internal::DeleteRollups(txn, internal::RollupDb(archive_), id,
                                             options_.batch_records, &rollups_gone);
    if (!rollups.ok()) return rollups;
    std::vector<codec::RecordKey> doomed;
    Status listed =
        internal::ForEachRecord(txn, db_, id, [&](uint32_t index, std::string_view, bool* stop) {
          doomed.push_back(codec::EncodeRecordKey(id, index));
          *stop = doomed.size() > options_.batch_records;
          return Status::Ok();
        });
    if (!listed.ok()) return listed;
    *gone = doomed.size() <= options_.batch_records;
    if (!*gone) doomed.pop_back();
    *gone = *gone && rollups_gone;
    for (const codec::RecordKey& record_key : doomed) {
      Status deleted = internal::DeleteEntry(txn, db_.records, codec::View(record_key));
      if (!deleted.ok()) return deleted;
    }
    if (!*gone) return Status::Ok();
    Status deleted = internal::DeleteEntry(txn, db_.reports, codec::View(codec::EncodeId(id)));
    if (deleted.ok()) deleted = internal::DeleteEntry(txn, db_.report_keys, codec::View(key));
    return deleted;
  }

  // The dedup keys a batch needs free or ours.
  std::vector<MessageId> BatchKeys(const AggregateSummary* summary) {
    std::vector<MessageId> keys = {key_};
    if (summary != nullptr) {
      final_key_ = codec::ReportDedupKey(summary->meta);
      if (final_key_ != key_) keys.push_back(final_key_);
    }
    return keys;
  }

  // Checks in `txn` that every key in `keys` is free or ours. A key held by an
  // incomplete report of a dead importer: deletes (some of) that report, sets
  // *deleted_some (also when that fails: `txn` holds writes then), and the caller
  // commits and checks again. Other failures leave `txn` untouched.
  Status CheckKeys(lmdb::Txn& txn, const std::vector<MessageId>& keys, bool* deleted_some) {
    *deleted_some = false;
    for (const MessageId& key : keys) {
      KeyHolder holder;
      Status resolved = Resolve(txn, key, &holder);
      if (!resolved.ok()) return resolved;
      switch (holder.kind) {
        case KeyHolder::kFree:
          if (id_ != 0 && key == key_) {
            return Status::IOError("the import of DMARC report '" + meta_.report_id +
                                   "' was taken over by another process");
          }
          break;
        case KeyHolder::kOurs:
          break;
        case KeyHolder::kComplete:
          duplicate_ = true;
          duplicate_id_ = holder.id;
          return DuplicateFound();
        case KeyHolder::kBusy:
          return Status::IOError("DMARC report '" + meta_.report_id + "' from '" + meta_.org_name +
                                 "' is being imported by process " +
                                 std::to_string(holder.owner_pid) + "; try again later");
        case KeyHolder::kStale: {
          bool gone = false;
          *deleted_some = true;
          return DeleteSome(txn, holder.id, key, &gone);
        }
      }
    }
    return Status::Ok();
  }

  // Begins the write transaction of a batch with every key this batch needs free or
  // ours: an incomplete report left by a dead importer is deleted first (over several
  // commits if it is large).
  Status BeginBatch(const AggregateSummary* summary, lmdb::Txn* txn) {
    const std::vector<MessageId> keys = BatchKeys(summary);
    while (true) {
      Result<lmdb::Txn> begun = internal::BeginDmarcWrite(archive_);
      if (!begun.ok()) return begun.status();
      bool deleted_some = false;
      Status checked = CheckKeys(*begun, keys, &deleted_some);
      if (!checked.ok()) return checked;
      if (!deleted_some) {
        *txn = std::move(begun.value());
        return Status::Ok();
      }
      Status committed = begun->Commit("delete an incomplete DMARC report");
      if (!committed.ok()) return committed;
    }
  }

  Status Claim(lmdb::Txn& txn) {
    Result<uint64_t> id = internal::TakeNextId(txn, db_, internal::kNextReportKey);
    if (!id.ok()) return id.status();
    codec::IdKey id_key = codec::EncodeId(*id);
    Status put = internal::PutEntry(txn, db_.report_keys, codec::View(key_), codec::View(id_key),
                                    "claim a DMARC report");
    if (!put.ok()) return put;
    id_ = *id;
    Register(true);
    return Status::Ok();
  }

  void Register(bool add) {
    if (id_ != 0) internal::RegisterImport(archive_, id_, add);
  }

  // After the last record (rollup_ finished): up to `limit` more of the report's
  // rollup entries; *done when they are all written.
  Status WriteRollups(lmdb::Txn& txn, uint64_t limit, bool* done) {
    if (!writer_) {
      writer_.emplace(rollup_, id_, archive_.max_key_size(), options_.ordered_sources);
    }
    return writer_->WriteSome(txn, internal::RollupDb(archive_), limit, done);
  }

  Status WriteBatch(lmdb::Txn& txn) {
    if (batch_ends_.empty()) return Status::Ok();
    const codec::RecordKey first = codec::EncodeRecordKey(id_, stored_index_);
    // Appending (MDB_APPEND) fills pages completely; it needs every key to be the
    // largest, which holds unless a newer report was started meanwhile.
    unsigned flags = MDB_APPEND;
    Status read = internal::WalkEntries(
        txn, db_.records, MDB_LAST, {}, MDB_PREV,
        [&](std::string_view last, std::string_view, bool* stop) {
          if (!(last < codec::View(first))) flags = 0;
          *stop = true;  // only the last key
          return Status::Ok();
        },
        "read DMARC records");
    if (!read.ok()) return read;
    size_t begin = 0;
    for (size_t i = 0; i < batch_ends_.size(); ++i) {
      const codec::RecordKey key =
          codec::EncodeRecordKey(id_, stored_index_ + static_cast<uint32_t>(i));
      MDB_val key_val = lmdb::ToVal(codec::View(key));
      MDB_val value = lmdb::ToVal(std::string_view(batch_).substr(begin, batch_ends_[i] - begin));
      begin = batch_ends_[i];
      int rc = mdb_put(txn.get(), db_.records, &key_val, &value, flags);
      if (rc != 0) return lmdb::ToStatus(rc, "store DMARC records", txn.env());
    }
    return Status::Ok();
  }

  // After the commit (or the bulk's write) that holds the buffered records.
  void BatchWritten() {
    stored_index_ += static_cast<uint32_t>(batch_ends_.size());
    batch_.clear();
    batch_ends_.clear();
  }

  codec::StoredReport Stored(const AggregateReportMeta& meta) const {
    codec::StoredReport stored;
    stored.importing = true;
    stored.owner_pid = static_cast<uint64_t>(getpid());
    stored.heartbeat_us = NowMicros();
    stored.report.meta = meta;
    stored.report.origin = origin_;
    stored.report.imported_us = stored.heartbeat_us;
    stored.report.records = buffered_index();
    stored.tally = tally_;
    stored.source_ips = writer_ ? writer_->sources() : 0;  // (rolled_up: 0 until complete)
    return stored;
  }

  // The last commit's writes: the complete report, its keys, index entries, counters.
  Status Complete(lmdb::Txn& txn, const AggregateSummary& summary) {
    codec::StoredReport stored = Stored(summary.meta);
    stored.importing = false;
    stored.owner_pid = stored.heartbeat_us = 0;
    stored.rolled_up = stored.report.records;  // the commit that writes the last rollups
    stored.report.recovered = summary.recovered;
    stored.report.parser_messages = summary.parser_messages;
    stored.range_key =
        summary.meta.begin.value_or(static_cast<int64_t>(stored.report.imported_us / 1000000));
    const codec::IdKey id_key = codec::EncodeId(id_);
    const codec::TimeKey time_key = codec::EncodeTimeKey(stored.range_key, id_);
    const std::string what = "store DMARC report " + std::to_string(id_);
    Status status = internal::PutEntry(txn, db_.reports, codec::View(id_key),
                                       codec::EncodeReport(stored), what);
    if (status.ok() && final_key_ != key_) {
      status = internal::DeleteEntry(txn, db_.report_keys, codec::View(key_));
      if (status.ok()) {
        status = internal::PutEntry(txn, db_.report_keys, codec::View(final_key_),
                                    codec::View(id_key), what);
      }
    }
    if (status.ok()) {
      status = internal::PutEntry(txn, db_.idx_date, codec::View(time_key), {}, what);
    }
    const std::string& domain = summary.meta.policy_published.domain;
    if (status.ok() && !domain.empty()) {
      status = internal::PutEntry(txn, db_.idx_domain, internal::DomainKey(archive_, domain),
                                  codec::View(time_key), what);
    }
    const std::pair<std::string_view, uint64_t> counters[] = {
        {internal::kDmarcReportsCounter, 1},
        {internal::kDmarcRecordsCounter, stored.report.records},
        {internal::kDmarcMessagesCounter, tally_.messages},
    };
    for (const auto& [name, delta] : counters) {
      if (status.ok()) {
        status = internal::AddToDmarcCounter(txn, db_, name, static_cast<int64_t>(delta));
      }
    }
    return status;
  }

  // The whole report, parsed, into the bulk's transaction: claimed and completed in one
  // go. A failure after the checks aborts the bulk (its transaction may hold half of
  // the report).
  Status JoinBulk(const AggregateSummary& summary) {
    const std::vector<MessageId> keys = BatchKeys(&summary);
    lmdb::Txn* txn = nullptr;
    for (bool deleted_some = true; deleted_some;) {
      Result<lmdb::Txn*> joined = bulk_->Join();
      if (!joined.ok()) return joined.status();
      txn = *joined;
      Status checked = CheckKeys(*txn, keys, &deleted_some);
      if (!checked.ok() && deleted_some) bulk_->Abort(checked);
      if (!checked.ok()) return checked;
      if (deleted_some) {
        Status committed = bulk_->Commit();
        if (!committed.ok()) return committed;
      }
    }
    Status status = internal::CheckDmarcSpace(archive_, *txn);
    if (!status.ok()) return status;  // nothing of it written: the bulk goes on
    status = Claim(*txn);
    if (status.ok()) status = WriteBatch(*txn);
    bool done = false;
    if (status.ok()) status = WriteRollups(*txn, UINT64_MAX, &done);
    if (status.ok()) status = Complete(*txn, summary);
    if (!status.ok()) {
      bulk_->Abort(status);
      return status;
    }
    const uint64_t bytes = batch_.size();
    BatchWritten();
    return bulk_->Added(bytes);
  }

  // Commits the buffered records; with `summary`, the last commit of the report (the
  // last few when its rollups were spilled: max_pending_sources of them per commit).
  Status Flush(const AggregateSummary* summary) {
    if (summary != nullptr) {
      Status finished = rollup_.Finish();  // before the write lock: it may write a spill
      if (!finished.ok()) return finished;
    }
    if (bulk_ != nullptr && id_ == 0) {
      if (summary != nullptr) return JoinBulk(*summary);
      // Larger than one batch: the bulk's reports are committed, this one goes alone.
      Status committed = bulk_->Commit();
      if (!committed.ok()) return committed;
    }
    const uint64_t limit = rollup_.spilled() ? options_.max_pending_sources : UINT64_MAX;
    bool done = summary == nullptr;
    do {
      lmdb::Txn txn;
      Status status = BeginBatch(summary, &txn);
      if (status.ok()) status = internal::CheckDmarcSpace(archive_, txn);
      if (status.ok() && id_ == 0) status = Claim(txn);
      if (status.ok()) status = WriteBatch(txn);
      if (status.ok() && summary != nullptr) status = WriteRollups(txn, limit, &done);
      if (status.ok() && summary != nullptr && done) {
        status = Complete(txn, *summary);
      } else if (status.ok()) {
        status = internal::PutEntry(txn, db_.reports, codec::View(codec::EncodeId(id_)),
                                    codec::EncodeReport(Stored(meta_)), "store DMARC records");
      }
      if (status.ok()) {
        status =
            txn.Commit(summary != nullptr && done ? "store DMARC report" : "store DMARC records");
      }
      if (!status.ok()) return status;
      BatchWritten();
    } while (!done);
    return Status::Ok();
  }

  // After a failure or a duplicate: deletes what this import committed (best effort;
  // what is left is replaced by the next import of the report).
  void Abandon() {
    if (id_ == 0) return;
    for (bool gone = false; !gone;) {
      Result<lmdb::Txn> txn = internal::BeginDmarcWrite(archive_);
      if (!txn.ok()) return;
      KeyHolder holder;
      if (!Resolve(*txn, key_, &holder).ok() || holder.kind != KeyHolder::kOurs) return;
      if (!DeleteSome(*txn, id_, key_, &gone).ok()) return;
      if (!txn->Commit("delete an incomplete DMARC report").ok()) return;
    }
  }

  lmdb::ArchiveEnv& archive_;
  DmarcBulkTxn* bulk_;  // the store's Bulk, if one is live
  const DmarcDatabases& db_;
  DmarcImportOptions options_;
  DmarcOrigin origin_;
  AggregateReportMeta meta_;        // as known when the first record came
  MessageId key_{};                 // its dedup key, claimed by the first commit
  MessageId final_key_{};           // the dedup key of the complete metadata
  std::string batch_;               // the values of the records not committed yet
  std::vector<size_t> batch_ends_;  // where each of them ends in batch_
  uint32_t stored_index_ = 0;       // records committed
  DmarcTally tally_;
  internal::RollupGatherer rollup_;               // the sources of every record parsed
  std::optional<internal::RollupWriter> writer_;  // after the last record
  uint64_t id_ = 0;               // the report's id once claimed
  bool duplicate_ = false;
  uint64_t duplicate_id_ = 0;
};

}  // namespace

Result<DmarcImportResult> DmarcStore::ImportAggregate(InputSource& xml,
                                                      const DmarcImportOptions& options,
                                                      const DmarcOrigin& origin) {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  Status opened = internal::OpenDmarcForWrite(archive);
  if (!opened.ok()) return opened;
  AggregateImporter importer(archive, bulk_, options, origin);
  return importer.Run(xml);
}

}  // namespace archiver
