// What the store offers the subsystems that archive messages into it beside deliveries
// (remote sources): the index of their deliveries, idx_source.
#pragma once

#include <lmdb.h>

#include "archiver/status.h"
#include "lmdb/archive_env.h"

namespace archiver::internal {

// idx_source (docs/store-format.md, "Sources"): the deliveries of each remote source.
// Archives written before sources lack it, so it is opened on first use.
inline constexpr const char* kSourceIndexDb = "idx_source";  // name -> delivery keys (dup)
struct SourceIndex {
  MDB_dbi idx_source = 0;
};

// idx_source of `env`, created when `write` and missing (InvalidArgument for a read-only
// archive). Null (Ok) when it is missing and !write: no source ever wrote to this archive.
Result<const SourceIndex*> OpenSourceIndex(lmdb::ArchiveEnv& env, bool write);

}  // namespace archiver::internal
