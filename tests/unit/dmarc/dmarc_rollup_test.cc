// DMARC rollups: the summary read from them equals a recomputation from the records
// (reports of several batches, sources repeated across batches, reports joined to a
// Bulk), top rows from the by-messages order, no rollup left by a failed or interrupted
// import, and archives whose reports predate rollups: summed from records until
// BuildRollups (interrupted, then resumed) completes them.
#include "dmarc/dmarc_rollup.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "base/ascii.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::CountEntries;
using testing::ImportXml;
using testing::NumberedRecords;
using testing::RecordXml;
using testing::ReportXml;
using Rows = std::vector<std::pair<std::string, DmarcTally>>;

auto Fields(const DmarcTally& t) {
  return std::make_tuple(t.messages, t.dmarc_pass, t.dkim_aligned, t.spf_aligned, t.none,
                         t.quarantine, t.reject, t.reports);
}

void ExpectSameRows(const Rows& actual, const Rows& expected, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first) << what << " row " << i;
    EXPECT_EQ(Fields(actual[i].second), Fields(expected[i].second))
        << what << " row " << i << " " << actual[i].first;
  }
}

// The summary recomputed from the records, independently of the store's code: every
// record of every report the filter selects.
DmarcSummary Recompute(const DmarcStore& dmarc, const DmarcFilter& filter) {
  std::vector<DmarcReport> reports = testing::Collect<DmarcReport>(
      [&](const auto& visit) { return dmarc.ListReports(filter, visit); });
  std::map<std::string, DmarcTally> by_ip, by_org;
  DmarcSummary summary;
  for (const DmarcReport& report : reports) {
    std::set<std::string> seen;
    DmarcTally& org = by_org[report.meta.org_name];
    ++org.reports;
    ++summary.total.reports;
    EXPECT_TRUE(dmarc
                    .ListRecords(report.id,
                                 [&](const AggregateRecord& record) {
                                   const bool dkim = ascii::Lowercase(record.dkim) == "pass";
                                   const bool spf = ascii::Lowercase(record.spf) == "pass";
                                   const std::string disposition =
                                       ascii::Lowercase(record.disposition);
                                   DmarcTally& ip = by_ip[record.source_ip];
                                   if (seen.insert(record.source_ip).second) ++ip.reports;
                                   for (DmarcTally* t : {&ip, &org, &summary.total}) {
                                     t->messages += record.count;
                                     t->dmarc_pass += dkim || spf ? record.count : 0;
                                     t->dkim_aligned += dkim ? record.count : 0;
                                     t->spf_aligned += spf ? record.count : 0;
                                     t->none += disposition == "none" ? record.count : 0;
                                     t->quarantine +=
                                         disposition == "quarantine" ? record.count : 0;
                                     t->reject += disposition == "reject" ? record.count : 0;
                                   }
                                   return true;
                                 })
                    .ok());
  }
  auto sorted = [](const std::map<std::string, DmarcTally>& tallies) {
    Rows rows(tallies.begin(), tallies.end());
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a.second.messages > b.second.messages;
    });
    return rows;
  };
  summary.by_source_ip = sorted(by_ip);
  summary.by_org = sorted(by_org);
  summary.source_ips = by_ip.size();
  summary.orgs = by_org.size();
  return summary;
}

void ExpectMatchesRecords(const DmarcStore& dmarc, const DmarcFilter& filter,
                          uint64_t from_records = 0) {
  Result<DmarcSummary> summary = dmarc.Summarize(filter);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  const DmarcSummary expected = Recompute(dmarc, filter);
  EXPECT_EQ(Fields(summary->total), Fields(expected.total));
  ExpectSameRows(summary->by_source_ip, expected.by_source_ip, "source IPs");
  ExpectSameRows(summary->by_org, expected.by_org, "organisations");
  EXPECT_EQ(summary->source_ips, expected.source_ips);
  EXPECT_EQ(summary->reports_from_records, from_records);
}

// The summaries of `filter` with each limit in `tops` are the first rows of `all` (its
// summary without a limit), with the same totals.
void ExpectTopRows(const DmarcStore& dmarc, const DmarcFilter& filter, const DmarcSummary& all,
                   std::initializer_list<uint64_t> tops) {
  for (uint64_t top : tops) {
    Result<DmarcSummary> some = dmarc.Summarize(filter, top);
    ASSERT_TRUE(some.ok()) << some.status().ToString();
    Rows expected(all.by_source_ip.begin(),
                  all.by_source_ip.begin() + std::min<size_t>(top, all.by_source_ip.size()));
    ExpectSameRows(some->by_source_ip, expected, "top rows of one report");
    EXPECT_EQ(some->source_ips, all.source_ips);
    EXPECT_EQ(Fields(some->total), Fields(all.total));
  }
}

// Records from a few sources, each seen many times: `count` records, source i % 7.
std::string RepeatedSources(uint64_t count) {
  std::string records;
  const char* dispositions[] = {"none", "quarantine", "reject"};
  for (uint64_t i = 0; i < count; ++i) {
    records += RecordXml("192.0.2." + std::to_string(i % 7), i % 5 + 1, dispositions[i % 3],
                         i % 2 ? "pass" : "fail", i % 3 ? "Pass" : "fail");
  }
  return records;
}

class DmarcRollupTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.Sub("archive"); }
  // Reports of two domains, two organisations, several batches each; rollups added
  // with every batch (one pending source is enough), every few batches, or all with the
  // last commit.
  void ImportSome(DmarcStore& dmarc) {
    ASSERT_TRUE(ImportXml(dmarc,
                          ReportXml("google.com", "g1", "example.org", 1000, RepeatedSources(230)),
                          50, 1)
                    .ok());
    ASSERT_TRUE(ImportXml(dmarc,
                          ReportXml("Yahoo", "y1", "example.org", 2000,
                                    RepeatedSources(95) + NumberedRecords(40)),
                          30, 20)
                    .ok());
    ASSERT_TRUE(ImportXml(dmarc,
                          ReportXml("google.com", "g2", "example.org", 3000, NumberedRecords(60)),
                          1000)
                    .ok());
    ASSERT_TRUE(
        ImportXml(dmarc, ReportXml("google.com", "g3", "other.example", 1500, RepeatedSources(20)))
            .ok());
    // Small reports joined to one bulk transaction.
    DmarcStore::Bulk bulk(dmarc);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(ImportXml(dmarc, ReportXml("bulk.example", "b" + std::to_string(i), "example.org",
                                             4000 + i, RepeatedSources(12 + i)))
                      .ok());
    }
    ASSERT_TRUE(bulk.Commit().ok());
  }
  // The filters every comparison runs.
  static std::vector<DmarcFilter> Filters() {
    std::vector<DmarcFilter> filters(5);
    filters[0].domain = "example.org";
    filters[1].domain = "EXAMPLE.org";
    filters[1].since = 1500;
    filters[2].domain = "example.org";
    filters[2].org = "google";
    filters[3].domain = "other.example";
    filters[4].domain = "example.org";
    filters[4].until = 2500;
    return filters;
  }
  testing::TempDir dir_;
};

TEST_F(DmarcRollupTest, SummaryFromRollupsEqualsTheRecords) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  ImportSome(dmarc);
  // A duplicate changes nothing.
  EXPECT_EQ(
      ImportXml(dmarc, ReportXml("google.com", "g1", "example.org", 1000, RepeatedSources(230)), 50)
          ->outcome,
      DmarcImportOutcome::kDuplicate);
  for (const DmarcFilter& filter : Filters()) ExpectMatchesRecords(dmarc, filter);
}

TEST_F(DmarcRollupTest, TopRowsAreTheLargestInOrder) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  // One report: counts 1..300 over distinct sources, then sources 192.0.2.x repeated
  // across batches (their order entries move as they grow).
  ASSERT_TRUE(ImportXml(dmarc,
                        ReportXml("o", "one", "example.org", 10,
                                  NumberedRecords(300) + RepeatedSources(700)),
                        64, 5)
                  .ok());
  DmarcFilter filter;
  filter.domain = "example.org";
  Result<DmarcSummary> all = dmarc.Summarize(filter);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->source_ips, 307u);
  ExpectTopRows(dmarc, filter, *all, {1, 5, 12, 400});
  // Several reports: the top rows of the merged sources.
  ImportSome(dmarc);
  all = dmarc.Summarize(filter);
  Result<DmarcSummary> some = dmarc.Summarize(filter, 3);
  ASSERT_TRUE(some.ok());
  ExpectSameRows(some->by_source_ip, Rows(all->by_source_ip.begin(), all->by_source_ip.begin() + 3),
                 "top rows of several reports");
  ExpectSameRows(some->by_org, Rows(all->by_org.begin(), all->by_org.begin() + 3), "top orgs");
  EXPECT_EQ(some->orgs, all->orgs);
}

TEST_F(DmarcRollupTest, FailedAndInterruptedImportsLeaveNoRollups) {
  const std::string big = ReportXml("big.example", "big-1", "example.org", 5000,
                                    NumberedRecords(900) + RepeatedSources(600));
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    testing::SteppedSource source(big, big.size() / 2,
                                  [] { return Status::IOError("the disk went away"); });
    DmarcImportOptions options;
    options.batch_records = 100;
    options.max_pending_sources = 50;  // spilled
    EXPECT_FALSE(dmarc.ImportAggregate(source, options, {}).ok());
  }
  EXPECT_EQ(CountEntries(path(), "dmarc_rollups"), 0);
  // A child dies midway: its batches stay as an incomplete report...
  pid_t child = testing::Fork([&] {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    testing::SteppedSource source(big, big.size() * 3 / 4, []() -> Status { _exit(3); });
    DmarcImportOptions options;
    options.batch_records = 100;
    options.max_pending_sources = 50;  // spilled
    dmarc.ImportAggregate(source, options, {});
    return 0;
  });
  ASSERT_EQ(testing::Wait(child), 3);
  // (the rollups are written after the last record: none yet)
  EXPECT_EQ(CountEntries(path(), "dmarc_rollups"), 0);
  // ...are never summed, and go with it when the next import replaces it.
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  DmarcFilter filter;
  filter.domain = "example.org";
  EXPECT_EQ(dmarc.Summarize(filter)->total.messages, 0u);
  EXPECT_EQ(dmarc.Summarize(filter, 10)->by_source_ip.size(), 0u);
  ASSERT_TRUE(ImportXml(dmarc, big, 70).ok());
  ExpectMatchesRecords(dmarc, filter);
  const uint64_t sources = dmarc.Summarize(filter)->source_ips;
  store.reset();
  EXPECT_EQ(CountEntries(path(), "dmarc_rollups"), static_cast<int64_t>(2 * sources));
}

// The top rows of one report whose order holds only its first sources, its rollups
// spilled while importing and written over several commits.
TEST_F(DmarcRollupTest, OrderHoldsTheFirstSourcesALargerLimitReadsThemAll) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  DmarcImportOptions options;
  options.batch_records = 64;
  options.max_pending_sources = 40;
  options.ordered_sources = 5;
  ASSERT_TRUE(
      ImportXml(dmarc,
                ReportXml("o", "one", "example.org", 10,
                          RepeatedSources(350) + NumberedRecords(300) + RepeatedSources(350)),
                options)
          .ok());
  DmarcFilter filter;
  filter.domain = "example.org";
  ExpectMatchesRecords(dmarc, filter);
  Result<DmarcSummary> all = dmarc.Summarize(filter);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->source_ips, 307u);
  ExpectTopRows(dmarc, filter, *all, {1, 4, 5, 6, 12, 307, 400});
  store.reset();
  EXPECT_EQ(CountEntries(path(), "dmarc_rollups"), 307 + 5);
}

// max_pending_sources 0 is taken as 1: every source spilled, one written per commit.
TEST_F(DmarcRollupTest, NoPendingSourceAtAll) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  ASSERT_TRUE(
      ImportXml(dmarc,
                ReportXml("o", "one", "example.org", 10, RepeatedSources(30) + NumberedRecords(20)),
                7, 0)
          .ok());
  DmarcFilter filter;
  filter.domain = "example.org";
  ExpectMatchesRecords(dmarc, filter);
}

// A report's rollups are appended, also when spilled: their pages are full, not half.
TEST_F(DmarcRollupTest, SpilledRollupsFillTheirPages) {
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    ASSERT_TRUE(
        ImportXml(dmarc, ReportXml("o", "one", "example.org", 10, NumberedRecords(4000)), 500, 300)
            .ok());
  }
  const std::optional<MDB_stat> stat = testing::StatOf(path(), "dmarc_rollups");
  ASSERT_TRUE(stat.has_value());
  ASSERT_EQ(stat->ms_entries, 4000u + 1000);
  // Source entries: node header 8, key 9 + IP (at most 11: 10.0.15.159), value 8; order
  // entries: 8, key 17 + IP, no value; 2 bytes each in the page's index.
  const size_t bytes = 4000 * (8 + 20 + 8 + 2) + 1000 * (8 + 28 + 2);
  const size_t room = stat->ms_leaf_pages * (stat->ms_psize - 16);
  EXPECT_GT(bytes * 100 / room, 85u) << stat->ms_leaf_pages << " leaf pages";
}

// Turns the archive into one written before rollups: no dmarc_rollups, version 1 report
// values (which end before the rollup fields).
void RemoveRollups(const std::string& path) {
  testing::ModifyArchive(path, [](MDB_txn* txn, MDB_dbi (*open)(MDB_txn*, const char*)) {
    ASSERT_EQ(mdb_drop(txn, open(txn, "dmarc_rollups"), 1), 0);
    MDB_dbi reports = open(txn, "dmarc_reports");
    std::vector<std::pair<std::string, std::string>> values;  // copied: the puts move pages
    MDB_cursor* cursor = nullptr;
    ASSERT_EQ(mdb_cursor_open(txn, reports, &cursor), 0);
    MDB_val key, value;
    for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
      values.emplace_back(std::string(static_cast<const char*>(key.mv_data), key.mv_size),
                          std::string(static_cast<const char*>(value.mv_data), value.mv_size));
    }
    mdb_cursor_close(cursor);
    for (auto& [id, stored_value] : values) {
      dmarc_codec::StoredReport stored;
      ASSERT_TRUE(dmarc_codec::DecodeReport(stored_value, &stored).ok());
      stored.rolled_up = stored.source_ips = 0;
      std::string v1 = dmarc_codec::EncodeReport(stored);
      v1.resize(v1.size() - 2);  // the two varints, 0 each
      v1[0] = 1;
      MDB_val id_val = {id.size(), id.data()};
      MDB_val replaced = {v1.size(), v1.data()};
      ASSERT_EQ(mdb_put(txn, reports, &id_val, &replaced, 0), 0);
    }
  });
}

TEST_F(DmarcRollupTest, ReportsBeforeRollupsAreSummedFromRecordsUntilBuilt) {
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    ImportSome(dmarc);
  }
  RemoveRollups(path());
  ASSERT_EQ(CountEntries(path(), "dmarc_rollups"), -1);
  {
    auto store = testing::OpenTestStore(path(), /*read_only=*/true);
    DmarcStore dmarc(store);
    ExpectMatchesRecords(dmarc, Filters()[0], 6);  // no rollups database at all
    EXPECT_EQ(dmarc.BuildRollups().status().code(), Status::Code::kInvalidArgument);
  }
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  // Interrupted after three commits (20 records each)...
  int commits = 0;
  Result<DmarcRollupBuild> built =
      dmarc.BuildRollups(20, [&](const DmarcRollupBuild&) { return ++commits < 3; });
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->records, 60u);
  EXPECT_EQ(built->reports, 0u);
  ExpectMatchesRecords(dmarc, Filters()[0], 6);  // a half-built report still reads its records
  // ...resumed: goes on from the 61st record, and completes every report.
  built = dmarc.BuildRollups(20);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->reports, 7u);
  EXPECT_EQ(built->records + 60, 230u + 135 + 60 + 20 + 12 + 13 + 14);
  for (const DmarcFilter& filter : Filters()) ExpectMatchesRecords(dmarc, filter);
  EXPECT_EQ(dmarc.BuildRollups()->records, 0u);  // nothing left to do
  // The top rows of one report come from the order the build wrote.
  DmarcFilter one = Filters()[0];
  one.until = 1001;
  Result<DmarcSummary> top = dmarc.Summarize(one, 2);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->reports_from_records, 0u);
  const Rows all = Recompute(dmarc, one).by_source_ip;
  ExpectSameRows(top->by_source_ip, Rows(all.begin(), all.begin() + 2), "top rows after the build");
}

TEST_F(DmarcRollupTest, RecordsArePagedFromAnOffset) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  Result<DmarcImportResult> imported =
      ImportXml(dmarc, ReportXml("o", "r", "example.org", 1, NumberedRecords(30)), 7);
  ASSERT_TRUE(imported.ok());
  std::vector<uint64_t> counts;
  ASSERT_TRUE(dmarc
                  .ListRecords(
                      imported->id,
                      [&](const AggregateRecord& record) {
                        counts.push_back(record.count);
                        return counts.size() < 4;
                      },
                      25)
                  .ok());
  EXPECT_EQ(counts, (std::vector<uint64_t>{26, 27, 28, 29}));
  counts.clear();
  ASSERT_TRUE(dmarc
                  .ListRecords(
                      imported->id,
                      [&](const AggregateRecord& record) {
                        counts.push_back(record.count);
                        return true;
                      },
                      30)
                  .ok());
  EXPECT_TRUE(counts.empty());
}

}  // namespace
}  // namespace archiver
