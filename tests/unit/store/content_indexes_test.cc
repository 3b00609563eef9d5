// idx_mailbox and idx_subject: listings through them agree with the filter's meaning,
// the smaller candidate set is chosen, an archive written before them is scanned until
// the resumable backfill (Store::ReindexStep) completes them, and Verify checks them.
#include "store/content_indexes.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "base/ascii.h"
#include "store/index_batch.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::Filter;
using testing::ModifyArchive;

constexpr uint64_t kSecond = 1000000;

struct Sent {
  int n;
  std::string user, mailbox, subject;
};

class ContentIndexesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = Path(), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
  }
  std::string Path() { return dir_.Sub("a"); }

  void Deliver(int n, const std::string& user, const std::string& mailbox,
               const std::string& subject) {
    DeliveryRecord record;
    record.received_us = (1000 + n) * kSecond;
    record.envelope_to = user + "@b.org";
    record.user = user;
    record.mailbox = mailbox;
    record.headers.subject = subject;
    Result<ArchiveOutcome> archived = store_->Archive("message " + std::to_string(n), record);
    ASSERT_TRUE(archived.ok()) << archived.status().ToString();
    sent_.push_back({n, user, mailbox, subject});
  }
  // Deliveries first..last-1: three users, a quarter in Junk, a fifth invoices.
  void DeliverRange(int first, int last) {
    for (int n = first; n < last; ++n) {
      Deliver(n, "u" + std::to_string(n % 3), n % 4 == 0 ? "Junk" : "INBOX",
              n % 5 == 0 ? "Invoice " + std::to_string(n) : "Weekly REPORT " + std::to_string(n));
    }
  }

  // Subjects listed, newest first.
  std::vector<std::string> Listed(const ListFilter& filter) {
    std::vector<std::string> subjects;
    Status listed = store_->ListDeliveries(filter, [&](const Delivery& delivery) {
      subjects.push_back(delivery.record.headers.subject);
      return true;
    });
    EXPECT_TRUE(listed.ok()) << listed.ToString();
    return subjects;
  }
  // What the filter means, from what was sent: newest first.
  std::vector<std::string> Expected(const ListFilter& filter) {
    std::vector<std::string> subjects;
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (!filter.user.empty() && it->user != filter.user) continue;
      if (!filter.mailbox.empty() && it->mailbox != filter.mailbox) continue;
      if (ascii::Lowercase(it->subject).find(ascii::Lowercase(filter.subject)) == std::string::npos)
        continue;
      if (filter.limit != 0 && subjects.size() == filter.limit) break;
      subjects.push_back(it->subject);
    }
    return subjects;
  }
  void ExpectListingsAgree() {
    const ListFilter filters[] = {
        Filter().Mailbox("Junk"),
        Filter().Mailbox("INBOX").Limit(5),
        Filter().Mailbox("Nowhere"),
        Filter().Subject("invoice"),
        Filter().Subject("VOIC"),
        Filter().Subject("report 1"),
        Filter().Subject("zzz"),
        Filter().Subject(" "),
        Filter().User("u1").Subject("inv"),
        Filter().Mailbox("Junk").Subject("weekly"),
    };
    for (const ListFilter& filter : filters) {
      EXPECT_EQ(Listed(filter), Expected(filter))
          << "mailbox '" << filter.mailbox << "' subject '" << filter.subject << "' user '"
          << filter.user << "'";
    }
  }
  std::string Damage() {
    Result<VerifyReport> report = store_->Verify();
    if (!report.ok()) return report.status().ToString();
    if (report->damaged.size() != 1) return std::to_string(report->damaged.size()) + " damages";
    return report->damaged[0].second.ToString();
  }
  // The key of delivery n (deliveries have distinct times).
  std::string KeyOf(int n) {
    std::string key;
    Status listed = store_->ListDeliveries(
        Filter().Since((1000 + n) * kSecond).Until((1001 + n) * kSecond), [&](const Delivery& d) {
          record::DeliveryKeyBytes bytes = record::EncodeDeliveryKey(d.key);
          key.assign(bytes.data(), bytes.size());
          return false;
        });
    EXPECT_TRUE(listed.ok() && !key.empty());
    return key;
  }
  // Removes `key` -> delivery n from `database` with the store closed.
  void RemoveEntry(const char* database, std::string key, int n) {
    std::string delivery = KeyOf(n);
    store_.reset();
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi dbi = open(txn, database);
      MDB_val key_val = {key.size(), key.data()}, value = {delivery.size(), delivery.data()};
      ASSERT_EQ(mdb_del(txn, dbi, &key_val, &value), 0);
    });
    SetUp();
  }
  // Makes the archive one that software before format 3 wrote: no content indexes, no
  // marker, format 2.
  void MakeFormatTwo() {
    store_.reset();
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta");
      for (const char* name : {"idx_mailbox", "idx_subject"}) {
        MDB_dbi dbi = 0;
        ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
        ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
      }
      MDB_val key = {15, const_cast<char*>("content_indexed")};
      ASSERT_EQ(mdb_del(txn, meta, &key, nullptr), 0);
      std::array<char, 8> two = record::EncodeCounter(2);
      MDB_val format = {14, const_cast<char*>("format_version")}, value = {8, two.data()};
      ASSERT_EQ(mdb_put(txn, meta, &format, &value, 0), 0);
    });
    SetUp();
  }
  uint64_t Format() {
    store_.reset();
    uint64_t version = 0;
    ModifyArchive(Path(), [&](MDB_txn* txn, auto open) {
      MDB_dbi meta = open(txn, "meta");
      MDB_val key = {14, const_cast<char*>("format_version")}, value;
      ASSERT_EQ(mdb_get(txn, meta, &key, &value), 0);
      record::DecodeCounter({static_cast<const char*>(value.mv_data), value.mv_size}, &version);
    });
    SetUp();
    return version;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
  std::vector<Sent> sent_;
};

TEST_F(ContentIndexesTest, ListingsThroughTheIndexesAgreeWithTheFilter) {
  DeliverRange(0, 2 * internal::kIndexBatch + 7);  // filed ones, and some still listed
  ExpectListingsAgree();
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  EXPECT_EQ(Format(), record::kFormatVersion);
}

// The listing reads idx_mailbox: an entry removed there hides its delivery from
// --mailbox, and Verify names the index.
TEST_F(ContentIndexesTest, MailboxListingReadsTheIndexAndVerifyChecksIt) {
  DeliverRange(0, internal::kIndexBatch);
  RemoveEntry("idx_mailbox", "Junk", 0);
  std::vector<std::string> junk = Listed(Filter().Mailbox("Junk"));
  EXPECT_EQ(junk.size(), Expected(Filter().Mailbox("Junk")).size() - 1);
  EXPECT_EQ(Damage(), "Corruption: delivery 1000000000/1 is missing from index idx_mailbox");
  RemoveEntry("idx_subject", "invoice", 5);
  EXPECT_EQ(Listed(Filter().Subject("invoice 5")), std::vector<std::string>{});
}

// With a user of two deliveries and a mailbox of many, the user's index is read: an
// entry missing from idx_mailbox does not matter to the combined filter.
TEST_F(ContentIndexesTest, CombinedFiltersReadTheSmallerIndex) {
  Deliver(0, "rare", "INBOX", "one");
  Deliver(1, "rare", "INBOX", "two");
  for (int n = 2; n < 40; ++n) Deliver(n, "many", "INBOX", "other");
  RemoveEntry("idx_mailbox", "INBOX", 0);
  EXPECT_EQ(Listed(Filter().User("rare").Mailbox("INBOX")),
            (std::vector<std::string>{"two", "one"}));
  EXPECT_EQ(Listed(Filter().Mailbox("INBOX")).size(), 39u);
}

TEST_F(ContentIndexesTest, OlderArchiveIsScannedUntilTheBackfillCompletes) {
  DeliverRange(0, 40);
  MakeFormatTwo();
  ExpectListingsAgree();  // no indexes: every record is read
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  DeliverRange(40, 45);  // this software files them; the older ones are still missing
  ExpectListingsAgree();
  EXPECT_TRUE(store_->Verify()->damaged.empty());

  Result<ReindexProgress> step = store_->ReindexStep(10);
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(step->filed, 10u);
  EXPECT_FALSE(step->complete);
  ExpectListingsAgree();
  uint64_t filed = step->filed;
  store_.reset();  // interrupted: the next step resumes where this one stopped
  SetUp();
  while (!step->complete) {
    step = store_->ReindexStep(7);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    filed += step->filed;
  }
  EXPECT_EQ(filed, 45u);
  ExpectListingsAgree();
  EXPECT_TRUE(store_->Verify()->damaged.empty());
  EXPECT_EQ(Format(), record::kFormatVersion);
  step = store_->ReindexStep(7);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->filed, 0u);
  EXPECT_TRUE(step->complete);
  RemoveEntry("idx_mailbox", "Junk", 4);  // complete now: verify checks them
  EXPECT_EQ(Damage(), "Corruption: delivery 1004000000/5 is missing from index idx_mailbox");
}

TEST_F(ContentIndexesTest, ReindexStepArguments) {
  EXPECT_EQ(store_->ReindexStep(0).status().code(), Status::Code::kInvalidArgument);
  Result<ReindexProgress> step = store_->ReindexStep(10);  // a new archive is complete
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->complete);
  EXPECT_EQ(step->filed, 0u);
}

}  // namespace
}  // namespace archiver
