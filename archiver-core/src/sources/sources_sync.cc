// SourceRegistry's sync side: the checkpointed batch write (messages, folder checkpoint
// and source counters in one LMDB write transaction), the end of a sync with its backoff,
// due sources, folder checkpoints and the activity log.
#include <algorithm>

#include "archiver/header_summary.h"
#include "archiver/sources/sources.h"
#include "archiver/time_format.h"
#include "lmdb/lmdb_entries.h"
#include "sources/sources_codec.h"
#include "sources/sources_db.h"
#include "store/archive_writer.h"
#include "store/record.h"

namespace archiver {
namespace {

using internal::SourceDatabases;
using internal::SourceDbs;

constexpr uint64_t kMicrosPerSecond = 1000000;

Status NoArchive() { return Status::InvalidArgument("no archive"); }

// The checkpoint of `folder` (zeros when there is none).
Status ReadCheckpoint(const lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                      const std::string& folder, FolderCheckpoint* checkpoint) {
  *checkpoint = FolderCheckpoint{};
  checkpoint->folder = folder;
  std::string_view value;
  Status found = txn.Get(db.folders, internal::FolderKey(name, folder), &value);
  if (found.code() == Status::Code::kNotFound) return Status::Ok();
  if (!found.ok()) return found;
  return sources_codec::DecodeCheckpoint(value, checkpoint)
      .Annotated("source '" + name + "' folder '" + folder + "'");
}

Status WriteCheckpoint(lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                       const FolderCheckpoint& checkpoint) {
  return internal::PutEntry(txn, db.folders, internal::FolderKey(name, checkpoint.folder),
                            sources_codec::EncodeCheckpoint(checkpoint),
                            "write the checkpoint of source " + name);
}

Status CheckBatch(const lmdb::ArchiveEnv& archive, const std::string& name,
                  const RemoteBatch& batch) {
  if (batch.folder.empty())
    return Status::InvalidArgument("batch of source " + name + " names no folder");
  if (internal::FolderKey(name, batch.folder).size() > archive.max_key_size()) {
    return Status::InvalidArgument("folder name '" + batch.folder + "' of source " + name +
                                   " is too long for the archive's keys");
  }
  if (batch.uidvalidity == 0) {
    return Status::InvalidArgument("batch of source " + name + " folder '" + batch.folder +
                                   "' has UIDVALIDITY 0");
  }
  for (uint32_t uid : batch.pending_after) {
    if (uid == 0 || uid > batch.last_uid) {
      return Status::InvalidArgument("batch of source " + name + " folder '" + batch.folder +
                                     "': pending UID " + std::to_string(uid) + " is not in 1.." +
                                     std::to_string(batch.last_uid));
    }
  }
  for (const RemoteMessage& message : batch.messages) {
    if (message.uid == 0 || message.uid > batch.last_uid) {
      return Status::InvalidArgument("batch of source " + name + " folder '" + batch.folder +
                                     "': message UID " + std::to_string(message.uid) +
                                     " is not in 1.." + std::to_string(batch.last_uid));
    }
    if (message.bytes.size() > record::kMaxRawSize) {
      return Status::LimitExceeded("message UID " + std::to_string(message.uid) + " of " +
                                   FormatBytes(message.bytes.size()) +
                                   " exceeds the archive's limit of " +
                                   FormatBytes(record::kMaxRawSize));
    }
  }
  return Status::Ok();
}

// The batch's messages as deliveries for the archive writer: records of origin "imap"
// received at `now_us` (their id and size are the writer's to fill in).
std::vector<GroupDelivery> Stage(const std::string& name, const RemoteBatch& batch,
                                 uint64_t now_us) {
  std::vector<GroupDelivery> staged;
  staged.reserve(batch.messages.size());
  for (const RemoteMessage& message : batch.messages) {
    DeliveryRecord& record = staged.emplace_back(GroupDelivery{message.bytes, {}}).record;
    record.received_us = now_us;
    record.origin = "imap";
    record.headers = SummarizeHeaders(message.bytes);
    record.source = name;
    record.folder = batch.folder;
    record.uidvalidity = batch.uidvalidity;
    record.uid = message.uid;
    record.internal_date_us = message.internal_date_us;
    record.flags = message.flags;
  }
  return staged;
}

// `reason` cut to kRetryReasonLimit bytes, not inside a UTF-8 sequence.
std::string CutReason(const std::string& reason) {
  if (reason.size() <= kRetryReasonLimit) return reason;
  size_t end = kRetryReasonLimit;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return reason.substr(0, end);
}

// The batch's changes to the folder's retry list (see ArchiveBatch): archived and
// settled UIDs leave it; a refused UID enters it or counts one more failed sync, and
// leaves it with a log entry in `log` once kRefusedSyncsBeforeSkip syncs failed on it.
// Returns the first refused UID not listed that found the list full (0: none); the
// refusals above it are left out.
uint32_t UpdateRetries(const RemoteBatch& batch, FolderCheckpoint* checkpoint,
                       std::vector<SourceLogEntry>* log, uint64_t* skipped) {
  std::vector<RetryMessage>& retry = checkpoint->retry;
  std::erase_if(retry, [&](const RetryMessage& listed) {
    return std::any_of(batch.messages.begin(), batch.messages.end(),
                       [&](const RemoteMessage& message) { return message.uid == listed.uid; }) ||
           std::find(batch.settled.begin(), batch.settled.end(), listed.uid) != batch.settled.end();
  });
  std::vector<RetryMessage> refused = batch.refused;
  std::sort(refused.begin(), refused.end(),
            [](const RetryMessage& a, const RetryMessage& b) { return a.uid < b.uid; });
  for (const RetryMessage& failure : refused) {
    const std::string reason = CutReason(failure.reason);
    auto listed = std::find_if(retry.begin(), retry.end(),
                               [&](const RetryMessage& entry) { return entry.uid == failure.uid; });
    if (listed == retry.end()) {
      if (retry.size() >= kRetryListLimit) return failure.uid;
      listed = retry.insert(std::upper_bound(retry.begin(), retry.end(), failure,
                                             [](const RetryMessage& a, const RetryMessage& b) {
                                               return a.uid < b.uid;
                                             }),
                            {failure.uid, 0, ""});
    }
    listed->reason = reason;
    if (++listed->failures < kRefusedSyncsBeforeSkip) continue;
    log->push_back({0,
                    "skip unreadable UID " + std::to_string(failure.uid) + ": " + reason +
                        " (failed in " + std::to_string(listed->failures) + " syncs in a row)",
                    1, ""});
    ++*skipped;
    retry.erase(listed);
  }
  return 0;
}

// The wait before the next attempt after `failures` consecutive failures.
uint64_t BackoffSeconds(uint32_t failures, uint64_t interval_seconds) {
  uint64_t delay = kFirstRetrySeconds;
  for (uint32_t i = 1; i < failures && delay < interval_seconds; ++i) delay *= 2;
  return std::min(delay, interval_seconds);
}

// In the batch's transaction, before its messages: the source's status and the folder's
// checkpoint, which must be of the batch's UIDVALIDITY (or new).
Status ReadBatchState(lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                      const RemoteBatch& batch, SourceStatus* status, uint64_t* next_log,
                      FolderCheckpoint* checkpoint) {
  Status read = internal::ReadSourceStatus(txn, db, name, status, next_log);
  if (read.ok()) read = ReadCheckpoint(txn, db, name, batch.folder, checkpoint);
  if (!read.ok()) return read;
  if (checkpoint->uidvalidity != 0 && checkpoint->uidvalidity != batch.uidvalidity) {
    return Status::InvalidArgument("source " + name + " folder '" + batch.folder +
                                   "' has UIDVALIDITY " + std::to_string(checkpoint->uidvalidity) +
                                   ", the batch " + std::to_string(batch.uidvalidity) +
                                   ": reset the folder first");
  }
  return Status::Ok();
}

// Tallies the staged messages' outcomes; the first failure fails the batch as a whole.
Status CountOutcomes(const std::vector<GroupDelivery>& staged, BatchResult* result) {
  for (const GroupDelivery& item : staged) {
    if (!item.outcome.ok()) return item.outcome.status();
    if (*item.outcome == ArchiveOutcome::kStored) ++result->stored;
    if (*item.outcome == ArchiveOutcome::kDeduplicated) ++result->deduplicated;
    if (*item.outcome == ArchiveOutcome::kAlreadyArchived) ++result->already_archived;
  }
  return Status::Ok();
}

// Every UID the remote refused lies in what the batch covers, 1..last_uid.
Status CheckRefused(const std::string& name, const RemoteBatch& batch, uint32_t last_uid) {
  for (const RetryMessage& refused : batch.refused) {
    if (refused.uid == 0 || refused.uid > last_uid) {
      return Status::InvalidArgument("batch of source " + name + " folder '" + batch.folder +
                                     "': refused UID " + std::to_string(refused.uid) +
                                     " is not in 1.." + std::to_string(last_uid));
    }
  }
  return Status::Ok();
}

// The checkpoint past the batch: its last UID (not past a retry that found the retry list
// full, `retry_full_at`), the messages it added, the remote's count, the pending --after.
void AdvanceCheckpoint(const RemoteBatch& batch, uint32_t retry_full_at, uint64_t added,
                       uint64_t now_us, FolderCheckpoint* checkpoint) {
  checkpoint->last_uid = std::max(
      checkpoint->last_uid,
      retry_full_at == 0 ? batch.last_uid : std::min(batch.last_uid, retry_full_at - 1));
  checkpoint->archived += added;
  if (batch.remote_messages != 0) checkpoint->remote_messages = batch.remote_messages;
  checkpoint->updated_us = now_us;
  for (uint32_t uid : batch.pending_after) {
    auto& pending = checkpoint->pending_after;
    if (std::find(pending.begin(), pending.end(), uid) == pending.end()) pending.push_back(uid);
  }
}

}  // namespace

Result<BatchResult> SourceRegistry::ArchiveBatch(const std::string& name,
                                                 const RemoteBatch& batch) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  if (Status checked = CheckBatch(archive, name, batch); !checked.ok()) return checked;
  if (Status opened = internal::OpenSourcesForWrite(archive); !opened.ok()) return opened;
  const uint64_t now_us = NowMicros();
  std::vector<GroupDelivery> staged = Stage(name, batch, now_us);

  BatchResult result;
  // The source's status and the folder's checkpoint, read in the writer's transaction
  // before the messages are written, changed and written back after them.
  const SourceDatabases& db = SourceDbs(archive);
  SourceStatus status;
  uint64_t next_log = 0;
  FolderCheckpoint checkpoint;
  // The batch's log entries and the skips found in the transaction.
  std::vector<SourceLogEntry> log = batch.log;
  internal::BatchHook hook;
  hook.what = "archive a batch of source " + name + " folder " + batch.folder;
  hook.before = [&](lmdb::Txn& txn) {
    return ReadBatchState(txn, db, name, batch, &status, &next_log, &checkpoint);
  };
  hook.after = [&](lmdb::Txn& txn) {
    if (Status counted = CountOutcomes(staged, &result); !counted.ok()) return counted;
    checkpoint.uidvalidity = batch.uidvalidity;
    const uint32_t new_last_uid = std::max(checkpoint.last_uid, batch.last_uid);
    if (Status refused = CheckRefused(name, batch, new_last_uid); !refused.ok()) return refused;
    result.retry_full_at = UpdateRetries(batch, &checkpoint, &log, &result.skipped);
    const uint64_t added = result.stored + result.deduplicated;
    AdvanceCheckpoint(batch, result.retry_full_at, added, now_us, &checkpoint);
    status.messages_archived += added;
    Status written = WriteCheckpoint(txn, db, name, checkpoint);
    if (written.ok())
      written = internal::EndSourceChange(txn, db, name, status, next_log, {}, &log);
    return written;
  };
  if (Status done = internal::ArchiveBatch(env_, staged, hook); !done.ok()) return done;
  return result;
}

Status SourceRegistry::ResetFolder(const std::string& name, const std::string& folder,
                                   uint32_t uidvalidity) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::ChangeSource(
      archive, name, "reset source " + name + " folder " + folder,
      [&](lmdb::Txn& txn, SourceStatus*, SourceLogEntry* log) {
        FolderCheckpoint checkpoint;
        Status done = ReadCheckpoint(txn, SourceDbs(archive), name, folder, &checkpoint);
        if (!done.ok()) return done;
        log->what = "uidvalidity of " + folder + " changed from " +
                    std::to_string(checkpoint.uidvalidity) + " to " + std::to_string(uidvalidity) +
                    ": rescan";
        if (!checkpoint.pending_after.empty()) {
          log->what += "; dropped the pending --after action of " +
                       std::to_string(checkpoint.pending_after.size()) + " mails";
          log->count = checkpoint.pending_after.size();
        }
        if (!checkpoint.retry.empty()) {
          log->what += "; dropped the retry list of " + std::to_string(checkpoint.retry.size()) +
                       " messages";
        }
        checkpoint.pending_after.clear();
        checkpoint.retry.clear();
        checkpoint.uidvalidity = uidvalidity;
        checkpoint.last_uid = 0;
        checkpoint.updated_us = NowMicros();
        return WriteCheckpoint(txn, SourceDbs(archive), name, checkpoint);
      });
}

Status SourceRegistry::ClearPendingAfter(const std::string& name, const std::string& folder,
                                         uint32_t uidvalidity, const std::vector<uint32_t>& uids) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::ChangeSource(
      archive, name, "clear pending actions of source " + name + " folder " + folder,
      [&](lmdb::Txn& txn, SourceStatus*, SourceLogEntry*) {
        FolderCheckpoint checkpoint;
        Status done = ReadCheckpoint(txn, SourceDbs(archive), name, folder, &checkpoint);
        if (!done.ok() || checkpoint.uidvalidity != uidvalidity) return done;
        std::erase_if(checkpoint.pending_after, [&](uint32_t uid) {
          return std::find(uids.begin(), uids.end(), uid) != uids.end();
        });
        return WriteCheckpoint(txn, SourceDbs(archive), name, checkpoint);
      });
}

Result<FolderCheckpoint> SourceRegistry::Checkpoint(const std::string& name,
                                                    const std::string& folder) const {
  if (!env_) return NoArchive();
  lmdb::Txn txn;
  SourceStatus source_status;
  FolderCheckpoint checkpoint;
  Status status = internal::BeginSourceRead(*env_, name, &txn, &source_status);
  if (status.ok()) {
    status = ReadCheckpoint(txn, SourceDbs(*env_), name, folder, &checkpoint);
  }
  if (!status.ok()) return status;
  return checkpoint;
}

Status SourceRegistry::FinishSync(const std::string& name, const SyncReport& report,
                                  uint64_t now_us) {
  if (!env_) return NoArchive();
  if (now_us == 0) now_us = NowMicros();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::ChangeSource(
      archive, name, "finish a sync of source " + name,
      [&](lmdb::Txn& txn, SourceStatus* status, SourceLogEntry* log) {
        SourceConfig config;
        std::string_view value;
        Status done = txn.Get(SourceDbs(archive).config, name, &value);
        if (done.ok()) done = sources_codec::DecodeConfig(value, &config);
        if (!done.ok()) return done.Annotated("source '" + name + "'");
        status->last_attempt_us = now_us;
        *log = SourceLogEntry{now_us, report.what, report.count, ""};
        if (report.ok) {
          status->last_sync_us = now_us;
          status->last_error.clear();
          status->consecutive_failures = 0;
          status->import_done = status->import_done || report.caught_up;
          status->next_due_us = now_us + config.interval_seconds * kMicrosPerSecond;
        } else {
          status->last_error = report.error.empty() ? "unknown error" : report.error;
          log->error = status->last_error;
          ++status->consecutive_failures;
          status->next_due_us =
              now_us + BackoffSeconds(status->consecutive_failures, config.interval_seconds) *
                           kMicrosPerSecond;
        }
        return Status::Ok();
      });
}

Result<std::vector<std::string>> SourceRegistry::Due(uint64_t now_us) const {
  if (!env_) return NoArchive();
  lmdb::Txn txn;
  bool present = false;
  Status status = internal::BeginSourcesRead(*env_, &txn, &present);
  std::vector<std::string> due;
  if (!status.ok()) return status;
  if (!present) return due;
  status = internal::WalkPrefixed(
      txn, SourceDbs(*env_).status, "", false,
      [&](std::string_view key, std::string_view value, bool*) {
        SourceStatus source_status;
        uint64_t next_log = 0;
        Status decoded = sources_codec::DecodeStatus(value, &source_status, &next_log);
        if (!decoded.ok()) return decoded.Annotated("source '" + std::string(key) + "'");
        if (!source_status.paused && source_status.next_due_us <= now_us) due.emplace_back(key);
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return due;
}

Status SourceRegistry::AppendLog(const std::string& name, SourceLogEntry entry) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  if (entry.what.empty()) entry.what = "note";
  return internal::ChangeSource(archive, name, "log for source " + name,
                                [&](lmdb::Txn&, SourceStatus*, SourceLogEntry* log) {
                                  *log = entry;
                                  return Status::Ok();
                                });
}

Status SourceRegistry::ListLog(const std::string& name,
                               const std::function<bool(const SourceLogEntry&)>& visit) const {
  if (!env_) return NoArchive();
  std::vector<SourceLogEntry> entries;  // copied out: `visit` runs without a transaction
  {
    lmdb::Txn txn;
    SourceStatus source_status;
    Status status = internal::BeginSourceRead(*env_, name, &txn, &source_status);
    if (status.ok()) {
      status = internal::WalkPrefixed(txn, SourceDbs(*env_).log, internal::SourcePrefix(name), true,
                                      [&](std::string_view, std::string_view value, bool*) {
                                        return sources_codec::DecodeLogEntry(
                                            value, &entries.emplace_back());
                                      });
    }
    if (!status.ok()) return status;
  }
  for (const SourceLogEntry& entry : entries) {
    if (!visit(entry)) break;
  }
  return Status::Ok();
}

}  // namespace archiver
