// FolderCommitter: what one folder's sync has staged (the messages fetched, the skips and
// refusals, the retries settled) and the commit of each batch with its checkpoint through
// SourceRegistry::ArchiveBatch, which passes over exactly what the checkpoint covers. For
// DMARC sources the batch's reports are read before it and --after is applied on the
// remote only after it (source-dmarc.h). An archive source's batch is committed on a
// thread of its own (JobThread) while the next one is fetched. The fetch/plan loop is
// FolderSync's (source-folder-sync.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "archiver/job_thread.h"
#include "archiver/sources/sources.h"
#include "source-connect.h"
#include "source-dmarc.h"
#include "source-fetch.h"
#include "source-plan.h"
#include "source-sync.h"

struct mailbox;

namespace archiver::imapc {

// `status` (not ok) as a kLocal failure of the archive.
[[nodiscard]] RemoteError ArchiveFailure(const Status& status);

class FolderCommitter {
 public:
  // `registry`, `config`, `options` and `outcome` must outlive the committer; `outcome`
  // counts what every commit archived, skipped and deduplicated.
  FolderCommitter(SourceRegistry* registry, const SourceConfig& config, const SyncOptions& options,
                  SyncOutcome* outcome);

  // A new folder: its DMARC counts and its staged skips and refusals start empty.
  void StartFolder();
  // A run over the open folder `folder`, as `plan` (source-plan.h) decided for `remote`:
  // a fresh batch, the retry list the run fetches, the checkpoint it starts from.
  void BeginRun(const std::string& folder, const RemoteFolderState& remote, const FolderPlan& plan);

  // The first pass's decisions: its skips and refusals, and the retries gone.
  void Stage(FolderScan* scan);
  // A fetched chunk: its messages join the batch, what the remote could not give is
  // sorted as the scan's was.
  void Stage(FetchedMessages* fetched);

  // How far the checkpoint passes over once every batch is in (PassOverTo over what is
  // staged, from the run's starting checkpoint).
  uint32_t PassOverTo(uint32_t end_uid) const;

  // Commits the batch with the checkpoint at `last_uid` (>= every message staged), logs
  // the skips it passes over, then applies a DMARC source's --after. Not ok:
  // kLocal when the archive failed, kRemote when the folder's retry list is full (the
  // checkpoint then stops below the first refusal that did not fit).
  // An archive source's batch is committed on a thread of its own while the caller
  // fetches the next one (the commit mostly compresses and waits for the disk, the fetch
  // for the remote): then its failure is returned by the next Commit or by Finish. The
  // caller touches nothing the commit uses meanwhile: imapc and the staged state only.
  [[nodiscard]] RemoteError Commit(struct mailbox* box, uint32_t last_uid);

  // Waits for the batch a Commit left committing, if any, and settles it as Commit does
  // (its outcome counted, its skips logged). Call it before anything else writes to the
  // registry and at the end of a run, successful or not.
  [[nodiscard]] RemoteError Finish();

  // The fetch of `lost_at` dropped the connection (`failure`): it counts as a refusal and
  // what was fetched before it is committed with a checkpoint at it, so that it does not
  // block the folder. True when that commit succeeded (the caller may reconnect and run
  // the folder again).
  bool CommitBefore(struct mailbox* box, uint32_t lost_at, const RemoteError& failure);

  // Applies --after to `uids` of the open `box`, committed as pending in the folder's
  // checkpoint, and clears them there once the remote accepted it. A refusal is logged and
  // they stay pending for the next sync. Not ok (kLocal) only when the archive failed.
  [[nodiscard]] RemoteError ApplyAfter(struct mailbox* box, const std::string& folder,
                                       uint32_t uidvalidity, const std::vector<uint32_t>& uids);

  // DMARC sources: the folder's activity-log entry (none when nothing happened), its
  // counts added to the outcome. Fails (kLocal) when the log could not be written.
  [[nodiscard]] RemoteError LogDmarc(const std::string& folder);

  // Messages archived (stored or deduplicated) by this sync so far, over all folders:
  // committed, not merely started.
  uint64_t done() const { return done_; }
  // The checkpoint last committed in this run (the run's starting one before any).
  uint32_t committed_uid() const { return std::max(committed_uid_, start_last_uid_); }

 private:
  bool dmarc() const { return config_.purpose == SourcePurpose::kDmarc; }
  bool IsRetry(uint32_t uid) const;
  // Whether the checkpoint at `last_uid` (or the run's starting one) covers `uid`.
  bool Covered(uint32_t uid, uint32_t last_uid) const;
  // The batch to commit, leaving a fresh one of the same folder in its place.
  RemoteBatch TakeBatch();
  // What follows a commit of `batch` (`result`): its outcome counted, the checkpoint
  // moved back below a full retry list, the skips logged; a DMARC source's --after on
  // `act`.
  [[nodiscard]] RemoteError Settle(const Result<BatchResult>& result, const RemoteBatch& batch,
                                   struct mailbox* box, const std::vector<uint32_t>& act);
  // DMARC sources: reads the batch's reports into `act` (the UIDs --after applies to);
  // kLocal when that failed.
  [[nodiscard]] RemoteError ReadReports(std::vector<uint32_t>* act);
  // Moves the refusals and settled retries the checkpoint covers into the batch.
  void FileCovered();
  // Counts one ArchiveBatch's result.
  void Account(const BatchResult& result);
  // Logs the skips the checkpoint committed at `last_uid` has passed over, and forgets
  // them; kLocal when the log could not be written.
  [[nodiscard]] RemoteError LogSkips(uint32_t last_uid);

  SourceRegistry* registry_;
  const SourceConfig& config_;
  const std::string& source_;
  const SyncOptions& options_;
  SyncOutcome* outcome_;
  RemoteBatch batch_;
  std::vector<SkippedMessage> skips_;  // not yet passed over by a committed checkpoint
  std::vector<RetryMessage> refused_;  // refusals not yet committed with a checkpoint
  std::vector<uint32_t> retry_uids_;   // the folder's retry list this run fetches
  uint32_t start_last_uid_ = 0;        // the folder's checkpoint when the run began
  DmarcTally tally_;                   // this folder's DMARC counts
  uint64_t done_ = 0;
  uint32_t committed_uid_ = 0;                    // the checkpoint last committed in this run
  RemoteBatch committing_;                        // the batch job_ commits (archive sources)
  std::optional<Result<BatchResult>> committed_;  // its result, once job_ has run
  JobThread job_;  // last: destroyed (waiting for the commit) before what it reads
};

}  // namespace archiver::imapc
