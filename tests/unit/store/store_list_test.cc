// Store queries: ListDeliveries filters and order, ResolvePrefix, batching.
#include <gtest/gtest.h>

#include "archiver/store/store.h"
#include "test_util.h"

namespace archiver {
namespace {

constexpr uint64_t kSecond = 1000000;

struct Sample {
  uint64_t seconds;
  std::string envelope_from, header_from, rcpt, user, mailbox, subject;
};

class StoreListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = dir_.Sub("a"), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
    const Sample samples[] = {
        {1000, "alice@a.org", "Alice <alice@a.org>", "bob@b.com", "bob", "INBOX",
         "Quarterly Report"},
        {2000, "carol@c.org", "Carol <Carol@C.org>", "Bob+Lists@b.com", "bob", "Lists",
         "Re: lunch"},
        {3000, "alice@a.org", "alice@a.org", "dave@b.com", "dave", "INBOX", "Grüße aus Köln"},
        {4000, "", "MAILER-DAEMON@b.com", "bob@b.com", "bob", "INBOX", "Undelivered Mail"},
        {3000, "eve@e.org", "eve@e.org", "bob@b.com", "bob", "INBOX", "same second"},
    };
    for (const Sample& sample : samples) {
      std::string message = testing::MakeMessage(sample.header_from, sample.rcpt, sample.subject,
                                                 "body " + sample.subject);
      DeliveryRecord record;
      record.received_us = sample.seconds * kSecond;
      record.envelope_from = sample.envelope_from;
      record.envelope_to = sample.rcpt;
      record.user = sample.user;
      record.mailbox = sample.mailbox;
      record.headers = SummarizeHeaders(message);
      record.headers.subject = sample.subject;
      ASSERT_TRUE(store_->Archive(message, record).ok());
    }
  }

  std::vector<std::string> Subjects(const ListFilter& filter) {
    std::vector<std::string> subjects;
    Status status = store_->ListDeliveries(filter, [&](const Delivery& delivery) {
      subjects.push_back(delivery.record.headers.subject);
      return true;
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return subjects;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

using SubjectList = std::vector<std::string>;

TEST_F(StoreListTest, Filters) {
  const SubjectList all = {"Undelivered Mail", "same second", "Grüße aus Köln", "Re: lunch",
                           "Quarterly Report"};
  struct Case {
    std::string name;
    ListFilter filter;
    SubjectList expected;
  } cases[] = {
      {"everything, newest first", {}, all},
      {"since", testing::Filter().Since(2000 * kSecond), {all[0], all[1], all[2], all[3]}},
      {"until (exclusive)", testing::Filter().Until(3000 * kSecond), {all[3], all[4]}},
      {"since and until", testing::Filter().Since(2000 * kSecond).Until(3000 * kSecond), {all[3]}},
      {"empty range", testing::Filter().Since(3000 * kSecond).Until(3000 * kSecond), {}},
      {"rcpt includes +detail",
       testing::Filter().Rcpt("bob@b.com"),
       {all[0], all[1], all[3], all[4]}},
      {"rcpt with detail, any case", testing::Filter().Rcpt("BOB+lists@B.COM"), {all[3]}},
      {"rcpt in brackets", testing::Filter().Rcpt("<dave@b.com>"), {all[2]}},
      {"rcpt unknown", testing::Filter().Rcpt("nobody@b.com"), {}},
      {"rcpt and time",
       testing::Filter().Since(1500 * kSecond).Until(3500 * kSecond).Rcpt("bob@b.com"),
       {all[1], all[3]}},
      {"envelope from", testing::Filter().From("alice@a.org"), {all[2], all[4]}},
      {"header from", testing::Filter().From("carol@c.org"), {all[3]}},
      {"header from of a bounce", testing::Filter().From("mailer-daemon@b.com"), {all[0]}},
      {"user", testing::Filter().User("bob"), {all[0], all[1], all[3], all[4]}},
      {"user and mailbox", testing::Filter().User("bob").Mailbox("Lists"), {all[3]}},
      {"mailbox only", testing::Filter().Mailbox("INBOX"), {all[0], all[1], all[2], all[4]}},
      {"subject, any case", testing::Filter().Subject("REPORT"), {all[4]}},
      {"subject with UTF-8", testing::Filter().Subject("köln"), {all[2]}},
      {"subject and from", testing::Filter().From("alice@a.org").Subject("aus"), {all[2]}},
      {"limit", testing::Filter().Limit(2), {all[0], all[1]}},
      {"limit with index", testing::Filter().Rcpt("bob@b.com").Limit(3), {all[0], all[1], all[3]}},
  };
  for (const Case& c : cases) EXPECT_EQ(Subjects(c.filter), c.expected) << c.name;
}

TEST_F(StoreListTest, VisitorCanStop) {
  int visits = 0;
  ASSERT_TRUE(store_->ListDeliveries({}, [&](const Delivery&) { return ++visits < 2; }).ok());
  EXPECT_EQ(visits, 2);
}

TEST_F(StoreListTest, ResolvePrefix) {
  std::vector<MessageId> ids;
  for (int i = 0; i < 300; ++i) {
    MessageId id{};
    DeliveryRecord record;
    record.envelope_to = "x@y";
    ASSERT_TRUE(store_->Archive("prefix message " + std::to_string(i), record, &id).ok());
    ids.push_back(id);
  }
  const std::string hex = ToHex(ids[17]);
  EXPECT_EQ(*store_->ResolvePrefix(hex), ids[17]);
  std::string upper = hex.substr(0, 13);
  for (char& c : upper) c = static_cast<char>(toupper(c));
  EXPECT_EQ(*store_->ResolvePrefix(upper), ids[17]);  // odd length, upper case
  EXPECT_EQ(store_->ResolvePrefix(hex.substr(0, 1)).status().code(), Status::Code::kAmbiguous);
  EXPECT_EQ(store_->ResolvePrefix("xyz").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->ResolvePrefix("").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->ResolvePrefix(hex + "0").status().code(), Status::Code::kInvalidArgument);
  // A 4-digit prefix that no id has.
  for (int candidate = 0; candidate < 0x10000; ++candidate) {
    char text[5];
    snprintf(text, sizeof(text), "%04x", candidate);
    bool used = false;
    for (const MessageId& id : ids) used = used || ToHex(id).starts_with(text);
    if (used) continue;
    Result<MessageId> none = store_->ResolvePrefix(text);
    EXPECT_EQ(none.status().code(), Status::Code::kNotFound) << text;
    break;
  }
  EXPECT_EQ(store_->ResolvePrefix("ffffffff").status().code(), Status::Code::kNotFound);
}

TEST(StoreListBatchTest, ManyDeliveriesAcrossBatches) {
  testing::TempDir dir;
  Result<std::shared_ptr<Store>> opened = Store::Open({.path = dir.Sub("a"), .sync = false});
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  constexpr int kCount = 5000;  // more than one batch of matches and of scanned records
  for (int i = 0; i < kCount; ++i) {
    DeliveryRecord record;
    record.received_us = (1000 + static_cast<uint64_t>(i % 2500)) * kSecond;  // with ties
    record.envelope_to = i % 2 == 0 ? "even@x" : "odd@x";
    record.headers.subject = i % 1000 == 0 ? "rare" : "common";
    ASSERT_TRUE(store.Archive("batch " + std::to_string(i), record).ok());
  }
  auto collect = [&](const ListFilter& filter) {
    std::vector<DeliveryKey> keys;
    EXPECT_TRUE(store
                    .ListDeliveries(filter,
                                    [&](const Delivery& delivery) {
                                      keys.push_back(delivery.key);
                                      return true;
                                    })
                    .ok());
    return keys;
  };
  auto newest_first = [](const std::vector<DeliveryKey>& keys) {
    for (size_t i = 1; i < keys.size(); ++i) {
      bool older = keys[i].received_us < keys[i - 1].received_us ||
                   (keys[i].received_us == keys[i - 1].received_us &&
                    keys[i].sequence < keys[i - 1].sequence);
      if (!older) return false;
    }
    return true;
  };
  std::vector<DeliveryKey> all = collect({});
  EXPECT_EQ(all.size(), static_cast<size_t>(kCount));
  EXPECT_TRUE(newest_first(all));
  std::vector<DeliveryKey> even = collect(testing::Filter().Rcpt("even@x"));
  EXPECT_EQ(even.size(), static_cast<size_t>(kCount / 2));
  EXPECT_TRUE(newest_first(even));
  EXPECT_EQ(collect(testing::Filter().Subject("rare")).size(), 5u);
  EXPECT_EQ(collect(testing::Filter().Rcpt("odd@x").Subject("rare")).size(), 0u);
  EXPECT_EQ(collect(testing::Filter().Limit(300)).size(), 300u);
  std::vector<DeliveryKey> window =
      collect(testing::Filter().Since(2000 * kSecond).Until(2100 * kSecond).Rcpt("odd@x"));
  EXPECT_EQ(window.size(), 100u);  // 100 seconds, two deliveries per second, one of them odd
  EXPECT_TRUE(newest_first(window));
}

// Records are decoded into slots reused from batch to batch: each listed delivery is the
// one archived, whole, whatever the deliveries decoded before it held (remote fields,
// longer strings, a header summary).
TEST(StoreListBatchTest, RecordsAcrossBatchesAreWhole) {
  testing::TempDir dir;
  Result<std::shared_ptr<Store>> opened = Store::Open({.path = dir.Sub("a"), .sync = false});
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  constexpr int kCount = 1200;  // several batches of 256, of all and of Junk
  std::vector<DeliveryRecord> archived;
  for (int i = 0; i < kCount; ++i) {
    DeliveryRecord record;
    record.received_us = (1000 + static_cast<uint64_t>(i)) * kSecond;
    record.origin = i % 3 == 0 ? "imap" : "lmtp";
    record.envelope_from = i % 2 == 0 ? std::string(40, 'f') + "@long.example" : "";
    record.envelope_to = "rcpt" + std::to_string(i % 5) + "@x";
    record.user = "user" + std::to_string(i % 7);
    record.mailbox = i % 4 == 0 ? "Junk" : "INBOX";
    record.trace_prefix = "Delivered-To: " + record.envelope_to + "\r\n";
    if (i % 3 == 0) {  // a remote source's
      record.source = "remote";
      record.folder = "Archive/" + std::to_string(i);
      record.uidvalidity = 7;
      record.uid = static_cast<uint32_t>(i + 1);
      record.internal_date_us = record.received_us - kSecond;
      record.flags = "\\Seen \\Flagged";
    }
    const std::string subject = i % 2 == 0 ? "word " + std::to_string(i) : "";
    std::string message = testing::MakeMessage("From " + std::to_string(i) + " <f@x>",
                                               record.envelope_to, subject, "body");
    if (i % 5 == 0) message = "Cc: " + std::string(200, 'c') + "@x\r\n" + message;
    record.headers = SummarizeHeaders(message);
    ASSERT_TRUE(store.Archive(message, record, &record.id).ok());
    record.size = message.size();
    archived.push_back(record);
  }
  // The listed delivery against the archived one; with !headers no summary is read.
  auto check = [&](const DeliveryRecord& got, bool headers) {
    const DeliveryRecord& want = archived.at(got.received_us / kSecond - 1000);
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.size, want.size);
    for (auto field :
         {&DeliveryRecord::origin, &DeliveryRecord::envelope_from, &DeliveryRecord::envelope_to,
          &DeliveryRecord::user, &DeliveryRecord::mailbox, &DeliveryRecord::source,
          &DeliveryRecord::folder, &DeliveryRecord::flags})
      EXPECT_EQ(got.*field, want.*field);
    EXPECT_EQ(got.uidvalidity, want.uidvalidity);
    EXPECT_EQ(got.uid, want.uid);
    EXPECT_EQ(got.internal_date_us, want.internal_date_us);
    EXPECT_TRUE(got.trace_prefix.empty());  // listings skip the trace
    const HeaderSummary expected = headers ? want.headers : HeaderSummary{};
    for (auto field :
         {&HeaderSummary::from, &HeaderSummary::from_addr, &HeaderSummary::to, &HeaderSummary::cc,
          &HeaderSummary::subject, &HeaderSummary::date, &HeaderSummary::message_id})
      EXPECT_EQ(got.headers.*field, expected.*field);
  };
  for (bool headers : {true, false}) {
    for (const char* mailbox : {"", "Junk"}) {  // through deliveries, through idx_mailbox
      ListFilter filter;
      filter.mailbox = mailbox;
      filter.headers = headers;
      size_t listed = 0;
      Status status = store.ListDeliveries(filter, [&](const Delivery& delivery) {
        check(delivery.record, headers);
        ++listed;
        return true;
      });
      ASSERT_TRUE(status.ok()) << status.ToString();
      EXPECT_EQ(listed, *mailbox == '\0' ? archived.size() : archived.size() / 4);
    }
  }
}

// Records of a remote source (written by Store::Archive here; SourceRegistry's batches
// in sources_batch_test): idx_source, newest first, the time window and other conditions,
// idempotency per (message, source, folder) whatever the UID.
TEST_F(StoreListTest, SourceFilter) {
  ListFilter filter;
  filter.source = "remote";
  EXPECT_TRUE(Subjects(filter).empty());  // no source databases yet: nothing, no error

  for (uint32_t uid = 1; uid <= 4; ++uid) {
    DeliveryRecord record;
    record.received_us = (5000 + uid) * kSecond;
    record.origin = "imap";
    record.source = uid == 4 ? "remote-2" : "remote";
    record.folder = "INBOX";
    record.uidvalidity = 9;
    record.uid = uid;
    record.headers.subject = "remote " + std::to_string(uid);
    const std::string message = testing::MakeMessage("x@y", "a@b", record.headers.subject, "");
    ASSERT_EQ(*store_->Archive(message, record), ArchiveOutcome::kStored);
    record.uid += 100;  // the same message under another UID: already archived
    EXPECT_EQ(*store_->Archive(message, record), ArchiveOutcome::kAlreadyArchived);
    record.folder = "Sent";  // in another folder: one more delivery of it
    EXPECT_EQ(*store_->Archive(message, record), ArchiveOutcome::kDeduplicated);
  }
  EXPECT_EQ(Subjects(filter), (std::vector<std::string>{"remote 3", "remote 3", "remote 2",
                                                         "remote 2", "remote 1", "remote 1"}));
  filter.mailbox = "";
  filter.since_us = 5002 * kSecond;
  filter.subject = "3";
  EXPECT_EQ(Subjects(filter), (std::vector<std::string>{"remote 3", "remote 3"}));
  filter = ListFilter();
  filter.source = "remote-2";
  EXPECT_EQ(Subjects(filter), (std::vector<std::string>{"remote 4", "remote 4"}));
  filter.source = "remote-3";
  EXPECT_TRUE(Subjects(filter).empty());
  // The local deliveries are not in any source.
  EXPECT_EQ(Subjects(testing::Filter().Rcpt("bob@b.com")).size(), 4u);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

}  // namespace
}  // namespace archiver
