// ScanAdvice (map_advice.h): madvise of an archive's map for the duration of a scan.
#include "lmdb/map_advice.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>

namespace archiver::lmdb {
namespace {

int AdviceOf(MapAccess access) {
  switch (access) {
    case MapAccess::kSequential:
      return MADV_SEQUENTIAL;
    case MapAccess::kNormal:
      return MADV_NORMAL;
    case MapAccess::kLookups:
      break;
  }
  return MADV_RANDOM;  // what LMDB advises for MDB_NORDAHEAD
}

struct Map {
  char* address = nullptr;
  uint64_t size = 0;
};

// Where this process maps the data file of `env`: LMDB does not say (me_mapaddr is set
// only for MDB_FIXEDMAP), /proc/self/maps does (the mapping of that device and inode).
Map MapOf(MDB_env* env) {
  int fd = -1;
  struct stat st;
  if (env == nullptr || mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0) return {};
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return {};
  Map found;
  char line[4096];
  while (found.address == nullptr && std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long long start = 0, end = 0, inode = 0;
    unsigned int major_id = 0, minor_id = 0;
    if (std::sscanf(line, "%llx-%llx %*s %*s %x:%x %llu", &start, &end, &major_id, &minor_id,
                    &inode) == 5 &&
        inode == st.st_ino && major_id == major(st.st_dev) && minor_id == minor(st.st_dev))
      found = {reinterpret_cast<char*>(start), end - start};
  }
  std::fclose(maps);
  return found;
}

// madvise of [offset, offset + length) of the map, widened to whole pages.
void Advise(const Map& map, uint64_t offset, uint64_t length, int advice) {
  if (map.address == nullptr || offset >= map.size) return;
  if (length > map.size - offset) length = map.size - offset;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  (void)madvise(map.address + start, length + (offset - start), advice);
}

}  // namespace

void ArchiveEnv::AdviseScan(MapAccess access, bool begin) {
  std::lock_guard lock(scan_mutex_);
  const int before = scans_;
  scans_ += begin ? 1 : -1;
  // The first scan's advice holds until the last one ends; lookups get their map back.
  if (begin && before == 0) Advise(MapOf(env_.get()), 0, UINT64_MAX, AdviceOf(access));
  if (!begin && scans_ == 0)
    Advise(MapOf(env_.get()), 0, UINT64_MAX, AdviceOf(MapAccess::kLookups));
}

ScanAdvice::ScanAdvice(ArchiveEnv& env, MapAccess access) : env_(env) {
  env_.AdviseScan(access, true);
  const Map map = MapOf(env_.get());
  map_address_ = map.address;
  map_size_ = map.size;
}

ScanAdvice::~ScanAdvice() { env_.AdviseScan(MapAccess::kLookups, false); }

uint64_t ScanAdvice::OffsetOf(std::string_view value) const {
  const Map map{map_address_, map_size_};
  const char* data = value.data();
  if (map.address == nullptr || data < map.address || data >= map.address + map.size)
    return UINT64_MAX;
  return static_cast<uint64_t>(data - map.address);
}

void ScanAdvice::WillNeed(uint64_t offset, uint64_t length) const {
  Advise(Map{map_address_, map_size_}, offset, length, MADV_WILLNEED);
}

void WillNeedValue(std::string_view value) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  if (value.size() <= 2 * page) return;
  const uintptr_t start = reinterpret_cast<uintptr_t>(value.data()) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(value.data()) + value.size();
  (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_WILLNEED);
}

void ScanAdvice::ReleaseMapped() const {
  Advise(Map{map_address_, map_size_}, 0, UINT64_MAX, MADV_DONTNEED);
}

}  // namespace archiver::lmdb
