// Index keys and filter matching for deliveries.
#include "store/index_keys.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace archiver::index {
namespace {

TEST(StoreIndexKeysTest, Addresses) {
  EXPECT_EQ(NormalizeAddress("  <Bob+Lists@Example.COM> "), "bob+lists@example.com");
  EXPECT_EQ(NormalizeAddress("<>"), "");
  EXPECT_EQ(NormalizeAddress(""), "");
  struct Case {
    std::string address, base;
  } cases[] = {{"bob+lists@b.com", "bob@b.com"}, {"bob@b.com", "bob@b.com"},
               {"+x@b.com", "+x@b.com"},         {"a+b+c@d", "a@d"},
               {"local+tag", "local"},           {"a@b+c.com", "a@b+c.com"}};
  for (const Case& c : cases) EXPECT_EQ(WithoutDetail(c.address), c.base) << c.address;
}

TEST(StoreIndexKeysTest, KeysOfARecord) {
  DeliveryRecord record;
  record.envelope_to = "<Bob+Lists@B.com>";
  record.envelope_from = "Alice@A.org";
  record.headers.from_addr = "alice@a.org";
  EXPECT_EQ(RcptKeys(record), (std::vector<std::string>{"bob+lists@b.com", "bob@b.com"}));
  EXPECT_EQ(FromKeys(record), (std::vector<std::string>{"alice@a.org"}));
  record.envelope_to = "bob@b.com";
  record.envelope_from = "";
  record.headers.from_addr = "carol@c.org";
  EXPECT_EQ(RcptKeys(record), (std::vector<std::string>{"bob@b.com"}));
  EXPECT_EQ(FromKeys(record), (std::vector<std::string>{"carol@c.org"}));
  record.envelope_to = "";
  EXPECT_TRUE(RcptKeys(record).empty());
  EXPECT_EQ(FitKey(std::string(600, 'a'), 511).size(), 511u);
  EXPECT_EQ(FitKey("short", 511), "short");
}

TEST(StoreIndexKeysTest, IdempotencyKey) {
  MessageId id = Sha256::Of("m");
  EXPECT_EQ(DeliveryIdempotencyKey(id, "bob", "Bob@B.com", "INBOX"),
            DeliveryIdempotencyKey(id, "bob", "<bob@b.com>", "INBOX"));
  EXPECT_NE(DeliveryIdempotencyKey(id, "bob", "bob@b.com", "INBOX"),
            DeliveryIdempotencyKey(id, "bob", "bob@b.com", "Archive"));
  EXPECT_NE(DeliveryIdempotencyKey(id, "bob", "bob@b.com", "INBOX"),
            DeliveryIdempotencyKey(Sha256::Of("n"), "bob", "bob@b.com", "INBOX"));
  EXPECT_NE(DeliveryIdempotencyKey(id, "bob", "", "INBOX"),
            DeliveryIdempotencyKey(id, "carol", "", "INBOX"));
  // The separator keeps field boundaries apart.
  EXPECT_NE(DeliveryIdempotencyKey(id, "u", "a", "bc"), DeliveryIdempotencyKey(id, "u", "ab", "c"));
  EXPECT_NE(DeliveryIdempotencyKey(id, "ua", "", "b"), DeliveryIdempotencyKey(id, "u", "a", "b"));
  // The legacy key (no user) is another key, and stays as archives wrote it.
  EXPECT_NE(LegacyDeliveryIdempotencyKey(id, "bob@b.com", "INBOX"),
            DeliveryIdempotencyKey(id, "", "bob@b.com", "INBOX"));
  EXPECT_EQ(ToHex(LegacyDeliveryIdempotencyKey(id, "bob@b.com", "INBOX")),
            ToHex([&] {
              Sha256 hasher;
              hasher.Update({reinterpret_cast<const char*>(id.data()), id.size()});
              hasher.Update(std::string_view("\0bob@b.com\0INBOX", 16));
              return hasher.Finish();
            }()));
}

TEST(StoreIndexKeysTest, FilterMatching) {
  DeliveryRecord record;
  record.received_us = 5000;
  record.envelope_from = "alice@a.org";
  record.envelope_to = "bob+lists@b.com";
  record.user = "bob";
  record.mailbox = "Lists";
  record.headers.from_addr = "list-owner@l.org";
  record.headers.subject = "Grüße aus Köln: REPORT";
  struct Case {
    ListFilter filter;
    bool matches;
  } cases[] = {
      {{}, true},
      {testing::Filter().Since(5000), true},
      {testing::Filter().Since(5001), false},
      {testing::Filter().Until(5000), false},
      {testing::Filter().Until(5001), true},
      {testing::Filter().From("ALICE@a.org"), true},
      {testing::Filter().From("list-owner@l.org"), true},
      {testing::Filter().From("bob@b.com"), false},
      {testing::Filter().Rcpt("bob@b.com"), true},
      {testing::Filter().Rcpt("bob+lists@B.com"), true},
      {testing::Filter().Rcpt("bob+other@b.com"), false},
      {testing::Filter().User("bob"), true},
      {testing::Filter().User("Bob"), false},
      {testing::Filter().Mailbox("Lists"), true},
      {testing::Filter().Mailbox("lists"), false},
      {testing::Filter().Subject("report"), true},
      {testing::Filter().Subject("köln"), true},
      {testing::Filter().Subject("absent"), false},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(PreparedFilter(cases[i].filter).Matches(record), cases[i].matches) << "case " << i;
  }
}

}  // namespace
}  // namespace archiver::index
