// Store::ArchiveGroup: several deliveries in one write transaction (group commit).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

#include "archiver/store/store.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::TempDir;

DeliveryRecord Record(const std::string& rcpt) { return testing::LocalDelivery(rcpt); }

std::vector<GroupDelivery> Group(
    const std::vector<std::pair<const std::string*, std::string>>& deliveries) {
  std::vector<GroupDelivery> group;
  for (const auto& [message, rcpt] : deliveries) group.push_back({*message, Record(rcpt)});
  return group;
}

class StoreGroupTest : public ::testing::Test {
 protected:
  std::shared_ptr<Store> OpenStore(uint64_t map_size = 64 << 20) {
    Result<std::shared_ptr<Store>> store =
        Store::Open({.path = dir_.Sub("archive"), .map_size = map_size, .sync = false});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }
  size_t Listed(Store& store) {
    size_t count = 0;
    EXPECT_TRUE(store.ListDeliveries({}, [&](const Delivery&) { return ++count > 0; }).ok());
    return count;
  }
  TempDir dir_;
  const std::string first_ = testing::MakeMessage("a@a.org", "b@b.com", "one", "first body");
  const std::string second_ = testing::MakeMessage("a@a.org", "b@b.com", "two", "second body");
};

TEST_F(StoreGroupTest, EachDeliveryIsArchivedAsByArchive) {
  std::shared_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store);
  // The same message twice in the group (two recipients): stored once.
  std::vector<GroupDelivery> group =
      Group({{&first_, "bob@b.com"}, {&second_, "bob@b.com"}, {&first_, "carol@b.com"}});
  ASSERT_TRUE(store->ArchiveGroup(group).ok());
  ASSERT_TRUE(group[0].outcome.ok() && group[1].outcome.ok() && group[2].outcome.ok());
  EXPECT_EQ(*group[0].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(*group[1].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(*group[2].outcome, ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(group[0].record.id, Sha256::Of(first_));
  EXPECT_EQ(group[2].record.id, Sha256::Of(first_));
  EXPECT_EQ(group[1].record.size, second_.size());
  EXPECT_EQ(*store->ReadMessage(Sha256::Of(first_)), first_);
  EXPECT_EQ(*store->ReadMessage(Sha256::Of(second_)), second_);
  Result<StoreStats> stats = store->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->messages, 2u);
  EXPECT_EQ(stats->deliveries, 3u);
  EXPECT_EQ(Listed(*store), 3u);
  EXPECT_TRUE(store->Verify()->damaged.empty());
}

TEST_F(StoreGroupTest, ArchivedDeliveriesAreNotWrittenAgain) {
  std::shared_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Archive(first_, Record("bob@b.com")).ok());
  std::vector<GroupDelivery> group =
      Group({{&first_, "bob@b.com"}, {&second_, "bob@b.com"}, {&first_, "carol@b.com"}});
  ASSERT_TRUE(store->ArchiveGroup(group).ok());
  EXPECT_EQ(*group[0].outcome, ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(*group[1].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(*group[2].outcome, ArchiveOutcome::kDeduplicated);
  // All of it again: nothing is written.
  std::vector<GroupDelivery> again =
      Group({{&first_, "bob@b.com"}, {&second_, "bob@b.com"}, {&first_, "carol@b.com"}});
  ASSERT_TRUE(store->ArchiveGroup(again).ok());
  for (const GroupDelivery& delivery : again)
    EXPECT_EQ(*delivery.outcome, ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->GetStats()->deliveries, 3u);
  EXPECT_EQ(Listed(*store), 3u);
  std::vector<GroupDelivery> none;
  EXPECT_TRUE(store->ArchiveGroup(none).ok());
  // The same delivery twice in one group (a repeated RCPT): written once.
  const std::string third = testing::MakeMessage("a@a.org", "b@b.com", "three", "third");
  std::vector<GroupDelivery> twice = Group({{&third, "dave@b.com"}, {&third, "dave@b.com"}});
  ASSERT_TRUE(store->ArchiveGroup(twice).ok());
  EXPECT_EQ(*twice[0].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(*twice[1].outcome, ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->GetStats()->deliveries, 4u);
}

TEST_F(StoreGroupTest, AGroupIsOneTransaction) {
  std::shared_ptr<Store> store = OpenStore(1 << 20);
  ASSERT_TRUE(store);
  // The second delivery does not fit what is left of the map (it is smaller than the map:
  // one larger fails alone, for good): the first, written before it in the same
  // transaction, is not kept either.
  const std::string big = testing::RandomBytes(1000 << 10, 9);
  std::vector<GroupDelivery> group = Group({{&first_, "bob@b.com"}, {&big, "bob@b.com"}});
  Status archived = store->ArchiveGroup(group);
  EXPECT_EQ(archived.code(), Status::Code::kMapFull) << archived.ToString();
  EXPECT_EQ(group[0].outcome.status().code(), Status::Code::kMapFull);
  EXPECT_EQ(group[1].outcome.status().code(), Status::Code::kMapFull);
  EXPECT_EQ(store->ReadMessage(Sha256::Of(first_)).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store->GetStats()->deliveries, 0u);
  EXPECT_EQ(Listed(*store), 0u);
  // The store is still usable, and the retry of what fits succeeds.
  EXPECT_EQ(*store->Archive(first_, Record("bob@b.com")), ArchiveOutcome::kStored);
  EXPECT_EQ(store->GetStats()->deliveries, 1u);
}

TEST_F(StoreGroupTest, AMessageOverTheLimitFailsAloneTheOthersAreWritten) {
  std::shared_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store);
  // A view larger than the archive's limit, never read: reserved address space only.
  const size_t huge_size = record::kMaxRawSize + 1;
  void* huge = mmap(nullptr, huge_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  ASSERT_NE(huge, MAP_FAILED);
  std::vector<GroupDelivery> group;
  group.push_back({first_, Record("bob@b.com")});
  group.push_back({std::string_view(static_cast<const char*>(huge), huge_size),
                   Record("bob@b.com")});
  group.push_back({second_, Record("bob@b.com")});
  EXPECT_TRUE(store->ArchiveGroup(group).ok());
  munmap(huge, huge_size);
  EXPECT_EQ(*group[0].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(group[1].outcome.status().code(), Status::Code::kLimitExceeded);
  EXPECT_NE(group[1].outcome.status().message().find("limit"), std::string::npos);
  EXPECT_EQ(*group[2].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(store->GetStats()->deliveries, 2u);
}

// A message whose stored form is larger than the whole map can never be archived: it fails
// for good (LimitExceeded, naming the map), not with MapFull; the rest of the group is
// written, twice the same oversized message included.
TEST_F(StoreGroupTest, AMessageLargerThanTheMapFailsForGood) {
  std::shared_ptr<Store> store = OpenStore(1 << 20);
  ASSERT_TRUE(store);
  const std::string huge = testing::RandomBytes(3 << 19, 7);  // 1.5 MiB, incompressible
  std::vector<GroupDelivery> group;
  group.push_back({huge, Record("bob@b.com")});
  group.push_back({first_, Record("bob@b.com")});
  group.push_back({huge, Record("carol@b.com")});
  EXPECT_TRUE(store->ArchiveGroup(group).ok());
  for (size_t index : {0, 2}) {
    EXPECT_EQ(group[index].outcome.status().code(), Status::Code::kLimitExceeded);
    EXPECT_NE(group[index].outcome.status().message().find("archiver_map_size"),
              std::string::npos)
        << group[index].outcome.status().ToString();
  }
  EXPECT_EQ(*group[1].outcome, ArchiveOutcome::kStored);
  EXPECT_EQ(store->Archive(huge, Record("dave@b.com")).status().code(),
            Status::Code::kLimitExceeded);
  EXPECT_EQ(store->GetStats()->deliveries, 1u);
}

TEST_F(StoreGroupTest, ReadOnlyStoreFailsEveryDelivery) {
  OpenStore().reset();  // create it
  Result<std::shared_ptr<Store>> reader =
      Store::Open({.path = dir_.Sub("archive"), .read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<GroupDelivery> group = Group({{&first_, "bob@b.com"}, {&second_, "bob@b.com"}});
  group[1].outcome = Status::LimitExceeded("left from an earlier call");
  EXPECT_EQ((*reader)->ArchiveGroup(group).code(), Status::Code::kInvalidArgument);
  for (const GroupDelivery& delivery : group)
    EXPECT_EQ(delivery.outcome.status().code(), Status::Code::kInvalidArgument);
  // Archive, a group of one, leaves id_out alone when it could not hash (as before).
  MessageId id{};
  id[0] = 7;
  EXPECT_EQ((*reader)->Archive(first_, Record("bob@b.com"), &id).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(id[0], 7);
}

}  // namespace
}  // namespace archiver
