// Batched filing in idx_rcpt / idx_from / idx_user: what a batch files and when,
// listings that merge the unfiled deliveries exactly once and in order, Verify over
// the `unindexed` list, and the format raise of a version 1 archive.
#include "index_batch.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "archiver/store.h"
#include "record.h"
#include "test_util.h"

namespace archiver {
namespace {

using internal::kIndexBatch;
using testing::ModifyArchive;

constexpr uint64_t kSecond = 1000000;

class IndexBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = Path(), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
  }
  std::string Path() { return dir_.Sub("a"); }

  // Archives delivery `n` for `rcpt` (user = the local part) at `seconds`.
  void Deliver(int n, const std::string& rcpt, uint64_t seconds) {
    DeliveryRecord record;
    record.received_us = seconds * kSecond;
    record.envelope_from = "sender@a.org";
    record.envelope_to = rcpt;
    record.user = rcpt.substr(0, rcpt.find('@'));
    record.headers.subject = "n" + std::to_string(n);
    Result<ArchiveOutcome> archived = store_->Archive("message " + std::to_string(n), record);
    ASSERT_TRUE(archived.ok()) << archived.status().ToString();
  }

  std::vector<std::string> Subjects(const ListFilter& filter,
                                    const std::function<void()>& after_first = nullptr) {
    std::vector<std::string> subjects;
    Status listed = store_->ListDeliveries(filter, [&](const Delivery& delivery) {
      subjects.push_back(delivery.record.headers.subject);
      if (subjects.size() == 1 && after_first) after_first();
      return true;
    });
    EXPECT_TRUE(listed.ok()) << listed.ToString();
    return subjects;
  }

  // What raw LMDB holds: the `unindexed` list's length and idx_rcpt's entries for `rcpt`.
  std::pair<size_t, size_t> Filed(const std::string& rcpt) {
    size_t listed = 0, filed = 0;
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta"), idx_rcpt = open(txn, "idx_rcpt");
      MDB_val key = {9, const_cast<char*>("unindexed")}, value;
      if (mdb_get(txn, meta, &key, &value) == 0) listed = value.mv_size / 16;
      MDB_cursor* cursor = nullptr;
      ASSERT_EQ(mdb_cursor_open(txn, idx_rcpt, &cursor), 0);
      key = {rcpt.size(), const_cast<char*>(rcpt.data())};
      if (mdb_cursor_get(cursor, &key, &value, MDB_SET_KEY) == 0) {
        size_t count = 0;
        mdb_cursor_count(cursor, &count);
        filed = count;
      }
      mdb_cursor_close(cursor);
    });
    return {listed, filed};
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(IndexBatchTest, TheWriteThatFillsTheBatchFilesIt) {
  for (size_t n = 1; n < kIndexBatch; ++n) Deliver(n, "bob@b.com", 1000 + n);
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(kIndexBatch - 1, size_t{0}));
  Deliver(kIndexBatch, "bob@b.com", 2000);
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{0}, kIndexBatch));
  Deliver(kIndexBatch + 1, "bob@b.com", 2001);
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{1}, kIndexBatch));
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

// Filtered listings see filed and listed deliveries alike: newest first, each once,
// whether the listed ones are the newest or older than filed ones.
TEST_F(IndexBatchTest, ListingsMergeListedDeliveries) {
  std::vector<std::string> expected;
  for (size_t n = 1; n <= 3 * kIndexBatch + 5; ++n) {
    // Even n: bob; the last 5 are listed, and the times interleave with filed ones.
    const bool bob = n % 2 == 0;
    const uint64_t seconds = n > 3 * kIndexBatch ? 1000 + 2 * (n - 3 * kIndexBatch) : 1000 + n;
    Deliver(n, bob ? "bob@b.com" : "carol@b.com", seconds);
  }
  std::vector<Delivery> everything;
  ASSERT_TRUE(store_->ListDeliveries({}, [&](const Delivery& delivery) {
    everything.push_back(delivery);
    return true;
  }).ok());
  for (const Delivery& delivery : everything)
    if (delivery.record.envelope_to == "bob@b.com") expected.push_back(delivery.record.headers.subject);
  ASSERT_EQ(expected.size(), (3 * kIndexBatch + 5) / 2);
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")), expected);
  EXPECT_EQ(Subjects(testing::Filter().User("bob")), expected);
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com").Limit(3)),
            std::vector<std::string>(expected.begin(), expected.begin() + 3));
  EXPECT_EQ(Subjects(testing::Filter().From("sender@a.org")).size(), everything.size());
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com").Since(1004 * kSecond).Until(1008 * kSecond)),
            (std::vector<std::string>{"n6", "n98", "n4"}));
}

// The listed deliveries are filed by another write while a listing runs (between its
// transactions): the listing still hands each one out once.
TEST_F(IndexBatchTest, FilingDuringAListingHandsOutEachOnce) {
  constexpr size_t kFiled = 10 * kIndexBatch;  // more than one listing transaction's batch
  for (size_t n = 1; n <= kFiled; ++n) Deliver(n, "bob@b.com", 100000 + n);
  for (size_t n = kFiled + 1; n < kFiled + kIndexBatch; ++n) Deliver(n, "bob@b.com", n - kFiled);
  ASSERT_EQ(Filed("bob@b.com"), std::make_pair(kIndexBatch - 1, kFiled));
  std::vector<std::string> subjects = Subjects(testing::Filter().Rcpt("bob@b.com"), [&] {
    Deliver(0, "bob@b.com", 1);  // the oldest of all; fills the batch
  });
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{0}, kFiled + kIndexBatch));
  std::map<std::string, int> seen;
  for (const std::string& subject : subjects) ++seen[subject];
  EXPECT_EQ(subjects.size(), seen.size()) << "a delivery was handed out twice";
  // n0, written meanwhile, is older than the listing's first transaction reached.
  EXPECT_EQ(seen.size(), kFiled + kIndexBatch);
  EXPECT_EQ(subjects.front(), "n" + std::to_string(kFiled));
  EXPECT_EQ(subjects.back(), "n" + std::to_string(kFiled + 1));
}

TEST_F(IndexBatchTest, VerifyChecksTheList) {
  Deliver(1, "bob@b.com", 1000);
  Deliver(2, "bob@b.com", 1001);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  store_.reset();
  ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
    MDB_dbi meta = open(txn, "meta");
    MDB_val key = {9, const_cast<char*>("unindexed")}, value;
    ASSERT_EQ(mdb_get(txn, meta, &key, &value), 0);
    std::string listed(static_cast<const char*>(value.mv_data), value.mv_size);
    record::DeliveryKeyBytes ghost = record::EncodeDeliveryKey({5 * kSecond, 99});
    listed.append(ghost.data(), ghost.size());
    value = {listed.size(), listed.data()};
    ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  });
  SetUp();
  Result<VerifyReport> report = store_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->damaged.size(), 1u);
  EXPECT_EQ(report->damaged[0].second.ToString(),
            "Corruption: delivery 5000000/99 is listed for indexing but missing");
  // The ghost does not disturb listings.
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")), (std::vector<std::string>{"n2", "n1"}));

  store_.reset();
  ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
    MDB_dbi meta = open(txn, "meta");
    MDB_val key = {9, const_cast<char*>("unindexed")}, value = {5, const_cast<char*>("short")};
    ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  });
  SetUp();
  report = store_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->damaged.empty());
  EXPECT_EQ(report->damaged[0].second.ToString(),
            "Corruption: meta 'unindexed' is 5 bytes, not a list of delivery keys");
  Status listed = store_->ListDeliveries(testing::Filter().Rcpt("bob@b.com"),
                                         [](const Delivery&) { return true; });
  EXPECT_EQ(listed.code(), Status::Code::kCorruption);
}

// An archive written before batching (format 1, every delivery filed) is read as it is
// and raised to format 2 by the first write that lists a delivery.
TEST_F(IndexBatchTest, FormatOneArchiveIsRaisedByItsFirstListedDelivery) {
  auto format = [&] {
    uint64_t version = 0;
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta");
      MDB_val key = {14, const_cast<char*>("format_version")}, value;
      ASSERT_EQ(mdb_get(txn, meta, &key, &value), 0);
      ASSERT_TRUE(record::DecodeCounter({static_cast<const char*>(value.mv_data), value.mv_size},
                                        &version));
    });
    return version;
  };
  for (size_t n = 1; n <= kIndexBatch; ++n) Deliver(n, "bob@b.com", 1000 + n);
  store_.reset();
  EXPECT_EQ(format(), internal::kBatchedIndexFormat);
  ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
    MDB_dbi meta = open(txn, "meta");
    std::array<char, 8> one = record::EncodeCounter(1);
    MDB_val key = {14, const_cast<char*>("format_version")}, value = {8, one.data()};
    ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  });
  SetUp();
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")).size(), kIndexBatch);
  store_.reset();
  EXPECT_EQ(format(), 1u);
  SetUp();
  Deliver(kIndexBatch + 1, "bob@b.com", 3000);
  store_.reset();
  EXPECT_EQ(format(), internal::kBatchedIndexFormat);
}

}  // namespace
}  // namespace archiver
