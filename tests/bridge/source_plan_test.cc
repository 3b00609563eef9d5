// The folder sync's planner without a remote (issue 14, item 7): which UIDs a run scans
// given the checkpoint, its retry list and the UIDVALIDITY, what becomes of each scanned
// message, how batches are cut and how far the checkpoint passes over (source-plan.h).
#include "source-plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace archiver::imapc {
namespace {

using Uids = std::vector<uint32_t>;

FolderCheckpoint Checkpoint(uint32_t uidvalidity, uint32_t last_uid, uint64_t remote_messages,
                            Uids retry = {}, Uids pending_after = {}) {
  FolderCheckpoint checkpoint;
  checkpoint.folder = "INBOX";
  checkpoint.uidvalidity = uidvalidity;
  checkpoint.last_uid = last_uid;
  checkpoint.remote_messages = remote_messages;
  for (uint32_t uid : retry) checkpoint.retry.push_back({uid, 1, "refused"});
  checkpoint.pending_after = pending_after;
  return checkpoint;
}

TEST(PlanFolderTest, AFolderNeverSyncedIsScannedFromTheStart) {
  FolderPlan plan = PlanFolder(FolderCheckpoint{}, {77, 3, 4}, false);
  EXPECT_FALSE(plan.reset);
  EXPECT_EQ(plan.last_uid, 0u);
  EXPECT_TRUE(plan.retry.empty());
  EXPECT_FALSE(plan.apply_pending_after);
  EXPECT_EQ(plan.end_uid, 3u);
  EXPECT_FALSE(plan.up_to_date);
}

TEST(PlanFolderTest, AnEmptyFolderNeverSyncedIsRecordedOnce) {
  // UIDVALIDITY 0 in the checkpoint never equals the remote's: the run records it.
  EXPECT_FALSE(PlanFolder(FolderCheckpoint{}, {77, 0, 1}, false).up_to_date);
}

TEST(PlanFolderTest, NothingNewNothingToRecord) {
  FolderPlan plan = PlanFolder(Checkpoint(77, 10, 10), {77, 10, 11}, false);
  EXPECT_TRUE(plan.up_to_date);
  EXPECT_EQ(plan.last_uid, 10u);
  EXPECT_EQ(plan.end_uid, 10u);
}

TEST(PlanFolderTest, NewUidsOrAnotherCountAreWork) {
  EXPECT_FALSE(PlanFolder(Checkpoint(77, 10, 10), {77, 11, 12}, false).up_to_date);
  // A message expunged on the remote changes the count only: recorded too.
  EXPECT_FALSE(PlanFolder(Checkpoint(77, 10, 10), {77, 9, 11}, false).up_to_date);
}

TEST(PlanFolderTest, ANewUidvalidityStartsTheFolderAgain) {
  FolderPlan plan = PlanFolder(Checkpoint(77, 10, 10, {4, 6}, {8, 9}), {78, 2, 3}, false);
  EXPECT_TRUE(plan.reset);
  EXPECT_EQ(plan.last_uid, 0u);
  EXPECT_TRUE(plan.retry.empty());
  EXPECT_FALSE(plan.apply_pending_after);  // its UIDs went with the old UIDVALIDITY
  EXPECT_EQ(plan.end_uid, 2u);
  EXPECT_FALSE(plan.up_to_date);
}

TEST(PlanFolderTest, TheRetryListIsFetchedOncePerSync) {
  FolderPlan first = PlanFolder(Checkpoint(77, 10, 10, {4, 6}), {77, 10, 11}, false);
  EXPECT_EQ(first.retry, (Uids{4, 6}));
  EXPECT_FALSE(first.up_to_date);  // nothing new, but retries wait
  FolderPlan after_reconnect = PlanFolder(Checkpoint(77, 10, 10, {4, 6}), {77, 10, 11}, true);
  EXPECT_TRUE(after_reconnect.retry.empty());
  EXPECT_TRUE(after_reconnect.up_to_date);
}

TEST(PlanFolderTest, PendingActionsGoFirst) {
  EXPECT_TRUE(PlanFolder(Checkpoint(77, 10, 10, {}, {3}), {77, 10, 11}, false)
                  .apply_pending_after);
  EXPECT_FALSE(PlanFolder(Checkpoint(77, 10, 10), {77, 10, 11}, false).apply_pending_after);
}

TEST(PlanFolderTest, NoUidnextMeansNoUidsAboveTheCheckpoint) {
  FolderPlan plan = PlanFolder(Checkpoint(77, 0, 0), {77, 0, 0}, false);
  EXPECT_EQ(plan.end_uid, 0u);
  EXPECT_TRUE(plan.up_to_date);
}

TEST(FileScannedMessageTest, TakenFilteredOrOversized) {
  FolderScan scan;
  FileScannedMessage(5, 100, "", 1000, "folder INBOX", &scan);
  FileScannedMessage(6, 100, "the subject does not match --subject-filter", 1000,
                     "folder INBOX", &scan);
  FileScannedMessage(7, 12ULL << 20, "", 8ULL << 20, "folder INBOX", &scan);
  FileScannedMessage(8, 12ULL << 20, "", 0, "folder INBOX", &scan);  // 0: no limit
  ASSERT_EQ(scan.take.size(), 2u);
  EXPECT_EQ(scan.take[0].uid, 5u);
  EXPECT_EQ(scan.take[1].uid, 8u);
  EXPECT_EQ(scan.take[1].size, 12ULL << 20);
  ASSERT_EQ(scan.skipped.size(), 2u);
  EXPECT_EQ(scan.skipped[0].uid, 6u);
  EXPECT_EQ(scan.skipped[0].kind, SkipKind::kFiltered);
  EXPECT_EQ(scan.skipped[0].reason, "the subject does not match --subject-filter");
  EXPECT_EQ(scan.skipped[1].uid, 7u);
  EXPECT_EQ(scan.skipped[1].kind, SkipKind::kOversized);
  EXPECT_EQ(scan.skipped[1].reason,
            "folder INBOX: UID 7 of 12 MiB is larger than the 8.0 MiB a sync takes");
}

TEST(FileScannedMessageTest, ExactlyTheLimitIsTaken) {
  FolderScan scan;
  FileScannedMessage(1, 1000, "", 1000, "folder INBOX", &scan);
  EXPECT_EQ(scan.take.size(), 1u);
  EXPECT_TRUE(scan.skipped.empty());
}

TEST(GoneRetriesTest, TheRetriesTheRemoteNoLongerHas) {
  EXPECT_EQ(GoneRetries({4, 6, 9}, {6}), (Uids{4, 9}));
  EXPECT_EQ(GoneRetries({4, 6}, {6, 4, 11}), Uids{});
  EXPECT_EQ(GoneRetries({}, {1}), Uids{});
}

TEST(BatchEndTest, MessagesAndBytesEndABatch) {
  std::vector<ScannedMessage> take = {{1, 10}, {2, 10}, {3, 10}, {4, 10}, {5, 10}};
  EXPECT_EQ(BatchEnd(take, 0, 2, 1000), 2u);   // by count
  EXPECT_EQ(BatchEnd(take, 4, 2, 1000), 5u);   // the end of the list
  EXPECT_EQ(BatchEnd(take, 0, 100, 25), 2u);   // by bytes: a third would make 30
  EXPECT_EQ(BatchEnd(take, 0, 100, 30), 3u);   // exactly the limit fits
  EXPECT_EQ(BatchEnd(take, 5, 100, 30), 5u);   // nothing left
}

TEST(BatchEndTest, AMessageLargerThanABatchGoesAlone) {
  std::vector<ScannedMessage> take = {{1, 500}, {2, 10}};
  EXPECT_EQ(BatchEnd(take, 0, 100, 100), 1u);
  EXPECT_EQ(BatchEnd(take, 1, 100, 100), 2u);
}

TEST(PassOverToTest, TheHighestOfEndCheckpointSkipsAndRefusals) {
  EXPECT_EQ(PassOverTo(10, 4, {}, {}), 10u);
  EXPECT_EQ(PassOverTo(0, 4, {}, {}), 4u);
  // Messages that arrived after the folder's status was read.
  EXPECT_EQ(PassOverTo(10, 4, {{12, SkipKind::kOversized, "big"}}, {}), 12u);
  EXPECT_EQ(PassOverTo(10, 4, {{3, SkipKind::kFiltered, ""}}, {{15, 1, "NO"}}), 15u);
}

TEST(FilterSelectsTest, SubstringsAndWildcards) {
  struct Case {
    const char* filter;
    const char* value;
    bool selects;
  } cases[] = {
      {"", nullptr, true},
      {"", "anything", true},
      {"dmarc", nullptr, false},
      {"Report Domain", "Report Domain: example.com Submitter: google.com", true},
      {"report domain", "REPORT DOMAIN: example.com", true},  // ASCII case-insensitive
      {"dmarc", "Weekly newsletter", false},
      {"*@google.com", "noreply-dmarc-support@google.com", true},
      {"*@google.com", "noreply-dmarc-support@google.com.evil", false},  // whole value
      {"Report?Domain*", "Report Domain: x", true},
      {"Report?Domain", "Report Domain: x", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FilterSelects(c.filter, c.value), c.selects)
        << "'" << c.filter << "' on '" << (c.value != nullptr ? c.value : "(null)") << "'";
  }
}

}  // namespace
}  // namespace archiver::imapc
