// DmarcStore::Summarize: totals per organisation from the matching reports' values,
// per source IP from their rollups (dmarc_rollup.h), and from the records only for a
// report whose rollups are incomplete (stored before rollups existed). With a row
// limit and a single report, the sources are read in the rollups' by-messages order and
// the walk stops after the limit: a report of a million sources costs a few entries
// (when the limit is within the sources that order holds; else all are read).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_rollup.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"
#include "dmarc/dmarc_store_query.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;
using Tallies = std::map<std::string, DmarcTally, std::less<>>;
using Rows = std::vector<std::pair<std::string, DmarcTally>>;

// The `top` rows with most messages (all when 0), most first, ties by name.
Rows TopRows(const Tallies& tallies, uint64_t top) {
  Rows rows(tallies.begin(), tallies.end());
  const auto most_first = [](const auto& a, const auto& b) {
    return a.second.messages != b.second.messages ? a.second.messages > b.second.messages
                                                  : a.first < b.first;
  };
  const size_t kept = top == 0 ? rows.size() : std::min<size_t>(rows.size(), top);
  std::partial_sort(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(kept), rows.end(),
                    most_first);
  rows.resize(kept);
  return rows;
}

// A report the filter selected.
struct Selected {
  uint64_t id = 0;
  bool rolled_up = false;  // its rollups count all its records
  uint64_t source_ips = 0;
};

// Adds the sources of report `id` from its records (a source seen in several records of
// one report counts that report once).
Status AddFromRecords(const lmdb::Txn& txn, const internal::DmarcDatabases& db, uint64_t id,
                      Tallies* by_ip) {
  std::map<std::string_view, bool, std::less<>> seen;
  codec::RecordCore core;
  return internal::ForEachRecord(txn, db, id, [&](uint32_t, std::string_view value, bool*) {
    Status decoded = codec::DecodeRecordCore(value, &core);
    if (!decoded.ok()) return decoded;
    auto entry = by_ip->find(core.source_ip);
    if (entry == by_ip->end()) entry = by_ip->emplace(core.source_ip, DmarcTally{}).first;
    codec::CountRecord(core.count, core.disposition, core.dkim, core.spf, &entry->second);
    if (seen.emplace(entry->first, true).second) ++entry->second.reports;
    return Status::Ok();
  });
}

// The source IP rows of `selected` into `summary`.
Status SummarizeSources(const lmdb::Txn& txn, const lmdb::ArchiveEnv& archive,
                        const internal::DmarcRollupDatabases* rollups,
                        const std::vector<Selected>& selected, uint64_t top,
                        DmarcSummary* summary) {
  if (top != 0 && selected.size() == 1 && selected[0].rolled_up) {
    summary->source_ips = selected[0].source_ips;
    Status walked =
        internal::ForEachTopSource(txn, rollups->rollups, selected[0].id,
                                   [&](std::string_view ip, const DmarcTally& tally, bool* stop) {
                                     summary->by_source_ip.emplace_back(std::string(ip), tally);
                                     *stop = summary->by_source_ip.size() >= top;
                                     return Status::Ok();
                                   });
    // The order holds the report's first sources only (DmarcImportOptions::ordered_sources):
    // fewer rows than asked and than it has mean reading all of them.
    const uint64_t rows = summary->by_source_ip.size();
    if (!walked.ok() || rows >= top || rows >= selected[0].source_ips) return walked;
    summary->by_source_ip.clear();
  }
  Tallies by_ip;
  for (const Selected& report : selected) {
    Status added;
    if (report.rolled_up) {
      added =
          internal::ForEachRollupSource(txn, rollups->rollups, report.id,
                                        [&](std::string_view ip, const DmarcTally& tally, bool*) {
                                          auto entry = by_ip.find(ip);
                                          if (entry == by_ip.end())
                                            entry = by_ip.emplace(ip, DmarcTally{}).first;
                                          codec::AddTally(tally, &entry->second);
                                          return Status::Ok();
                                        });
    } else {
      ++summary->reports_from_records;
      added = AddFromRecords(txn, internal::DmarcDbs(archive), report.id, &by_ip);
    }
    if (!added.ok()) return added;
  }
  summary->source_ips = by_ip.size();
  summary->by_source_ip = TopRows(by_ip, top);
  return Status::Ok();
}

}  // namespace

Result<DmarcSummary> DmarcStore::Summarize(const DmarcFilter& filter, uint64_t top) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  // Opened before the read transaction; absent in an archive whose DMARC data predates
  // rollups: every report is then summed from its records.
  Result<const internal::DmarcRollupDatabases*> rollups = internal::FindRollups(archive);
  if (!rollups.ok()) return rollups.status();
  DmarcSummary summary;
  Tallies by_org;
  Status status = internal::InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    std::vector<Selected> selected;
    Status walked =
        internal::ForEachReport(txn, archive, filter, [&](const codec::StoredReport& stored) {
          codec::AddTally(stored.tally, &summary.total);
          codec::AddTally(stored.tally, &by_org[stored.report.meta.org_name]);
          const bool rolled_up = *rollups != nullptr && stored.rolled_up >= stored.report.records;
          selected.push_back({stored.report.id, rolled_up, stored.source_ips});
          return true;
        });
    if (!walked.ok()) return walked;
    return SummarizeSources(txn, archive, *rollups, selected, top, &summary);
  });
  if (!status.ok()) return status;
  summary.orgs = by_org.size();
  summary.by_org = TopRows(by_org, top);
  return summary;
}

}  // namespace archiver
