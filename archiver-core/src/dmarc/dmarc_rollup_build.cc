// DmarcStore::BuildRollups: completes the rollups of reports stored before rollups
// existed, online. Each write transaction adds the next batch of one report's records to
// its rollups and moves the report's `rolled_up` count in the same commit, so an
// interrupted build (or two at once) goes on from where the last commit left it and the
// rollups never count a record twice. Summaries read such a report's records until its
// rollups are complete.
#include <algorithm>
#include <string>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_rollup.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"
#include "dmarc/dmarc_store_query.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;

// The first complete report after `after` whose rollups are incomplete; 0 when none
// (also when the archive has no DMARC data).
Result<uint64_t> NextWithoutRollups(lmdb::ArchiveEnv& archive, uint64_t after) {
  uint64_t found = 0;
  Status status = internal::InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    const codec::IdKey from = codec::EncodeId(after + 1);
    return internal::WalkEntries(
        txn, internal::DmarcDbs(archive).reports, MDB_SET_RANGE, codec::View(from), MDB_NEXT,
        [&](std::string_view key, std::string_view value, bool* stop) {
          uint64_t id = 0;
          if (!codec::DecodeId(key, &id))
            return Status::Corruption("a dmarc_reports key is not 8 bytes");
          codec::StoredReport stored;
          Status decoded = codec::DecodeReport(value, &stored);
          if (!decoded.ok()) return decoded.Annotated("DMARC report " + std::to_string(id));
          *stop = !stored.importing && stored.rolled_up < stored.report.records;
          if (*stop) found = id;
          return Status::Ok();
        },
        "read DMARC reports");
  });
  if (!status.ok()) return status;
  return found;
}

// One write transaction: adds up to `batch` more records of report `id` to its rollups.
// *done once they are complete (by this call: *completed).
Status BuildSome(lmdb::ArchiveEnv& archive, uint64_t id, uint64_t batch, DmarcRollupBuild* build,
                 bool* done, bool* completed) {
  *completed = false;
  return internal::InDmarcWrite(archive, "build DMARC rollups", [&](lmdb::Txn& txn) {
    const internal::DmarcDatabases& db = internal::DmarcDbs(archive);
    const codec::IdKey id_key = codec::EncodeId(id);
    const std::string what = "DMARC report " + std::to_string(id);
    std::string_view value;
    codec::StoredReport stored;
    Status read = txn.Get(db.reports, codec::View(id_key), &value);
    if (read.ok()) read = codec::DecodeReport(value, &stored);
    if (!read.ok()) return read.Annotated(what);
    *done = stored.importing || stored.rolled_up >= stored.report.records;
    if (*done) return Status::Ok();
    internal::RollupBatch sources;
    uint64_t added = 0;
    codec::RecordCore core;
    read = internal::ForEachRecord(
        txn, db, id,
        [&](uint32_t, std::string_view record, bool* stop) {
          Status decoded = codec::DecodeRecordCore(record, &core);
          if (decoded.ok())
            sources.Add(core.source_ip, core.count, core.disposition, core.dkim, core.spf);
          *stop = ++added >= batch;
          return decoded;
        },
        static_cast<uint32_t>(stored.rolled_up));
    if (!read.ok()) return read;
    if (added == 0) {
      return Status::Corruption(what + " has " + std::to_string(stored.rolled_up) +
                                " records, its value says " +
                                std::to_string(stored.report.records));
    }
    uint64_t new_sources = 0;
    Status status =
        sources.AddTo(txn, internal::RollupDb(archive), id, archive.max_key_size(), &new_sources);
    if (!status.ok()) return status;
    stored.rolled_up += added;
    stored.source_ips += new_sources;
    build->records += added;
    *done = *completed = stored.rolled_up >= stored.report.records;
    return internal::PutEntry(txn, db.reports, codec::View(id_key), codec::EncodeReport(stored),
                              "build DMARC rollups");
  });
}

}  // namespace

Result<DmarcRollupBuild> DmarcStore::BuildRollups(
    uint64_t batch_records, const std::function<bool(const DmarcRollupBuild&)>& progress) {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  DmarcRollupBuild build;
  for (uint64_t after = 0;;) {
    Result<uint64_t> next = NextWithoutRollups(archive, after);
    if (!next.ok()) return next.status();
    if (*next == 0) return build;
    Status opened = internal::OpenDmarcForWrite(archive);
    if (!opened.ok()) return opened;
    for (bool done = false; !done;) {
      bool completed = false;
      Status built = BuildSome(archive, *next, std::max<uint64_t>(batch_records, 1), &build, &done,
                               &completed);
      if (!built.ok()) return built;
      if (completed) ++build.reports;
      if (progress && !progress(build)) return build;
    }
    after = *next;
  }
}

}  // namespace archiver
