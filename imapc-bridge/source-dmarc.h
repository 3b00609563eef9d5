// DMARC sources: a remote report mailbox whose mails, once fetched, go through the DMARC
// pipeline (read by the glue, which knows the settings and the MIME walk), and the
// `--after` action applied on the remote only once the reports and the batch's checkpoint
// are committed (with the UIDs whose action is pending, cleared once the remote accepted
// it: a crash or a refusal in between leaves them for the next sync, source-commit.cc).
// A mail in which no report was found is archived and counted as failed,
// but left untouched on the remote for a human to look at.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/sources/sources.h"
#include "archiver/status.h"
#include "source-failure.h"

struct mailbox;

namespace archiver::imapc {

// Reads one report mail into the archive's DMARC store and notes it in the DMARC ledger
// (the glue's ReadArchivedDmarcMail); `noted` comes with mail, user (the source) and
// mailbox (the folder) set and is filled with the counts. Non-OK only when the store
// fails: nothing is lost then, the batch is not committed and is read again next time.
using DmarcMailReader =
    std::function<Status(std::string_view mail, const DmarcOrigin& origin, DmarcMail* noted)>;

// What the DMARC side of a sync did in one folder.
struct DmarcTally {
  uint64_t mails = 0;     // mails read with at least one report
  uint64_t reports = 0;   // aggregate reports stored or found again
  uint64_t failures = 0;  // failure reports stored or found again
  uint64_t failed = 0;    // mails in which no report could be read (left on the remote)
  uint64_t filtered = 0;  // mails the filters did not select (neither read nor touched)
  uint64_t acted = 0;     // mails the --after action was applied to
  std::string errors;     // "; "-joined: failed mails, a failed --after action
};

// Adds one folder's counts and errors to `total`.
void AddDmarcTally(DmarcTally* total, const DmarcTally& folder);

// The activity-log entry of one folder's DMARC side in one sync: "dmarc FOLDER: 3 mails
// with reports (2 aggregate, 1 failure), 0 failed, 1 skipped by the filters, 3 seen".
std::string DmarcFolderSummary(const std::string& folder, const DmarcTally& tally,
                               SourceAfter after);

// Reads the mails of one batch (`uids[i]` is the UID of `mails[i]`) through `reader`, with
// origin kind "imap", detail "SOURCE/FOLDER" and the archived id. `act` receives the UIDs
// whose mail held a report. Non-OK when the reader fails.
Status ReadBatchReports(const DmarcMailReader& reader, const std::string& source,
                        const std::string& folder, const std::vector<uint32_t>& uids,
                        const std::vector<std::string_view>& mails, std::vector<uint32_t>* act,
                        DmarcTally* tally);

// Applies config.after to the messages `uids` of the open, writable `box` (flag \Seen,
// move to config.after_folder — created when missing —, or expunge) and pushes the
// change to the remote. UIDs gone meanwhile are passed over. Fails (kRemote) when the
// remote refused: the reports stay, the caller logs it.
[[nodiscard]] RemoteError ApplyAfterAction(struct mailbox* box, const SourceConfig& config,
                                           const std::vector<uint32_t>& uids);

}  // namespace archiver::imapc
