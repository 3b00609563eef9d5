// Entry-level helpers over an LMDB transaction shared by the stores built on the archive's
// environment (the store, DMARC, remote sources): put, delete and walk (all, or the keys
// with a prefix) with failures as Status.
#pragma once

#include <lmdb.h>

#include <functional>
#include <string_view>

#include "archiver/status.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

// Ok when deleted, Ok too when absent; `value` selects one duplicate in a DUPSORT db.
Status DeleteEntry(lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                   const std::string_view* value = nullptr);

// mdb_put, failures described as `what` (MapFull keeps its category).
Status PutEntry(lmdb::Txn& txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                std::string_view what, unsigned flags = 0);

// Visits the entries of `dbi` in cursor order: from where `first` puts the cursor (with
// `from` as the key of MDB_SET_RANGE), then moving by `step`, until the end or until
// `visit` sets *stop or fails (its Status is returned). A cursor failure is described as
// `what`.
using EntryVisitor =
    std::function<Status(std::string_view key, std::string_view value, bool* stop)>;
Status WalkEntries(const lmdb::Txn& txn, MDB_dbi dbi, MDB_cursor_op first, std::string_view from,
                   MDB_cursor_op step, const EntryVisitor& visit,
                   std::string_view what = "read archive entries");

// Deletes every entry of `dbi` whose key starts with `prefix`.
Status DeletePrefixed(lmdb::Txn& txn, MDB_dbi dbi, std::string_view prefix);

// Visits the entries of `dbi` whose key starts with `prefix`, in key order (backwards
// when `reverse`), until `visit` returns false or fails.
using PrefixVisitor =
    std::function<Status(std::string_view key, std::string_view value, bool* more)>;
Status WalkPrefixed(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view prefix, bool reverse,
                    const PrefixVisitor& visit,
                    std::string_view what = "read the source databases");

}  // namespace archiver::internal
