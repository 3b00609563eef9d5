// What a folder's sync does, decided from plain data: which UIDs it scans (the checkpoint,
// its retry list, a changed UIDVALIDITY), what becomes of each scanned message (taken,
// skipped by a DMARC filter or for its size), which retries the remote no longer has, how
// the messages taken are cut into batches, and how far the checkpoint may pass over.
// The Dovecot calls around these decisions are in source-scan.cc and source-folder-sync.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "archiver/sources/sources.h"

namespace archiver::imapc {

// A message the second pass fetches.
struct ScannedMessage {
  uint32_t uid = 0;
  uint64_t size = 0;  // RFC822.SIZE as the remote reports it
};

enum class SkipKind {
  kFiltered,   // not selected by a DMARC source's filters: neither read nor touched
  kOversized,  // larger than SyncOptions::max_message_bytes (or the DMARC --max-size)
};

struct SkippedMessage {
  uint32_t uid = 0;
  SkipKind kind = SkipKind::kFiltered;
  std::string reason;  // "UID 7 of 12.0 MiB is larger than 8.0 MiB"
};

struct FolderScan {
  std::vector<ScannedMessage> take;     // by UID
  std::vector<SkippedMessage> skipped;  // by UID
  std::vector<RetryMessage> refused;    // by UID: the remote refused them (a FETCH NO)
  std::vector<uint32_t> gone;           // of `retry`: no longer on the remote
};

// A folder as the remote reports it once selected.
struct RemoteFolderState {
  uint32_t uidvalidity = 0;
  uint32_t messages = 0;
  uint32_t uidnext = 0;  // 0: not reported
};

struct FolderPlan {
  bool reset = false;                // the UIDVALIDITY changed: the folder starts again
  uint32_t last_uid = 0;             // the UIDs above it are new
  std::vector<uint32_t> retry;       // the retry list this run fetches
  bool apply_pending_after = false;  // the checkpoint's pending --after actions go first
  uint32_t end_uid = 0;              // the highest UID the remote has given out
  bool up_to_date = false;           // nothing new, nothing to record: the run ends here
};

// The plan of one run over a folder with `checkpoint` that the remote reports as
// `remote`. `retried`: this sync fetched the folder's retry list before (the run after a
// reconnect), so it is not fetched again.
FolderPlan PlanFolder(const FolderCheckpoint& checkpoint, const RemoteFolderState& remote,
                      bool retried);

// Why message `uid` of `size` bytes is not fetched: "folder F: UID 7 of 12.0 MiB is larger
// than the 8.0 MiB a sync takes". `context` is "folder F".
std::string OversizedReason(const std::string& context, uint32_t uid, uint64_t size,
                            uint64_t max_bytes);

// Files scanned message `uid` of `size` bytes under `scan`: skipped when `filtered` says
// why a DMARC filter does not select it ("" when it does), skipped when larger than
// `max_message_bytes` (0: no limit), else taken.
void FileScannedMessage(uint32_t uid, uint64_t size, const std::string& filtered,
                        uint64_t max_message_bytes, const std::string& context,
                        FolderScan* scan);

// The UIDs of `retry` that are not in `seen` (the retries the remote still has), in the
// order of `retry`.
std::vector<uint32_t> GoneRetries(const std::vector<uint32_t>& retry,
                                  const std::vector<uint32_t>& seen);

// The end of the batch that begins at take[begin]: at most `max_messages` messages, and
// no more than `max_bytes` bytes unless its first message alone is larger.
size_t BatchEnd(const std::vector<ScannedMessage>& take, size_t begin, uint32_t max_messages,
                uint64_t max_bytes);

// How far the checkpoint passes over once every batch is in: the end of the remote's
// UIDs, the old checkpoint, and each UID skipped or refused, whichever is highest.
uint32_t PassOverTo(uint32_t end_uid, uint32_t last_uid,
                    const std::vector<SkippedMessage>& skipped,
                    const std::vector<RetryMessage>& refused);

// Whether a DMARC filter (--subject-filter, --sender-filter) selects `value`: "" selects
// everything; a filter with * or ? is a wildcard pattern over the whole value, any other
// text a substring; ASCII letters compare case-insensitively. A null value (no such
// header) is selected only by "".
bool FilterSelects(const std::string& filter, const char* value);

}  // namespace archiver::imapc
