// Statistics counters: a damaged one does not stop archiving, verify reports it, and
// Store::RepairCounters recounts them from what the archive holds.
#include <gtest/gtest.h>

#include <string>

#include "archiver/store/store.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::TempDir;

class StoreCountersTest : public ::testing::Test {
 protected:
  std::shared_ptr<Store> OpenStore(bool read_only = false) {
    Result<std::shared_ptr<Store>> store =
        Store::Open({.path = dir_.Sub("archive"), .read_only = read_only, .sync = false});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }
  // Archives three messages, one of them twice: 3 messages, 4 deliveries.
  void Fill() {
    std::shared_ptr<Store> store = OpenStore();
    for (const char* subject : {"one", "two", "three"}) {
      std::string message = testing::MakeMessage("a@b", "c@d", subject, "body");
      ASSERT_TRUE(store->Archive(message, testing::LocalDelivery("bob@b.com")).ok());
    }
    std::string again = testing::MakeMessage("a@b", "c@d", "one", "body");
    ASSERT_TRUE(store->Archive(again, testing::LocalDelivery("carol@b.com")).ok());
  }
  void SetMeta(const std::string& name, const std::string& value) {
    testing::ModifyArchive(dir_.Sub("archive"), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta");
      MDB_val key = {name.size(), const_cast<char*>(name.data())};
      MDB_val data = {value.size(), const_cast<char*>(value.data())};
      ASSERT_EQ(mdb_put(txn, meta, &key, &data, 0), 0);
    });
  }
  static std::string Counter(uint64_t value) {
    std::array<char, 8> bytes = record::EncodeCounter(value);
    return std::string(bytes.data(), bytes.size());
  }
  static const CounterRepair* Find(const std::vector<CounterRepair>& repairs,
                                   const std::string& name) {
    for (const CounterRepair& repair : repairs)
      if (repair.name == name) return &repair;
    return nullptr;
  }
  static std::vector<std::string> Damage(const Store& store) {
    Result<VerifyReport> report = store.Verify();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    std::vector<std::string> damage;
    if (report.ok())
      for (const auto& [id, status] : report->damaged) damage.push_back(status.message());
    return damage;
  }
  TempDir dir_;
};

TEST_F(StoreCountersTest, ADamagedCounterNeitherBlocksWritesNorVerify) {
  Fill();
  SetMeta("messages", "bad");  // not 8 bytes
  std::shared_ptr<Store> store = OpenStore();
  std::string fourth = testing::MakeMessage("a@b", "c@d", "four", "body");
  EXPECT_EQ(*store->Archive(fourth, testing::LocalDelivery("bob@b.com")),
            ArchiveOutcome::kStored);
  Result<StoreStats> stats = store->GetStats();
  EXPECT_EQ(stats.status().code(), Status::Code::kCorruption);
  EXPECT_NE(stats.status().message().find("doveadm archive repair"), std::string::npos);
  std::vector<std::string> damage = Damage(*store);
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_NE(damage[0].find("'messages' is damaged"), std::string::npos) << damage[0];
  EXPECT_NE(damage[0].find("should be 4"), std::string::npos) << damage[0];

  Result<std::vector<CounterRepair>> repairs = store->RepairCounters();
  ASSERT_TRUE(repairs.ok()) << repairs.status().ToString();
  const CounterRepair* messages = Find(*repairs, "messages");
  ASSERT_NE(messages, nullptr);
  EXPECT_TRUE(messages->was_damaged);
  EXPECT_EQ(messages->after, 4u);
  EXPECT_EQ(Find(*repairs, "deliveries")->after, 5u);
  EXPECT_EQ(Find(*repairs, "deliveries")->before, 5u);  // kept up while damaged elsewhere
  EXPECT_TRUE(Damage(*store).empty());
  stats = store->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->messages, 4u);
}

TEST_F(StoreCountersTest, WrongCountersAreRecountedAndTheSequenceNeverLowered) {
  Fill();
  SetMeta("deliveries", Counter(99));
  SetMeta("raw_bytes", Counter(1));
  SetMeta("next_sequence", Counter(1000));
  std::shared_ptr<Store> store = OpenStore();
  EXPECT_EQ(Damage(*store).size(), 2u);
  Result<std::vector<CounterRepair>> repairs = store->RepairCounters();
  ASSERT_TRUE(repairs.ok()) << repairs.status().ToString();
  EXPECT_EQ(Find(*repairs, "deliveries")->before, 99u);
  EXPECT_EQ(Find(*repairs, "deliveries")->after, 4u);
  EXPECT_EQ(Find(*repairs, "next_sequence")->after, 1000u);
  Result<StoreStats> stats = store->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->raw_bytes, stats->delivered_bytes - testing::MakeMessage("a@b", "c@d", "one",
                                                                            "body").size());
  EXPECT_TRUE(Damage(*store).empty());
  // A second run finds nothing to change.
  repairs = store->RepairCounters();
  ASSERT_TRUE(repairs.ok());
  for (const CounterRepair& repair : *repairs) EXPECT_EQ(repair.before, repair.after) << repair.name;
}

TEST_F(StoreCountersTest, ADamagedSequenceIsRepairedPastTheHighestDelivery) {
  Fill();
  SetMeta("next_sequence", "x");
  std::shared_ptr<Store> store = OpenStore();
  Result<std::vector<CounterRepair>> repairs = store->RepairCounters();
  ASSERT_TRUE(repairs.ok()) << repairs.status().ToString();
  EXPECT_TRUE(Find(*repairs, "next_sequence")->was_damaged);
  EXPECT_EQ(Find(*repairs, "next_sequence")->after, 5u);
  std::string fifth = testing::MakeMessage("a@b", "c@d", "five", "body");
  EXPECT_EQ(*store->Archive(fifth, testing::LocalDelivery("bob@b.com")), ArchiveOutcome::kStored);
  EXPECT_TRUE(Damage(*store).empty());
}

TEST_F(StoreCountersTest, ASequenceBehindItsDeliveriesIsCorruptionUntilRepaired) {
  Fill();
  SetMeta("next_sequence", Counter(2));  // deliveries 1..4 exist: the next one would be 2
  std::shared_ptr<Store> store = OpenStore();
  std::string fifth = testing::MakeMessage("a@b", "c@d", "five", "body");
  Result<ArchiveOutcome> refused = store->Archive(fifth, testing::LocalDelivery("bob@b.com"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kCorruption) << refused.status().ToString();
  ASSERT_TRUE(store->RepairCounters().ok());
  EXPECT_EQ(*store->Archive(fifth, testing::LocalDelivery("bob@b.com")), ArchiveOutcome::kStored);
  EXPECT_TRUE(Damage(*store).empty());
}

TEST_F(StoreCountersTest, ReadOnlyStoreIsNotRepaired) {
  Fill();
  std::shared_ptr<Store> store = OpenStore(true);
  EXPECT_EQ(store->RepairCounters().status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace archiver
