// The first pass over a remote folder: the UIDs of its retry list and those above the
// checkpoint, with their size, INTERNALDATE and (for DMARC sources) Subject and From,
// fetched without the bodies, and the decision per message: fetch it, skip it (a DMARC
// filter does not select it; it is larger than the sync takes), or retry it later (the
// remote refused to give its size). Skipped messages are passed over by the checkpoint
// like archived ones, so none of them blocks a source; refused ones enter the retry list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "archiver/sources/sources.h"
#include "source-connect.h"

struct mailbox;

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

struct ScanRules {
  const SourceConfig* config = nullptr;  // purpose, DMARC filters
  uint64_t max_message_bytes = 0;        // 0: no limit
  uint64_t now_seconds = 0;              // for max_age
};

struct FolderScan {
  std::vector<ScannedMessage> take;     // by UID
  std::vector<SkippedMessage> skipped;  // by UID
  std::vector<RetryMessage> refused;    // by UID: the remote refused them (a FETCH NO)
  std::vector<uint32_t> gone;           // of `retry`: no longer on the remote
};

// Scans the UIDs in `retry` and those above `last_uid` of the open `box` (already
// synced). False with `error` when the connection fails: a failure that concerns one
// message only (the remote answered NO for it) lands in `refused` instead.
bool ScanFolder(RemoteAccount* account, struct mailbox* box, const std::vector<uint32_t>& retry,
                uint32_t last_uid, const ScanRules& rules, FolderScan* scan, RemoteError* error);

// True when `error` is about the connection or the account (DNS, TCP, TLS,
// authentication, local) rather than one message: the sync must stop then.
bool IsConnectionFailure(const RemoteError& error);

// Whether a DMARC filter (--subject-filter, --sender-filter) selects `value`: "" selects
// everything; a filter with * or ? is a wildcard pattern over the whole value, any other
// text a substring; ASCII letters compare case-insensitively.
bool FilterSelects(const std::string& filter, const char* value);

}  // namespace archiver::imapc
