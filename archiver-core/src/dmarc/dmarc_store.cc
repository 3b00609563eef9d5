// DmarcStore's small writes, one transaction each (or joined to a Bulk's): failure
// reports (deduplicated by a SHA-256 of their fields and original headers), the error
// ledger (idempotent per carrying mail or file, part and reason), the report mails seen;
// and the statistics. Aggregate reports: dmarc_store_import.cc; queries:
// dmarc_store_query.cc.
#include "archiver/dmarc/dmarc_store.h"

#include <iterator>
#include <vector>

#include "archiver/time_format.h"
#include "base/enum_names.h"
#include "dmarc/dmarc_store_bulk.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"
#include "store/meta_counter.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;
using internal::DmarcDatabases;
using internal::DmarcDbs;

// The stored names, indexed by the enums' values. Append only: stored values name them.
constexpr const char* kOriginKindNames[] = {"mail", "file", "imap"};
constexpr const char* kItemKindNames[] = {"aggregate", "failure", "payload", "mail"};
static_assert(std::size(kOriginKindNames) == static_cast<size_t>(DmarcOriginKind::kImap) + 1);
static_assert(std::size(kItemKindNames) == static_cast<size_t>(DmarcItemKind::kMail) + 1);

Status NoArchive() { return Status::InvalidArgument("no archive"); }

// The id stored under `key` in a *_keys database: Ok and *found, or Ok and !*found.
Status FindKey(const lmdb::Txn& txn, MDB_dbi dbi, const MessageId& key, bool* found, uint64_t* id) {
  std::string_view value;
  Status status = txn.Get(dbi, codec::View(key), &value);
  *found = status.ok();
  if (status.code() == Status::Code::kNotFound) return Status::Ok();
  if (!status.ok()) return status;
  if (!codec::DecodeId(value, id)) return Status::Corruption("DMARC key value is not 8 bytes");
  return Status::Ok();
}

}  // namespace

const char* DmarcOriginKindName(DmarcOriginKind kind) {
  return enum_names::NameOf(kOriginKindNames, kind);
}
std::optional<DmarcOriginKind> DmarcOriginKindNamed(std::string_view name) {
  return enum_names::Named<DmarcOriginKind>(kOriginKindNames, name);
}
const char* DmarcItemKindName(DmarcItemKind kind) { return enum_names::NameOf(kItemKindNames, kind); }
std::optional<DmarcItemKind> DmarcItemKindNamed(std::string_view name) {
  return enum_names::Named<DmarcItemKind>(kItemKindNames, name);
}

DmarcStore::DmarcStore(std::shared_ptr<Store> store)
    : env_(store ? store->environment() : nullptr) {}

Result<DmarcImportResult> DmarcStore::ImportFailure(const FailureReport& report,
                                                    const DmarcOrigin& origin) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  const MessageId key = codec::FailureDedupKey(report);
  DmarcImportResult result;
  Status done =
      internal::InDmarcWrite(archive, bulk_, "store DMARC failure report", [&](lmdb::Txn& txn) {
        const DmarcDatabases& db = DmarcDbs(archive);
        bool found = false;
        Status status = FindKey(txn, db.failure_keys, key, &found, &result.id);
        if (!status.ok() || found) {
          result.outcome = DmarcImportOutcome::kDuplicate;
          return status;
        }
        status = internal::CheckDmarcSpace(archive, txn);
        if (!status.ok()) return status;
        Result<uint64_t> id = internal::TakeNextId(txn, db, internal::kNextFailureKey);
        if (!id.ok()) return id.status();
        result.id = *id;
        DmarcFailure failure;
        failure.id = *id;
        failure.imported_us = NowMicros();
        failure.report = report;
        failure.origin = origin;
        const int64_t arrival =
            report.arrival_time.value_or(static_cast<int64_t>(failure.imported_us / 1000000));
        const codec::IdKey id_key = codec::EncodeId(*id);
        const codec::TimeKey time_key = codec::EncodeTimeKey(arrival, *id);
        const char* what = "store DMARC failure report";
        status = internal::PutEntry(txn, db.failures, codec::View(id_key),
                                    codec::EncodeFailure(failure), what);
        if (status.ok()) {
          status =
              internal::PutEntry(txn, db.failure_keys, codec::View(key), codec::View(id_key), what);
        }
        if (status.ok()) {
          status = internal::PutEntry(txn, db.failure_date, codec::View(time_key), {}, what);
        }
        if (status.ok() && !report.policy_domain.empty()) {
          status = internal::PutEntry(txn, db.failure_domain,
                                      internal::DomainKey(archive, report.policy_domain),
                                      codec::View(time_key), what);
        }
        return status;
      });
  if (!done.ok()) return done;
  return result;
}

Status DmarcStore::RecordError(DmarcItemKind kind, const std::string& reason,
                               const DmarcOrigin& origin) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  const MessageId key = codec::ErrorDedupKey(reason, origin);
  return internal::InDmarcWrite(archive, bulk_, "record a DMARC error", [&](lmdb::Txn& txn) {
    const DmarcDatabases& db = DmarcDbs(archive);
    bool found = false;
    uint64_t existing = 0;
    Status status = FindKey(txn, db.error_keys, key, &found, &existing);
    if (!status.ok() || found) return status;
    Result<uint64_t> id = internal::TakeNextId(txn, db, internal::kNextErrorKey);
    if (!id.ok()) return id.status();
    DmarcError error;
    error.id = *id;
    error.time_us = NowMicros();
    error.kind = kind;
    error.reason = reason;
    error.origin = origin;
    const codec::IdKey id_key = codec::EncodeId(*id);
    const char* what = "record a DMARC error";
    status =
        internal::PutEntry(txn, db.errors, codec::View(id_key), codec::EncodeError(error), what);
    if (status.ok()) {
      status = internal::PutEntry(txn, db.error_keys, codec::View(key), codec::View(id_key), what);
    }
    if (status.ok() && origin.mail) {
      status = internal::PutEntry(txn, db.error_mails, codec::View(*origin.mail),
                                  codec::View(id_key), what);
    }
    return status;
  });
}

Status DmarcStore::NoteMail(const DmarcMail& mail) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::InDmarcWrite(archive, bulk_, "note a DMARC report mail", [&](lmdb::Txn& txn) {
    return internal::PutEntry(txn, DmarcDbs(archive).mails, codec::View(mail.mail),
                              codec::EncodeMail(mail), "note a DMARC report mail");
  });
}

Status DmarcStore::ForgetErrorsOf(const MessageId& mail) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::InDmarcWrite(archive, bulk_, "forget DMARC errors", [&](lmdb::Txn& txn) {
    const DmarcDatabases& db = DmarcDbs(archive);
    std::vector<uint64_t> ids;
    Status walked = internal::WalkEntries(
        txn, db.error_mails, MDB_SET_KEY, codec::View(mail), MDB_NEXT_DUP,
        [&](std::string_view, std::string_view value, bool*) {
          uint64_t id = 0;
          if (!codec::DecodeId(value, &id)) {
            return Status::Corruption("dmarc_error_mails value is not 8 bytes");
          }
          ids.push_back(id);
          return Status::Ok();
        },
        "read DMARC errors");
    if (!walked.ok()) return walked;
    for (uint64_t id : ids) {
      const codec::IdKey id_key = codec::EncodeId(id);
      std::string_view value;
      Status found = txn.Get(db.errors, codec::View(id_key), &value);
      if (found.code() == Status::Code::kNotFound) continue;
      if (!found.ok()) return found;
      DmarcError error;
      Status decoded = codec::DecodeError(value, &error);
      if (!decoded.ok()) return decoded.Annotated("DMARC error " + std::to_string(id));
      const MessageId key = codec::ErrorDedupKey(error.reason, error.origin);
      Status deleted = internal::DeleteEntry(txn, db.error_keys, codec::View(key));
      if (deleted.ok()) deleted = internal::DeleteEntry(txn, db.errors, codec::View(id_key));
      if (!deleted.ok()) return deleted;
    }
    return internal::DeleteEntry(txn, db.error_mails, codec::View(mail));
  });
}

Result<DmarcStats> DmarcStore::GetStats() const {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  lmdb::Txn txn;
  bool present = false;
  Status begun = internal::BeginDmarcRead(archive, &txn, &present);
  DmarcStats stats;
  if (!begun.ok() || !present) return begun.ok() ? Result<DmarcStats>(stats) : begun;
  const DmarcDatabases& db = DmarcDbs(archive);
  const std::pair<std::string_view, uint64_t*> counters[] = {
      {internal::kDmarcReportsCounter, &stats.reports},
      {internal::kDmarcRecordsCounter, &stats.records},
      {internal::kDmarcMessagesCounter, &stats.messages},
  };
  for (const auto& [name, value] : counters) {
    Status read = internal::ReadCounter(txn, db.meta, name, value);
    if (!read.ok()) return read;
  }
  const std::pair<MDB_dbi, uint64_t*> tables[] = {
      {db.failures, &stats.failures}, {db.errors, &stats.errors}, {db.mails, &stats.mails}};
  for (const auto& [dbi, value] : tables) {
    MDB_stat stat = {};
    int rc = mdb_stat(txn.get(), dbi, &stat);
    if (rc != 0) return lmdb::ToStatus(rc, "read DMARC statistics");
    *value = stat.ms_entries;
  }
  return stats;
}

}  // namespace archiver
