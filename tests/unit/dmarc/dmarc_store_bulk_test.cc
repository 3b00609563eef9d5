// DmarcStore::Bulk: several small reports (and a failure report and a ledger error) in
// one commit, invisible until it; a duplicate inside one bulk; a bulk dropped without
// its commit; a failed write (map full) that fails every covered report and leaves
// nothing; the count, age and size thresholds; a report larger than a batch.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_store_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

using namespace std::chrono_literals;
using testing::ImportXml;
using testing::NumberedRecords;
using testing::ReportXml;

std::string Report(int n, uint64_t records = 3) {
  return ReportXml("org" + std::to_string(n % 3) + ".example", "report-" + std::to_string(n),
                   "example.org", 1714521600 + n * 86400, NumberedRecords(records));
}

FailureReport Failure(const std::string& subject) {
  FailureReport report;
  report.feedback_type = "auth-failure";
  report.fields = {{"Feedback-Type", "auth-failure"}};
  report.original_headers = "Subject: " + subject + "\r\n";
  report.original_subject = subject;
  report.policy_domain = "example.org";
  return report;
}

DmarcBulkOptions Unlimited() {
  DmarcBulkOptions options;
  options.max_reports = 1000000;
  options.max_open = 1h;
  options.max_bytes = 1ULL << 40;
  return options;
}

class DmarcBulkTest : public ::testing::Test {
 protected:
  void Open(uint64_t map_size = 64 << 20) {
    // DMARC data may take the whole map here: these tests are about the map filling up.
    Result<std::shared_ptr<Store>> store = Store::Open({.path = dir_.Sub("archive"),
                                                        .map_size = map_size,
                                                        .sync = false,
                                                        .dmarc_max_space = map_size});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
    dmarc_ = std::make_unique<DmarcStore>(store_);
  }
  void SetUp() override { Open(); }
  DmarcStats Stats() {
    Result<DmarcStats> stats = dmarc_->GetStats();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : DmarcStats{};
  }
  uint64_t StoredReports() { return Stats().reports; }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<DmarcStore> dmarc_;
};

TEST_F(DmarcBulkTest, SeveralReportsInOneCommitVisibleOnlyAfterIt) {
  DmarcStore::Bulk bulk(*dmarc_, Unlimited());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    Result<DmarcImportResult> imported = ImportXml(*dmarc_, Report(i));
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    EXPECT_EQ(imported->outcome, DmarcImportOutcome::kStored);
    EXPECT_EQ(imported->records, 3u);
    ids.push_back(imported->id);
  }
  Result<DmarcImportResult> failure = dmarc_->ImportFailure(Failure("one"), {});
  ASSERT_TRUE(failure.ok()) << failure.status().ToString();
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "bad gzip", testing::FileOrigin("x.gz")).ok());
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(bulk.pending());
  EXPECT_EQ(bulk.commits(), 0u);
  EXPECT_EQ(StoredReports(), 0u);  // a reader sees nothing before the commit
  EXPECT_EQ(dmarc_->GetReport(1).status().code(), Status::Code::kNotFound);

  ASSERT_TRUE(bulk.Commit().ok());
  EXPECT_FALSE(bulk.pending());
  EXPECT_EQ(bulk.commits(), 1u);
  const DmarcStats stats = Stats();
  EXPECT_EQ(stats.reports, 5u);
  EXPECT_EQ(stats.records, 15u);
  EXPECT_EQ(stats.failures, 1u);
  EXPECT_EQ(stats.errors, 1u);
  for (uint64_t id : ids) {
    Result<DmarcReport> report = dmarc_->GetReport(id);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->records, 3u);
    EXPECT_EQ(report->meta.report_id, "report-" + std::to_string(id - 1));
  }
  EXPECT_TRUE(bulk.Commit().ok());  // nothing pending: no second commit
  EXPECT_EQ(bulk.commits(), 1u);
}

TEST_F(DmarcBulkTest, DuplicateInsideOneBulkIsFoundInItsOwnWrites) {
  DmarcStore::Bulk bulk(*dmarc_, Unlimited());
  Result<DmarcImportResult> first = ImportXml(*dmarc_, Report(7));
  Result<DmarcImportResult> again = ImportXml(*dmarc_, Report(7));
  Result<DmarcImportResult> failure = dmarc_->ImportFailure(Failure("same"), {});
  Result<DmarcImportResult> failure_again = dmarc_->ImportFailure(Failure("same"), {});
  ASSERT_TRUE(first.ok() && again.ok() && failure.ok() && failure_again.ok());
  EXPECT_EQ(first->outcome, DmarcImportOutcome::kStored);
  EXPECT_EQ(again->outcome, DmarcImportOutcome::kDuplicate);
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(failure_again->outcome, DmarcImportOutcome::kDuplicate);
  EXPECT_EQ(failure_again->id, failure->id);
  ASSERT_TRUE(bulk.Commit().ok());
  EXPECT_EQ(StoredReports(), 1u);
  EXPECT_EQ(Stats().failures, 1u);
  // And against what an earlier commit stored.
  Result<DmarcImportResult> later = ImportXml(*dmarc_, Report(7));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->outcome, DmarcImportOutcome::kDuplicate);
  EXPECT_FALSE(bulk.pending());
}

TEST_F(DmarcBulkTest, BulkDroppedWithoutCommitLeavesNothing) {
  {
    DmarcStore::Bulk bulk(*dmarc_, Unlimited());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ImportXml(*dmarc_, Report(i)).ok());
    ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "bad", testing::FileOrigin("y")).ok());
  }
  EXPECT_EQ(StoredReports(), 0u);
  EXPECT_EQ(Stats().errors, 0u);
  // Without a Bulk, every write commits by itself again.
  ASSERT_TRUE(ImportXml(*dmarc_, Report(1)).ok());
  EXPECT_EQ(StoredReports(), 1u);
}

TEST_F(DmarcBulkTest, MapFullFailsEveryCoveredReportAndLeavesNothing) {
  store_.reset();
  dmarc_.reset();
  Open(1 << 20);
  DmarcStore::Bulk bulk(*dmarc_, Unlimited());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(ImportXml(*dmarc_, Report(i, 20)).ok());
  ASSERT_TRUE(bulk.Commit().ok());
  Status failed;
  int joined = 0;
  for (int i = 2; i < 2000 && failed.ok(); ++i) {
    Result<DmarcImportResult> imported = ImportXml(*dmarc_, Report(i, 20));
    failed = imported.status();
    joined += imported.ok();
  }
  ASSERT_EQ(failed.code(), Status::Code::kMapFull) << failed.ToString();
  EXPECT_GT(joined, 1);
  EXPECT_FALSE(bulk.pending());
  // Every later call through the bulk fails with the same reason: nothing succeeds
  // after earlier writes were lost.
  EXPECT_EQ(bulk.Commit().code(), Status::Code::kMapFull);
  EXPECT_EQ(ImportXml(*dmarc_, Report(5000)).status().code(), Status::Code::kMapFull);
  EXPECT_EQ(dmarc_->RecordError(DmarcItemKind::kPayload, "x", {}).code(), Status::Code::kMapFull);
  EXPECT_EQ(bulk.commits(), 1u);
  const DmarcStats stats = Stats();
  EXPECT_EQ(stats.reports, 2u);
  EXPECT_EQ(stats.records, 40u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(dmarc_->GetReport(3).status().code(), Status::Code::kNotFound);
  Result<VerifyReport> verified = store_->Verify();
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
}

TEST_F(DmarcBulkTest, CommitsAfterMaxReports) {
  DmarcBulkOptions options = Unlimited();
  options.max_reports = 3;
  DmarcStore::Bulk bulk(*dmarc_, options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ImportXml(*dmarc_, Report(i)).ok());
  EXPECT_EQ(bulk.commits(), 1u);
  EXPECT_FALSE(bulk.pending());
  EXPECT_EQ(StoredReports(), 3u);
  ASSERT_TRUE(dmarc_->ImportFailure(Failure("f"), {}).ok());
  ASSERT_TRUE(ImportXml(*dmarc_, Report(3)).ok());
  EXPECT_TRUE(bulk.pending());
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "bad", {}).ok());
  EXPECT_EQ(bulk.commits(), 2u);
  EXPECT_EQ(StoredReports(), 4u);
}

TEST_F(DmarcBulkTest, CommitsOnceOpenLongerThanMaxOpen) {
  DmarcBulkOptions options = Unlimited();
  options.max_open = 30ms;
  DmarcStore::Bulk bulk(*dmarc_, options);
  ASSERT_TRUE(ImportXml(*dmarc_, Report(0)).ok());
  ASSERT_TRUE(bulk.CommitIfDue().ok());
  EXPECT_TRUE(bulk.pending());  // young enough
  std::this_thread::sleep_for(40ms);
  // Checked before the next report is parsed: the first one is committed alone.
  ASSERT_TRUE(ImportXml(*dmarc_, Report(1)).ok());
  EXPECT_EQ(bulk.commits(), 1u);
  EXPECT_TRUE(bulk.pending());
  EXPECT_EQ(StoredReports(), 1u);
  std::this_thread::sleep_for(40ms);
  ASSERT_TRUE(bulk.CommitIfDue().ok());
  EXPECT_EQ(bulk.commits(), 2u);
  EXPECT_FALSE(bulk.pending());
  EXPECT_EQ(StoredReports(), 2u);
}

TEST_F(DmarcBulkTest, CommitsOnceMaxBytesOfRecordsArePending) {
  DmarcBulkOptions options = Unlimited();
  options.max_bytes = 1000;
  DmarcStore::Bulk bulk(*dmarc_, options);
  ASSERT_TRUE(ImportXml(*dmarc_, Report(0, 2)).ok());  // well under 1000 bytes encoded
  EXPECT_TRUE(bulk.pending());
  ASSERT_TRUE(ImportXml(*dmarc_, Report(1, 200)).ok());  // well over
  EXPECT_EQ(bulk.commits(), 1u);
  EXPECT_FALSE(bulk.pending());
  EXPECT_EQ(StoredReports(), 2u);
}

TEST_F(DmarcBulkTest, ReportLargerThanABatchCommitsTheBulkAndGoesAlone) {
  DmarcStore::Bulk bulk(*dmarc_, Unlimited());
  ASSERT_TRUE(ImportXml(*dmarc_, Report(0)).ok());
  Result<DmarcImportResult> big = ImportXml(*dmarc_, Report(1, 250), 100);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->records, 250u);
  EXPECT_EQ(bulk.commits(), 1u);
  EXPECT_FALSE(bulk.pending());
  EXPECT_EQ(StoredReports(), 2u);
  // A small one after it joins the bulk again; the big one again is a duplicate.
  ASSERT_TRUE(ImportXml(*dmarc_, Report(2), 100).ok());
  EXPECT_TRUE(bulk.pending());
  Result<DmarcImportResult> again = ImportXml(*dmarc_, Report(1, 250), 100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, DmarcImportOutcome::kDuplicate);
  EXPECT_EQ(again->id, big->id);
  ASSERT_TRUE(bulk.Commit().ok());
  EXPECT_EQ(StoredReports(), 3u);
}

}  // namespace
}  // namespace archiver
