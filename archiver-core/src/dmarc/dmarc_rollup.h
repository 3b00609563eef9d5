// DMARC rollups: per report, one tally per source IP (messages, DMARC pass, DKIM and SPF
// aligned, dispositions) and the same sources ordered by messages, kept in the
// `dmarc_rollups` database and written in the same transaction as the records they
// count, so that a summary reads them instead of the records (docs/store-format.md,
// "DMARC rollups"). A report's value says how many of its records they cover.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/status.h"
#include "lmdb/archive_env.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

inline constexpr const char* kDmarcRollupsDb = "dmarc_rollups";

// A group of its own: an archive whose DMARC databases predate rollups lacks it, and a
// reader must still read that archive (every report then counts as not rolled up).
struct DmarcRollupDatabases {
  MDB_dbi rollups = 0;
};

// Opens (creating when missing) dmarc_rollups for a writer; after OpenDmarcForWrite.
Status OpenRollupsForWrite(lmdb::ArchiveEnv& archive);
// The rollups database for a reader: Ok and null when the archive has none yet.
Result<const DmarcRollupDatabases*> FindRollups(lmdb::ArchiveEnv& archive);
// The database opened by OpenRollupsForWrite (or found by FindRollups).
inline MDB_dbi RollupDb(const lmdb::ArchiveEnv& archive) {
  return archive.OpenedGroup<DmarcRollupDatabases>().rollups;
}

// Per-source tallies of some records of one report, to be added to its rollups.
class RollupBatch {
 public:
  void Add(std::string_view source_ip, uint64_t count, std::string_view disposition,
           std::string_view dkim, std::string_view spf);
  // Adds the tallies to the rollups of `report` in `txn` (the source entries and their
  // place in the by-messages order); *new_sources: sources the report had no entry for.
  // Source IPs are cut to fit LMDB's key limit (`max_key_size`). Appended when nothing of
  // `report` or a later report is stored yet (a report's first addition, as a rule).
  Status AddTo(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, size_t max_key_size,
               uint64_t* new_sources) const;
  bool empty() const { return by_source_.empty(); }
  size_t size() const { return by_source_.size(); }
  void clear() {
    by_source_.clear();
    longest_ = 0;
  }

 private:
  std::map<std::string, DmarcTally, std::less<>> by_source_;  // key order: local puts
  size_t longest_ = 0;                                        // of the source IPs
};

// Deletes up to `limit` rollup entries of `report`; *gone when none are left.
Status DeleteRollups(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, uint64_t limit, bool* gone);

// A source's tally within a report (reports = 1); `source_ip` valid during the call.
using RollupVisitor =
    std::function<Status(std::string_view source_ip, const DmarcTally& tally, bool* stop)>;
// The sources of `report`, in source order.
Status ForEachRollupSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                           const RollupVisitor& visit);
// The sources of `report`, most messages first (ties: in source order).
Status ForEachTopSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                        const RollupVisitor& visit);

}  // namespace archiver::internal
