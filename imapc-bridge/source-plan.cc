// A folder sync's decisions over plain data (source-plan.h).
#include "source-plan.h"

#include <algorithm>

#include "archiver/store/store.h"
#include "source-dovecot.h"

namespace archiver::imapc {

FolderPlan PlanFolder(const FolderCheckpoint& checkpoint, const RemoteFolderState& remote,
                      bool retried) {
  FolderPlan plan;
  plan.last_uid = checkpoint.last_uid;
  for (const RetryMessage& retry : checkpoint.retry) plan.retry.push_back(retry.uid);
  if (checkpoint.uidvalidity != 0 && checkpoint.uidvalidity != remote.uidvalidity) {
    plan.reset = true;
    plan.last_uid = 0;
    plan.retry.clear();
  }
  // A folder's retries are fetched once per sync, not again after a reconnect.
  if (retried) plan.retry.clear();
  // Pending --after actions go first, unless their UIDs went with the old UIDVALIDITY.
  plan.apply_pending_after = plan.last_uid != 0 && !checkpoint.pending_after.empty();
  plan.end_uid = remote.uidnext > 0 ? remote.uidnext - 1 : 0;
  plan.up_to_date = plan.end_uid <= plan.last_uid &&
                    checkpoint.remote_messages == remote.messages &&
                    checkpoint.uidvalidity == remote.uidvalidity && plan.retry.empty();
  return plan;
}

std::string OversizedReason(const std::string& context, uint32_t uid, uint64_t size,
                            uint64_t max_bytes) {
  return context + ": UID " + std::to_string(uid) + " of " + FormatBytes(size) +
         " is larger than the " + FormatBytes(max_bytes) + " a sync takes";
}

void FileScannedMessage(uint32_t uid, uint64_t size, const std::string& filtered,
                        uint64_t max_message_bytes, const std::string& context,
                        FolderScan* scan) {
  if (!filtered.empty()) {
    scan->skipped.push_back({uid, SkipKind::kFiltered, filtered});
  } else if (max_message_bytes != 0 && size > max_message_bytes) {
    scan->skipped.push_back(
        {uid, SkipKind::kOversized, OversizedReason(context, uid, size, max_message_bytes)});
  } else {
    scan->take.push_back({uid, size});
  }
}

std::vector<uint32_t> GoneRetries(const std::vector<uint32_t>& retry,
                                  const std::vector<uint32_t>& seen) {
  std::vector<uint32_t> gone;
  for (uint32_t uid : retry) {
    if (std::find(seen.begin(), seen.end(), uid) == seen.end()) gone.push_back(uid);
  }
  return gone;
}

size_t BatchEnd(const std::vector<ScannedMessage>& take, size_t begin, uint32_t max_messages,
                uint64_t max_bytes) {
  size_t end = begin;
  uint64_t bytes = 0;
  while (end < take.size() && end - begin < max_messages &&
         (end == begin || bytes + take[end].size <= max_bytes))
    bytes += take[end++].size;
  return end;
}

uint32_t PassOverTo(uint32_t end_uid, uint32_t last_uid,
                    const std::vector<SkippedMessage>& skipped,
                    const std::vector<RetryMessage>& refused) {
  uint32_t highest = std::max(end_uid, last_uid);
  for (const SkippedMessage& skip : skipped) highest = std::max(highest, skip.uid);
  for (const RetryMessage& message : refused) highest = std::max(highest, message.uid);
  return highest;
}

bool FilterSelects(const std::string& filter, const char* value) {
  if (filter.empty()) return true;
  if (value == nullptr) return false;
  std::string pattern = filter;
  if (filter.find_first_of("*?") == std::string::npos) pattern = "*" + filter + "*";
  return wildcard_match_icase(value, pattern.c_str());
}

}  // namespace archiver::imapc
