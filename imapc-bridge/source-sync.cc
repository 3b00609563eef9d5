// SyncSource: folders, UIDVALIDITY, UID-range search through imapc, batches into the
// registry's checkpointed ArchiveBatch.
#include "source-sync.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "archiver/time_format.h"
#include "source-dovecot.h"
#include "source-fetch.h"
#include "source-plan.h"
#include "source-scan.h"

namespace archiver::imapc {
namespace {

// A sync gives up on a folder after this many connections dropped at one of its messages.
constexpr int kMaxReconnects = 10;

// One folder's sync. Returns false with `error` set; `outcome` counts what was archived.
class FolderSync {
 public:
  FolderSync(SourceRegistry* registry, const SourceConfig& config, const SyncOptions& options,
             SyncOutcome* outcome)
      : registry_(registry),
        config_(config),
        source_(config.name),
        options_(options),
        outcome_(outcome) {}

  void set_account(RemoteAccount* account) { account_ = account; }
  // True once after a Run that stopped at a message whose FETCH dropped the connection:
  // that message is in the retry list and what came before it is committed; the
  // connection must be made again, then the folder run again.
  bool TakeReconnect() { return std::exchange(reconnect_, false); }

  bool Run(const std::string& folder, RemoteError* error) {
    // A DMARC source changes the remote (--after): its folders are opened for writing.
    const bool writes = dmarc() && config_.after != SourceAfter::kNone;
    struct mailbox* box =
        mailbox_alloc(account_->ns()->list, folder.c_str(),
                      writes ? static_cast<enum mailbox_flags>(0) : MAILBOX_FLAG_READONLY);
    tally_ = DmarcTally{};
    lost_at_ = 0;
    skips_.clear();
    refused_.clear();
    bool ok = RunOpen(box, folder, error);
    mailbox_free(&box);
    if (dmarc()) ok = LogDmarc(folder) && ok;
    return ok;
  }

 private:
  bool dmarc() const { return config_.purpose == SourcePurpose::kDmarc; }

  // Reads where the folder stands and plans the run (source-plan.h): the checkpoint,
  // a UIDVALIDITY reset, the pending --after actions first, a fresh batch. False with
  // `error`.
  bool BeginRun(struct mailbox* box, const std::string& folder, FolderPlan* plan,
                RemoteError* error) {
    if (mailbox_sync(box, static_cast<enum mailbox_sync_flags>(0)) < 0) {
      *error = account_->MailboxError(box, "folder " + folder);
      return false;
    }
    struct mailbox_status status;
    mailbox_get_open_status(box,
                            static_cast<enum mailbox_status_items>(
                                STATUS_UIDVALIDITY | STATUS_MESSAGES | STATUS_UIDNEXT),
                            &status);
    Result<FolderCheckpoint> checkpoint = registry_->Checkpoint(source_, folder);
    if (!checkpoint.ok()) return LocalError(checkpoint.status(), error);
    *plan = PlanFolder(*checkpoint, {status.uidvalidity, status.messages, status.uidnext},
                       retried_.count(folder) != 0);
    if (plan->reset) {
      Status reset = registry_->ResetFolder(source_, folder, status.uidvalidity);
      if (!reset.ok()) return LocalError(reset, error);
    }
    retried_.insert(folder);
    retry_uids_ = std::move(plan->retry);
    start_last_uid_ = plan->last_uid;
    // --after actions a crash or a refusal left pending.
    if (plan->apply_pending_after &&
        !ApplyAfter(box, folder, status.uidvalidity, checkpoint->pending_after, error))
      return false;
    batch_ = RemoteBatch{};
    batch_.folder = folder;
    batch_.uidvalidity = status.uidvalidity;
    batch_.remote_messages = status.messages;
    return true;
  }

  bool RunOpen(struct mailbox* box, const std::string& folder, RemoteError* error) {
    FolderPlan plan;
    if (!BeginRun(box, folder, &plan, error)) return false;
    if (plan.up_to_date) return true;  // nothing new, nothing to record
    const uint32_t last_uid = plan.last_uid;
    const uint32_t end_uid = plan.end_uid;
    ScanRules rules{&config_, options_.max_message_bytes, NowMicros() / 1000000};
    FolderScan scan;
    if (!ScanFolder(account_, box, retry_uids_, last_uid, rules, &scan, error)) return false;
    skips_ = std::move(scan.skipped);
    refused_ = std::move(scan.refused);
    batch_.settled = std::move(scan.gone);
    uint32_t highest = PassOverTo(end_uid, last_uid, skips_, refused_);
    size_t next = 0;
    while (next < scan.take.size()) {
      // A chunk: one search whose FETCHes imapc pipelines, one batch, one commit.
      const size_t end =
          BatchEnd(scan.take, next, options_.batch_messages, options_.batch_bytes);
      if (!FetchChunk(box, scan.take, next, end, error))
        return lost_at_ != 0 && DeferLostAt(box, *error);
      batch_.last_uid = scan.take[end - 1].uid;
      highest = std::max(highest, batch_.last_uid);
      if (!Commit(box, error)) return false;
      uint64_t remaining = end_uid > batch_.last_uid ? end_uid - batch_.last_uid : 0;
      if (options_.progress) options_.progress(folder, done_, remaining);
      next = end;
    }
    // UIDs up to UIDNEXT-1 not taken are skipped or gone: passed over too.
    batch_.last_uid = highest;
    if (!Commit(box, error)) return false;
    if (options_.progress) options_.progress(folder, done_, 0);
    return true;
  }

  // Fetches take[begin, end) into batch_.messages; what the remote refuses goes to
  // refused_. False with `error` when the connection failed (at lost_at_ when it was
  // while giving a message).
  bool FetchChunk(struct mailbox* box, const std::vector<ScannedMessage>& take, size_t begin,
                  size_t end, RemoteError* error) {
    FetchedMessages fetched;
    const bool ok = FetchMessages(account_, box, take, begin, end, options_.max_message_bytes,
                                  &fetched, error);
    for (uint32_t uid : fetched.expunged) {  // the checkpoint passes over them
      if (IsRetry(uid)) batch_.settled.push_back(uid);
    }
    if (fetched.lost_at != 0) lost_at_ = fetched.lost_at;
    std::move(fetched.refused.begin(), fetched.refused.end(), std::back_inserter(refused_));
    std::move(fetched.oversized.begin(), fetched.oversized.end(), std::back_inserter(skips_));
    std::move(fetched.messages.begin(), fetched.messages.end(),
              std::back_inserter(batch_.messages));
    return ok;
  }

  // The fetch of lost_at_ dropped the connection: it counts as a refusal (it enters the
  // retry list, or counts one more failed sync there) and the messages fetched before it
  // are committed with a checkpoint at it, so that it does not block the folder; the Run
  // still fails and the caller reconnects. Always false.
  bool DeferLostAt(struct mailbox* box, const RemoteError& failure) {
    std::erase_if(batch_.messages,
                  [&](const RemoteMessage& message) { return message.uid >= lost_at_; });
    refused_.push_back({lost_at_, 0, failure.reason});
    batch_.last_uid = lost_at_;
    RemoteError committed;
    // DMARC: --after is not applied over the broken connection (Commit logs it).
    reconnect_ = Commit(box, &committed);
    return false;
  }

  bool IsRetry(uint32_t uid) const {
    return std::find(retry_uids_.begin(), retry_uids_.end(), uid) != retry_uids_.end();
  }

  // Whether the checkpoint being committed covers `uid`.
  bool Covered(uint32_t uid) const { return uid <= std::max(batch_.last_uid, start_last_uid_); }

  // DMARC sources: the batch's reports first (read again harmlessly if the batch is
  // lost), then the batch and its checkpoint, then --after on the remote.
  bool Commit(struct mailbox* box, RemoteError* error) {
    std::vector<uint32_t> act;
    if (dmarc() && !batch_.messages.empty()) {
      std::vector<uint32_t> uids;
      std::vector<std::string_view> mails;
      for (const RemoteMessage& message : batch_.messages) {
        uids.push_back(message.uid);
        mails.push_back(message.bytes);
      }
      Status read = ReadBatchReports(options_.dmarc_reader, source_, batch_.folder, uids, mails,
                                     &act, &tally_);
      if (!read.ok()) return LocalError(read, error);
      if (config_.after != SourceAfter::kNone) batch_.pending_after = act;
    }
    for (const RetryMessage& refused : refused_) {
      if (Covered(refused.uid)) batch_.refused.push_back(refused);
    }
    std::erase_if(refused_, [&](const RetryMessage& refused) { return Covered(refused.uid); });
    for (const SkippedMessage& skip : skips_) {  // a retry skipped for another reason
      if (Covered(skip.uid) && IsRetry(skip.uid)) batch_.settled.push_back(skip.uid);
    }
    Result<BatchResult> result = registry_->ArchiveBatch(source_, batch_);
    if (!result.ok()) return LocalError(result.status(), error);
    uint64_t written = result->stored + result->deduplicated;
    outcome_->archived += written;
    outcome_->deduplicated += result->deduplicated;
    outcome_->skipped += result->skipped;
    done_ += written;
    batch_.messages.clear();
    batch_.log.clear();
    batch_.pending_after.clear();
    batch_.refused.clear();
    batch_.settled.clear();
    if (result->retry_full_at != 0) batch_.last_uid = result->retry_full_at - 1;
    if (!LogSkips(error)) return false;
    if (result->retry_full_at != 0) {  // --after of `act` stays pending for the next sync
      *error = {FailureKind::kRemote,
                "folder " + batch_.folder + ": " + std::to_string(kRetryListLimit) +
                    " messages the remote refused wait for a retry already: UID " +
                    std::to_string(result->retry_full_at) + " and the rest wait for them"};
      return false;
    }
    return act.empty() || ApplyAfter(box, batch_.folder, batch_.uidvalidity, act, error);
  }

  // Applies --after to `uids`, committed as pending in the folder's checkpoint, and
  // clears them there once the remote accepted it. A refusal is logged and they stay
  // pending for the next sync: never a lost report, never an action left undone.
  bool ApplyAfter(struct mailbox* box, const std::string& folder, uint32_t uidvalidity,
                  const std::vector<uint32_t>& uids, RemoteError* error) {
    std::string action_error;
    if (!ApplyAfterAction(box, config_, uids, &action_error)) {
      Status logged = registry_->AppendLog(
          source_, {0, std::string("after ") + SourceAfterName(config_.after) + " " + folder,
                    uids.size(), action_error + " (pending: retried by the next sync)"});
      return logged.ok() || LocalError(logged, error);
    }
    if (config_.after != SourceAfter::kNone) tally_.acted += uids.size();
    Status cleared = registry_->ClearPendingAfter(source_, folder, uidvalidity, uids);
    return cleared.ok() || LocalError(cleared, error);
  }

  // Logs the skips the committed checkpoint has passed over, and forgets them.
  bool LogSkips(RemoteError* error) {
    auto covered = [&](const SkippedMessage& skip) { return Covered(skip.uid); };
    for (const SkippedMessage& skip : skips_) {
      if (!covered(skip)) continue;
      if (skip.kind == SkipKind::kFiltered) {
        ++tally_.filtered;
        continue;
      }
      ++outcome_->skipped;
      Status logged = registry_->AppendLog(source_, {0, "skip oversized", 1, skip.reason});
      if (!logged.ok()) return LocalError(logged, error);
    }
    skips_.erase(std::remove_if(skips_.begin(), skips_.end(), covered), skips_.end());
    return true;
  }

  // One activity-log entry per folder and sync of a DMARC source.
  bool LogDmarc(const std::string& folder) {
    if (tally_.mails + tally_.failed + tally_.filtered + tally_.acted == 0 && tally_.errors.empty())
      return true;
    AddDmarcTally(&outcome_->dmarc, tally_);
    return registry_
        ->AppendLog(source_, {0, DmarcFolderSummary(folder, tally_, config_.after), tally_.mails,
                              tally_.errors})
        .ok();
  }

  static bool LocalError(const Status& status, RemoteError* error) {
    *error = {FailureKind::kLocal, "archive: " + status.ToString()};
    return false;
  }

  SourceRegistry* registry_;
  RemoteAccount* account_ = nullptr;
  const SourceConfig& config_;
  const std::string& source_;
  const SyncOptions& options_;
  SyncOutcome* outcome_;
  RemoteBatch batch_;
  std::vector<SkippedMessage> skips_;  // not yet passed over by a committed checkpoint
  std::vector<RetryMessage> refused_;  // refusals not yet committed with a checkpoint
  std::vector<uint32_t> retry_uids_;   // the folder's retry list this Run fetches
  std::set<std::string> retried_;      // folders whose retries this sync fetched
  uint32_t start_last_uid_ = 0;        // the folder's checkpoint when the Run began
  DmarcTally tally_;                   // this folder's DMARC counts
  uint64_t done_ = 0;
  uint32_t lost_at_ = 0;  // the UID whose FETCH dropped the connection (0: none)
  bool reconnect_ = false;
};

// Whether `settings` (read with the password) still name the connection `config` names.
bool SameConnection(const SourceConfig& config, const RemoteSettings& settings) {
  return settings.host == config.host && settings.port == config.port &&
         settings.user == config.user && settings.tls == config.tls &&
         settings.tls_verify == config.tls_verify;
}

}  // namespace

bool SourceRemoteSettings(const SourceRegistry& registry, const SourceConfig& config,
                          RemoteSettings* settings, RemoteError* error) {
  // Opens only for exactly these settings, the ones the connection will use.
  Result<std::string> password = registry.Password(config);
  if (!password.ok()) {
    *error = {FailureKind::kLocal, "the source's password: " + password.status().ToString()};
    return false;
  }
  settings->host = config.host;
  settings->port = static_cast<uint16_t>(config.port);
  settings->user = config.user;
  settings->password = std::move(password).value();
  settings->tls = config.tls;
  settings->tls_verify = config.tls_verify;
  return true;
}

bool SourceFolders(RemoteAccount* account, const SourceConfig& config,
                   std::vector<std::string>* folders, RemoteError* error) {
  std::vector<std::string> candidates = config.folders;
  if (config.all_folders && !account->ListFolders(&candidates, error)) return false;
  folders->clear();
  for (const std::string& folder : candidates) {
    if (std::find(config.exclude.begin(), config.exclude.end(), folder) == config.exclude.end())
      folders->push_back(folder);
  }
  return true;
}

SourceCredentials::~SourceCredentials() {
  std::fill(remote.password.begin(), remote.password.end(), '\0');
}

SourceCredentials::SourceCredentials(SourceCredentials&& other) noexcept
    : remote(std::move(other.remote)), error(std::move(other.error)) {}

SourceCredentials ReadSourceCredentials(const SourceRegistry& registry, const std::string& name) {
  SourceCredentials credentials;
  Result<SourceConfig> config = registry.Get(name);
  if (!config.ok())
    credentials.error = {FailureKind::kLocal, config.status().ToString()};
  else
    (void)SourceRemoteSettings(registry, *config, &credentials.remote, &credentials.error);
  return credentials;
}

SyncOutcome SyncSource(SourceRegistry* registry, const std::string& name,
                       const SourceCredentials& credentials, const SyncOptions& options) {
  SyncOutcome outcome;
  RemoteError error = credentials.error;
  Result<SourceInfo> info = registry->Describe(name);
  if (!info.ok()) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = info.status().ToString();
    return outcome;
  }
  const SourceConfig* config = &info->config;
  const RemoteSettings& settings = credentials.remote;
  if (error.ok() && !SameConnection(*config, settings)) {
    error = {FailureKind::kLocal,
             "the source's connection settings changed since its password was read: the "
             "next sync uses the new ones"};
  }
  std::unique_ptr<RemoteAccount> account;
  std::vector<std::string> folders;
  bool missing_folder = false;
  FolderSync folder_sync(registry, *config, options, &outcome);
  if (error.ok() && (account = RemoteAccount::Connect(settings, &error)) != nullptr &&
      SourceFolders(account.get(), *config, &folders, &error)) {
    folder_sync.set_account(account.get());
    for (const std::string& folder : folders) {
      RemoteError folder_error;
      bool done = folder_sync.Run(folder, &folder_error);
      // Past the message that dropped the connection (now in the retry list): go on.
      for (int reconnects = 0; !done && folder_sync.TakeReconnect() && reconnects < kMaxReconnects;
           ++reconnects) {
        account.reset();
        account = RemoteAccount::Connect(settings, &folder_error);
        folder_sync.set_account(account.get());
        if (account == nullptr) break;
        done = folder_sync.Run(folder, &folder_error);
      }
      (void)folder_sync.TakeReconnect();
      if (done) continue;
      // A missing folder does not keep the others from syncing; anything else stops.
      if (error.ok()) error = folder_error;
      if (account == nullptr || folder_error.kind != FailureKind::kMissingFolder) break;
      missing_folder = true;
    }
  }
  account.reset();
  outcome.failure = error.kind;
  outcome.error = error.reason;
  outcome.caught_up = error.ok() && !missing_folder;
  SyncReport report;
  report.ok = error.ok();
  report.error = error.reason;
  report.caught_up = outcome.caught_up;
  report.count = outcome.archived;
  Status finished = registry->FinishSync(name, report);
  if (!finished.ok() && outcome.failure == FailureKind::kNone) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = "recording the sync: " + finished.ToString();
  }
  return outcome;
}

}  // namespace archiver::imapc
