// DmarcReaderSlots (dmarc_reader_slots.h): F_OFD_SETLK byte-range locks on dmarc-reader.lock. Bytes
// [0, kDmarcReadingSlots) are the reading slots, the next kDmarcWaitingPlaces the waiting places,
// and each mail has one byte past those, chosen by its id.
#include "archiver/dmarc/dmarc_reader_slots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "archiver/archive_access.h"

namespace archiver {
namespace {

constexpr off_t kMailBytesFrom = kDmarcReadingSlots + kDmarcWaitingPlaces;

// Locks (F_WRLCK) or unlocks (F_UNLCK) the byte at `offset` without waiting: true when
// done (a lock another holder has is not).
bool SetLock(int fd, off_t offset, short type) {
  struct flock lock;
  std::memset(&lock, 0, sizeof(lock));
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = offset;
  lock.l_len = 1;
  return fcntl(fd, F_OFD_SETLK, &lock) == 0;
}

bool TryLock(int fd, off_t offset) { return SetLock(fd, offset, F_WRLCK); }

off_t MailByte(const MessageId& mail) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | mail[i];
  return kMailBytesFrom + static_cast<off_t>(value % (1ULL << 40));
}

bool TryAny(int fd, off_t from, int count) {
  for (int i = 0; i < count; ++i)
    if (TryLock(fd, from + i)) return true;
  return false;
}

}  // namespace

DmarcReaderSlots::~DmarcReaderSlots() {
  if (fd_ >= 0) close(fd_);
}

Result<DmarcReaderClaim> DmarcReaderSlots::ClaimFor(const std::string& archive_dir, const MessageId& mail,
                                    std::chrono::steady_clock::time_point deadline) {
  Result<ArchiveOwner> owner = InspectArchiveDirectory(archive_dir);
  if (!owner.ok()) return owner.status();
  const std::string path = archive_dir + "/dmarc-reader.lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, owner->file_mode());
  if (fd_ < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  Status checked = CheckArchiveFiles(archive_dir, *owner, {"dmarc-reader.lock"});
  if (!checked.ok()) return checked;
  if (!TryLock(fd_, MailByte(mail))) return DmarcReaderClaim::kTakenAlready;
  if (TryAny(fd_, 0, kDmarcReadingSlots)) return DmarcReaderClaim::kReading;
  // A place in the queue first, then a slot; the place is given back once a slot is held.
  for (int place = 0; place < kDmarcWaitingPlaces; ++place) {
    const off_t byte = kDmarcReadingSlots + place;
    if (!TryLock(fd_, byte)) continue;
    while (std::chrono::steady_clock::now() < deadline) {
      if (TryAny(fd_, 0, kDmarcReadingSlots)) {
        (void)SetLock(fd_, byte, F_UNLCK);
        return DmarcReaderClaim::kReading;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return DmarcReaderClaim::kBusy;
  }
  return DmarcReaderClaim::kBusy;
}

}  // namespace archiver
