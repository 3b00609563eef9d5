// Store: opening, round trips, deduplication, idempotency and statistics.
#include "archiver/store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/index_keys.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<Store> OpenStore(StoreOptions options = {}) {
    if (options.path.empty()) options.path = dir_.Sub("archive");
    options.sync = false;
    Result<std::shared_ptr<Store>> store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }
  static DeliveryRecord Record(const std::string& rcpt, const std::string& mailbox = "INBOX") {
    return testing::LocalDelivery(rcpt, mailbox);
  }
  TempDir dir_;
};

TEST_F(StoreTest, RoundTrips) {
  std::string big = testing::RandomBytes(10 << 20, 3);
  for (size_t i = 0; i < (10u << 20); i += 4096) big.replace(i, 64, std::string(64, 'T'));
  big += std::string(10 << 20, 'x');  // 20 MiB: half random, half text
  struct Case {
    std::string name;
    std::string message;
    int level;
    std::string codec;
  } cases[] = {
      {"small text", testing::MakeMessage("a@b", "c@d", "hi", std::string(2000, 'z')), 6, "zlib"},
      {"small text uncompressed", testing::MakeMessage("a@b", "c@d", "hi0", "body"), 0, "none"},
      {"empty", "", 6, "none"},
      {"binary with NUL", std::string("\0\x01\xFF\r\n\0", 6), 6, "none"},
      {"random", testing::RandomBytes(100000, 9), 6, "none"},
      {"20 MiB", big, 6, "zlib"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StoreOptions options;
    options.path =
        dir_.Sub("rt-" + std::to_string(c.level) + "-" + std::to_string(c.message.size()));
    options.compression_level = c.level;
    std::shared_ptr<Store> store = OpenStore(options);
    ASSERT_TRUE(store);
    MessageId id{};
    Result<ArchiveOutcome> outcome = store->Archive(c.message, Record("bob@b.com"), &id);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_EQ(*outcome, ArchiveOutcome::kStored);
    EXPECT_EQ(id, Sha256::Of(c.message));
    Result<std::string> read = store->ReadMessage(id);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_TRUE(*read == c.message);
    Result<MessageInfo> info = store->GetInfo(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->raw_size, c.message.size());
    EXPECT_EQ(info->codec, c.codec);
    EXPECT_EQ(info->format_version, 2u);
    if (c.codec == "zlib") {
      EXPECT_LT(info->stored_size, c.message.size());
    }
  }
}

// Each archiver_fsync mode (yes, once, no) commits what a reopened store reads back.
TEST_F(StoreTest, EveryFlushModeCommits) {
  struct Mode {
    const char* name;
    bool sync;
    bool meta_sync;
  } modes[] = {{"yes", true, true}, {"once", true, false}, {"no", false, true}};
  for (const Mode& mode : modes) {
    SCOPED_TRACE(mode.name);
    StoreOptions options;
    options.path = dir_.Sub(std::string("flush-") + mode.name);
    options.sync = mode.sync;
    options.meta_sync = mode.meta_sync;
    const std::string message = testing::MakeMessage("a@b", "c@d", mode.name, "body");
    MessageId id{};
    {
      Result<std::shared_ptr<Store>> store = Store::Open(options);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      ASSERT_TRUE((*store)->Archive(message, Record("bob@b.com"), &id).ok());
    }  // closed: the next Open maps the environment afresh
    options.read_only = true;
    Result<std::shared_ptr<Store>> reopened = Store::Open(options);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    Result<std::string> read = (*reopened)->ReadMessage(id);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, message);
  }
}

TEST_F(StoreTest, SameMessageTwoRecipientsIsStoredOnce) {
  std::shared_ptr<Store> store = OpenStore();
  std::string message = testing::MakeMessage("a@b", "c@d", "dedup", std::string(50000, 'k'));
  EXPECT_EQ(*store->Archive(message, Record("bob@b.com")), ArchiveOutcome::kStored);
  EXPECT_EQ(*store->Archive(message, Record("carol@b.com")), ArchiveOutcome::kDeduplicated);
  Result<StoreStats> stats = store->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->messages, 1u);
  EXPECT_EQ(stats->deliveries, 2u);
  EXPECT_EQ(stats->raw_bytes, message.size());
  EXPECT_EQ(stats->delivered_bytes, 2 * message.size());
  EXPECT_GT(stats->stored_bytes, 0u);
  EXPECT_LT(stats->stored_bytes, stats->raw_bytes / 10);  // compressible text
  EXPECT_EQ(stats->map_size, StoreOptions().map_size);
  EXPECT_GT(stats->map_used, 0u);
  Result<std::vector<Delivery>> deliveries = store->DeliveriesOf(Sha256::Of(message));
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_EQ((*deliveries)[0].record.envelope_to, "bob@b.com");
  EXPECT_EQ((*deliveries)[1].record.envelope_to, "carol@b.com");
}

TEST_F(StoreTest, RepeatedDeliveryIsArchivedOnce) {
  std::shared_ptr<Store> store = OpenStore();
  std::string message = testing::MakeMessage("a@b", "c@d", "idem", "body");
  EXPECT_EQ(*store->Archive(message, Record("bob@b.com")), ArchiveOutcome::kStored);
  EXPECT_EQ(*store->Archive(message, Record("bob@b.com")), ArchiveOutcome::kAlreadyArchived);
  DeliveryRecord spelled_otherwise = Record("<BOB@b.com>");
  spelled_otherwise.user = "bob";
  EXPECT_EQ(*store->Archive(message, spelled_otherwise), ArchiveOutcome::kAlreadyArchived);
  DeliveryRecord later = Record("bob@b.com");
  later.received_us += 1000000;  // a retry later on is still the same delivery
  EXPECT_EQ(*store->Archive(message, later), ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->GetStats()->deliveries, 1u);
  // Another mailbox of the same recipient is another delivery.
  EXPECT_EQ(*store->Archive(message, Record("bob@b.com", "Archive")),
            ArchiveOutcome::kDeduplicated);
  Result<StoreStats> stats = store->GetStats();
  EXPECT_EQ(stats->deliveries, 2u);
  EXPECT_EQ(stats->messages, 1u);
}

// The same bytes saved for several users with one envelope (IMAP APPEND has none;
// dovecot-lda run with the same -a for each user) are one delivery per user.
TEST_F(StoreTest, SameEnvelopeForTwoUsersIsTwoDeliveries) {
  std::shared_ptr<Store> store = OpenStore();
  std::string message = testing::MakeMessage("a@b", "c@d", "users", "body");
  DeliveryRecord first = Record("");
  first.origin = "append";
  first.user = "ann";
  DeliveryRecord second = first;
  second.user = "ben";
  EXPECT_EQ(*store->Archive(message, first), ArchiveOutcome::kStored);
  EXPECT_EQ(*store->Archive(message, second), ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(*store->Archive(message, first), ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(*store->Archive(message, second), ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->GetStats()->deliveries, 2u);
  Result<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->damaged.empty());
}

// An archive written before the user was part of the idempotency key: its entries still
// make retries harmless, and another user's delivery with that envelope is still written.
TEST_F(StoreTest, LegacyIdempotencyKeysAreHonoured) {
  std::string message = testing::MakeMessage("a@b", "c@d", "legacy", "body");
  DeliveryRecord ann = Record("shared@b.com");
  ann.user = "ann";
  EXPECT_EQ(*OpenStore()->Archive(message, ann), ArchiveOutcome::kStored);
  const MessageId id = Sha256::Of(message);
  const MessageId current =
      index::DeliveryIdempotencyKey(id, "ann", ann.envelope_to, ann.mailbox);
  const MessageId legacy = index::LegacyDeliveryIdempotencyKey(id, ann.envelope_to, ann.mailbox);
  testing::ModifyArchive(dir_.Sub("archive"), [&](MDB_txn* txn, auto open) {
    MDB_dbi keys = open(txn, "delivery_keys");
    MDB_val key = {current.size(), const_cast<unsigned char*>(current.data())}, value{};
    ASSERT_EQ(mdb_get(txn, keys, &key, &value), 0);
    std::string delivery(static_cast<const char*>(value.mv_data), value.mv_size);
    ASSERT_EQ(mdb_del(txn, keys, &key, nullptr), 0);
    MDB_val old_key = {legacy.size(), const_cast<unsigned char*>(legacy.data())};
    MDB_val old_value = {delivery.size(), delivery.data()};
    ASSERT_EQ(mdb_put(txn, keys, &old_key, &old_value, 0), 0);
  });
  std::shared_ptr<Store> store = OpenStore();
  Result<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->damaged.empty()) << report->damaged[0].second.ToString();
  EXPECT_EQ(*store->Archive(message, ann), ArchiveOutcome::kAlreadyArchived);
  DeliveryRecord ben = ann;
  ben.user = "ben";
  EXPECT_EQ(*store->Archive(message, ben), ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(*store->Archive(message, ben), ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->GetStats()->deliveries, 2u);
  report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->damaged.empty());
}

TEST_F(StoreTest, DeliveryRecordIsPreserved) {
  std::shared_ptr<Store> store = OpenStore();
  std::string message =
      testing::MakeMessage("Jörg <j@x>", "bob@b.com", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "b");
  DeliveryRecord record = Record("bob+tag@b.com");
  record.headers = SummarizeHeaders(message);
  record.trace_prefix = "Return-Path: <alice@a.org>\r\nDelivered-To: bob+tag@b.com\r\n";
  record.size = 999;  // overwritten by Archive
  MessageId id{};
  ASSERT_TRUE(store->Archive(message, record, &id).ok());
  Result<std::vector<Delivery>> deliveries = store->DeliveriesOf(id);
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 1u);
  const Delivery& stored = deliveries->front();
  EXPECT_EQ(stored.key.received_us, record.received_us);
  EXPECT_EQ(stored.record.id, id);
  EXPECT_EQ(stored.record.size, message.size());
  EXPECT_EQ(stored.record.received_us, record.received_us);
  EXPECT_EQ(stored.record.origin, "lmtp");
  EXPECT_EQ(stored.record.envelope_from, "alice@a.org");
  EXPECT_EQ(stored.record.envelope_to, "bob+tag@b.com");
  EXPECT_EQ(stored.record.user, "bob+tag");
  EXPECT_EQ(stored.record.mailbox, "INBOX");
  EXPECT_EQ(stored.record.trace_prefix, record.trace_prefix);
  EXPECT_EQ(stored.record.headers.subject, "Grüße");
  EXPECT_EQ(stored.record.headers.from, "Jörg <j@x>");
  EXPECT_EQ(stored.record.headers.from_addr, "j@x");
  // The delivered bytes are the trace prefix followed by the stored message.
  EXPECT_EQ(stored.record.trace_prefix + *store->ReadMessage(id), record.trace_prefix + message);
}

TEST_F(StoreTest, ZeroTimeMeansNow) {
  std::shared_ptr<Store> store = OpenStore();
  DeliveryRecord record = Record("bob@b.com");
  record.received_us = 0;
  MessageId id{};
  ASSERT_TRUE(store->Archive("m", record, &id).ok());
  EXPECT_GT(store->DeliveriesOf(id)->front().key.received_us, 1714567890000000u);
}

TEST_F(StoreTest, AddDelivery) {
  std::shared_ptr<Store> store = OpenStore();
  MessageId id{};
  ASSERT_TRUE(store->Archive("message body", Record("bob@b.com"), &id).ok());
  DeliveryRecord extra = Record("carol@b.com");
  extra.id = id;
  EXPECT_EQ(*store->AddDelivery(extra), ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(*store->AddDelivery(extra), ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(store->DeliveriesOf(id)->back().record.size, 12u);
  extra.id = Sha256::Of("never stored");
  EXPECT_EQ(store->AddDelivery(extra).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store->GetStats()->deliveries, 2u);
}

TEST_F(StoreTest, AKnownIdIsNotHashedAgainAndTheMessageStoredWhereMissing) {
  std::shared_ptr<Store> store = OpenStore();
  MessageId id{};
  ASSERT_TRUE(store->Archive("message body", Record("bob@b.com"), &id).ok());
  // A later recipient into the same archive: a delivery of the stored message.
  MessageId again{};
  EXPECT_EQ(*store->Archive("message body", Record("carol@b.com"), &again, &id),
            ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(again, id);
  EXPECT_EQ(store->DeliveriesOf(id)->back().record.size, 12u);
  // Into another archive, which lacks the message: stored there under the known id.
  std::shared_ptr<Store> other = OpenStore({.path = dir_.Sub("other")});
  EXPECT_EQ(*other->Archive("message body", Record("dave@b.com"), nullptr, &id),
            ArchiveOutcome::kStored);
  EXPECT_EQ(*other->ReadMessage(id), "message body");
  EXPECT_EQ(other->GetStats()->messages, 1u);
}

TEST_F(StoreTest, OnePerPathPerProcess) {
  std::shared_ptr<Store> first = OpenStore();
  StoreOptions options;
  options.path = dir_.Sub("archive") + "/./";
  std::shared_ptr<Store> second = OpenStore(options);
  EXPECT_EQ(first.get(), second.get());
  ASSERT_EQ(symlink(dir_.Sub("archive").c_str(), dir_.Sub("link").c_str()), 0);
  options.path = dir_.Sub("link");
  EXPECT_EQ(OpenStore(options).get(), first.get());
  options.read_only = true;  // a writable store serves readers too
  EXPECT_EQ(OpenStore(options).get(), first.get());
  first.reset();
  second.reset();
  std::shared_ptr<Store> reopened = OpenStore();  // closed, then opened afresh
  ASSERT_TRUE(reopened);
  EXPECT_TRUE(reopened->GetStats().ok());
}

TEST_F(StoreTest, ReadOnly) {
  StoreOptions options;
  options.path = dir_.Sub("missing");
  options.read_only = true;
  Result<std::shared_ptr<Store>> missing = Store::Open(options);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("no archive at"), std::string::npos);
  EXPECT_NE(access(options.path.c_str(), F_OK), 0) << "read-only open created something";

  options.read_only = false;
  options.create_if_missing = false;
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kNotFound);

  ASSERT_EQ(mkdir(dir_.Sub("empty").c_str(), 0700), 0);
  options.path = dir_.Sub("empty");
  options.read_only = true;
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kNotFound);
  options.read_only = false;  // a writer that must not create one (doveadm archive repair)
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kNotFound);
  EXPECT_NE(access((options.path + "/data.mdb").c_str(), F_OK), 0);
  options.read_only = true;

  MessageId id{};
  {
    std::shared_ptr<Store> writer = OpenStore();
    ASSERT_TRUE(writer->Archive("hello", Record("bob@b.com"), &id).ok());
  }
  options.path = dir_.Sub("archive");
  Result<std::shared_ptr<Store>> reader = Store::Open(options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(*(*reader)->ReadMessage(id), "hello");
  EXPECT_EQ((*reader)->Archive("x", Record("bob@b.com")).status().code(),
            Status::Code::kInvalidArgument);
  options.read_only = false;  // cannot upgrade the read-only environment in this process
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(StoreTest, CreatesPrivateFilesWhateverTheUmask) {
  mode_t old_mask = umask(0);
  StoreOptions options;
  options.path = dir_.Sub("deep/er/archive");
  std::shared_ptr<Store> store = OpenStore(options);
  umask(old_mask);
  ASSERT_TRUE(store);
  struct stat st;
  ASSERT_EQ(stat(options.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const char* file : {"/data.mdb", "/lock.mdb"}) {
    ASSERT_EQ(stat((options.path + file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << file;
  }
}

TEST_F(StoreTest, OpenErrors) {
  StoreOptions options;
  options.path = dir_.Sub("file");
  FILE* file = fopen(options.path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  fclose(file);
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kIOError);
  options.path = dir_.Sub("a");
  options.compression_level = 10;
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kInvalidArgument);
  options.compression_level = 6;
  options.map_size = 0;
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kInvalidArgument);
  options.path = "";
  options.map_size = 1 << 20;
  EXPECT_EQ(Store::Open(options).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(StoreTest, NewerFormatIsRefused) {
  OpenStore();  // creates it; closed again at once
  testing::ModifyArchive(dir_.Sub("archive"), [](MDB_txn* txn, auto open) {
    MDB_dbi meta = open(txn, "meta");
    char version[8] = {0, 0, 0, 0, 0, 0, 0, static_cast<char>(record::kFormatVersion + 1)};
    MDB_val key = {14, const_cast<char*>("format_version")}, value = {8, version};
    EXPECT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  });
  Result<std::shared_ptr<Store>> store = Store::Open({.path = dir_.Sub("archive")});
  EXPECT_EQ(store.status().code(), Status::Code::kCorruption);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status().ToString();
}

TEST(StoreFormatBytesTest, HumanReadable) {
  struct Case {
    uint64_t bytes;
    std::string text;
  } cases[] = {{0, "0 B"},           {1023, "1023 B"},        {1536, "1.5 KiB"},
               {10 << 20, "10 MiB"}, {16ULL << 30, "16 GiB"}, {(3ULL << 40) / 2, "1.5 TiB"}};
  for (const Case& c : cases) EXPECT_EQ(FormatBytes(c.bytes), c.text);
}

}  // namespace
}  // namespace archiver

namespace archiver {
namespace {

// An archive moved away (or replaced) while a process keeps it open: StillAtPath says so,
// and opening the path again gives the archive that is there now, not the moved one.
TEST(StoreIdentityTest, MovedArchiveIsNoticedAndTheNewOneOpened) {
  testing::TempDir dir;
  const std::string path = dir.Sub("archive");
  StoreOptions options;
  options.path = path;
  options.map_size = 64 << 20;
  options.sync = false;
  Result<std::shared_ptr<Store>> first = Store::Open(options);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Archive("first", testing::LocalDelivery("a@b.c")).ok());
  EXPECT_TRUE((*first)->StillAtPath().ok());

  ASSERT_EQ(rename(path.c_str(), dir.Sub("moved").c_str()), 0);
  EXPECT_EQ((*first)->StillAtPath().code(), Status::Code::kNotFound);
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  Result<std::shared_ptr<Store>> second = Store::Open(options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(second->get(), first->get()) << "the moved archive was handed out again";
  ASSERT_TRUE((*second)->Archive("second", testing::LocalDelivery("a@b.c")).ok());
  EXPECT_EQ((*second)->GetStats()->deliveries, 1u);
  EXPECT_EQ((*first)->GetStats()->deliveries, 1u) << "the moved archive is untouched";

  // Replaced by another archive's files: noticed too.
  first->reset();
  ASSERT_EQ(rename(dir.Sub("moved/data.mdb").c_str(), (path + "/data.mdb").c_str()), 0);
  EXPECT_EQ((*second)->StillAtPath().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace archiver
