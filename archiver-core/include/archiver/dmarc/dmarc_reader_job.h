// What a report delivery (or `doveadm dmarc reprocess`) asks of archiver-dmarc-reader, the
// separate process that reads an archived report mail, and what it answers. A report mail
// is hostile input: it is read in a process of its own with limits on its memory, CPU
// time and wall time, so that no parser fault can hold up or fail a delivery (issue 15,
// item 3). The job travels on the reader's stdin, the answer on its stdout: both are
// small texts encoded here, so that both ends agree on them.
//
// Job: "key=value" lines, values percent-escaped (%, CR, LF, NUL). Unknown keys are an
// error (a reader older than its caller). Answer: one line, tab-separated.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/digest.h"
#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/status.h"
#include "archiver/store/store.h"

namespace archiver {

struct DmarcReaderJob {
  StoreOptions store;             // the archive holding the mail (path, map size, …)
  DmarcPipelineOptions pipeline;  // the settings' limits and the mail's budget
  MessageId mail{};               // the archived report mail
  std::string user;               // noted in the ledger with it
  std::string mailbox;
  std::string rcpt;               // the reports' origin detail: the envelope recipient
                                  // ("mail"), the source and folder ("imap")
  // DmarcOrigin::kind: kMail (a delivery) or kImap (a remote source's mail).
  DmarcOriginKind origin_kind = DmarcOriginKind::kMail;
  // false: the mail is read from the archive. true: its bytes come on the reader's fd 3
  // (a mail a remote source's sync has fetched and not committed yet); `mail` is their
  // SHA-256, which the reader checks.
  bool mail_on_fd = false;
  // false (a delivery): a mail the ledger has noted already is not read again.
  // true (`doveadm dmarc reprocess`): its old errors are forgotten and it is read again.
  bool again = false;

  // The reader's wall-clock limit: the mail's time budget and a margin for storing.
  std::chrono::milliseconds Deadline() const;
};

std::string EncodeDmarcReaderJob(const DmarcReaderJob& job);
// InvalidArgument naming the line for anything malformed, unknown or missing.
Result<DmarcReaderJob> DecodeDmarcReaderJob(std::string_view text);

struct DmarcReaderAnswer {
  // "read": the mail was read (tally says what came of it); "already": noted before, not
  // read again; "reading": another reader is reading it now; "busy": too many readers at
  // work on the archive, the mail is left unread (`doveadm dmarc reprocess
  // --unprocessed`); "failed": the archive failed (message says how; the mail may be read
  // again); "stopped": the reading was stopped (crashed, killed at a limit: message) and
  // noted in the ledger as one "mail" error.
  std::string outcome;
  DmarcItemTally tally;
  std::string message;
};

// One line ending in '\n'; tabs and line breaks in the texts become spaces, and a text
// longer than 4000 bytes is cut (an answer always fits 64 KiB).
std::string EncodeDmarcReaderAnswer(const DmarcReaderAnswer& answer);
// InvalidArgument for anything but one complete answer line.
Result<DmarcReaderAnswer> DecodeDmarcReaderAnswer(std::string_view line);

}  // namespace archiver
