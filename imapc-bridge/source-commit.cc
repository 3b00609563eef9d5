// FolderCommitter: a folder's staged messages, skips and refusals, committed batch by
// batch with the checkpoint (source-commit.h).
#include "source-commit.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace archiver::imapc {

RemoteError ArchiveFailure(const Status& status) {
  return {FailureKind::kLocal, "archive: " + status.ToString()};
}

FolderCommitter::FolderCommitter(SourceRegistry* registry, const SourceConfig& config,
                                 const SyncOptions& options, SyncOutcome* outcome)
    : registry_(registry),
      config_(config),
      source_(config.name),
      options_(options),
      outcome_(outcome) {}

void FolderCommitter::StartFolder() {
  tally_ = DmarcTally{};
  skips_.clear();
  refused_.clear();
}

void FolderCommitter::BeginRun(const std::string& folder, const RemoteFolderState& remote,
                               const FolderPlan& plan) {
  retry_uids_ = plan.retry;
  start_last_uid_ = plan.last_uid;
  committed_uid_ = 0;
  batch_ = RemoteBatch{};
  batch_.folder = folder;
  batch_.uidvalidity = remote.uidvalidity;
  batch_.remote_messages = remote.messages;
}

void FolderCommitter::Stage(FolderScan* scan) {
  skips_ = std::move(scan->skipped);
  refused_ = std::move(scan->refused);
  batch_.settled = std::move(scan->gone);
}

void FolderCommitter::Stage(FetchedMessages* fetched) {
  for (uint32_t uid : fetched->expunged) {  // the checkpoint passes over them
    if (IsRetry(uid)) batch_.settled.push_back(uid);
  }
  std::move(fetched->refused.begin(), fetched->refused.end(), std::back_inserter(refused_));
  std::move(fetched->oversized.begin(), fetched->oversized.end(), std::back_inserter(skips_));
  std::move(fetched->messages.begin(), fetched->messages.end(),
            std::back_inserter(batch_.messages));
}

uint32_t FolderCommitter::PassOverTo(uint32_t end_uid) const {
  return imapc::PassOverTo(end_uid, start_last_uid_, skips_, refused_);
}

bool FolderCommitter::IsRetry(uint32_t uid) const {
  return std::find(retry_uids_.begin(), retry_uids_.end(), uid) != retry_uids_.end();
}

bool FolderCommitter::Covered(uint32_t uid, uint32_t last_uid) const {
  return uid <= std::max(last_uid, start_last_uid_);
}

RemoteBatch FolderCommitter::TakeBatch() {
  RemoteBatch taken = std::move(batch_);
  batch_ = RemoteBatch{};
  batch_.folder = taken.folder;
  batch_.uidvalidity = taken.uidvalidity;
  batch_.remote_messages = taken.remote_messages;
  batch_.last_uid = taken.last_uid;
  return taken;
}

// DMARC sources: the batch's reports first (read again harmlessly if the batch is
// lost), then the batch and its checkpoint, then --after on the remote. Archive sources:
// the batch is committed by job_ (Finish settles it).
RemoteError FolderCommitter::Commit(struct mailbox* box, uint32_t last_uid) {
  if (RemoteError earlier = Finish(); !earlier.ok()) return earlier;
  batch_.last_uid = last_uid;
  std::vector<uint32_t> act;
  if (RemoteError read = ReadReports(&act); !read.ok()) return read;
  FileCovered();
  if (!dmarc()) {
    committing_ = TakeBatch();
    job_.Start([this] {
      committed_ = registry_->ArchiveBatch(source_, committing_);
      return Status::Ok();
    });
    return {};
  }
  RemoteBatch batch = TakeBatch();
  return Settle(registry_->ArchiveBatch(source_, batch), batch, box, act);
}

RemoteError FolderCommitter::Finish() {
  if (!job_.pending()) return {};
  Status ran = job_.Wait();  // Ok: the job itself cannot fail, its result is committed_
  std::optional<Result<BatchResult>> result = std::exchange(committed_, std::nullopt);
  RemoteBatch batch = std::exchange(committing_, RemoteBatch{});
  if (!ran.ok() || !result) return ArchiveFailure(ran.ok() ? Status::Internal("no result") : ran);
  return Settle(*result, batch, nullptr, {});
}

RemoteError FolderCommitter::Settle(const Result<BatchResult>& result, const RemoteBatch& batch,
                                    struct mailbox* box, const std::vector<uint32_t>& act) {
  if (!result.ok()) return ArchiveFailure(result.status());
  Account(*result);
  const uint32_t last_uid = result->retry_full_at != 0 ? result->retry_full_at - 1 : batch.last_uid;
  committed_uid_ = last_uid;
  if (RemoteError logged = LogSkips(last_uid); !logged.ok()) return logged;
  if (result->retry_full_at != 0) {  // --after of `act` stays pending for the next sync
    return {FailureKind::kRemote,
            "folder " + batch.folder + ": " + std::to_string(kRetryListLimit) +
                " messages the remote refused wait for a retry already: UID " +
                std::to_string(result->retry_full_at) + " and the rest wait for them"};
  }
  if (act.empty()) return {};
  return ApplyAfter(box, batch.folder, batch.uidvalidity, act);
}

RemoteError FolderCommitter::ReadReports(std::vector<uint32_t>* act) {
  if (!dmarc() || batch_.messages.empty()) return {};
  std::vector<uint32_t> uids;
  std::vector<std::string_view> mails;
  for (const RemoteMessage& message : batch_.messages) {
    uids.push_back(message.uid);
    mails.push_back(message.bytes);
  }
  Status read =
      ReadBatchReports(options_.dmarc_reader, source_, batch_.folder, uids, mails, act, &tally_);
  if (!read.ok()) return ArchiveFailure(read);
  if (config_.after != SourceAfter::kNone) batch_.pending_after = *act;
  return {};
}

void FolderCommitter::FileCovered() {
  auto covered = [&](uint32_t uid) { return Covered(uid, batch_.last_uid); };
  for (const RetryMessage& refused : refused_) {
    if (covered(refused.uid)) batch_.refused.push_back(refused);
  }
  std::erase_if(refused_, [&](const RetryMessage& refused) { return covered(refused.uid); });
  for (const SkippedMessage& skip : skips_) {  // a retry skipped for another reason
    if (covered(skip.uid) && IsRetry(skip.uid)) batch_.settled.push_back(skip.uid);
  }
}

void FolderCommitter::Account(const BatchResult& result) {
  uint64_t written = result.stored + result.deduplicated;
  outcome_->archived += written;
  outcome_->deduplicated += result.deduplicated;
  outcome_->skipped += result.skipped;
  done_ += written;
}

bool FolderCommitter::CommitBefore(struct mailbox* box, uint32_t lost_at,
                                   const RemoteError& failure) {
  std::erase_if(batch_.messages,
                [&](const RemoteMessage& message) { return message.uid >= lost_at; });
  refused_.push_back({lost_at, 0, failure.reason});
  // DMARC: --after is not applied over the broken connection (Commit logs it). The
  // caller reconnects only once this is committed.
  return Commit(box, lost_at).ok() && Finish().ok();
}

RemoteError FolderCommitter::ApplyAfter(struct mailbox* box, const std::string& folder,
                                        uint32_t uidvalidity, const std::vector<uint32_t>& uids) {
  if (RemoteError refused = ApplyAfterAction(box, config_, uids); !refused.ok()) {
    Status logged = registry_->AppendLog(
        source_, {0, std::string("after ") + SourceAfterName(config_.after) + " " + folder,
                  uids.size(), refused.reason + " (pending: retried by the next sync)"});
    return logged.ok() ? RemoteError{} : ArchiveFailure(logged);
  }
  if (config_.after != SourceAfter::kNone) tally_.acted += uids.size();
  Status cleared = registry_->ClearPendingAfter(source_, folder, uidvalidity, uids);
  return cleared.ok() ? RemoteError{} : ArchiveFailure(cleared);
}

RemoteError FolderCommitter::LogSkips(uint32_t last_uid) {
  auto covered = [&](const SkippedMessage& skip) { return Covered(skip.uid, last_uid); };
  for (const SkippedMessage& skip : skips_) {
    if (!covered(skip)) continue;
    if (skip.kind == SkipKind::kFiltered) {
      ++tally_.filtered;
      continue;
    }
    ++outcome_->skipped;
    Status logged = registry_->AppendLog(source_, {0, "skip oversized", 1, skip.reason});
    if (!logged.ok()) return ArchiveFailure(logged);
  }
  skips_.erase(std::remove_if(skips_.begin(), skips_.end(), covered), skips_.end());
  return {};
}

RemoteError FolderCommitter::LogDmarc(const std::string& folder) {
  if (tally_.mails + tally_.failed + tally_.filtered + tally_.acted == 0 && tally_.errors.empty())
    return {};
  AddDmarcTally(&outcome_->dmarc, tally_);
  Status logged = registry_->AppendLog(
      source_, {0, DmarcFolderSummary(folder, tally_, config_.after), tally_.mails, tally_.errors});
  return logged.ok() ? RemoteError{} : ArchiveFailure(logged);
}

}  // namespace archiver::imapc
