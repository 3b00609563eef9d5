// Starting archiver-dmarc-reader (plugin/reader/) for one archived report mail, and
// waiting for its answer as long as the caller chooses: a delivery waits
// archiver_dmarc_wait at most and leaves the reader to finish by itself; `doveadm dmarc
// reprocess` waits for it. Used by the mail plugin and the doveadm module alike.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/archiver-settings.h"
#include "archiver/dmarc/dmarc_reader_job.h"
#include "archiver/status.h"

namespace archiver::plugin {

// The job for reading `mail` of the archive `settings` name, with its limits.
DmarcReaderJob DmarcReaderJobFor(const ArchiverSettings& settings, const MessageId& mail,
                                 std::string user, std::string mailbox, std::string rcpt,
                                 bool again);

struct DmarcReaderRun {
  enum class State {
    kAnswered,      // `answer` is the reader's
    kStillReading,  // no answer within the wait: it goes on by itself
    kNoAnswer,      // it ended without one (could not start, killed before answering)
  };
  State state = State::kNoAnswer;
  DmarcReaderAnswer answer;
};

// Starts the reader and waits up to `wait` for its answer (nullopt: until it ends).
// With job.mail_on_fd, `mail` is handed to it (in a memfd on its fd 3). NotFound when the
// reader program is not installed (its path named), IOError when it cannot be started.
Result<DmarcReaderRun> RunDmarcReader(const DmarcReaderJob& job,
                                      std::optional<std::chrono::milliseconds> wait,
                                      std::string_view mail = {});

// Runs the reader until it ends (doveadm: reprocess, a DMARC source's sync) and returns
// what came of the mail; a reading stopped by a fault is its one error. IOError when the
// archive or the reader failed, or when the mail could not be read now (another reader
// has it, or the archive's readers are all busy): then it may be tried again.
Result<DmarcItemTally> ReadWithDmarcReader(const DmarcReaderJob& job, std::string_view mail = {});

// Where the reader program is: beside this module's file when it is there (a build
// tree), else where it is installed (ARCHIVER_DMARC_READER_PATH).
std::string DmarcReaderPath();

}  // namespace archiver::plugin
