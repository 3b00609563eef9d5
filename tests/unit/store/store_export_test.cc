// Store::ListDistinctMessages against what it promises to equal: ListDeliveries' rows,
// deduplicated by message keeping the first (newest) one, reversed; for filters served by
// an index, by a scan, by time, with a limit, and for more deliveries in one microsecond
// than one window holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "test_util.h"

namespace archiver {
namespace {

constexpr uint64_t kFirstUs = 1714567890000000;
constexpr uint64_t kHourUs = 3600ull * 1000000;

using Rows = std::vector<std::pair<DeliveryKey, MessageId>>;

class StoreExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> store =
        Store::Open({.path = dir_.Sub("a"), .map_size = 256 << 20, .sync = false});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
  }

  // Message m is delivered to user u (of 4) at hour `hour`; the same m again later is a
  // later delivery of the same message.
  void Deliver(int m, int u, uint64_t received_us) {
    const std::string message = testing::MakeMessage(
        "s@x", "u@b", (m % 2 ? "odd " : "even ") + std::to_string(m), "body");
    DeliveryRecord record;
    record.received_us = received_us;
    record.envelope_to = "u" + std::to_string(u) + "@b";
    record.user = "u" + std::to_string(u);
    record.mailbox = "INBOX";
    Result<ArchiveOutcome> archived = store_->Archive(message, record);
    ASSERT_TRUE(archived.ok()) << archived.status().ToString();
  }

  // What the export used to do, in memory.
  Rows Expected(const ListFilter& filter) {
    Rows rows;
    std::set<MessageId> seen;
    EXPECT_TRUE(store_
                    ->ListDeliveries(filter,
                                     [&](const Delivery& delivery) {
                                       if (seen.insert(delivery.record.id).second)
                                         rows.emplace_back(delivery.key, delivery.record.id);
                                       return true;
                                     })
                    .ok());
    std::reverse(rows.begin(), rows.end());
    return rows;
  }

  Rows Streamed(const ListFilter& filter) {
    Rows rows;
    Status listed = store_->ListDistinctMessages(filter, [&](const Delivery& delivery) {
      rows.emplace_back(delivery.key, delivery.record.id);
      return true;
    });
    EXPECT_TRUE(listed.ok()) << listed.ToString();
    return rows;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(StoreExportTest, SameRowsAndOrderAsListingDeduplicatedAndReversed) {
  // 60 messages over ~5 days, each to 1-3 users, a third delivered again days later.
  for (int m = 0; m < 60; ++m) {
    const uint64_t at = kFirstUs + static_cast<uint64_t>(m) * 2 * kHourUs;
    for (int u = 0; u <= m % 3; ++u) Deliver(m, u, at + static_cast<uint64_t>(u));
    if (m % 3 == 0) Deliver(m, 3, at + 50 * kHourUs);
  }
  auto filter = [](auto set) {
    ListFilter made;
    set(made);
    return made;
  };
  struct Case {
    const char* name;
    ListFilter filter;
  };
  const Case cases[] = {
      {"everything", ListFilter{}},
      {"one user (index)", filter([](ListFilter& f) { f.user = "u1"; })},
      {"one recipient (index)", filter([](ListFilter& f) { f.rcpt = "u3@b"; })},
      {"subject (scan)", filter([](ListFilter& f) { f.subject = "odd"; })},
      {"time range", filter([](ListFilter& f) {
         f.since_us = kFirstUs + 30 * kHourUs;
         f.until_us = kFirstUs + 80 * kHourUs;
       })},
      {"limit", filter([](ListFilter& f) { f.limit = 7; })},
      {"limit with a filter", filter([](ListFilter& f) {
         f.user = "u0";
         f.limit = 5;
       })},
      {"nothing matches", filter([](ListFilter& f) { f.user = "nobody"; })},
  };
  for (const Case& c : cases) {
    const Rows expected = Expected(c.filter);
    EXPECT_EQ(Streamed(c.filter), expected) << c.name;
  }
  EXPECT_EQ(Expected({}).size(), 60u);
}

TEST_F(StoreExportTest, MoreDeliveriesInOneMicrosecondThanAWindowHolds) {
  std::vector<GroupDelivery> group;
  std::vector<std::string> messages;
  for (int m = 0; m < 1500; ++m)
    messages.push_back(testing::MakeMessage("s@x", "u@b", "burst " + std::to_string(m), "b"));
  for (int m = 0; m < 1500; ++m) {
    GroupDelivery delivery;
    delivery.message = messages[static_cast<size_t>(m)];
    delivery.record.received_us = kFirstUs;  // the same microsecond: only the sequence differs
    delivery.record.envelope_to = "u@b";
    delivery.record.user = "u";
    group.push_back(std::move(delivery));
  }
  ASSERT_TRUE(store_->ArchiveGroup(group).ok());
  Deliver(1, 1, kFirstUs + 10 * kHourUs);
  const Rows expected = Expected({});
  EXPECT_EQ(expected.size(), 1501u);
  EXPECT_EQ(Streamed({}), expected);
  ListFilter limited;
  limited.limit = 1200;
  EXPECT_EQ(Streamed(limited), Expected(limited));
}

TEST_F(StoreExportTest, TheVisitorStopsIt) {
  for (int m = 0; m < 10; ++m) Deliver(m, 0, kFirstUs + static_cast<uint64_t>(m) * kHourUs);
  int visits = 0;
  ASSERT_TRUE(store_->ListDistinctMessages({}, [&](const Delivery&) { return ++visits < 3; }).ok());
  EXPECT_EQ(visits, 3);
}

}  // namespace
}  // namespace archiver
