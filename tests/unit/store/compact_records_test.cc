// Compact delivery records (format 4, message_headers.h): the header summary kept once per
// message in msg_headers, the trace packed. An archive whose records older software wrote
// (versions 1 and 2, summary and trace in each) reads the same, and Store::CompactRecordsStep
// rewrites it step by step, interrupted, resumed and with deliveries in between, without
// changing anything a reader sees; Verify checks the summaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::Filter;
using testing::ModifyArchive;

constexpr uint64_t kSecond = 1000000;

std::string_view IdOf(const DeliveryRecord& record) {
  return {reinterpret_cast<const char*>(record.id.data()), record.id.size()};
}

class CompactRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = Path(), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
  }
  std::string Path() { return dir_.Sub("a"); }

  // Delivery n of message `message` (several deliveries share one) to user u<n % 3>.
  void Deliver(int n, int message) {
    DeliveryRecord record;
    record.received_us = (1000 + n) * kSecond;
    record.origin = "lmtp";
    record.envelope_from = "sender" + std::to_string(message) + "@example.com";
    record.user = "u" + std::to_string(n % 3);
    record.envelope_to = record.user + "@example.org";
    record.mailbox = n % 4 == 0 ? "Junk" : "INBOX";
    record.headers.from = "Sender <" + record.envelope_from + ">";
    record.headers.from_addr = record.envelope_from;
    record.headers.to = "many@example.org";
    record.headers.subject = "Report " + std::to_string(message);
    record.headers.message_id = "<" + std::to_string(message) + "@example.com>";
    record.trace_prefix =
        "Return-Path: <" + record.envelope_from + ">\r\nDelivered-To: " + record.envelope_to +
        "\r\nReceived: from mx by imap with LMTP id " + std::to_string(n) + "\r\n";
    Result<ArchiveOutcome> archived =
        store_->Archive("message " + std::to_string(message) + "\r\n", record);
    ASSERT_TRUE(archived.ok()) << archived.status().ToString();
  }
  // Deliveries first..last-1 of messages n / 2: most messages go to two users.
  void DeliverRange(int first, int last) {
    for (int n = first; n < last; ++n) Deliver(n, n / 2);
  }

  // Every delivery as readers see it, oldest first, with its summary and trace (as
  // version 1 bytes: every field), and what listings show.
  std::vector<std::string> Snapshot() {
    std::vector<std::string> seen;
    std::map<std::string, bool> messages;
    Status listed = store_->ListDeliveries(Filter(), [&](const Delivery& delivery) {
      seen.push_back("listed " + record::EncodeDeliveryVersion(delivery.record, 1));
      messages[std::string(IdOf(delivery.record))] = true;
      return true;
    });
    EXPECT_TRUE(listed.ok()) << listed.ToString();
    for (const auto& [id_bytes, unused] : messages) {
      MessageId id;
      std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
      Result<std::vector<Delivery>> deliveries = store_->DeliveriesOf(id);
      EXPECT_TRUE(deliveries.ok()) << deliveries.status().ToString();
      if (!deliveries.ok()) continue;
      for (const Delivery& delivery : *deliveries)
        seen.push_back("of message " + record::EncodeDeliveryVersion(delivery.record, 1));
    }
    return seen;
  }

  // The archive as format 3 software left it: every record of version 1 with its summary,
  // no msg_headers, no marker. The store is closed meanwhile.
  void MakeFormatThree() {
    store_.reset();
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi deliveries = open(txn, "deliveries"), headers = open(txn, "msg_headers"),
              meta = open(txn, "meta");
      std::vector<std::pair<std::string, std::string>> rewritten;
      MDB_cursor* cursor = nullptr;
      ASSERT_EQ(mdb_cursor_open(txn, deliveries, &cursor), 0);
      MDB_val key, value;
      for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        DeliveryRecord record;
        ASSERT_TRUE(record::DecodeDelivery({static_cast<const char*>(value.mv_data), value.mv_size},
                                           &record)
                        .ok());
        MDB_val id = {record.id.size(), record.id.data()}, summary;
        ASSERT_EQ(mdb_get(txn, headers, &id, &summary), 0);
        ASSERT_TRUE(
            record::DecodeHeaderSummary(
                {static_cast<const char*>(summary.mv_data), summary.mv_size}, &record.headers)
                .ok());
        rewritten.emplace_back(std::string(static_cast<const char*>(key.mv_data), key.mv_size),
                               record::EncodeDeliveryVersion(record, 1));
      }
      mdb_cursor_close(cursor);
      for (auto& [k, v] : rewritten) {
        MDB_val key_val = {k.size(), k.data()}, value_val = {v.size(), v.data()};
        ASSERT_EQ(mdb_put(txn, deliveries, &key_val, &value_val, 0), 0);
      }
      ASSERT_EQ(mdb_drop(txn, headers, 1), 0);
      MDB_val marker = {15, const_cast<char*>("records_compact")};
      ASSERT_EQ(mdb_del(txn, meta, &marker, nullptr), 0);
      std::array<char, 8> three = record::EncodeCounter(3);
      MDB_val format = {14, const_cast<char*>("format_version")}, version = {8, three.data()};
      ASSERT_EQ(mdb_put(txn, meta, &format, &version, 0), 0);
    });
    SetUp();
  }

  // Versions of the deliveries values, counted; and msg_headers entries (-1: none).
  std::map<int, int> RecordVersions(int* summaries) {
    store_.reset();
    std::map<int, int> versions;
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi deliveries = open(txn, "deliveries");
      MDB_cursor* cursor = nullptr;
      ASSERT_EQ(mdb_cursor_open(txn, deliveries, &cursor), 0);
      MDB_val key, value;
      for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        ++versions[static_cast<const uint8_t*>(value.mv_data)[0]];
      }
      mdb_cursor_close(cursor);
      MDB_dbi headers = 0;
      MDB_stat stat;
      *summaries =
          mdb_dbi_open(txn, "msg_headers", 0, &headers) == 0 && mdb_stat(txn, headers, &stat) == 0
              ? static_cast<int>(stat.ms_entries)
              : -1;
    });
    SetUp();
    return versions;
  }

  CompactProgress Step(size_t max) {
    Result<CompactProgress> step = store_->CompactRecordsStep(max);
    EXPECT_TRUE(step.ok()) << step.status().ToString();
    return step.ok() ? *step : CompactProgress{0, 0, true};
  }

  std::vector<std::string> Damages() {
    std::vector<std::string> damages;
    Result<VerifyReport> report = store_->Verify();
    if (!report.ok()) return {report.status().ToString()};
    for (const auto& [id, status] : report->damaged) damages.push_back(status.ToString());
    return damages;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(CompactRecordsTest, NewRecordsAreCompactAndTheSummaryIsStoredOnce) {
  DeliverRange(0, 40);
  int summaries = 0;
  EXPECT_EQ(RecordVersions(&summaries), (std::map<int, int>{{3, 40}}));
  EXPECT_EQ(summaries, 20);
  std::vector<std::string> seen = Snapshot();
  ASSERT_EQ(seen.size(), 80u);
  EXPECT_NE(seen[0].find("Report 19"), std::string::npos);  // newest first, with its summary
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const std::string& s) {
    return s.find("LMTP id 39") != std::string::npos;  // with its own trace
  }));
  EXPECT_TRUE(Damages().empty());
  const CompactProgress step = Step(10);  // a new archive is compact from the start
  EXPECT_TRUE(step.complete);
  EXPECT_EQ(step.visited, 0u);
  EXPECT_EQ(store_->CompactRecordsStep(0).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(CompactRecordsTest, OlderRecordsReadTheSameAndAreRewrittenStepByStep) {
  DeliverRange(0, 40);
  std::vector<std::string> expected = Snapshot();
  MakeFormatThree();
  int summaries = 0;
  EXPECT_EQ(RecordVersions(&summaries), (std::map<int, int>{{1, 40}}));
  EXPECT_EQ(summaries, -1);
  EXPECT_EQ(Snapshot(), expected);
  EXPECT_TRUE(Damages().empty());

  // Deliveries go on: a new message, and a new delivery of an older message (whose
  // summary msg_headers gains now), both compact.
  Deliver(40, 40);
  Deliver(41, 3);
  uint64_t visited = 0, rewritten = 0;
  int steps = 0;
  for (CompactProgress step; !step.complete; ++steps) {
    step = Step(7);
    visited += step.visited;
    rewritten += step.rewritten;
    if (steps == 2) {  // interrupted: the next step resumes where this one stopped
      store_.reset();
      SetUp();
    }
    if (steps == 3) Deliver(42 + steps, 100);  // and more deliveries meanwhile
    expected = Snapshot();
    EXPECT_TRUE(Damages().empty()) << "after step " << steps;
  }
  EXPECT_EQ(rewritten, 40u);
  EXPECT_EQ(visited, 43u);
  EXPECT_EQ(RecordVersions(&summaries), (std::map<int, int>{{3, 43}}));
  EXPECT_EQ(summaries, 22);
  EXPECT_EQ(Snapshot(), expected);
  const CompactProgress again = Step(7);
  EXPECT_TRUE(again.complete);
  EXPECT_EQ(again.visited, 0u);
}

TEST_F(CompactRecordsTest, RewritingChangesNothingReadersSee) {
  DeliverRange(0, 12);
  const std::vector<std::string> before = Snapshot();
  MakeFormatThree();
  while (!Step(5).complete) {
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(CompactRecordsTest, VerifyReportsAMissingSummary) {
  DeliverRange(0, 4);
  store_.reset();
  ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
    MDB_dbi headers = open(txn, "msg_headers");
    MDB_cursor* cursor = nullptr;
    ASSERT_EQ(mdb_cursor_open(txn, headers, &cursor), 0);
    MDB_val key, value;
    ASSERT_EQ(mdb_cursor_get(cursor, &key, &value, MDB_FIRST), 0);
    ASSERT_EQ(mdb_cursor_del(cursor, 0), 0);
    mdb_cursor_close(cursor);
  });
  SetUp();
  const std::vector<std::string> damages = Damages();
  ASSERT_EQ(damages.size(), 2u) << damages[0] << " | " << damages.back();  // its 2 deliveries
  EXPECT_NE(damages[0].find("the header summary of its message is missing"), std::string::npos)
      << damages[0];
}

}  // namespace
}  // namespace archiver
