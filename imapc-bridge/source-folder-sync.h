// FolderSync: one run over one remote folder, the fetch/plan loop. It reads where the
// folder stands (checkpoint, UIDVALIDITY), plans the run (source-plan.h), scans the UIDs
// above the checkpoint and the retry list (source-scan.h), fetches them in chunks
// (source-fetch.h) and hands each chunk to its FolderCommitter (source-commit.h), which
// commits it with the checkpoint. SyncSource (source-sync.h) runs it per folder.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "archiver/sources/sources.h"
#include "source-commit.h"
#include "source-connect.h"
#include "source-plan.h"
#include "source-sync.h"

struct mailbox;

namespace archiver::imapc {

class FolderSync {
 public:
  // `registry`, `config`, `options` and `outcome` must outlive the object; `outcome`
  // counts what every run archived.
  FolderSync(SourceRegistry* registry, const SourceConfig& config, const SyncOptions& options,
             SyncOutcome* outcome);

  // The connection the next Run uses (replaced after a reconnect).
  void set_account(RemoteAccount* account) { account_ = account; }
  // True once after a Run that stopped at a message whose FETCH dropped the connection:
  // that message is in the retry list and what came before it is committed; the
  // connection must be made again, then the folder run again.
  bool TakeReconnect() { return std::exchange(reconnect_, false); }

  // Syncs `folder` up to the remote's end; the outcome counts what was archived even
  // when it fails.
  [[nodiscard]] RemoteError Run(const std::string& folder);

 private:
  bool dmarc() const { return config_.purpose == SourcePurpose::kDmarc; }
  [[nodiscard]] RemoteError BeginRun(struct mailbox* box, const std::string& folder,
                                     FolderPlan* plan);
  [[nodiscard]] RemoteError RunOpen(struct mailbox* box, const std::string& folder);
  [[nodiscard]] RemoteError FetchChunk(struct mailbox* box, const std::vector<ScannedMessage>& take,
                                       size_t begin, size_t end);

  SourceRegistry* registry_;
  RemoteAccount* account_ = nullptr;
  const SourceConfig& config_;
  const std::string& source_;
  const SyncOptions& options_;
  FolderCommitter committer_;
  std::set<std::string> retried_;  // folders whose retries this sync fetched
  uint32_t lost_at_ = 0;           // the UID whose FETCH dropped the connection (0: none)
  bool reconnect_ = false;
};

}  // namespace archiver::imapc
