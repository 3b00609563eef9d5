// Store::Verify in short transactions: everything is still checked and counted, writes
// made while it runs are not damage, a stop request ends it with what it found so far,
// and progress names each phase.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::ModifyArchive;

constexpr uint64_t kFirstUs = 1714567890000000;
constexpr int kMessages = 40;

class StoreVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Open();
    // Message i goes to 1 + i % 3 users: 40 messages, 79 deliveries.
    for (int i = 0; i < kMessages; ++i) ArchiveNew(i);
  }
  std::shared_ptr<Store> Open() {
    Result<std::shared_ptr<Store>> store =
        Store::Open({.path = dir_.Sub("a"), .map_size = 64 << 20, .sync = false});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }
  void ArchiveNew(int i) {
    const std::string message = testing::MakeMessage("a@b", "c@d", "subject " + std::to_string(i),
                                                     std::string(100 + i * 300, 'x'));
    for (int user = 0; user <= i % 3; ++user) {
      DeliveryRecord record;
      record.received_us = kFirstUs + static_cast<uint64_t>(i) * 1000000;
      record.envelope_to = "u" + std::to_string(user) + "@b";
      record.user = "u" + std::to_string(user);
      record.mailbox = "INBOX";
      ASSERT_TRUE(store_->Archive(message, record).ok());
    }
  }
  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(StoreVerifyTest, ShortTransactionsCheckEverythingOnce) {
  for (uint64_t per_transaction : {1, 3, 512}) {
    VerifyOptions options;
    options.entries_per_transaction = per_transaction;
    Result<VerifyReport> report = store_->Verify(options);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->messages_checked, static_cast<uint64_t>(kMessages)) << per_transaction;
    EXPECT_EQ(report->deliveries_checked, store_->GetStats()->deliveries) << per_transaction;
    EXPECT_TRUE(report->damaged.empty()) << report->damaged[0].second.ToString();
    EXPECT_FALSE(report->interrupted);
  }
}

TEST_F(StoreVerifyTest, DamageIsFoundAcrossTransactions) {
  ModifyArchive(dir_.Sub("a"), [](MDB_txn* txn, auto open) {
    MDB_dbi messages = open(txn, "messages");
    MDB_cursor* cursor = nullptr;
    ASSERT_EQ(mdb_cursor_open(txn, messages, &cursor), 0);
    MDB_val key, value;
    ASSERT_EQ(mdb_cursor_get(cursor, &key, &value, MDB_LAST), 0);
    mdb_cursor_close(cursor);
    ASSERT_EQ(mdb_del(txn, messages, &key, nullptr), 0);  // its deliveries lose it
  });
  store_ = nullptr;
  store_ = Open();
  VerifyOptions options;
  options.entries_per_transaction = 2;
  Result<VerifyReport> report = store_->Verify(options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->messages_checked, static_cast<uint64_t>(kMessages - 1));
  size_t missing = 0, counters = 0;
  for (const auto& [id, status] : report->damaged) {
    missing += status.message().find("is missing") != std::string::npos;
    counters += status.message().find("statistics counter") != std::string::npos;
  }
  EXPECT_GE(missing, 1u);
  EXPECT_EQ(counters, 3u);  // messages, raw_bytes, stored_bytes
}

TEST_F(StoreVerifyTest, AStopRequestEndsItWithWhatItFound) {
  int asked = 0;
  VerifyOptions options;
  options.entries_per_transaction = 4;
  options.stop = [&] { return ++asked > kMessages + 10; };  // during the message pass
  Result<VerifyReport> report = store_->Verify(options);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->interrupted);
  EXPECT_LT(report->messages_checked, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(report->deliveries_checked, 0u);
  EXPECT_TRUE(report->damaged.empty()) << "the counters are not compared when interrupted";
}

TEST_F(StoreVerifyTest, WritesWhileItRunsAreNotDamage) {
  for (const char* during : {"messages", "deliveries"}) {
    int added = 0;
    VerifyOptions options;
    options.entries_per_transaction = 3;
    options.progress_interval_ms = 0;
    options.progress = [&](const VerifyProgress& progress) {
      if (std::string(progress.phase) == during && added < 5) ArchiveNew(1000 + added++);
    };
    Result<VerifyReport> report = store_->Verify(options);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(added, 5) << during;
    EXPECT_TRUE(report->damaged.empty())
        << during << ": " << report->damaged[0].second.ToString();
  }
}

TEST_F(StoreVerifyTest, ProgressNamesEachPhaseInOrder) {
  std::vector<std::string> phases;
  uint64_t last_messages_done = 0, messages_total = 0;
  VerifyOptions options;
  options.progress_interval_ms = 0;
  options.progress = [&](const VerifyProgress& progress) {
    if (phases.empty() || phases.back() != progress.phase) phases.push_back(progress.phase);
    if (std::string(progress.phase) == "messages") {
      last_messages_done = progress.done;
      messages_total = progress.total;
    }
  };
  ASSERT_TRUE(store_->Verify(options).ok());
  EXPECT_EQ(phases, (std::vector<std::string>{"listing messages", "messages", "deliveries",
                                              "counters"}));
  EXPECT_EQ(messages_total, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(last_messages_done, static_cast<uint64_t>(kMessages - 1));
}

}  // namespace
}  // namespace archiver
