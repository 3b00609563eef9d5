// Opening the DMARC databases on first use, and the transaction helpers shared by the
// DmarcStore files (see dmarc_store_db.h).
#include "dmarc/dmarc_store_db.h"

#include <vector>

#include "base/ascii.h"
#include "dmarc/dmarc_rollup.h"
#include "dmarc/dmarc_store_codec.h"
#include "store/index_keys.h"
#include "store/meta_counter.h"
#include "store/record.h"

namespace archiver::internal {
namespace {

constexpr unsigned kIndex = MDB_DUPSORT | MDB_DUPFIXED;
constexpr NamedDb<DmarcDatabases> kDatabases[] = {
    {kDmarcMetaDb, 0, &DmarcDatabases::meta},
    {kDmarcReportsDb, 0, &DmarcDatabases::reports},
    {kDmarcReportKeysDb, 0, &DmarcDatabases::report_keys},
    {kDmarcRecordsDb, 0, &DmarcDatabases::records},
    {kDmarcDomainIndexDb, kIndex, &DmarcDatabases::idx_domain},
    {kDmarcDateIndexDb, 0, &DmarcDatabases::idx_date},
    {kDmarcFailuresDb, 0, &DmarcDatabases::failures},
    {kDmarcFailureKeysDb, 0, &DmarcDatabases::failure_keys},
    {kDmarcFailureDomainDb, kIndex, &DmarcDatabases::failure_domain},
    {kDmarcFailureDateDb, 0, &DmarcDatabases::failure_date},
    {kDmarcErrorsDb, 0, &DmarcDatabases::errors},
    {kDmarcErrorKeysDb, 0, &DmarcDatabases::error_keys},
    {kDmarcErrorMailsDb, kIndex, &DmarcDatabases::error_mails},
    {kDmarcMailsDb, 0, &DmarcDatabases::mails},
};

// Opens every DMARC database in `txn` (creating them when `create`) and checks the
// DMARC format version. NotFound when one is missing and !create.
Status OpenAll(lmdb::ArchiveEnv& archive, lmdb::Txn& txn, bool create, DmarcDatabases* db) {
  const std::string& path = archive.options().path;
  Status opened =
      OpenNamedDatabases(path, txn, create, kDatabases, db, "no DMARC data in " + path);
  if (!opened.ok()) return opened;
  uint64_t version = 0;
  Status read = ReadCounter(txn, db->meta, kDmarcFormatVersionKey, &version);
  if (!read.ok()) return read.Annotated(path + ": DMARC data");
  if (version == 0 && create) {
    std::array<char, 8> bytes = record::EncodeCounter(dmarc_codec::kFormatVersion);
    return txn.Put(db->meta, kDmarcFormatVersionKey, {bytes.data(), bytes.size()}, 0);
  }
  if (version > dmarc_codec::kFormatVersion) {
    return Status::Corruption(path + ": DMARC data format " + std::to_string(version) +
                              " is newer than this software reads (up to " +
                              std::to_string(dmarc_codec::kFormatVersion) + ")");
  }
  return Status::Ok();
}

Status EnsureOpen(lmdb::ArchiveEnv& archive, bool write, bool* present) {
  Result<const DmarcDatabases*> db = archive.OpenGroup<DmarcDatabases>(
      "DMARC databases", write, [&](lmdb::Txn& txn, bool create, DmarcDatabases* group) {
        return OpenAll(archive, txn, create, group);
      });
  if (!db.ok()) return db.status();
  *present = *db != nullptr;
  return Status::Ok();
}

}  // namespace

Status BeginDmarcRead(lmdb::ArchiveEnv& archive, lmdb::Txn* txn, bool* present) {
  Status opened = EnsureOpen(archive, false, present);
  if (!opened.ok() || !*present) return opened;
  Result<lmdb::Txn> begun = lmdb::Txn::Begin(archive.get(), false);
  if (!begun.ok()) return begun.status();
  *txn = std::move(begun.value());
  return Status::Ok();
}

Status OpenDmarcForWrite(lmdb::ArchiveEnv& archive) {
  if (Status writable = archive.CheckWritable(); !writable.ok()) return writable;
  bool present = false;
  Status opened = EnsureOpen(archive, true, &present);
  return opened.ok() ? OpenRollupsForWrite(archive) : opened;
}

Result<lmdb::Txn> BeginDmarcWrite(lmdb::ArchiveEnv& archive) {
  Status opened = OpenDmarcForWrite(archive);
  if (!opened.ok()) return opened;
  return lmdb::Txn::Begin(archive.get(), true);
}

Status CheckDmarcSpace(const lmdb::ArchiveEnv& archive, const lmdb::Txn& txn) {
  MDB_envinfo info = {};
  int rc = mdb_env_info(archive.get(), &info);
  if (rc != 0) return lmdb::ToStatus(rc, "read the map size");
  const uint64_t limit = archive.options().dmarc_max_space != 0 ? archive.options().dmarc_max_space
                                                                : info.me_mapsize / 8;
  const DmarcDatabases& db = DmarcDbs(archive);
  uint64_t used = 0;
  std::vector<MDB_dbi> databases = {
      db.meta,     db.reports,    db.report_keys,  db.records,        db.idx_domain,
      db.idx_date, db.failures,   db.failure_keys, db.failure_domain, db.failure_date,
      db.errors,   db.error_keys, db.error_mails,  db.mails};
  if (const auto* rollups = archive.FindGroup<DmarcRollupDatabases>()) {
    databases.push_back(rollups->rollups);
  }
  for (MDB_dbi dbi : databases) {
    MDB_stat stat = {};
    rc = mdb_stat(txn.get(), dbi, &stat);
    if (rc != 0) return lmdb::ToStatus(rc, "measure the DMARC data");
    used += (static_cast<uint64_t>(stat.ms_branch_pages) + stat.ms_leaf_pages +
             stat.ms_overflow_pages) * stat.ms_psize;
  }
  if (used < limit) return Status::Ok();
  return Status::LimitExceeded("the DMARC data takes " + FormatBytes(used) +
                               " of the archive, all that archiver_dmarc_max_space allows (" +
                               FormatBytes(limit) + "): report not stored");
}

Status InDmarcWrite(lmdb::ArchiveEnv& archive, std::string_view what,
                    const std::function<Status(lmdb::Txn&)>& body) {
  Result<lmdb::Txn> txn = BeginDmarcWrite(archive);
  if (!txn.ok()) return txn.status();
  Status done = body(*txn);
  if (!done.ok()) return done;
  return txn->Commit(what);
}

Status AddToDmarcCounter(lmdb::Txn& txn, const DmarcDatabases& db, std::string_view name,
                         int64_t delta) {
  uint64_t value = 0;
  Status read = ReadCounter(txn, db.meta, name, &value);
  if (!read.ok()) return read;
  value = delta < 0 && static_cast<uint64_t>(-delta) > value ? 0 : value + delta;
  std::array<char, 8> bytes = record::EncodeCounter(value);
  return txn.Put(db.meta, name, {bytes.data(), bytes.size()}, 0);
}

Result<uint64_t> TakeNextId(lmdb::Txn& txn, const DmarcDatabases& db, std::string_view name) {
  uint64_t next = 0;
  Status read = ReadCounter(txn, db.meta, name, &next);
  if (!read.ok()) return read;
  if (next == 0) next = 1;
  std::array<char, 8> bytes = record::EncodeCounter(next + 1);
  Status put = txn.Put(db.meta, name, {bytes.data(), bytes.size()}, 0);
  if (!put.ok()) return put;
  return next;
}

Status ForEachRecord(const lmdb::Txn& txn, const DmarcDatabases& db, uint64_t report,
                     const RecordVisitor& visit, uint32_t first_index) {
  const dmarc_codec::RecordKey first = dmarc_codec::EncodeRecordKey(report, first_index);
  return WalkEntries(txn, db.records, MDB_SET_RANGE, dmarc_codec::View(first), MDB_NEXT,
                     [&](std::string_view key, std::string_view value, bool* stop) {
                       uint64_t owner = 0;
                       uint32_t index = 0;
                       if (!dmarc_codec::DecodeRecordKey(key, &owner, &index)) {
                         return Status::Corruption("a dmarc_records key is not 12 bytes");
                       }
                       *stop = owner != report;
                       if (*stop) return Status::Ok();
                       return visit(index, value, stop)
                           .Annotated("DMARC report " + std::to_string(report) + " record " +
                                      std::to_string(index));
                     });
}

std::string DomainKey(const lmdb::ArchiveEnv& archive, std::string_view domain) {
  return std::string(index::FitKey(ascii::Lowercase(domain), archive.max_key_size()));
}

}  // namespace archiver::internal
