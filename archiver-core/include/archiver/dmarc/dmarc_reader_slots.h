// Who may read report mail in an archive, and how many at once: archiver-dmarc-reader
// processes of one archive agree through byte-range locks (open file description locks,
// released when the last holder ends, however it ends) on one lock file in the archive
// directory, `dmarc-reader.lock` (the mail uid's, as everything there).
// - One reader per mail: a second delivery of a mail being read (another recipient, an
//   MTA retry) does not read it again.
// - kDmarcReadingSlots readers read at once; up to kDmarcWaitingPlaces more wait for a slot (a
//   morning's burst of reports); past that a report mail is left for `doveadm dmarc
//   reprocess --unprocessed`, so that a flood of report mail cannot start readers
//   without end.
#pragma once

#include <chrono>
#include <string>

#include "archiver/digest.h"
#include "archiver/status.h"

namespace archiver {

constexpr int kDmarcReadingSlots = 4;
constexpr int kDmarcWaitingPlaces = 64;

enum class DmarcReaderClaim {
  kReading,       // this process holds the mail and a reading slot
  kTakenAlready,  // another reader holds the mail
  kBusy,          // no slot came free in time, or no place to wait for one
};

class DmarcReaderSlots {
 public:
  DmarcReaderSlots() = default;
  ~DmarcReaderSlots();
  DmarcReaderSlots(const DmarcReaderSlots&) = delete;
  DmarcReaderSlots& operator=(const DmarcReaderSlots&) = delete;

  // Opens (creates) the archive's lock file and claims `mail` and a slot, waiting for a
  // slot until `deadline`. The claims last while this process (or a child it forks) lives.
  Result<DmarcReaderClaim> ClaimFor(const std::string& archive_dir, const MessageId& mail,
                         std::chrono::steady_clock::time_point deadline);

 private:
  int fd_ = -1;
};

}  // namespace archiver
