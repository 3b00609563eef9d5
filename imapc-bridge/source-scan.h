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
#include "source-plan.h"

struct mailbox;

namespace archiver::imapc {

struct ScanRules {
  const SourceConfig* config = nullptr;  // purpose, DMARC filters
  uint64_t max_message_bytes = 0;        // 0: no limit
  uint64_t now_seconds = 0;              // for max_age
};

// Scans the UIDs in `retry` and those above `last_uid` of the open `box` (already
// synced). Fails when the connection does: a failure that concerns one message only (the
// remote answered NO for it) lands in `refused` instead.
[[nodiscard]] RemoteError ScanFolder(RemoteAccount* account, struct mailbox* box,
                                     const std::vector<uint32_t>& retry, uint32_t last_uid,
                                     const ScanRules& rules, FolderScan* scan);

}  // namespace archiver::imapc
