// SourceRegistry: remote IMAP sources (a remote account whose mail is imported into the
// archive, or a remote DMARC report mailbox) kept in sub-databases of the archive's LMDB
// environment: settings, status, per-folder checkpoints, an activity log and the
// encrypted password (docs/store-format.md, "Sources"). Dovecot-independent: the IMAP
// work is done by imapc-bridge, which reports here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/status.h"
#include "archiver/store/store.h"

namespace archiver {

enum class SourceTls { kImaps, kStarttls, kNone };
enum class SourcePurpose { kArchive, kDmarc };
// What happens on the remote to a DMARC report mail once its report is committed.
enum class SourceAfter { kSeen, kMove, kDelete, kNone };

// "imaps" / "starttls" / "none", "archive" / "dmarc", "seen" / "move" / "delete" / "none".
const char* SourceTlsName(SourceTls tls);
const char* SourcePurposeName(SourcePurpose purpose);
const char* SourceAfterName(SourceAfter after);
// InvalidArgument naming the value and the accepted ones.
Result<SourceTls> ParseSourceTls(std::string_view text);
Result<SourcePurpose> ParseSourcePurpose(std::string_view text);
// "seen", "delete", "none", or "move:FOLDER" (folder non-empty) into *after / *folder.
Status ParseSourceAfter(std::string_view text, SourceAfter* after, std::string* folder);

struct SourceConfig {
  std::string name;                           // [A-Za-z0-9._-]{1,64}, the key of the source
  std::string host;                           // DNS name or IP literal
  uint32_t port = 993;                        // 1..65535
  std::string user;                           // login name on the remote
  SourceTls tls = SourceTls::kImaps;          // imaps: TLS from the start (port 993)
  bool tls_verify = true;                     // verify the server's certificate and name
  std::vector<std::string> folders{"INBOX"};  // the folders to sync (ignored with all_folders)
  bool all_folders = false;                   // every folder the remote lists, minus `exclude`
  std::vector<std::string> exclude;           // folder names left out
  uint64_t interval_seconds = 15 * 60;        // time between syncs, >= 60
  SourcePurpose purpose = SourcePurpose::kArchive;
  // DMARC sources only (a non-default value on an archive source is an error):
  SourceAfter after = SourceAfter::kSeen;
  std::string after_folder;      // the target of kMove
  std::string subject_filter;    // case-insensitive substring of Subject ("" all)
  std::string sender_filter;     // case-insensitive substring of From ("" all)
  uint64_t max_age_seconds = 0;  // skip older mails (by INTERNALDATE); 0 = no limit
  uint64_t max_size = 0;         // skip larger mails (bytes); 0 = no limit

  // Ok, or InvalidArgument naming the field and its value ("source port 0 is not in
  // 1..65535"). Never mentions a password: none is held here.
  Status Validate() const;
};

enum class SourceState {
  kImporting,  // the first full import has not finished
  kActive,     // caught up at least once, last sync succeeded
  kPaused,     // not synced until resumed
  kError,      // the last sync failed: SourceStatus::last_error says why
};
const char* SourceStateName(SourceState state);  // "importing", "active", "paused", "error"

// Backoff after failures: the next attempt comes kFirstRetrySeconds after the first
// failure, doubling with each further one, never later than the source's interval.
inline constexpr uint64_t kFirstRetrySeconds = 60;

struct SourceStatus {
  bool paused = false;
  bool import_done = false;      // a sync once reached the end of every folder
  std::string last_error;        // the reason of the last failed sync; "" after a success
  uint64_t last_sync_us = 0;     // end of the last successful sync (0: never)
  uint64_t last_attempt_us = 0;  // end of the last sync, successful or not
  uint32_t consecutive_failures = 0;
  uint64_t next_due_us = 0;        // when the next sync is due (0: now)
  uint64_t messages_archived = 0;  // delivery records written from this source
  uint64_t created_us = 0;

  // paused > error > importing > active.
  SourceState state() const;
};

// A message the remote failed to give (its FETCH answered NO, e.g. [UNAVAILABLE] or
// [LIMIT], the answer lacked the body, or the connection dropped at it) is not passed
// over: it waits in its folder's retry list, and each following sync fetches it again.
// Only when this many syncs in a row have tried it and failed is it skipped for good,
// with one activity-log entry "skip unreadable UID n: reason".
inline constexpr uint32_t kRefusedSyncsBeforeSkip = 5;
// At most this many messages wait in one folder's retry list: a sync that meets a new
// refusal with the list full stops that folder just before it (BatchResult::retry_full_at),
// so no refused message is ever passed over without being listed.
inline constexpr size_t kRetryListLimit = 1000;
// The remote's reason kept with a retry is cut to this many bytes.
inline constexpr size_t kRetryReasonLimit = 200;

// A message waiting in a folder's retry list.
struct RetryMessage {
  uint32_t uid = 0;
  uint32_t failures = 0;  // consecutive syncs that tried it and failed (1 or more)
  std::string reason;     // the last failure, as the remote (or imapc) gave it
  bool operator==(const RetryMessage&) const = default;
};

// Where the sync of one remote folder stands.
struct FolderCheckpoint {
  std::string folder;
  uint32_t uidvalidity = 0;      // 0: never synced
  uint32_t last_uid = 0;         // every UID up to this one is done
  uint64_t archived = 0;         // delivery records written from this folder
  uint64_t remote_messages = 0;  // the folder's size at the last batch (as reported)
  uint64_t updated_us = 0;
  // DMARC sources: UIDs (of this uidvalidity, up to last_uid) whose reports are committed
  // but whose --after action the remote has not accepted yet; applied first by the next
  // sync. Dropped when the UIDVALIDITY changes.
  std::vector<uint32_t> pending_after;
  // UIDs (of this uidvalidity, up to last_uid) the remote failed to give, by UID: fetched
  // again by each sync until archived, gone from the remote, or skipped for good after
  // kRefusedSyncsBeforeSkip failed syncs. Dropped when the UIDVALIDITY changes.
  std::vector<RetryMessage> retry;
};

struct SourceLogEntry {
  uint64_t time_us = 0;
  std::string what;    // "add", "sync", "import", "error", "pause", …
  uint64_t count = 0;  // messages concerned (archived, skipped, …)
  std::string error;   // "" when none
};

// Activity log entries kept per source; older ones are dropped.
inline constexpr uint64_t kSourceLogLimit = 1000;

struct SourceInfo {
  SourceConfig config;
  SourceStatus status;
  std::vector<FolderCheckpoint> folders;  // by folder name
};

// One remote message of a batch.
struct RemoteMessage {
  uint32_t uid = 0;
  std::string bytes;              // the message as FETCH BODY.PEEK[] returned it
  uint64_t internal_date_us = 0;  // INTERNALDATE (0 unknown)
  std::string flags;              // the flags at fetch time, space-separated
};

// A batch of one folder: the messages and the checkpoint that covers them.
struct RemoteBatch {
  std::string folder;
  uint32_t uidvalidity = 0;      // must equal the folder's checkpoint (or it has none)
  uint32_t last_uid = 0;         // the new checkpoint: UIDs up to it are done (also
                                 // those skipped or gone); >= every message's uid
  uint64_t remote_messages = 0;  // the folder's message count, for `source show`
  std::vector<RemoteMessage> messages;
  // Activity-log entries written in the same transaction: the skips this checkpoint
  // passes over ("skip unreadable UID n: reason").
  std::vector<SourceLogEntry> log;
  // Added to the folder's pending_after in the same transaction (each <= last_uid).
  std::vector<uint32_t> pending_after;
  // The messages the remote failed to give in this sync (uid <= the new checkpoint; the
  // reason as the remote gave it): each enters the folder's retry list, or counts one
  // more failed sync there (a sync reports a UID at most once).
  std::vector<RetryMessage> refused;  // `failures` is ignored
  // UIDs that leave the retry list without being archived: gone from the remote, or
  // skipped for another reason (too large, filtered) with their own log entry. (Archived
  // messages leave it by themselves.)
  std::vector<uint32_t> settled;
};

struct BatchResult {
  uint64_t stored = 0;            // new messages stored
  uint64_t deduplicated = 0;      // already stored (delivered locally, other folder, …):
                                  // a delivery record was added
  uint64_t already_archived = 0;  // this source and folder had archived it: nothing written
  uint64_t skipped = 0;           // refused messages skipped for good by this batch
  // The first refused UID that found the folder's retry list full (0: none). The
  // checkpoint then stops just below it: the caller must stop the folder there.
  uint32_t retry_full_at = 0;
};

// What a finished sync (or a failed one) reports, see FinishSync.
struct SyncReport {
  bool ok = true;
  std::string error;          // the reason when !ok, without secrets
  bool caught_up = false;     // every folder was read to its end
  std::string what = "sync";  // the log entry's `what`
  uint64_t count = 0;         // the log entry's count (messages archived)
};

// What SourceRegistry::MigrateLegacyKey did.
struct LegacyKeyMigration {
  bool found = false;     // the legacy key file was there
  bool removed = false;   // it was used, then emptied and removed
  uint64_t resealed = 0;  // version-1 passwords re-sealed under the key, bound to their settings
  std::vector<std::string> unopened;  // version-1 passwords the legacy key did not open
};

class SourceRegistry {
 public:
  // The sources of an open archive. `key_path` names the SecretBox key file; it is read
  // (and created when missing) only by the calls that seal or open a password.
  // `legacy_key_path` ("" for none) names the key file an older version kept in the
  // archive directory: until the key at `key_path` exists, its version-1 passwords (bound
  // to the source name only) still open, and MigrateLegacyKey moves them.
  SourceRegistry(std::shared_ptr<Store> store, std::string key_path,
                 std::string legacy_key_path = "");

  // Adds a source with status importing, due now, and its password sealed under the
  // key, bound to the settings that decide where it is sent: name, host, port, user,
  // TLS mode and verification (MigrateLegacyKey runs first; its errors fail the add).
  // InvalidArgument: config.Validate() failed, the name exists already, or the archive is
  // read-only. Errors of SecretBox::Load. Logs "add".
  Status Add(const SourceConfig& config, std::string_view password);

  // Replaces the settings of source config.name (and its password when one is given).
  // A password is sealed again for the new settings: the one given, or else, when a bound
  // setting changes, the stored one, opened as Password opens it (its errors then fail
  // the edit). The status is kept but the source becomes due now with its failure count
  // reset, so that a corrected setting is tried at once. NotFound for an unknown source;
  // MigrateLegacyKey's errors (it runs first). Logs "edit".
  Status Update(const SourceConfig& config, const std::optional<std::string>& password);

  // Deletes the source's settings, status, checkpoints, activity log and password. The
  // mail already archived from it stays in the archive, and its delivery records keep
  // the source's name (`archive list --source NAME` still finds them); adding a source
  // of the same name later starts from empty checkpoints and archives nothing twice.
  // NotFound for an unknown source.
  Status Remove(const std::string& name);

  Status Pause(const std::string& name);   // logs "pause"; NotFound
  Status Resume(const std::string& name);  // due now; logs "resume"; NotFound

  Result<SourceConfig> Get(const std::string& name) const;     // NotFound
  Result<SourceInfo> Describe(const std::string& name) const;  // NotFound
  Result<std::vector<SourceInfo>> List() const;                // by name

  // The decrypted password of source `name`, opened for its stored settings. NotFound
  // (unknown source); PermissionDenied naming the source and the command that re-enters
  // the password when the settings it is bound to were changed behind the registry's back
  // (or the key was replaced), or when it is a version-1 password whose legacy key is no
  // longer usable; SecretBox::Load errors. The caller keeps it out of logs and errors.
  Result<std::string> Password(const std::string& name) const;
  // The same for the settings `config` (of source config.name) that the caller is about
  // to connect with: the password opens only if it was sealed for them, so what the
  // caller read earlier cannot differ from what the password is bound to.
  Result<std::string> Password(const SourceConfig& config) const;

  // Moves the passwords of an older version's key in the archive directory: when
  // `legacy_key_path` exists and the key at `key_path` does not, each version-1 password
  // the legacy key opens is sealed again under the key (created now), bound to the
  // source's current settings and logged "reseal"; then the legacy key file is emptied
  // and removed. Nothing happens without a legacy file; with the key already there, the
  // legacy file is left unused (found, not removed). Errors: SecretBox::Load's for either
  // key (the legacy one is kept), the archive's (read-only: InvalidArgument).
  Result<LegacyKeyMigration> MigrateLegacyKey();

  // The names of the sources that are not paused and due at `now_us`, by name.
  Result<std::vector<std::string>> Due(uint64_t now_us) const;

  // The folder's checkpoint (uidvalidity 0 when it was never synced). NotFound when the
  // source is unknown.
  Result<FolderCheckpoint> Checkpoint(const std::string& name, const std::string& folder) const;

  // The remote folder has a new UIDVALIDITY: its checkpoint restarts at UID 0 under
  // `uidvalidity` (archived count kept), so the next batches rescan it; messages already
  // archived from this source and folder are recognised by content and not written
  // again. Its pending --after actions and its retry list are dropped (the UIDs name
  // other messages now). Logs "uidvalidity" with the old value (and the dropped counts).
  // NotFound for an unknown source.
  Status ResetFolder(const std::string& name, const std::string& folder, uint32_t uidvalidity);

  // Archives the batch and moves the folder's checkpoint to batch.last_uid (never
  // backwards) in ONE write transaction, with the source's counters: after a crash
  // either all of it is in the archive or none of it. Each message is stored as by
  // Store::Archive (content dedup against local deliveries and other folders) with a
  // delivery record of origin "imap", the source, folder, uidvalidity, uid, internal
  // date and flags, the user "" and received time now. Idempotent per (message, source,
  // folder): a re-run of a batch writes no delivery again. Errors: NotFound (unknown
  // source), InvalidArgument (batch.uidvalidity differs from the checkpoint's — call
  // ResetFolder first; a message uid above last_uid; read-only archive), LimitExceeded
  // (a message over the archive's size limit), MapFull, IOError; nothing is written then.
  // batch.log is appended to the activity log, batch.pending_after to the folder's
  // pending_after, in the same transaction. The folder's retry list changes in it too:
  // archived and settled UIDs leave it; each refused UID enters it or counts one more
  // failed sync, and leaves it at kRefusedSyncsBeforeSkip with a log entry "skip
  // unreadable UID n: reason" (BatchResult::skipped); a refused UID the full list cannot
  // take stops the checkpoint below it (BatchResult::retry_full_at). InvalidArgument: a
  // refused UID above the new checkpoint.
  Result<BatchResult> ArchiveBatch(const std::string& name, const RemoteBatch& batch);

  // Removes `uids` from the folder's pending_after once the remote accepted their --after
  // action. Nothing happens when the folder's UIDVALIDITY is no longer `uidvalidity`.
  // NotFound for an unknown source.
  Status ClearPendingAfter(const std::string& name, const std::string& folder,
                           uint32_t uidvalidity, const std::vector<uint32_t>& uids);

  // Records the end of a sync at `now_us` (0: now). Success: last_sync and last_attempt
  // set, error cleared, failures reset, import_done set when report.caught_up, due again
  // one interval later. Failure: last_attempt set, failures + 1, last_error =
  // report.error, due after the backoff (kFirstRetrySeconds doubling, capped at the
  // interval). Either way a log entry (report.what, report.count, report.error).
  // NotFound.
  Status FinishSync(const std::string& name, const SyncReport& report, uint64_t now_us = 0);

  // Appends to the activity log (entry.time_us 0: now), dropping entries beyond
  // kSourceLogLimit. NotFound for an unknown source.
  Status AppendLog(const std::string& name, SourceLogEntry entry);

  // The activity log, newest first, until `visit` returns false. NotFound.
  Status ListLog(const std::string& name,
                 const std::function<bool(const SourceLogEntry&)>& visit) const;

 private:
  std::shared_ptr<lmdb::ArchiveEnv> env_;  // the archive's, shared with its Store
  std::string key_path_;
  std::string legacy_key_path_;
};

}  // namespace archiver
