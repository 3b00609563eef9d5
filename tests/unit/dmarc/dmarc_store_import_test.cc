// DmarcStore::ImportAggregate in batches: a report larger than a batch, an import that
// dies midway (a forked child that exits) replaced cleanly by the next import, an import
// still running in another process, a failed import cleaned up; and archives: made
// before DMARC support, opened read-only, or written by a newer DMARC format.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_store_test_util.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::CountEntries;
using testing::ImportXml;
using testing::NumberedRecords;
using testing::ReportXml;

using testing::Fork;
using testing::SteppedSource;
using testing::Wait;

class DmarcImportTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.Sub("archive"); }
  // 2,500 records, 1 + 2 + ... + 2500 messages.
  const std::string big_ =
      ReportXml("big.example", "big-1", "example.org", 5000, NumberedRecords(2500));
  static constexpr uint64_t kBigMessages = 2500ULL * 2501 / 2;
  testing::TempDir dir_;
};

TEST_F(DmarcImportTest, StoresAReportLargerThanABatchInOrder) {
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  Result<DmarcImportResult> imported = ImportXml(dmarc, big_, 300);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->records, 2500u);
  EXPECT_EQ(imported->messages, kBigMessages);
  uint64_t next = 0;
  ASSERT_TRUE(dmarc
                  .ListRecords(imported->id,
                               [&](const AggregateRecord& record) {
                                 EXPECT_EQ(record.count, next + 1);
                                 EXPECT_EQ(record.source_ip, "10.0." + std::to_string(next >> 8) +
                                                                 "." + std::to_string(next & 255));
                                 ++next;
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(next, 2500u);
  // A second report after it, and the first again: duplicate.
  ASSERT_TRUE(
      ImportXml(dmarc, ReportXml("o", "small", "example.org", 1, NumberedRecords(3)), 2).ok());
  EXPECT_EQ(ImportXml(dmarc, big_, 300)->outcome, DmarcImportOutcome::kDuplicate);
  store.reset();
  EXPECT_EQ(CountEntries(path(), "dmarc_records"), 2503);
}

TEST_F(DmarcImportTest, InterruptedImportIsInvisibleAndReplaced) {
  // The child dies once it has read most of the report: several batches are committed.
  pid_t child = Fork([&] {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    SteppedSource source(big_, big_.size() * 9 / 10, []() -> Status { _exit(3); });
    DmarcImportOptions options;
    options.batch_records = 500;
    dmarc.ImportAggregate(source, options, testing::FileOrigin("big.xml"));
    return 0;
  });
  ASSERT_EQ(Wait(child), 3);
  const int64_t left = CountEntries(path(), "dmarc_records");
  EXPECT_GE(left, 1500);  // whole batches only
  EXPECT_EQ(left % 500, 0);
  EXPECT_EQ(CountEntries(path(), "dmarc_reports"), 1);  // "importing"
  EXPECT_EQ(CountEntries(path(), "dmarc_idx_date"), 0);

  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    int listed = 0;
    ASSERT_TRUE(dmarc.ListReports({}, [&](const DmarcReport&) { return ++listed > 0; }).ok());
    EXPECT_EQ(listed, 0);
    EXPECT_EQ(dmarc.GetStats()->reports, 0u);
    EXPECT_EQ(dmarc.GetStats()->records, 0u);
    EXPECT_EQ(dmarc.GetReport(1).status().code(), Status::Code::kNotFound);

    Result<DmarcImportResult> again = ImportXml(dmarc, big_, 700);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->outcome, DmarcImportOutcome::kStored);
    EXPECT_EQ(again->records, 2500u);
    EXPECT_EQ(dmarc.GetStats()->reports, 1u);
    EXPECT_EQ(dmarc.GetStats()->records, 2500u);
    EXPECT_EQ(dmarc.GetStats()->messages, kBigMessages);
    uint64_t records = 0;
    ASSERT_TRUE(dmarc
                    .ListRecords(again->id,
                                 [&](const AggregateRecord&) {
                                   ++records;
                                   return true;
                                 })
                    .ok());
    EXPECT_EQ(records, 2500u);
  }
  EXPECT_EQ(CountEntries(path(), "dmarc_records"), 2500);  // the partial records are gone
  EXPECT_EQ(CountEntries(path(), "dmarc_reports"), 1);
  EXPECT_EQ(CountEntries(path(), "dmarc_report_keys"), 1);
}

TEST_F(DmarcImportTest, ImportRunningInAnotherProcessIsNotTakenOver) {
  int started[2], proceed[2];
  ASSERT_EQ(pipe(started), 0);
  ASSERT_EQ(pipe(proceed), 0);
  pid_t child = Fork([&] {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    SteppedSource source(big_, big_.size() / 2, [&]() -> Status {
      char byte = 1;
      if (write(started[1], &byte, 1) != 1 || read(proceed[0], &byte, 1) != 1) _exit(4);
      return Status::Ok();
    });
    DmarcImportOptions options;
    options.batch_records = 500;
    Result<DmarcImportResult> done =
        dmarc.ImportAggregate(source, options, testing::FileOrigin("big.xml"));
    return done.ok() && done->outcome == DmarcImportOutcome::kStored ? 0 : 5;
  });
  char byte = 0;
  ASSERT_EQ(read(started[0], &byte, 1), 1);  // the child has committed batches and waits
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    Result<DmarcImportResult> busy = ImportXml(dmarc, big_, 500);
    EXPECT_EQ(busy.status().code(), Status::Code::kIOError);
    EXPECT_NE(busy.status().message().find("being imported by process"), std::string::npos)
        << busy.status().ToString();
    // Another report goes in meanwhile.
    EXPECT_TRUE(
        ImportXml(dmarc, ReportXml("o", "other", "example.org", 1, NumberedRecords(3))).ok());
    ASSERT_EQ(write(proceed[1], &byte, 1), 1);
    EXPECT_EQ(Wait(child), 0);
    Result<DmarcImportResult> again = ImportXml(dmarc, big_, 500);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->outcome, DmarcImportOutcome::kDuplicate);
    EXPECT_EQ(dmarc.GetReport(again->id)->records, 2500u);
  }
  for (int fd : {started[0], started[1], proceed[0], proceed[1]}) close(fd);
}

TEST_F(DmarcImportTest, FailedImportLeavesNothing) {
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    SteppedSource source(big_, big_.size() / 2,
                         [] { return Status::IOError("the disk went away"); });
    DmarcImportOptions options;
    options.batch_records = 200;
    Result<DmarcImportResult> failed =
        dmarc.ImportAggregate(source, options, testing::FileOrigin("big.xml"));
    EXPECT_EQ(failed.status().code(), Status::Code::kIOError);
    EXPECT_NE(failed.status().message().find("the disk went away"), std::string::npos);
    // A parse error (no more records than allowed) is returned the same way.
    options.limits.max_records = 10;
    MemorySource limited(big_);
    EXPECT_EQ(dmarc.ImportAggregate(limited, options, {}).status().code(),
              Status::Code::kLimitExceeded);
  }
  EXPECT_EQ(CountEntries(path(), "dmarc_records"), 0);
  EXPECT_EQ(CountEntries(path(), "dmarc_reports"), 0);
  EXPECT_EQ(CountEntries(path(), "dmarc_report_keys"), 0);
}

TEST_F(DmarcImportTest, ArchiveMadeBeforeDmarcIsReadableAndGainsTheDatabases) {
  {
    auto store = testing::OpenTestStore(path());
    DeliveryRecord record;
    record.envelope_to = "bob@example.org";
    ASSERT_TRUE(store->Archive(testing::MakeMessage("a@b", "c@d", "s", "body"), record).ok());
  }
  ASSERT_EQ(CountEntries(path(), "dmarc_reports"), -1);  // as an archive made before DMARC
  {
    auto store = testing::OpenTestStore(path(), /*read_only=*/true);
    DmarcStore dmarc(store);
    int visited = 0;
    auto count = [&](const auto&) { return ++visited > 0; };
    EXPECT_TRUE(dmarc.ListReports({}, count).ok());
    EXPECT_TRUE(dmarc.ListFailures({}, count).ok());
    EXPECT_TRUE(dmarc.ListErrors(count).ok());
    EXPECT_TRUE(dmarc.ListMails(count).ok());
    EXPECT_EQ(visited, 0);
    EXPECT_EQ(dmarc.ListRecords(1, count).code(), Status::Code::kNotFound);
    EXPECT_EQ(dmarc.GetReport(1).status().code(), Status::Code::kNotFound);
    EXPECT_EQ(dmarc.GetFailure(1).status().code(), Status::Code::kNotFound);
    Result<DmarcSummary> summary = dmarc.Summarize({});
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->total.messages, 0u);
    Result<DmarcStats> stats = dmarc.GetStats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->reports + stats->failures + stats->errors + stats->mails, 0u);

    // Read-only: every write is refused, and nothing is created.
    const std::string xml = ReportXml("o", "r", "example.org", 1, NumberedRecords(1));
    EXPECT_EQ(ImportXml(dmarc, xml).status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(dmarc.ImportFailure({}, {}).status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(dmarc.RecordError(DmarcItemKind::kMail, "x", {}).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(dmarc.NoteMail({}).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(dmarc.ForgetErrorsOf({}).code(), Status::Code::kInvalidArgument);
  }
  EXPECT_EQ(CountEntries(path(), "dmarc_reports"), -1);
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    EXPECT_TRUE(ImportXml(dmarc, ReportXml("o", "r", "example.org", 1, NumberedRecords(2))).ok());
    EXPECT_EQ(store->GetStats()->deliveries, 1u);  // the mail archive is untouched
  }
  auto store = testing::OpenTestStore(path(), /*read_only=*/true);
  DmarcStore dmarc(store);
  EXPECT_EQ(dmarc.GetStats()->records, 2u);
  EXPECT_EQ(store->ListDeliveries({}, [](const Delivery&) { return true; }).code(),
            Status::Code::kOk);
}

TEST_F(DmarcImportTest, NewerDmarcFormatIsRefused) {
  {
    auto store = testing::OpenTestStore(path());
    DmarcStore dmarc(store);
    ASSERT_TRUE(dmarc.RecordError(DmarcItemKind::kMail, "x", {}).ok());
  }
  testing::ModifyArchive(path(), [](MDB_txn* txn, MDB_dbi (*open)(MDB_txn*, const char*)) {
    MDB_dbi meta = open(txn, "dmarc_meta");
    std::array<char, 8> version = record::EncodeCounter(2);
    MDB_val key = {14, const_cast<char*>("format_version")};
    MDB_val value = {8, version.data()};
    EXPECT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  });
  auto store = testing::OpenTestStore(path());
  DmarcStore dmarc(store);
  Status listed = dmarc.ListErrors([](const DmarcError&) { return true; });
  EXPECT_EQ(listed.code(), Status::Code::kCorruption);
  EXPECT_NE(listed.message().find("newer"), std::string::npos) << listed.ToString();
  EXPECT_EQ(dmarc.RecordError(DmarcItemKind::kMail, "y", {}).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace archiver
