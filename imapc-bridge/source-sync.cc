// SyncSource: folders, UIDVALIDITY, UID-range search through imapc, batches into the
// registry's checkpointed ArchiveBatch.
#include "source-sync.h"

#include <algorithm>

#include "source-dovecot.h"

namespace archiver::imapc {
namespace {

const enum mail_fetch_field kFetchFields = static_cast<enum mail_fetch_field>(
    MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY | MAIL_FETCH_RECEIVED_DATE |
    MAIL_FETCH_FLAGS);

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
  FolderSync(SourceRegistry* registry, RemoteAccount* account, const std::string& source,
             const SyncOptions& options, SyncOutcome* outcome)
      : registry_(registry), account_(account), source_(source), options_(options),
        outcome_(outcome) {}

  bool Run(const std::string& folder, RemoteError* error) {
    struct mailbox* box =
        mailbox_alloc(account_->ns()->list, folder.c_str(), MAILBOX_FLAG_READONLY);
    bool ok = RunOpen(box, folder, error);
    mailbox_free(&box);
    return ok;
  }

 private:
  bool RunOpen(struct mailbox* box, const std::string& folder, RemoteError* error) {
    std::string context = "folder " + folder;
    if (mailbox_sync(box, static_cast<enum mailbox_sync_flags>(0)) < 0) {
      *error = account_->MailboxError(box, context);
      return false;
    }
    struct mailbox_status status;
    mailbox_get_open_status(box, static_cast<enum mailbox_status_items>(
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
    batch_ = RemoteBatch{};
    batch_.folder = folder;
    batch_.uidvalidity = status.uidvalidity;
    batch_.remote_messages = status.messages;
    batch_bytes_ = 0;
    const uint32_t end_uid = status.uidnext > 0 ? status.uidnext - 1 : 0;
    if (end_uid <= last_uid && checkpoint->remote_messages == status.messages &&
        checkpoint->uidvalidity == status.uidvalidity)
      return true;  // nothing new, nothing to record

    struct mail_search_args* args = mail_search_build_init();
    struct mail_search_arg* range = mail_search_build_add(args, SEARCH_UIDSET);
    p_array_init(&range->value.seqset, args->pool, 1);
    seq_range_array_add_range(&range->value.seqset, last_uid + 1, (uint32_t)-1);
    struct mailbox_transaction_context* transaction = mailbox_transaction_begin(
        box, static_cast<enum mailbox_transaction_flags>(0), "archiver source sync");
    struct mail_search_context* search =
        mailbox_search_init(transaction, args, nullptr, kFetchFields, nullptr);
    mail_search_args_unref(&args);
    uint64_t remaining = end_uid > last_uid ? end_uid - last_uid : 0;
    bool ok = true;
    struct mail* mail = nullptr;
    while (ok && mailbox_search_next(search, &mail)) {
      RemoteMessage message;
      bool expunged = false;
      std::string read_error;
      if (!ReadRemoteMessage(mail, &message, &expunged, &read_error)) {
        if (!expunged) {
          *error = account_->MailboxError(box, context + ": UID " + std::to_string(mail->uid));
          ok = false;
        }
        continue;  // gone on the remote: the checkpoint passes over it
      }
      batch_bytes_ += message.bytes.size();
      batch_.last_uid = std::max(batch_.last_uid, message.uid);
      batch_.messages.push_back(std::move(message));
      if (batch_.messages.size() >= options_.batch_messages ||
          batch_bytes_ >= options_.batch_bytes) {
        ok = Flush(error);
        remaining = end_uid > batch_.last_uid ? end_uid - batch_.last_uid : 0;
        if (ok && options_.progress) options_.progress(folder, done_, remaining);
        batch_.messages.clear();
        batch_bytes_ = 0;
      }
    }
    if (mailbox_search_deinit(&search) < 0 && ok) {
      *error = account_->MailboxError(box, context + ": fetching");
      ok = false;
    }
    (void)mailbox_transaction_commit(&transaction);
    if (!ok) return false;
    // UIDs up to UIDNEXT-1 that the search did not return are gone: passed over too.
    batch_.last_uid = std::max({batch_.last_uid, end_uid, last_uid});
    if (!Flush(error)) return false;
    if (options_.progress) options_.progress(folder, done_, 0);
    return true;
  }

  bool Flush(RemoteError* error) {
    Result<BatchResult> result = registry_->ArchiveBatch(source_, batch_);
    if (!result.ok()) return LocalError(result.status(), error);
    uint64_t written = result->stored + result->deduplicated;
    outcome_->archived += written;
    outcome_->deduplicated += result->deduplicated;
    done_ += written;
    return true;
  }

  static bool LocalError(const Status& status, RemoteError* error) {
    *error = {FailureKind::kLocal, "archive: " + status.ToString()};
    return false;
  }

  SourceRegistry* registry_;
  RemoteAccount* account_;
  const std::string& source_;
  const SyncOptions& options_;
  SyncOutcome* outcome_;
  RemoteBatch batch_;
  uint64_t batch_bytes_ = 0;
  uint64_t done_ = 0;
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
  Result<SourceConfig> config = registry->Get(name);
  if (!config.ok()) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = config.status().ToString();
    return outcome;
  }
  RemoteSettings settings;
  std::unique_ptr<RemoteAccount> account;
  std::vector<std::string> folders;
  bool missing_folder = false;
  if (SourceRemoteSettings(*registry, *config, &settings, &error) &&
      (account = RemoteAccount::Connect(settings, &error)) != nullptr &&
      SourceFolders(account.get(), *config, &folders, &error)) {
    FolderSync folder_sync(registry, account.get(), name, options, &outcome);
    for (const std::string& folder : folders) {
      RemoteError folder_error;
      if (folder_sync.Run(folder, &folder_error)) continue;
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
  Status finished = registry->FinishSync(name, report);
  if (!finished.ok() && outcome.failure == FailureKind::kNone) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = "recording the sync: " + finished.ToString();
  }
  return outcome;
}

}  // namespace archiver::imapc
