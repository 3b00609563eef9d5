// The settings an archive is opened with: what the first Store::Open of a path in a
// process decides for the LMDB environment and for every subsystem built on it (the
// Store, DmarcStore and SourceRegistry share that environment).
#pragma once

#include <cstdint>
#include <string>

namespace archiver {

struct StoreOptions {
  std::string path;                          // directory holding data.mdb and lock.mdb
  uint64_t map_size = 16ULL << 30;           // LMDB map size in bytes (default 16 GiB)
  int compression_level = 6;                 // zlib level 1..9, or 0 for no compression
  bool create_if_missing = true;             // create the directory (mode 0700) and files (0600);
                                             // false: NotFound when there is no data.mdb
  bool read_only = false;                    // open for reading only (doveadm queries)
  bool sync = true;                          // fsync each commit (durable before the ack)
  // With sync: also flush the meta page (LMDB's second flush). false = MDB_NOMETASYNC:
  // one flush per commit, integrity kept, but a system crash may undo the last commit.
  bool meta_sync = true;
  // The longest a write waits for another process's write to finish (LMDB alone would wait
  // forever for a stopped one); then it fails with an IOError. 0 = no limit.
  uint64_t write_wait_ms = 30'000;
  // The most the DMARC databases may take of the map before new reports are refused
  // (LimitExceeded; the mail that carried them is archived all the same). 0 = an eighth
  // of the map size.
  uint64_t dmarc_max_space = 0;
};

}  // namespace archiver
