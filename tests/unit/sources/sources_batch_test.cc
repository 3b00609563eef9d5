// SourceRegistry::ArchiveBatch: messages, checkpoint and counters in one transaction;
// re-runs write nothing; content dedup against local deliveries and other folders;
// UIDVALIDITY resets; a writer killed with SIGKILL between (or inside) batches leaves
// exactly the committed batches; ListFilter.source; Remove keeps the archived mail;
// pending --after actions (issue 4); the retry list of refused messages (issue 15); a
// batch across index batches.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "archiver/sources/sources.h"
#include "test_util.h"

namespace archiver {
namespace {

constexpr uint32_t kValidity = 1700000001;

std::string RemoteMail(uint32_t uid, const std::string& tag = "") {
  return testing::MakeMessage(
      "sender" + std::to_string(uid % 7) + "@remote.example", "alice@example.org",
      "remote " + tag + std::to_string(uid),
      "body of " + tag + std::to_string(uid) + "\r\n" + std::string(uid % 300, 'x'));
}

RemoteBatch Batch(const std::string& folder, uint32_t first, uint32_t last,
                  uint32_t validity = kValidity, const std::string& tag = "") {
  RemoteBatch batch;
  batch.folder = folder;
  batch.uidvalidity = validity;
  batch.last_uid = last;
  batch.remote_messages = last;
  for (uint32_t uid = first; uid <= last; ++uid) {
    RemoteMessage& message = batch.messages.emplace_back();
    message.uid = uid;
    message.bytes = RemoteMail(uid, tag);
    message.internal_date_us = 1500000000000000ULL + uid;
    message.flags = uid % 2 ? "\\Seen" : "\\Seen \\Flagged";
  }
  return batch;
}

std::vector<Delivery> OfSource(const Store& store, const std::string& source) {
  ListFilter filter;
  filter.source = source;
  std::vector<Delivery> rows;
  Status status = store.ListDeliveries(filter, [&](const Delivery& delivery) {
    rows.push_back(delivery);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return rows;
}

class SourceBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = path(), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
    SourceConfig config;
    config.name = "remote";
    config.host = "imap.example.org";
    config.user = "alice";
    ASSERT_TRUE(Registry().Add(config, "pw").ok());
  }
  std::string path() const { return dir_.Sub("archive"); }
  SourceRegistry Registry() { return SourceRegistry(store_, dir_.Sub("key")); }
  StoreStats Stats() { return *store_->GetStats(); }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(SourceBatchTest, BatchArchivesAndMovesTheCheckpoint) {
  SourceRegistry registry = Registry();
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->uidvalidity, 0u);
  Result<BatchResult> result = registry.ArchiveBatch("remote", Batch("INBOX", 1, 10));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->stored, 10u);
  Result<FolderCheckpoint> checkpoint = registry.Checkpoint("remote", "INBOX");
  EXPECT_EQ(checkpoint->uidvalidity, kValidity);
  EXPECT_EQ(checkpoint->last_uid, 10u);
  EXPECT_EQ(checkpoint->archived, 10u);
  EXPECT_EQ(checkpoint->remote_messages, 10u);
  EXPECT_EQ(registry.Describe("remote")->status.messages_archived, 10u);

  // The records carry the remote fields.
  std::vector<Delivery> rows = OfSource(*store_, "remote");
  ASSERT_EQ(rows.size(), 10u);
  std::set<uint32_t> uids;
  for (const Delivery& row : rows) {
    EXPECT_EQ(row.record.origin, "imap");
    EXPECT_EQ(row.record.folder, "INBOX");
    EXPECT_EQ(row.record.uidvalidity, kValidity);
    EXPECT_EQ(row.record.internal_date_us, 1500000000000000ULL + row.record.uid);
    EXPECT_EQ(row.record.flags, row.record.uid % 2 ? "\\Seen" : "\\Seen \\Flagged");
    EXPECT_EQ(row.record.headers.subject, "remote " + std::to_string(row.record.uid));
    EXPECT_EQ(*store_->ReadMessage(row.record.id), RemoteMail(row.record.uid));
    uids.insert(row.record.uid);
  }
  EXPECT_EQ(uids.size(), 10u);

  // A checkpoint-only batch (UIDs skipped or expunged remotely) moves the checkpoint.
  RemoteBatch empty = Batch("INBOX", 1, 0);
  empty.last_uid = 15;
  ASSERT_TRUE(registry.ArchiveBatch("remote", empty).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->last_uid, 15u);
  // Never backwards.
  ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", 1, 3)).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->last_uid, 15u);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

// One batch transaction that fills the index batch twice (docs/store-format.md, "Batched index
// entries"): the sender index finds every message, whether filed or still listed.
TEST_F(SourceBatchTest, ABatchAcrossIndexBatchesIsFoundByTheSenderIndex) {
  ASSERT_TRUE(Registry().ArchiveBatch("remote", Batch("INBOX", 1, 75)).ok());
  ListFilter filter;
  filter.from = "sender3@remote.example";
  std::vector<uint32_t> uids;
  ASSERT_TRUE(store_->ListDeliveries(filter, [&](const Delivery& delivery) {
    uids.push_back(delivery.record.uid);
    return true;
  }).ok());
  std::multiset<uint32_t> expected;
  for (uint32_t uid = 3; uid <= 75; uid += 7) expected.insert(uid);
  EXPECT_EQ(std::multiset<uint32_t>(uids.begin(), uids.end()), expected);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

TEST_F(SourceBatchTest, RerunOfABatchWritesNothing) {
  SourceRegistry registry = Registry();
  ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", 1, 20)).ok());
  const StoreStats before = Stats();
  Result<BatchResult> again = registry.ArchiveBatch("remote", Batch("INBOX", 1, 20));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stored + again->deduplicated, 0u);
  EXPECT_EQ(again->already_archived, 20u);
  EXPECT_EQ(Stats().deliveries, before.deliveries);
  EXPECT_EQ(Stats().messages, before.messages);
  EXPECT_EQ(registry.Describe("remote")->status.messages_archived, 20u);
  EXPECT_EQ(OfSource(*store_, "remote").size(), 20u);
}

TEST_F(SourceBatchTest, DedupAgainstLocalDeliveriesAndOtherFolders) {
  DeliveryRecord local;
  local.origin = "lmtp";
  local.envelope_to = "alice@example.org";
  local.user = "alice";
  local.mailbox = "INBOX";
  ASSERT_EQ(*store_->Archive(RemoteMail(3), local), ArchiveOutcome::kStored);
  const StoreStats before = Stats();

  SourceRegistry registry = Registry();
  Result<BatchResult> result = registry.ArchiveBatch("remote", Batch("INBOX", 1, 5));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stored, 4u);
  EXPECT_EQ(result->deduplicated, 1u);
  EXPECT_EQ(Stats().messages, before.messages + 4);
  EXPECT_EQ(Stats().deliveries, before.deliveries + 5);

  // The same mails in another folder: stored once, one record per folder.
  result = registry.ArchiveBatch("remote", Batch("Archive", 1, 5, 42));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stored, 0u);
  EXPECT_EQ(result->deduplicated, 5u);
  EXPECT_EQ(Stats().messages, before.messages + 4);
  EXPECT_EQ(OfSource(*store_, "remote").size(), 10u);
  EXPECT_EQ(registry.Describe("remote")->folders.size(), 2u);

  // A duplicate inside one batch is stored once too.
  RemoteBatch twice = Batch("Dups", 1, 2, 7);
  twice.messages[1].bytes = twice.messages[0].bytes;
  result = registry.ArchiveBatch("remote", twice);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->deduplicated + result->stored, 1u);
  EXPECT_EQ(result->already_archived, 1u);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

TEST_F(SourceBatchTest, UidValidityChangeNeedsResetAndRescanAddsNothing) {
  SourceRegistry registry = Registry();
  ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", 1, 8)).ok());
  const StoreStats before = Stats();

  // The folder was recreated: same mails, new UIDs under a new UIDVALIDITY.
  RemoteBatch recreated = Batch("INBOX", 1, 8, kValidity + 1);
  for (RemoteMessage& message : recreated.messages) message.uid += 100;
  recreated.last_uid = 108;
  Result<BatchResult> refused = registry.ArchiveBatch("remote", recreated);
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("UIDVALIDITY"), std::string::npos);

  ASSERT_TRUE(registry.ResetFolder("remote", "INBOX", kValidity + 1).ok());
  FolderCheckpoint checkpoint = *registry.Checkpoint("remote", "INBOX");
  EXPECT_EQ(checkpoint.uidvalidity, kValidity + 1);
  EXPECT_EQ(checkpoint.last_uid, 0u);
  Result<BatchResult> rescanned = registry.ArchiveBatch("remote", recreated);
  ASSERT_TRUE(rescanned.ok()) << rescanned.status().ToString();
  EXPECT_EQ(rescanned->already_archived, 8u);
  EXPECT_EQ(Stats().deliveries, before.deliveries);
  EXPECT_EQ(OfSource(*store_, "remote").size(), 8u);
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->last_uid, 108u);
}

TEST_F(SourceBatchTest, InvalidBatchesWriteNothing) {
  SourceRegistry registry = Registry();
  const StoreStats before = Stats();
  RemoteBatch beyond = Batch("INBOX", 1, 5);
  beyond.last_uid = 4;
  EXPECT_EQ(registry.ArchiveBatch("remote", beyond).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.ArchiveBatch("remote", Batch("", 1, 2)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.ArchiveBatch("remote", Batch("INBOX", 1, 2, 0)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(
      registry.ArchiveBatch("remote", Batch("INBOX", 1, 2, kValidity, std::string(600, 'f'))).ok(),
      true);  // long content is fine; a long folder name is not:
  EXPECT_EQ(registry.ArchiveBatch("remote", Batch(std::string(600, 'F'), 1, 2)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.ArchiveBatch("nobody", Batch("INBOX", 1, 2)).status().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(Stats().deliveries, before.deliveries + 2);
}

TEST_F(SourceBatchTest, SourceFilterUsesOnlyThatSource) {
  SourceRegistry registry = Registry();
  SourceConfig second;
  second.name = "remote2";
  second.host = "h";
  second.user = "u";
  ASSERT_TRUE(registry.Add(second, "pw").ok());
  ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", 1, 6)).ok());
  ASSERT_TRUE(registry.ArchiveBatch("remote2", Batch("INBOX", 1, 3, kValidity, "b")).ok());
  DeliveryRecord local;
  local.envelope_to = "alice@example.org";
  local.mailbox = "INBOX";
  ASSERT_TRUE(store_->Archive(RemoteMail(1), local).ok());  // local copy: not of a source

  EXPECT_EQ(OfSource(*store_, "remote").size(), 6u);
  EXPECT_EQ(OfSource(*store_, "remote2").size(), 3u);
  EXPECT_EQ(OfSource(*store_, "remote-").size(), 0u);
  ListFilter filter;
  filter.source = "remote";
  filter.subject = "remote 2";
  filter.limit = 5;
  int rows = 0;
  ASSERT_TRUE(store_
                  ->ListDeliveries(filter,
                                   [&](const Delivery& d) {
                                     EXPECT_EQ(d.record.source, "remote");
                                     return ++rows, true;
                                   })
                  .ok());
  EXPECT_EQ(rows, 1);
}

TEST_F(SourceBatchTest, RemoveKeepsArchivedMail) {
  SourceRegistry registry = Registry();
  ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", 1, 4)).ok());
  const StoreStats before = Stats();
  ASSERT_TRUE(registry.Remove("remote").ok());
  EXPECT_EQ(registry.Describe("remote").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(registry.Password("remote").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(registry.Remove("remote").code(), Status::Code::kNotFound);
  EXPECT_EQ(Stats().deliveries, before.deliveries);
  EXPECT_EQ(OfSource(*store_, "remote").size(), 4u);

  // Added again under the same name: empty checkpoints and log, nothing archived twice.
  SourceConfig config;
  config.name = "remote";
  config.host = "h";
  config.user = "u";
  ASSERT_TRUE(registry.Add(config, "pw").ok());
  SourceInfo info = *registry.Describe("remote");
  EXPECT_TRUE(info.folders.empty());
  EXPECT_EQ(info.status.messages_archived, 0u);
  Result<std::vector<SourceLogEntry>> log = testing::LogOf(registry, "remote");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 1u);
  Result<BatchResult> again = registry.ArchiveBatch("remote", Batch("INBOX", 1, 4));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->already_archived, 4u);
  EXPECT_EQ(Stats().deliveries, before.deliveries);
}

// A child archives batches of 5 until it is killed; the archive then holds exactly the
// UIDs up to the committed checkpoint, and resuming from it completes without
// duplicates or gaps.
TEST_F(SourceBatchTest, KilledWriterLeavesExactlyTheCommittedBatches) {
  constexpr uint32_t kTotal = 400, kPerBatch = 5;
  store_.reset();  // the child opens its own
  fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    Result<std::shared_ptr<Store>> store = Store::Open({.path = path(), .sync = false});
    if (!store.ok()) _exit(2);
    SourceRegistry registry(*store, dir_.Sub("key"));
    for (uint32_t first = 1;; first += kPerBatch) {
      uint32_t last = first + kPerBatch - 1;
      if (last > kTotal) _exit(3);  // should have been killed long before
      if (!registry.ArchiveBatch("remote", Batch("INBOX", first, last)).ok()) _exit(4);
    }
  }
  ASSERT_GT(child, 0);
  Result<std::shared_ptr<Store>> reopened = Store::Open({.path = path(), .sync = false});
  ASSERT_TRUE(reopened.ok());
  store_ = *reopened;
  SourceRegistry registry = Registry();
  for (int i = 0; i < 20000; ++i) {
    Result<FolderCheckpoint> checkpoint = registry.Checkpoint("remote", "INBOX");
    ASSERT_TRUE(checkpoint.ok());
    if (checkpoint->last_uid >= 60) break;
    usleep(1000);
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited with " << WEXITSTATUS(wait_status);

  const uint32_t committed = registry.Checkpoint("remote", "INBOX")->last_uid;
  ASSERT_GE(committed, 60u);
  ASSERT_LT(committed, kTotal);
  EXPECT_EQ(committed % kPerBatch, 0u);
  std::set<uint32_t> uids;
  for (const Delivery& row : OfSource(*store_, "remote")) uids.insert(row.record.uid);
  EXPECT_EQ(uids.size(), committed);
  EXPECT_EQ(*uids.rbegin(), committed);
  EXPECT_EQ(registry.Describe("remote")->status.messages_archived, committed);

  // Resume where the checkpoint says, as a restarted sync would.
  for (uint32_t first = committed + 1; first <= kTotal; first += kPerBatch) {
    ASSERT_TRUE(registry.ArchiveBatch("remote", Batch("INBOX", first, first + kPerBatch - 1)).ok());
  }
  std::vector<Delivery> rows = OfSource(*store_, "remote");
  uids.clear();
  for (const Delivery& row : rows) uids.insert(row.record.uid);
  EXPECT_EQ(rows.size(), kTotal);
  EXPECT_EQ(uids.size(), kTotal);
  EXPECT_EQ(Stats().messages, kTotal);
  EXPECT_TRUE(store_->Verify()->damaged.empty());
}

}  // namespace
}  // namespace archiver

namespace archiver {
namespace {

// Issue 15 item 7: a message the remote fails to give waits in its folder's retry list,
// committed with the checkpoint that passes over it; each failed sync counts once; the
// kRefusedSyncsBeforeSkip-th skips it for good with one log entry in the same transaction.
TEST_F(SourceBatchTest, RefusedMessagesWaitInTheRetryListUntilSkipped) {
  {
    SourceRegistry registry = Registry();
    RemoteBatch first = Batch("INBOX", 1, 6);
    std::erase_if(first.messages, [](const RemoteMessage& m) { return m.uid == 3 || m.uid == 5; });
    first.refused = {{5, 0, "NO [UNAVAILABLE] try later"}, {3, 0, "NO [LIMIT] slow down"}};
    Result<BatchResult> result = registry.ArchiveBatch("remote", first);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->stored, 4u);
    EXPECT_EQ(result->skipped, 0u);
    EXPECT_EQ(result->retry_full_at, 0u);
  }
  store_.reset();  // the list survives a reopen
  store_ = *Store::Open({.path = path(), .sync = false});
  SourceRegistry registry = Registry();
  FolderCheckpoint checkpoint = *registry.Checkpoint("remote", "INBOX");
  EXPECT_EQ(checkpoint.last_uid, 6u);
  EXPECT_EQ(checkpoint.retry, (std::vector<RetryMessage>{{3, 1, "NO [LIMIT] slow down"},
                                                         {5, 1, "NO [UNAVAILABLE] try later"}}));

  // The next sync: UID 3 archived at last, UID 5 refused again, new mail past them.
  RemoteBatch second = Batch("INBOX", 7, 8);
  second.messages.insert(second.messages.begin(), Batch("INBOX", 3, 3).messages[0]);
  second.refused = {{5, 0, "NO [UNAVAILABLE] still down"}};
  ASSERT_TRUE(registry.ArchiveBatch("remote", second).ok());
  checkpoint = *registry.Checkpoint("remote", "INBOX");
  EXPECT_EQ(checkpoint.last_uid, 8u);
  EXPECT_EQ(checkpoint.retry, (std::vector<RetryMessage>{{5, 2, "NO [UNAVAILABLE] still down"}}));
  EXPECT_EQ(OfSource(*store_, "remote").size(), 7u);

  // Refused in syncs 3 and 4: still listed, nothing logged as skipped.
  RemoteBatch again = Batch("INBOX", 1, 0);
  again.last_uid = 8;
  again.refused = {{5, 0, "NO [UNAVAILABLE] still down"}};
  for (uint32_t failures = 3; failures < kRefusedSyncsBeforeSkip; ++failures) {
    Result<BatchResult> result = registry.ArchiveBatch("remote", again);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->skipped, 0u);
    EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->retry.at(0).failures, failures);
  }
  auto skips = [&] {
    std::vector<std::string> found;
    const std::vector<SourceLogEntry> log = *testing::LogOf(registry, "remote");
    for (const SourceLogEntry& entry : log)
      if (entry.what.rfind("skip", 0) == 0) found.push_back(entry.what);
    return found;
  };
  EXPECT_TRUE(skips().empty());
  // The fifth failed sync skips it for good: one log entry with the UID and the reason.
  Result<BatchResult> fifth = registry.ArchiveBatch("remote", again);
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ(fifth->skipped, 1u);
  EXPECT_TRUE(registry.Checkpoint("remote", "INBOX")->retry.empty());
  EXPECT_EQ(skips(), (std::vector<std::string>{
                         "skip unreadable UID 5: NO [UNAVAILABLE] still down (failed in 5 "
                         "syncs in a row)"}));
}

TEST_F(SourceBatchTest, RetryListSettlesResetsAndStaysBounded) {
  SourceRegistry registry = Registry();
  RemoteBatch first = Batch("INBOX", 1, 0);
  first.last_uid = 10;
  first.refused = {{2, 0, "x"}, {4, 0, std::string(kRetryReasonLimit + 50, 'r')}, {6, 0, "z"}};
  ASSERT_TRUE(registry.ArchiveBatch("remote", first).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->retry.at(1).reason.size(), kRetryReasonLimit);
  // Gone from the remote, or skipped for another reason: settled, no skip counted.
  RemoteBatch settle = Batch("INBOX", 1, 0);
  settle.last_uid = 10;
  settle.settled = {4, 9};
  Result<BatchResult> settled = registry.ArchiveBatch("remote", settle);
  ASSERT_TRUE(settled.ok());
  EXPECT_EQ(settled->skipped, 0u);
  std::vector<uint32_t> uids;
  const FolderCheckpoint after = *registry.Checkpoint("remote", "INBOX");
  for (const RetryMessage& retry : after.retry) uids.push_back(retry.uid);
  EXPECT_EQ(uids, (std::vector<uint32_t>{2, 6}));

  // A refused UID above the new checkpoint is refused, and nothing is written.
  RemoteBatch above = Batch("INBOX", 11, 12);
  above.refused = {{13, 0, "x"}};
  EXPECT_EQ(registry.ArchiveBatch("remote", above).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.Checkpoint("remote", "INBOX")->last_uid, 10u);

  // A new UIDVALIDITY drops the list, with a log entry that counts it.
  ASSERT_TRUE(registry.ResetFolder("remote", "INBOX", kValidity + 1).ok());
  EXPECT_TRUE(registry.Checkpoint("remote", "INBOX")->retry.empty());
  EXPECT_NE(
      testing::LogOf(registry, "remote")->front().what.find("dropped the retry list of 2 messages"),
      std::string::npos);

  // A full list takes no new refusal: the checkpoint stops just below it, the messages
  // above it (written all the same) are found archived when fetched again.
  RemoteBatch fill = Batch("INBOX", 1, 0, kValidity + 1);
  fill.last_uid = kRetryListLimit;
  for (uint32_t uid = 1; uid <= kRetryListLimit; ++uid) fill.refused.push_back({uid, 0, "x"});
  ASSERT_EQ(registry.ArchiveBatch("remote", fill)->retry_full_at, 0u);
  const uint32_t limit = kRetryListLimit;
  RemoteBatch over = Batch("INBOX", limit + 1, limit + 5, kValidity + 1);
  std::erase_if(over.messages, [&](const RemoteMessage& m) { return m.uid == limit + 3; });
  over.refused = {{limit + 3, 0, "x"}, {7, 0, "again"}};
  Result<BatchResult> full = registry.ArchiveBatch("remote", over);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->retry_full_at, limit + 3);
  FolderCheckpoint checkpoint = *registry.Checkpoint("remote", "INBOX");
  EXPECT_EQ(checkpoint.last_uid, limit + 2);
  EXPECT_EQ(checkpoint.retry.size(), kRetryListLimit);
  EXPECT_EQ(checkpoint.retry.at(6).failures, 2u);  // UID 7, listed already: counted
  RemoteBatch refetched = Batch("INBOX", limit + 4, limit + 5, kValidity + 1);
  EXPECT_EQ(registry.ArchiveBatch("remote", refetched)->already_archived, 2u);
}

}  // namespace
}  // namespace archiver

namespace archiver {
namespace {

// Issue 4: DMARC --after actions are pending in the checkpoint, committed with their
// batch, cleared once the remote accepted them, kept over a reopen, dropped by a reset.
TEST_F(SourceBatchTest, PendingAfterActionsAreCommittedWithTheBatch) {
  {
    SourceRegistry registry = Registry();
    RemoteBatch batch = Batch("Reports", 1, 4);
    batch.pending_after = {1, 2, 4};
    ASSERT_TRUE(registry.ArchiveBatch("remote", batch).ok());
    RemoteBatch invalid = Batch("Reports", 5, 5);
    invalid.pending_after = {6};  // above last_uid: refused, nothing written
    EXPECT_EQ(registry.ArchiveBatch("remote", invalid).status().code(),
              Status::Code::kInvalidArgument);
  }
  store_.reset();
  store_ = *Store::Open({.path = path(), .sync = false});
  SourceRegistry registry = Registry();
  Result<FolderCheckpoint> checkpoint = registry.Checkpoint("remote", "Reports");
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->last_uid, 4u);
  EXPECT_EQ(checkpoint->pending_after, (std::vector<uint32_t>{1, 2, 4}));

  RemoteBatch next = Batch("Reports", 5, 6);
  next.pending_after = {4, 6};  // 4 again: listed once
  ASSERT_TRUE(registry.ArchiveBatch("remote", next).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "Reports")->pending_after,
            (std::vector<uint32_t>{1, 2, 4, 6}));
  ASSERT_TRUE(registry.ClearPendingAfter("remote", "Reports", kValidity, {2, 4}).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "Reports")->pending_after, (std::vector<uint32_t>{1, 6}));
  // Another UIDVALIDITY's clear changes nothing.
  ASSERT_TRUE(registry.ClearPendingAfter("remote", "Reports", kValidity + 1, {1, 6}).ok());
  EXPECT_EQ(registry.Checkpoint("remote", "Reports")->pending_after, (std::vector<uint32_t>{1, 6}));
  EXPECT_EQ(registry.ClearPendingAfter("nobody", "Reports", kValidity, {1}).code(),
            Status::Code::kNotFound);

  // A new UIDVALIDITY drops them, with a log entry that counts them.
  ASSERT_TRUE(registry.ResetFolder("remote", "Reports", kValidity + 1).ok());
  EXPECT_TRUE(registry.Checkpoint("remote", "Reports")->pending_after.empty());
  Result<std::vector<SourceLogEntry>> log = testing::LogOf(registry, "remote");
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->empty());
  const SourceLogEntry& newest = log->front();
  EXPECT_NE(newest.what.find("dropped the pending --after action of 2 mails"), std::string::npos)
      << newest.what;
  EXPECT_EQ(newest.count, 2u);
}

}  // namespace
}  // namespace archiver
