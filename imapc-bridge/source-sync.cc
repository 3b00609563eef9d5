// SyncSource: folders, UIDVALIDITY, UID-range search through imapc, batches into the
// registry's checkpointed ArchiveBatch.
#include "source-sync.h"

#include <algorithm>
#include <utility>

#include "archiver/time_format.h"
#include "source-dovecot.h"
#include "source-scan.h"

namespace archiver::imapc {
namespace {

const enum mail_fetch_field kFetchFields =
    static_cast<enum mail_fetch_field>(MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY |
                                       MAIL_FETCH_RECEIVED_DATE | MAIL_FETCH_FLAGS);

// Reads a remote message: its bytes, INTERNALDATE and flags. False when imapc could not
// give it; `expunged` tells a message removed on the remote meanwhile (then it is skipped).
bool ReadRemoteMessage(struct mail* mail, RemoteMessage* message, bool* expunged,
                       std::string* error) {
  *expunged = false;
  message->uid = mail->uid;
  struct istream* input = nullptr;
  if (mail_get_stream(mail, nullptr, nullptr, &input) < 0) {
    *expunged = mail->expunged;
    enum mail_error code;
    *error = mailbox_get_last_internal_error(mail->box, &code);
    return false;
  }
  const unsigned char* data = nullptr;
  size_t length = 0;
  while (i_stream_read_more(input, &data, &length) > 0) {
    message->bytes.append(reinterpret_cast<const char*>(data), length);
    i_stream_skip(input, length);
  }
  if (input->stream_errno != 0) {
    *error = i_stream_get_error(input);
    return false;
  }
  time_t received = 0;
  if (mail_get_received_date(mail, &received) == 0 && received > 0)
    message->internal_date_us = static_cast<uint64_t>(received) * 1000000;
  string_t* flags = t_str_new(64);
  imap_write_flags(flags, static_cast<enum mail_flags>(mail_get_flags(mail) & ~MAIL_RECENT),
                   mail_get_keywords(mail));
  message->flags = str_c(flags);
  return true;
}

// One folder's sync. Returns false with `error` set; `outcome` counts what was archived.
class FolderSync {
 public:
  FolderSync(SourceRegistry* registry, const SourceConfig& config, const SourceStatus& previous,
             const SyncOptions& options, SyncOutcome* outcome)
      : registry_(registry),
        config_(config),
        source_(config.name),
        previous_(previous),
        options_(options),
        outcome_(outcome) {}

  void set_account(RemoteAccount* account) { account_ = account; }
  // Where the last failed Run failed while fetching a message (uid 0: not at a message).
  const RemotePlace& failed() const { return failed_; }
  // True once after a Run that skipped for good the message at which the previous sync
  // failed too: the connection it broke must be made again before going on.
  bool TakeSkippedFailed() { return std::exchange(skipped_failed_, false); }

  bool Run(const std::string& folder, RemoteError* error) {
    // A DMARC source changes the remote (--after): its folders are opened for writing.
    const bool writes = dmarc() && config_.after != SourceAfter::kNone;
    struct mailbox* box =
        mailbox_alloc(account_->ns()->list, folder.c_str(),
                      writes ? static_cast<enum mailbox_flags>(0) : MAILBOX_FLAG_READONLY);
    tally_ = DmarcTally{};
    failed_ = RemotePlace{};
    bool ok = RunOpen(box, folder, error);
    mailbox_free(&box);
    if (dmarc()) ok = LogDmarc(folder) && ok;
    return ok;
  }

 private:
  bool dmarc() const { return config_.purpose == SourcePurpose::kDmarc; }

  bool RunOpen(struct mailbox* box, const std::string& folder, RemoteError* error) {
    std::string context = "folder " + folder;
    if (mailbox_sync(box, static_cast<enum mailbox_sync_flags>(0)) < 0) {
      *error = account_->MailboxError(box, context);
      return false;
    }
    struct mailbox_status status;
    mailbox_get_open_status(box,
                            static_cast<enum mailbox_status_items>(
                                STATUS_UIDVALIDITY | STATUS_MESSAGES | STATUS_UIDNEXT),
                            &status);
    Result<FolderCheckpoint> checkpoint = registry_->Checkpoint(source_, folder);
    if (!checkpoint.ok()) return LocalError(checkpoint.status(), error);
    uint32_t last_uid = checkpoint->last_uid;
    if (checkpoint->uidvalidity != 0 && checkpoint->uidvalidity != status.uidvalidity) {
      Status reset = registry_->ResetFolder(source_, folder, status.uidvalidity);
      if (!reset.ok()) return LocalError(reset, error);
      last_uid = 0;
    }
    // --after actions a crash or a refusal left pending: first, unless their UIDs were
    // dropped with the old UIDVALIDITY.
    if (last_uid != 0 && !checkpoint->pending_after.empty() &&
        !ApplyAfter(box, folder, status.uidvalidity, checkpoint->pending_after, error))
      return false;
    batch_ = RemoteBatch{};
    batch_.folder = folder;
    batch_.uidvalidity = status.uidvalidity;
    batch_.remote_messages = status.messages;
    const uint32_t end_uid = status.uidnext > 0 ? status.uidnext - 1 : 0;
    if (end_uid <= last_uid && checkpoint->remote_messages == status.messages &&
        checkpoint->uidvalidity == status.uidvalidity)
      return true;  // nothing new, nothing to record

    ScanRules rules{&config_, options_.max_message_bytes, NowMicros() / 1000000};
    FolderScan scan;
    if (!ScanFolder(account_, box, last_uid, rules, &scan, error)) return false;
    skips_ = std::move(scan.skipped);
    uint32_t highest = std::max(end_uid, last_uid);
    for (const SkippedMessage& skip : skips_) highest = std::max(highest, skip.uid);
    size_t next = 0;
    while (next < scan.take.size()) {
      // A chunk: one search whose FETCHes imapc pipelines, one batch, one commit.
      size_t end = next;
      uint64_t bytes = 0;
      while (end < scan.take.size() && end - next < options_.batch_messages &&
             (end == next || bytes + scan.take[end].size <= options_.batch_bytes))
        bytes += scan.take[end++].size;
      if (!FetchChunk(box, scan.take, next, end, error))
        return failed_.uid != 0 && SkipFailed(box, *error);
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

  // Fetches take[begin, end) into batch_.messages; what the remote refuses is skipped.
  bool FetchChunk(struct mailbox* box, const std::vector<ScannedMessage>& take, size_t begin,
                  size_t end, RemoteError* error) {
    struct mail_search_args* args = mail_search_build_init();
    struct mail_search_arg* range = mail_search_build_add(args, SEARCH_UIDSET);
    p_array_init(&range->value.seqset, args->pool, end - begin);
    for (size_t i = begin; i < end; ++i) seq_range_array_add(&range->value.seqset, take[i].uid);
    struct mailbox_transaction_context* transaction = mailbox_transaction_begin(
        box, static_cast<enum mailbox_transaction_flags>(0), "archiver source sync");
    struct mail_search_context* search =
        mailbox_search_init(transaction, args, nullptr, kFetchFields, nullptr);
    mail_search_args_unref(&args);
    const std::string context = std::string("folder ") + mailbox_get_vname(box);
    bool ok = true;
    struct mail* mail = nullptr;
    while (ok && mailbox_search_next(search, &mail)) {
      RemoteMessage message;
      bool expunged = false;
      std::string read_error;
      if (!ReadRemoteMessage(mail, &message, &expunged, &read_error)) {
        if (expunged) continue;  // gone on the remote: the checkpoint passes over it
        RemoteError failed =
            account_->MailboxError(box, context + ": UID " + std::to_string(mail->uid));
        if (IsConnectionFailure(failed)) {
          *error = failed;
          failed_ = {batch_.folder, batch_.uidvalidity, mail->uid};
          ok = false;
        } else {
          skips_.push_back({mail->uid, SkipKind::kUnreadable, failed.reason});
        }
        continue;
      }
      if (options_.max_message_bytes != 0 && message.bytes.size() > options_.max_message_bytes) {
        skips_.push_back({message.uid, SkipKind::kOversized,
                          context + ": UID " + std::to_string(message.uid) + " of " +
                              FormatBytes(message.bytes.size()) + " is larger than the " +
                              FormatBytes(options_.max_message_bytes) + " a sync takes"});
        continue;
      }
      batch_.messages.push_back(std::move(message));
    }
    if (mailbox_search_deinit(&search) < 0 && ok) {
      *error = account_->MailboxError(box, context + ": fetching");
      ok = false;
    }
    (void)mailbox_transaction_commit(&transaction);
    return ok;
  }

  // The fetch failed at failed_, which dropped the connection. When the previous sync
  // failed at the same message too, the messages fetched before it are committed with a
  // checkpoint at it and a log entry in the same transaction, so that it no longer blocks
  // the source; the Run still fails (the caller reconnects). Always false.
  bool SkipFailed(struct mailbox* box, const RemoteError& failure) {
    if (previous_.failed != failed_) return false;
    std::erase_if(batch_.messages,
                  [&](const RemoteMessage& message) { return message.uid >= failed_.uid; });
    batch_.last_uid = failed_.uid;
    batch_.log.push_back(
        {0, "skip unreadable UID " + std::to_string(failed_.uid) + ": " + failure.reason, 1, ""});
    RemoteError committed;
    // DMARC: --after is not applied over the broken connection (Commit logs it).
    if (!Commit(box, &committed)) return false;
    ++outcome_->skipped;
    failed_ = RemotePlace{};
    skipped_failed_ = true;
    return false;
  }

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
    Result<BatchResult> result = registry_->ArchiveBatch(source_, batch_);
    if (!result.ok()) return LocalError(result.status(), error);
    uint64_t written = result->stored + result->deduplicated;
    outcome_->archived += written;
    outcome_->deduplicated += result->deduplicated;
    done_ += written;
    batch_.messages.clear();
    batch_.log.clear();
    batch_.pending_after.clear();
    if (!LogSkips(error)) return false;
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
    auto covered = [&](const SkippedMessage& skip) { return skip.uid <= batch_.last_uid; };
    for (const SkippedMessage& skip : skips_) {
      if (!covered(skip)) continue;
      if (skip.kind == SkipKind::kFiltered) {
        ++tally_.filtered;
        continue;
      }
      ++outcome_->skipped;
      Status logged = registry_->AppendLog(
          source_, {0, skip.kind == SkipKind::kOversized ? "skip oversized" : "skip unreadable", 1,
                    skip.reason});
      if (!logged.ok()) return LocalError(logged, error);
    }
    skips_.erase(std::remove_if(skips_.begin(), skips_.end(), covered), skips_.end());
    return true;
  }

  // One activity-log entry per folder and sync of a DMARC source.
  bool LogDmarc(const std::string& folder) {
    if (tally_.mails + tally_.failed + tally_.filtered + tally_.acted == 0 && tally_.errors.empty())
      return true;
    std::string what = "dmarc " + folder + ": " + std::to_string(tally_.mails) +
                       " mails with reports (" + std::to_string(tally_.reports) + " aggregate, " +
                       std::to_string(tally_.failures) + " failure), " +
                       std::to_string(tally_.failed) + " failed, " +
                       std::to_string(tally_.filtered) + " skipped by the filters, " +
                       std::to_string(tally_.acted) + " " + SourceAfterName(config_.after);
    AddTally(&outcome_->dmarc, tally_);
    return registry_->AppendLog(source_, {0, what, tally_.mails, tally_.errors}).ok();
  }

  static void AddTally(DmarcTally* total, const DmarcTally& folder) {
    total->mails += folder.mails;
    total->reports += folder.reports;
    total->failures += folder.failures;
    total->failed += folder.failed;
    total->filtered += folder.filtered;
    total->acted += folder.acted;
    if (!folder.errors.empty())
      total->errors += (total->errors.empty() ? "" : "; ") + folder.errors;
  }

  static bool LocalError(const Status& status, RemoteError* error) {
    *error = {FailureKind::kLocal, "archive: " + status.ToString()};
    return false;
  }

  SourceRegistry* registry_;
  RemoteAccount* account_ = nullptr;
  const SourceConfig& config_;
  const std::string& source_;
  const SourceStatus& previous_;  // the status before this sync
  const SyncOptions& options_;
  SyncOutcome* outcome_;
  RemoteBatch batch_;
  std::vector<SkippedMessage> skips_;  // not yet passed over by a committed checkpoint
  DmarcTally tally_;                   // this folder's DMARC counts
  uint64_t done_ = 0;
  RemotePlace failed_;  // where the last Run's fetch dropped the connection (uid 0: none)
  bool skipped_failed_ = false;
};

}  // namespace

bool SourceRemoteSettings(const SourceRegistry& registry, const SourceConfig& config,
                          RemoteSettings* settings, RemoteError* error) {
  Result<std::string> password = registry.Password(config.name);
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

SyncOutcome SyncSource(SourceRegistry* registry, const std::string& name,
                       const SyncOptions& options) {
  SyncOutcome outcome;
  RemoteError error;
  Result<SourceInfo> info = registry->Describe(name);
  if (!info.ok()) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = info.status().ToString();
    return outcome;
  }
  const SourceConfig* config = &info->config;
  RemoteSettings settings;
  std::unique_ptr<RemoteAccount> account;
  std::vector<std::string> folders;
  bool missing_folder = false;
  FolderSync folder_sync(registry, *config, info->status, options, &outcome);
  if (SourceRemoteSettings(*registry, *config, &settings, &error) &&
      (account = RemoteAccount::Connect(settings, &error)) != nullptr &&
      SourceFolders(account.get(), *config, &folders, &error)) {
    folder_sync.set_account(account.get());
    for (const std::string& folder : folders) {
      RemoteError folder_error;
      if (folder_sync.Run(folder, &folder_error)) continue;
      if (folder_sync.TakeSkippedFailed()) {  // past the unreadable message: go on
        account.reset();
        account = RemoteAccount::Connect(settings, &folder_error);
        folder_sync.set_account(account.get());
        if (account != nullptr && folder_sync.Run(folder, &folder_error)) continue;
      }
      // A missing folder does not keep the others from syncing; anything else stops.
      if (error.ok()) error = folder_error;
      if (folder_error.kind != FailureKind::kMissingFolder) break;
      missing_folder = true;
    }
  }
  std::fill(settings.password.begin(), settings.password.end(), '\0');
  account.reset();
  outcome.failure = error.kind;
  outcome.error = error.reason;
  outcome.caught_up = error.ok() && !missing_folder;
  SyncReport report;
  report.ok = error.ok();
  report.error = error.reason;
  report.caught_up = outcome.caught_up;
  report.count = outcome.archived;
  if (!error.ok()) report.failed = folder_sync.failed();
  Status finished = registry->FinishSync(name, report);
  if (!finished.ok() && outcome.failure == FailureKind::kNone) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = "recording the sync: " + finished.ToString();
  }
  return outcome;
}

}  // namespace archiver::imapc
