// DMARC rollups: per report, one tally per source IP (messages, DMARC pass, DKIM and SPF
// aligned, dispositions) and its sources with most messages in order, kept in the
// `dmarc_rollups` database and written in the same transaction as the records they
// count, so that a summary reads them instead of the records (docs/store-format.md,
// "DMARC rollups"). A report's value says how many of its records they cover.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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
  using Source = std::pair<const std::string, DmarcTally>;
  void Add(std::string_view source_ip, uint64_t count, std::string_view disposition,
           std::string_view dkim, std::string_view spf);
  // Adds the tallies to the rollups of `report` in `txn` (the source entries and their
  // place in the by-messages order); *new_sources: sources the report had no entry for.
  // Source IPs are cut to fit LMDB's key limit (`max_key_size`). Appended when nothing of
  // `report` or a later report is stored yet (a report's first addition, as a rule).
  Status AddTo(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, size_t max_key_size,
               uint64_t* new_sources) const;
  // The sources in source order; valid until the next Add or clear.
  std::vector<const Source*> Sorted() const;
  bool empty() const { return by_source_.empty(); }
  size_t size() const { return by_source_.size(); }
  void clear() {
    by_source_.clear();
    longest_ = 0;
  }

 private:
  // Hashed: a record costs one probe, not a walk down a tree of a million strings.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view ip) const { return std::hash<std::string_view>{}(ip); }
  };
  std::unordered_map<std::string, DmarcTally, Hash, std::equal_to<>> by_source_;
  size_t longest_ = 0;  // of the source IPs
};

class RollupGatherer;

// Writes the whole rollups of a report that has none yet, from its sources in source
// order (a finished RollupGatherer, which must outlive it), over one or more write
// transactions: the source entries, and with the last of them the order entries of the
// `ordered` sources with most messages (ties: in source order). Entries are appended
// (MDB_APPEND: full pages) while no greater key is stored.
class RollupWriter {
 public:
  RollupWriter(RollupGatherer& sources, uint64_t report, size_t max_key_size, uint64_t ordered);
  // Writes up to `limit` more source entries into `txn`, and once every source is
  // written the order entries too (*done). A failure leaves `txn` to be aborted and the
  // writer unusable.
  Status WriteSome(lmdb::Txn& txn, MDB_dbi rollups, uint64_t limit, bool* done);
  uint64_t sources() const { return written_; }  // source entries written so far

 private:
  Status PutHeld(lmdb::Txn& txn, MDB_dbi rollups, unsigned flags);

  RollupGatherer& gatherer_;
  uint64_t report_;
  size_t max_ip_;  // source IPs are cut to this (the key limit)
  uint64_t ordered_;
  std::string held_ip_;  // the source read but not written (cut IPs may coincide)
  DmarcTally held_;
  bool holding_ = false;
  std::string last_key_;  // the greatest key written
  uint64_t written_ = 0;
  std::vector<std::pair<uint64_t, std::string>> top_;  // (messages, IP): a heap, worst first
};

// Deletes up to `limit` rollup entries of `report`; *gone when none are left.
Status DeleteRollups(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, uint64_t limit, bool* gone);

// A source's tally within a report (reports = 1); `source_ip` valid during the call.
using RollupVisitor =
    std::function<Status(std::string_view source_ip, const DmarcTally& tally, bool* stop)>;
// The sources of `report`, in source order.
Status ForEachRollupSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                           const RollupVisitor& visit);
// The sources of `report` that have an order entry (the first `ordered_sources` as an
// import writes them; all as rollup-rebuild and older software did), most messages
// first (ties: in source order).
Status ForEachTopSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                        const RollupVisitor& visit);

}  // namespace archiver::internal
