// The owners of importing DMARC reports (see dmarc_import_owner.h).
#include "dmarc/dmarc_import_owner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>
#include <utility>

#include "archiver/time_format.h"

namespace archiver::internal {
namespace {

// An importing report whose owner has committed nothing for this long is abandoned,
// even if a process with its pid exists (pids are reused).
constexpr uint64_t kStaleImportUs = 15ULL * 60 * 1000000;

// Reports this process is importing right now. An importing report owned by this
// process but not listed here was left by an import that could not clean up.
struct ActiveImports {
  std::mutex mutex;
  std::set<std::pair<const lmdb::ArchiveEnv*, uint64_t>> reports;
};

ActiveImports& Active() {
  static ActiveImports* active = new ActiveImports();  // never destroyed, like the registry
  return *active;
}

}  // namespace

void RegisterImport(const lmdb::ArchiveEnv& archive, uint64_t id, bool running) {
  std::lock_guard lock(Active().mutex);
  if (running) {
    Active().reports.insert({&archive, id});
  } else {
    Active().reports.erase({&archive, id});
  }
}

bool ImportOwnerAlive(const lmdb::ArchiveEnv& archive, uint64_t id,
                      const dmarc_codec::StoredReport& stored) {
  const uint64_t now = NowMicros();
  if (now > stored.heartbeat_us && now - stored.heartbeat_us > kStaleImportUs) return false;
  if (stored.owner_pid == static_cast<uint64_t>(getpid())) {
    std::lock_guard lock(Active().mutex);
    return Active().reports.count({&archive, id}) != 0;
  }
  const auto pid = static_cast<pid_t>(stored.owner_pid);
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace archiver::internal
