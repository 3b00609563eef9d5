// Damaged archives and exhausted maps: stored bytes changed behind the Store's back must
// be reported as Corruption naming the message, and Verify must list them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "store/index_batch.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::ModifyArchive;
using testing::TempDir;

std::shared_ptr<Store> Open(const std::string& path, int level = 6, uint64_t map_size = 64 << 20) {
  Result<std::shared_ptr<Store>> store =
      Store::Open({.path = path, .map_size = map_size, .compression_level = level, .sync = false});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

DeliveryRecord Record(const std::string& rcpt) {
  DeliveryRecord record;
  record.received_us = 1714567890000000;
  record.envelope_to = rcpt;
  return record;
}

MDB_val Key(const MessageId& id) { return {id.size(), const_cast<uint8_t*>(id.data())}; }

// Replaces the messages value of `id` by what `change` makes of it.
void RewriteMessage(const std::string& path, const MessageId& id,
                    const std::function<void(std::string*)>& change) {
  ModifyArchive(path, [&](MDB_txn* txn, auto open) {
    MDB_dbi messages = open(txn, "messages");
    MDB_val key = Key(id), value;
    ASSERT_EQ(mdb_get(txn, messages, &key, &value), 0);
    std::string bytes(static_cast<const char*>(value.mv_data), value.mv_size);
    change(&bytes);
    value = {bytes.size(), bytes.data()};
    ASSERT_EQ(mdb_put(txn, messages, &key, &value, 0), 0);
  });
}

TEST(StoreCorruptionTest, ChangedStoredBytesAreReported) {
  const std::string text = testing::MakeMessage("a@b", "c@d", "victim", std::string(20000, 'v'));
  const std::string random = testing::RandomBytes(5000, 4);
  struct Case {
    std::string name;
    std::string message;
    std::function<void(std::string*)> damage;
  } cases[] = {
      {"flipped payload byte, zlib", text, [](std::string* v) { (*v)[v->size() / 2] ^= 0x20; }},
      {"flipped last byte, zlib", text, [](std::string* v) { v->back() ^= 0x01; }},
      {"flipped payload byte, stored as is", random, [](std::string* v) { (*v)[100] ^= 0x01; }},
      {"truncated payload", random, [](std::string* v) { v->pop_back(); }},
      {"newer record version", text, [](std::string* v) { (*v)[0] = 3; }},
      {"unknown codec", text, [](std::string* v) { (*v)[1] = 9; }},
      {"raw size claims 5 GiB", text, [](std::string* v) { (*v)[5] = 1; }},
      {"empty value", text, [](std::string* v) { v->clear(); }},
  };
  int round = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string path = dir.Sub("a" + std::to_string(round++));
    MessageId victim{}, bystander{};
    {
      std::shared_ptr<Store> store = Open(path);
      ASSERT_TRUE(store->Archive(c.message, Record("bob@b.com"), &victim).ok());
      ASSERT_TRUE(store->Archive("an intact message", Record("bob@b.com"), &bystander).ok());
    }
    RewriteMessage(path, victim, c.damage);

    std::shared_ptr<Store> store = Open(path);
    Result<std::string> read = store->ReadMessage(victim);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Status::Code::kCorruption) << read.status().ToString();
    EXPECT_NE(read.status().message().find(ToHex(victim)), std::string::npos)
        << read.status().ToString();
    EXPECT_EQ(*store->ReadMessage(bystander), "an intact message");

    Result<VerifyReport> report = store->Verify();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->messages_checked, 2u);
    EXPECT_EQ(report->deliveries_checked, 2u);
    ASSERT_GE(report->damaged.size(), 1u);
    EXPECT_EQ(report->damaged[0].first, victim);
    EXPECT_EQ(report->damaged[0].second.code(), Status::Code::kCorruption);
    // Beyond the message itself, only the byte counters its changed size left wrong.
    for (size_t index = 1; index < report->damaged.size(); ++index) {
      const std::string& problem = report->damaged[index].second.message();
      EXPECT_TRUE(problem.starts_with("statistics counter 'raw_bytes'") ||
                  problem.starts_with("statistics counter 'stored_bytes'"))
          << problem;
    }
  }
}

TEST(StoreCorruptionTest, MissingMessageAndDamagedDelivery) {
  TempDir dir;
  const std::string path = dir.Sub("a");
  MessageId lost{}, kept{};
  {
    std::shared_ptr<Store> store = Open(path);
    ASSERT_TRUE(store->Archive("lost message", Record("bob@b.com"), &lost).ok());
    ASSERT_TRUE(store->Archive("kept message", Record("carol@b.com"), &kept).ok());
    EXPECT_TRUE(store->Verify()->damaged.empty());
  }
  ModifyArchive(path, [&](MDB_txn* txn, auto open) {
    MDB_dbi messages = open(txn, "messages");
    MDB_val key = Key(lost);
    ASSERT_EQ(mdb_del(txn, messages, &key, nullptr), 0);
    // Append a delivery whose value is garbage, at the far end of time.
    MDB_dbi deliveries = open(txn, "deliveries");
    char delivery_key[16];
    for (char& byte : delivery_key) byte = '\xFF';
    MDB_val dk = {16, delivery_key}, garbage = {3, const_cast<char*>("\x01zz")};
    ASSERT_EQ(mdb_put(txn, deliveries, &dk, &garbage, 0), 0);
  });
  std::shared_ptr<Store> store = Open(path);
  EXPECT_EQ(store->ReadMessage(lost).status().code(), Status::Code::kNotFound);
  Result<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->messages_checked, 1u);
  EXPECT_EQ(report->deliveries_checked, 3u);
  // The missing message, the undecodable delivery, and the statistics counters that the
  // changes behind the Store's back left wrong.
  ASSERT_EQ(report->damaged.size(), 6u);
  EXPECT_EQ(report->damaged[0].first, lost);
  EXPECT_EQ(report->damaged[0].second.code(), Status::Code::kNotFound);
  EXPECT_EQ(report->damaged[1].second.code(), Status::Code::kCorruption);
  const char* expected[] = {"'messages' is 2 but the archive holds 1",
                            "'deliveries' is 2 but the archive holds 3", "'raw_bytes' is",
                            "'stored_bytes' is"};
  for (size_t index = 0; index < 4; ++index) {
    EXPECT_NE(report->damaged[2 + index].second.message().find(expected[index]),
              std::string::npos)
        << report->damaged[2 + index].second.ToString();
  }
  // Listing skips the undecodable record instead of failing.
  int listed = 0;
  EXPECT_TRUE(store->ListDeliveries({}, [&](const Delivery&) { return ++listed > 0; }).ok());
  EXPECT_EQ(listed, 2);
}

// A delivery missing from an index is invisible to the filters using it: Verify names
// each index that lost it, and the message.
TEST(StoreCorruptionTest, MissingIndexEntriesAreReported) {
  TempDir dir;
  const std::string path = dir.Sub("a");
  MessageId id{}, other{};
  {
    std::shared_ptr<Store> store = Open(path);
    DeliveryRecord record = Record("bob+tag@b.com");
    record.user = "bob";
    ASSERT_TRUE(store->Archive("indexed message", record, &id).ok());
    ASSERT_TRUE(store->Archive("other message", Record("carol@b.com"), &other).ok());
    // Fill the batch, so that idx_rcpt and idx_user have bob's delivery (index_batch.h).
    for (size_t i = 2; i < internal::kIndexBatch; ++i)
      ASSERT_TRUE(store->Archive("filler " + std::to_string(i), Record("dave@b.com")).ok());
    EXPECT_TRUE(store->Verify()->damaged.empty());
  }
  ModifyArchive(path, [&](MDB_txn* txn, auto open) {
    for (const char* index : {"idx_rcpt", "idx_user"}) {
      MDB_dbi dbi = open(txn, index);
      // Drop every entry of bob's, whatever its key ("bob@b.com", "bob+tag@b.com", "bob").
      MDB_cursor* cursor = nullptr;
      ASSERT_EQ(mdb_cursor_open(txn, dbi, &cursor), 0);
      MDB_val key, value;
      for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        std::string name(static_cast<const char*>(key.mv_data), key.mv_size);
        if (name.rfind("bob", 0) == 0) {
          ASSERT_EQ(mdb_cursor_del(cursor, 0), 0);
        }
      }
      mdb_cursor_close(cursor);
    }
  });
  std::shared_ptr<Store> store = Open(path);
  Result<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  std::vector<std::string> problems;
  for (const auto& [damaged_id, status] : report->damaged) {
    EXPECT_EQ(damaged_id, id);
    EXPECT_EQ(status.code(), Status::Code::kCorruption);
    problems.push_back(status.message().substr(status.message().find("missing")));
  }
  EXPECT_EQ(problems, (std::vector<std::string>{"missing from index idx_rcpt",
                                                "missing from index idx_rcpt",
                                                "missing from index idx_user"}));
}

TEST(StoreCorruptionTest, FullMapIsMapFullAndLeavesTheStoreUsable) {
  TempDir dir;
  std::shared_ptr<Store> store = Open(dir.Sub("tiny"), 6, 1 << 20);
  ASSERT_TRUE(store);
  MessageId small{};
  ASSERT_TRUE(store->Archive("small message", Record("bob@b.com"), &small).ok());
  // Incompressible, smaller than the map but larger than what is left of it (one larger
  // than the whole map is refused for good: LimitExceeded, store_group_test.cc).
  std::string big = testing::RandomBytes(1000 << 10, 5);
  Result<ArchiveOutcome> outcome = store->Archive(big, Record("bob@b.com"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kMapFull) << outcome.status().ToString();
  EXPECT_NE(outcome.status().message().find("archiver_map_size"), std::string::npos);
  EXPECT_NE(outcome.status().message().find("1.0 MiB"), std::string::npos)
      << outcome.status().ToString();

  EXPECT_EQ(*store->ReadMessage(small), "small message");
  EXPECT_EQ(store->ReadMessage(Sha256::Of(big)).status().code(), Status::Code::kNotFound);
  Result<StoreStats> stats = store->GetStats();
  EXPECT_EQ(stats->messages, 1u);
  EXPECT_EQ(stats->deliveries, 1u);
  EXPECT_TRUE(store->Archive("another small one", Record("bob@b.com")).ok());
  EXPECT_TRUE(store->Verify()->damaged.empty());
}

}  // namespace
}  // namespace archiver
