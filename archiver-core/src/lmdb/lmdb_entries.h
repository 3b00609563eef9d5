// Entry-level helpers over an LMDB transaction shared by the stores built on the archive's
// environment (the store, DMARC, remote sources): put, delete and walk (all, or the keys
// with a prefix, backwards below a bound, the duplicates of one key) with failures as
// Status. A visitor's views are valid only until the transaction ends.
#pragma once

#include <lmdb.h>

#include <functional>
#include <optional>
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
// `from` as the key of MDB_SET_RANGE or MDB_SET_KEY), then moving by `step`, until the
// end or until `visit` sets *stop or fails (its Status is returned). A cursor failure is
// described as `what`. The duplicates of one key of a DUPSORT db: MDB_SET_KEY, the key,
// MDB_NEXT_DUP.
using EntryVisitor =
    std::function<Status(std::string_view key, std::string_view value, bool* stop)>;
Status WalkEntries(const lmdb::Txn& txn, MDB_dbi dbi, MDB_cursor_op first, std::string_view from,
                   MDB_cursor_op step, const EntryVisitor& visit,
                   std::string_view what = "read archive entries");

// Visits entries of `dbi` backwards, greatest first, from the greatest one below `below`
// (from the last one without it), stopping as WalkEntries does. With `duplicates_of`,
// `dbi` is DUPSORT and only that key's duplicates are visited, `below` bounding their
// values; without, every entry, `below` bounding the keys. A newest-first scan that goes
// on in a later transaction passes the last key (or value) it was given as `below`.
Status WalkBackwardsBelow(const lmdb::Txn& txn, MDB_dbi dbi,
                          std::optional<std::string_view> duplicates_of,
                          std::optional<std::string_view> below, const EntryVisitor& visit,
                          std::string_view what = "read archive entries");

// Visits the duplicates of `key` in the DUPSORT `dbi` from the first one at or after
// `from` (a value), in order, stopping as WalkEntries does.
Status WalkDuplicatesFrom(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                          std::string_view from, const EntryVisitor& visit,
                          std::string_view what = "read archive entries");

// Whether the DUPSORT `dbi` has `value` among the duplicates of `key`.
Result<bool> HasDuplicate(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                          std::string_view value, std::string_view what);

// The number of duplicates of `key` in the DUPSORT `dbi` (0 when absent), without
// reading them: what a lookup through that key would visit.
Result<size_t> CountDuplicates(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                               std::string_view what);

// Visits each distinct key of the DUPSORT `dbi` in key order with its number of
// duplicates, until `visit` sets *stop or fails (its Status is returned).
using KeyCountVisitor = std::function<Status(std::string_view key, size_t count, bool* stop)>;
Status WalkKeyCounts(const lmdb::Txn& txn, MDB_dbi dbi, const KeyCountVisitor& visit,
                     std::string_view what);

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
