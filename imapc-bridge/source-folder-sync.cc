// FolderSync: plan, scan, fetch in chunks, commit each through the FolderCommitter
// (source-folder-sync.h).
#include "source-folder-sync.h"

#include <algorithm>

#include "archiver/time_format.h"
#include "source-dovecot.h"
#include "source-fetch.h"
#include "source-scan.h"

namespace archiver::imapc {

FolderSync::FolderSync(SourceRegistry* registry, const SourceConfig& config,
                       const SyncOptions& options, SyncOutcome* outcome)
    : registry_(registry),
      config_(config),
      source_(config.name),
      options_(options),
      committer_(registry, config, options, outcome) {}

RemoteError FolderSync::Run(const std::string& folder) {
  // A DMARC source changes the remote (--after): its folders are opened for writing.
  const bool writes = dmarc() && config_.after != SourceAfter::kNone;
  struct mailbox* box =
      mailbox_alloc(account_->ns()->list, folder.c_str(),
                    writes ? static_cast<enum mailbox_flags>(0) : MAILBOX_FLAG_READONLY);
  lost_at_ = 0;
  committer_.StartFolder();
  RemoteError failure = RunOpen(box, folder);
  // A batch still committing when the run failed: its failure came first.
  if (RemoteError committed = committer_.Finish(); !committed.ok()) failure = committed;
  mailbox_free(&box);
  if (dmarc()) {
    RemoteError unlogged = committer_.LogDmarc(folder);
    if (failure.ok()) failure = unlogged;
  }
  return failure;
}

// Reads where the folder stands and plans the run (source-plan.h): the checkpoint,
// a UIDVALIDITY reset, the pending --after actions first, a fresh batch.
RemoteError FolderSync::BeginRun(struct mailbox* box, const std::string& folder, FolderPlan* plan) {
  if (mailbox_sync(box, static_cast<enum mailbox_sync_flags>(0)) < 0)
    return account_->MailboxError(box, "folder " + folder);
  struct mailbox_status status;
  mailbox_get_open_status(
      box,
      static_cast<enum mailbox_status_items>(STATUS_UIDVALIDITY | STATUS_MESSAGES | STATUS_UIDNEXT),
      &status);
  const RemoteFolderState remote{status.uidvalidity, status.messages, status.uidnext};
  Result<FolderCheckpoint> checkpoint = registry_->Checkpoint(source_, folder);
  if (!checkpoint.ok()) return ArchiveFailure(checkpoint.status());
  *plan = PlanFolder(*checkpoint, remote, retried_.count(folder) != 0);
  if (plan->reset) {
    Status reset = registry_->ResetFolder(source_, folder, status.uidvalidity);
    if (!reset.ok()) return ArchiveFailure(reset);
  }
  retried_.insert(folder);
  committer_.BeginRun(folder, remote, *plan);
  // --after actions a crash or a refusal left pending.
  if (!plan->apply_pending_after) return {};
  return committer_.ApplyAfter(box, folder, status.uidvalidity, checkpoint->pending_after);
}

RemoteError FolderSync::RunOpen(struct mailbox* box, const std::string& folder) {
  FolderPlan plan;
  if (RemoteError failure = BeginRun(box, folder, &plan); !failure.ok()) return failure;
  if (plan.up_to_date) return {};  // nothing new, nothing to record
  const uint32_t end_uid = plan.end_uid;
  ScanRules rules{&config_, options_.max_message_bytes, NowMicros() / 1000000};
  FolderScan scan;
  RemoteError failure = ScanFolder(account_, box, plan.retry, plan.last_uid, rules, &scan);
  if (!failure.ok()) return failure;
  const std::vector<ScannedMessage> take = std::move(scan.take);
  committer_.Stage(&scan);
  uint32_t highest = committer_.PassOverTo(end_uid);
  uint64_t reported = committer_.done();
  auto report_progress = [&] {  // after each batch committed (not merely started)
    if (!options_.progress || committer_.done() == reported) return;
    reported = committer_.done();
    const uint32_t committed = committer_.committed_uid();
    options_.progress(folder, reported, end_uid > committed ? end_uid - committed : 0);
  };
  for (size_t next = 0; next < take.size();) {
    // A chunk: one search whose FETCHes imapc pipelines, one batch, one commit.
    const size_t end = BatchEnd(take, next, options_.batch_messages, options_.batch_bytes);
    failure = FetchChunk(box, take, next, end);
    if (!failure.ok()) {
      if (lost_at_ != 0) reconnect_ = committer_.CommitBefore(box, lost_at_, failure);
      return failure;
    }
    const uint32_t last_uid = take[end - 1].uid;
    highest = std::max(highest, last_uid);
    failure = committer_.Commit(box, last_uid);
    if (!failure.ok()) return failure;
    report_progress();
    next = end;
  }
  // UIDs up to UIDNEXT-1 not taken are skipped or gone: passed over too.
  failure = committer_.Commit(box, highest);
  if (failure.ok()) failure = committer_.Finish();
  if (!failure.ok()) return failure;
  if (options_.progress) options_.progress(folder, committer_.done(), 0);
  return {};
}

// Fetches take[begin, end) into the committer's batch. Fails when the connection did (at
// lost_at_ when it was while giving a message).
RemoteError FolderSync::FetchChunk(struct mailbox* box, const std::vector<ScannedMessage>& take,
                                   size_t begin, size_t end) {
  FetchedMessages fetched;
  RemoteError failure =
      FetchMessages(account_, box, take, begin, end, options_.max_message_bytes, &fetched);
  if (fetched.lost_at != 0) lost_at_ = fetched.lost_at;
  committer_.Stage(&fetched);
  return failure;
}

}  // namespace archiver::imapc
