// The second pass over a remote folder: the messages a scan took, fetched with their
// bytes, INTERNALDATE and flags in one UID search whose FETCHes imapc pipelines. What the
// remote cannot give is sorted, not failed: gone meanwhile, refused (a FETCH NO), larger
// once read than a sync takes; only a dropped connection stops the fetch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "archiver/sources/sources.h"
#include "source-connect.h"
#include "source-plan.h"

struct mailbox;

namespace archiver::imapc {

// What one fetch brought, each list in UID order.
struct FetchedMessages {
  std::vector<RemoteMessage> messages;    // read whole
  std::vector<uint32_t> expunged;         // gone from the remote meanwhile
  std::vector<RetryMessage> refused;      // the remote refused to give them
  std::vector<SkippedMessage> oversized;  // larger than the limit once read
  uint32_t lost_at = 0;                   // the UID whose FETCH dropped the connection (0: none)
};

// Fetches take[begin, end) of the open `box`; a message larger than `max_message_bytes`
// (0: no limit) is not kept. Fails when the connection did (at `fetched->lost_at` when it
// was while giving a message) or the search did; what came before stays in `fetched`.
[[nodiscard]] RemoteError FetchMessages(RemoteAccount* account, struct mailbox* box,
                                        const std::vector<ScannedMessage>& take, size_t begin,
                                        size_t end, uint64_t max_message_bytes,
                                        FetchedMessages* fetched);

}  // namespace archiver::imapc
