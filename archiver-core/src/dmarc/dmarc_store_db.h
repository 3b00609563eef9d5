// The DMARC databases of an open archive: their names, opening them on first use (an
// archive made before DMARC support has none: a read finds nothing, the first write
// creates them), and the small transaction helpers the DmarcStore files share.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "archiver/status.h"
#include "lmdb/archive_env.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

// Names of the DMARC databases (docs/store-format.md, "DMARC").
inline constexpr const char* kDmarcMetaDb = "dmarc_meta";
inline constexpr const char* kDmarcReportsDb = "dmarc_reports";
inline constexpr const char* kDmarcReportKeysDb = "dmarc_report_keys";
inline constexpr const char* kDmarcRecordsDb = "dmarc_records";
inline constexpr const char* kDmarcDomainIndexDb = "dmarc_idx_domain";
inline constexpr const char* kDmarcDateIndexDb = "dmarc_idx_date";
inline constexpr const char* kDmarcFailuresDb = "dmarc_failures";
inline constexpr const char* kDmarcFailureKeysDb = "dmarc_failure_keys";
inline constexpr const char* kDmarcFailureDomainDb = "dmarc_failure_domain";
inline constexpr const char* kDmarcFailureDateDb = "dmarc_failure_date";
inline constexpr const char* kDmarcErrorsDb = "dmarc_errors";
inline constexpr const char* kDmarcErrorKeysDb = "dmarc_error_keys";
inline constexpr const char* kDmarcErrorMailsDb = "dmarc_error_mails";
inline constexpr const char* kDmarcMailsDb = "dmarc_mails";

// The DMARC databases (docs/store-format.md, "DMARC"). Archives written before DMARC
// support have none of them, so they are opened on first use, not by Store::Open.
struct DmarcDatabases {
  MDB_dbi meta = 0;
  MDB_dbi reports = 0;
  MDB_dbi report_keys = 0;
  MDB_dbi records = 0;
  MDB_dbi idx_domain = 0;
  MDB_dbi idx_date = 0;
  MDB_dbi failures = 0;
  MDB_dbi failure_keys = 0;
  MDB_dbi failure_domain = 0;
  MDB_dbi failure_date = 0;
  MDB_dbi errors = 0;
  MDB_dbi error_keys = 0;
  MDB_dbi error_mails = 0;
  MDB_dbi mails = 0;
};

// The DMARC databases of `archive`, once BeginDmarcRead found them or OpenDmarcForWrite
// (or BeginDmarcWrite) opened them.
inline const DmarcDatabases& DmarcDbs(const lmdb::ArchiveEnv& archive) {
  return archive.OpenedGroup<DmarcDatabases>();
}

// Keys of dmarc_meta; values are BE64.
inline constexpr std::string_view kDmarcFormatVersionKey = "format_version";
inline constexpr std::string_view kNextReportKey = "next_report";
inline constexpr std::string_view kNextFailureKey = "next_failure";
inline constexpr std::string_view kNextErrorKey = "next_error";
inline constexpr std::string_view kDmarcReportsCounter = "reports";
inline constexpr std::string_view kDmarcRecordsCounter = "records";
inline constexpr std::string_view kDmarcMessagesCounter = "messages";

// A read transaction over the DMARC databases. Ok with *present = false (and no
// transaction) when the archive has none of them yet.
Status BeginDmarcRead(lmdb::ArchiveEnv& archive, lmdb::Txn* txn, bool* present);

// Opens the DMARC databases (and dmarc_rollups), creating them if they are missing.
// InvalidArgument for a read-only archive.
Status OpenDmarcForWrite(lmdb::ArchiveEnv& archive);

// A write transaction, after creating the DMARC databases if they are missing.
// InvalidArgument for a read-only archive.
Result<lmdb::Txn> BeginDmarcWrite(lmdb::ArchiveEnv& archive);

// Before a report is written in `txn`: LimitExceeded when the DMARC databases already
// take the space they may have of the map (StoreOptions::dmarc_max_space), so that report
// mail, which anyone may send, never takes the room the mail archive needs. One report
// may go past it (by at most its own size); error ledger entries are never refused.
Status CheckDmarcSpace(const lmdb::ArchiveEnv& archive, const lmdb::Txn& txn);

// Runs `body` in a write transaction and commits it when `body` returns Ok.
Status InDmarcWrite(lmdb::ArchiveEnv& archive, std::string_view what,
                    const std::function<Status(lmdb::Txn&)>& body);

// Adds `delta` (may be negative) to a dmarc_meta counter.
Status AddToDmarcCounter(lmdb::Txn& txn, const DmarcDatabases& db, std::string_view name,
                         int64_t delta);
// The value of dmarc_meta counter `name` (starting at 1 when absent), and increments it.
Result<uint64_t> TakeNextId(lmdb::Txn& txn, const DmarcDatabases& db, std::string_view name);

// The dmarc_records values of `report`, in report order from `first_index` (see
// WalkEntries); a failure of `visit` is annotated with the report and record.
using RecordVisitor = std::function<Status(uint32_t index, std::string_view value, bool* stop)>;
Status ForEachRecord(const lmdb::Txn& txn, const DmarcDatabases& db, uint64_t report,
                     const RecordVisitor& visit, uint32_t first_index = 0);

// An index key (a lowercased domain) cut to LMDB's key size limit.
std::string DomainKey(const lmdb::ArchiveEnv& archive, std::string_view domain);

}  // namespace archiver::internal
