// What the store offers the subsystems that archive messages into it beside deliveries
// (remote sources): the archive writer with a hook for their own writes in its
// transaction, and the index of their deliveries, idx_source.
#pragma once

#include <lmdb.h>

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "archiver/status.h"
#include "archiver/store/store.h"
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

// The writes a batch adds to the archive writer's transaction.
struct BatchHook {
  std::function<Status(lmdb::Txn& txn)> before;  // before the deliveries (may refuse)
  std::function<Status(lmdb::Txn& txn)> after;   // after them, every outcome set
  std::string what;                              // the commit, in messages
};

// Archives `deliveries` as Store::ArchiveGroup does (hashing, compression outside the
// write lock, dedup, idempotency, the "message vanished, compress now" retry), in one
// write transaction with `hook`'s writes, committed always. The batch fails as a whole:
// any error (also `hook`'s) is returned and nothing is written. Messages over the size
// limit are the caller's to refuse first. `env` is a Store's (its databases are open).
Status ArchiveBatch(const std::shared_ptr<lmdb::ArchiveEnv>& env,
                    std::span<GroupDelivery> deliveries, const BatchHook& hook);

}  // namespace archiver::internal
