// Batched filing in idx_rcpt / idx_from / idx_user: what a batch files and when,
// listings that merge the unfiled deliveries exactly once and in order, Verify over
// the `unindexed` list, and the format raise of a version 1 archive.
#include "store/index_batch.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "store/record.h"
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
  // Read with the store closed, as ModifyArchive requires: a second environment on the
  // path in this process drops the store's file locks when it closes, and LMDB 0.9.26 and
  // later then also destroy the lock file's mutexes under it (its next begin: EINVAL).
  std::pair<size_t, size_t> Filed(const std::string& rcpt) {
    store_.reset();
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
    SetUp();
    return {listed, filed};
  }

  // What Verify reports: its one damage as text, or "N damages" when not exactly one.
  std::string Damage() {
    Result<VerifyReport> report = store_->Verify();
    if (!report.ok()) return report.status().ToString();
    if (report->damaged.size() != 1) return std::to_string(report->damaged.size()) + " damages";
    return report->damaged[0].second.ToString();
  }

  // Rewrites the `unindexed` value with the store closed.
  void ChangeList(const std::function<void(std::string*)>& change) {
    store_.reset();
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta");
      MDB_val key = {9, const_cast<char*>("unindexed")}, value;
      ASSERT_EQ(mdb_get(txn, meta, &key, &value), 0);
      std::string listed(static_cast<const char*>(value.mv_data), value.mv_size);
      change(&listed);
      value = {listed.size(), listed.data()};
      ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
    });
    SetUp();
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
  constexpr size_t kFiled = 3 * kIndexBatch;
  for (size_t n = 1; n <= kFiled + 8; ++n) {
    // Even n: bob. The last 8 are listed: 5 whose times interleave with filed ones,
    // then 3 newer than all.
    const bool bob = n % 2 == 0;
    const uint64_t seconds = n <= kFiled       ? 1000 + n
                             : n <= kFiled + 5 ? 1000 + 2 * (n - kFiled)
                                               : 5000 + n;
    Deliver(n, bob ? "bob@b.com" : "carol@b.com", seconds);
  }
  ASSERT_EQ(Filed("bob@b.com"), std::make_pair(size_t{8}, kFiled / 2));
  std::vector<Delivery> everything;
  ASSERT_TRUE(store_->ListDeliveries({}, [&](const Delivery& delivery) {
    everything.push_back(delivery);
    return true;
  }).ok());
  for (const Delivery& delivery : everything)
    if (delivery.record.envelope_to == "bob@b.com") expected.push_back(delivery.record.headers.subject);
  ASSERT_EQ(expected.size(), (kFiled + 8) / 2);
  EXPECT_EQ(expected.front(), "n" + std::to_string(kFiled + 8));
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")), expected);
  EXPECT_EQ(Subjects(testing::Filter().User("bob")), expected);
  for (size_t limit : {1, 3, 5}) {  // ending among the listed, after them, among the filed
    EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com").Limit(limit)),
              std::vector<std::string>(expected.begin(), expected.begin() + limit));
  }
  std::vector<std::string> all_subjects;
  for (const Delivery& delivery : everything) all_subjects.push_back(delivery.record.headers.subject);
  EXPECT_EQ(Subjects(testing::Filter().From("sender@a.org")), all_subjects);
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
  ASSERT_EQ(seen.size(), kFiled + kIndexBatch);
  EXPECT_EQ(subjects.front(), "n" + std::to_string(kFiled));
  EXPECT_EQ(subjects.back(), "n" + std::to_string(kFiled + 1));
}

TEST_F(IndexBatchTest, VerifyReportsAListedKeyWithoutDelivery) {
  Deliver(1, "bob@b.com", 1000);
  Deliver(2, "bob@b.com", 1001);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  ChangeList([](std::string* listed) {
    record::DeliveryKeyBytes ghost = record::EncodeDeliveryKey({5 * kSecond, 99});
    listed->append(ghost.data(), ghost.size());
  });
  EXPECT_EQ(Damage(),
            "Corruption: delivery 5000000/99 is listed for indexing but missing");
  // The ghost does not disturb listings.
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")), (std::vector<std::string>{"n2", "n1"}));
}

// A damaged list stops neither archiving nor listings: its whole keys still count, and
// the next write rewrites it. Verify reports it, and a key listed twice.
TEST_F(IndexBatchTest, ADamagedListIsReportedAndRepaired) {
  Deliver(1, "bob@b.com", 1000);
  Deliver(2, "bob@b.com", 1001);
  ChangeList([](std::string* listed) { listed->append("short"); });
  EXPECT_EQ(Damage(),
            "Corruption: meta 'unindexed' is 37 bytes, not a list of delivery keys");
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")), (std::vector<std::string>{"n2", "n1"}));
  Deliver(3, "bob@b.com", 1002);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{3}, size_t{0}));

  ChangeList([](std::string* listed) { listed->append(listed->substr(0, 16)); });
  EXPECT_EQ(Damage(),
            "Corruption: delivery 1000000000/1 is listed for indexing twice");
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")),
            (std::vector<std::string>{"n3", "n2", "n1"}));
}

// A listed delivery that this software cannot decode (a newer version's record) is not
// dropped by the filing write: it stays listed for the software that can.
TEST_F(IndexBatchTest, AnUndecodableListedDeliveryStaysListed) {
  Deliver(1, "bob@b.com", 1000);
  store_.reset();
  auto set_version = [&](char version) {
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi deliveries = open(txn, "deliveries");
      record::DeliveryKeyBytes first = record::EncodeDeliveryKey({1000 * kSecond, 1});
      MDB_val key = {first.size(), first.data()}, value;
      ASSERT_EQ(mdb_get(txn, deliveries, &key, &value), 0);
      std::string bytes(static_cast<const char*>(value.mv_data), value.mv_size);
      bytes[0] = version;
      value = {bytes.size(), bytes.data()};
      ASSERT_EQ(mdb_put(txn, deliveries, &key, &value, 0), 0);
    });
  };
  set_version(99);
  SetUp();
  for (size_t n = 2; n <= kIndexBatch; ++n) Deliver(n, "bob@b.com", 1000 + n);
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{1}, kIndexBatch - 1));
  store_.reset();
  set_version(static_cast<char>(record::kDeliveryValueVersion));
  SetUp();
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")).size(), kIndexBatch);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  for (size_t n = kIndexBatch + 1; n < 2 * kIndexBatch; ++n) Deliver(n, "bob@b.com", 1000 + n);
  EXPECT_EQ(Filed("bob@b.com"), std::make_pair(size_t{0}, 2 * kIndexBatch - 1));
}

// An archive written before batching (format 1, every delivery filed) is read as it is
// and raised to this software's format by the first write that lists a delivery.
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
  EXPECT_EQ(format(), record::kFormatVersion);
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
  EXPECT_EQ(format(), record::kFormatVersion);
}

}  // namespace
}  // namespace archiver
