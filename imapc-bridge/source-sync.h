// SyncSource: one sync of a remote IMAP source through imapc. Per folder: check the
// UIDVALIDITY against the checkpoint (a change restarts the folder; content dedup keeps
// it from archiving twice), fetch only the UIDs above the checkpoint, and hand them to
// SourceRegistry::ArchiveBatch in batches, each archived together with its checkpoint.
// A message too large is skipped with an activity-log entry. One the remote fails to give
// (a FETCH answered NO, an answer without the body) enters the folder's retry list with
// the checkpoint that passes over it; each sync fetches the list first, and a message
// that failed kRefusedSyncsBeforeSkip syncs in a row is skipped for good (ArchiveBatch).
// One whose FETCH drops the connection counts the same way, then the sync reconnects and
// goes on after it.
// DMARC sources also read each batch's reports, then apply --after (source-dmarc.h); the
// actions left pending by a crash or a refusal are applied first at the next sync.
// The end (success or classified failure) is recorded with FinishSync.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "archiver/sources/sources.h"
#include "source-connect.h"
#include "source-dmarc.h"

namespace archiver::imapc {

struct SyncOptions {
  uint32_t batch_messages = 100;      // a batch ends after this many messages…
  uint64_t batch_bytes = 8ULL << 20;  // …or once it holds this many bytes
  // Called after each committed batch with the folder, messages archived in it so far
  // this sync and the UIDs still ahead (an estimate); may be empty.
  std::function<void(const std::string& folder, uint64_t done, uint64_t remaining)> progress;
  // A remote message larger than this is not fetched: it is skipped with an activity-log
  // entry and the checkpoint passes over it (the whole message is held in memory).
  uint64_t max_message_bytes = 512ULL << 20;
  // Reads the mails of DMARC sources; a DMARC source fails (kLocal) without one.
  DmarcMailReader dmarc_reader;
};

struct SyncOutcome {
  FailureKind failure = FailureKind::kNone;  // kNone: the sync succeeded
  std::string error;                         // the reason (never holds the password)
  uint64_t archived = 0;                     // delivery records written by this sync
  uint64_t deduplicated = 0;                 // of those, messages already in the archive
  bool caught_up = false;                    // every folder was read to its end
  uint64_t skipped = 0;                      // for good: oversized, or refused by 5 syncs
  DmarcTally dmarc;                          // DMARC sources: over all folders
};

// What a sync (or test) of one source connects with, read before it: reading the password
// needs the sources key, which only root may read, and the sync itself runs after root
// is given up. The password is overwritten when the object is destroyed.
struct SourceCredentials {
  SourceCredentials() = default;
  ~SourceCredentials();
  SourceCredentials(SourceCredentials&& other) noexcept;
  SourceCredentials& operator=(SourceCredentials&&) = delete;
  SourceCredentials(const SourceCredentials&) = delete;

  RemoteSettings remote;  // valid when error.ok()
  RemoteError error;      // kLocal: the registry could not give them (the sync records it)
};

// The credentials of source `name` as the registry gives them now. Never fails: a failure
// is carried in the result's error, for SyncSource to record.
SourceCredentials ReadSourceCredentials(const SourceRegistry& registry, const std::string& name);

// Syncs source `name` once (paused or not: the caller decides) with `credentials` from
// ReadSourceCredentials, and records the result in the registry (FinishSync): their error,
// if any, or kLocal when the source's connection settings changed since they were read.
// A failure to record it is reported as kLocal. Needs a process with Dovecot's master
// service and ioloop; no other RemoteAccount may be open.
SyncOutcome SyncSource(SourceRegistry* registry, const std::string& name,
                       const SourceCredentials& credentials, const SyncOptions& options);

// The folders a source syncs: its configured folders, or with all_folders every
// selectable remote folder, minus the excluded ones, in the remote's order.
[[nodiscard]] RemoteError SourceFolders(RemoteAccount* account, const SourceConfig& config,
                                        std::vector<std::string>* folders);

// The remote settings of a registered source (host, port, user, TLS; the password from
// the registry). A kLocal failure when the registry cannot give them.
[[nodiscard]] RemoteError SourceRemoteSettings(const SourceRegistry& registry,
                                               const SourceConfig& config,
                                               RemoteSettings* settings);

}  // namespace archiver::imapc
