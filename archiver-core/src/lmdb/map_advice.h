// ScanAdvice: what a scan tells the kernel about how it reads an archive's map. The
// environment is opened without read-ahead (MDB_NORDAHEAD: a point lookup faults in one
// page, not the megabytes of the disk's read-ahead); a scan asks for read-ahead for as long
// as it runs, and may ask for the ranges it is about to walk to be read now.
#pragma once

#include <cstdint>
#include <string_view>

#include "lmdb/archive_env.h"

namespace archiver::lmdb {

class ScanAdvice {
 public:
  // Advises the whole map of `env` as `access` until destroyed; then, once no other scan of
  // this process is running, back to no read-ahead. The advice is per process and
  // mapping: lookups this process makes meanwhile get read-ahead too. Failures of madvise
  // are ignored (advice only changes speed).
  ScanAdvice(ArchiveEnv& env, MapAccess access);
  ~ScanAdvice();
  ScanAdvice(const ScanAdvice&) = delete;
  ScanAdvice& operator=(const ScanAdvice&) = delete;

  // The offset in the map of `value`, a view a transaction of this environment returned;
  // UINT64_MAX when it does not point into the map as it was when this advice began (a
  // value copied out; the map moved when another process grew it). For a value on
  // overflow pages the view is computed without reading those pages.
  uint64_t OffsetOf(std::string_view value) const;
  // Asks the kernel to start reading [offset, offset + length) of the map now
  // (MADV_WILLNEED); clipped to the map.
  void WillNeed(uint64_t offset, uint64_t length) const;
  // Drops this process's mappings of the map's pages (MADV_DONTNEED on the read-only
  // shared map: the page cache keeps them, the next access maps them again), so that a
  // scan's resident memory is what it read since the last call, not the whole archive;
  // and the kernel may reclaim unmapped pages first under a memory limit. Views into the
  // map stay valid.
  void ReleaseMapped() const;

 private:
  ArchiveEnv& env_;
  char* map_address_ = nullptr;  // this process's mapping of the data file, when found
  uint64_t map_size_ = 0;
};

// Asks the kernel to read the pages of `value` (a view into the map from a transaction)
// now, in one request (MADV_WILLNEED), rather than a page per fault: the environment has
// no read-ahead. For values larger than a few pages; nothing for smaller ones.
void WillNeedValue(std::string_view value);

}  // namespace archiver::lmdb
