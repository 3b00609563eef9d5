// Entry-level helpers over an LMDB transaction (lmdb_entries.h).
#include "lmdb/lmdb_entries.h"

#include <string>
#include <vector>

namespace archiver::internal {

Status DeleteEntry(lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                   const std::string_view* value) {
  MDB_val key_val = lmdb::ToVal(key);
  MDB_val value_val = value != nullptr ? lmdb::ToVal(*value) : MDB_val{};
  int rc = mdb_del(txn.get(), dbi, &key_val, value != nullptr ? &value_val : nullptr);
  if (rc == MDB_NOTFOUND) return Status::Ok();
  return lmdb::ToStatus(rc, "delete an archive entry", txn.env());
}

Status PutEntry(lmdb::Txn& txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                std::string_view what, unsigned flags) {
  MDB_val key_val = lmdb::ToVal(key);
  MDB_val value_val = lmdb::ToVal(value);
  int rc = mdb_put(txn.get(), dbi, &key_val, &value_val, flags);
  return lmdb::ToStatus(rc, what, txn.env());
}

namespace {

// The walk shared by the helpers: `rc` is the result of positioning the cursor on the
// entry in key/value.
Status VisitFrom(lmdb::Cursor& cursor, int rc, MDB_val* key, MDB_val* value, MDB_cursor_op step,
                 const EntryVisitor& visit, std::string_view what) {
  for (; rc == 0; rc = cursor.Get(key, value, step)) {
    bool stop = false;
    Status visited = visit(lmdb::ToView(*key), lmdb::ToView(*value), &stop);
    if (!visited.ok() || stop) return visited;
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, what);
  return Status::Ok();
}

// Puts the cursor on the greatest duplicate of `of` below `below` (or its last one).
int PositionOnDuplicateBelow(lmdb::Cursor& cursor, std::string_view of,
                             std::optional<std::string_view> below, MDB_val* key, MDB_val* value) {
  if (below) {
    *key = lmdb::ToVal(of);
    *value = lmdb::ToVal(*below);
    int rc = cursor.Get(key, value, MDB_GET_BOTH_RANGE);  // the first duplicate at or after
    if (rc == 0) return cursor.Get(key, value, MDB_PREV_DUP);
    if (rc != MDB_NOTFOUND) return rc;
  }
  *key = lmdb::ToVal(of);  // no key `of`, or every duplicate is below
  int rc = cursor.Get(key, value, MDB_SET_KEY);
  return rc == 0 ? cursor.Get(key, value, MDB_LAST_DUP) : rc;
}

// Puts the cursor on the greatest key below `below` (or the last one).
int PositionBelow(lmdb::Cursor& cursor, std::optional<std::string_view> below, MDB_val* key,
                  MDB_val* value) {
  if (!below) return cursor.Get(key, value, MDB_LAST);
  *key = lmdb::ToVal(*below);
  int rc = cursor.Get(key, value, MDB_SET_RANGE);  // the first key at or after below
  if (rc == 0) return cursor.Get(key, value, MDB_PREV);
  return rc == MDB_NOTFOUND ? cursor.Get(key, value, MDB_LAST) : rc;
}

}  // namespace

Status WalkEntries(const lmdb::Txn& txn, MDB_dbi dbi, MDB_cursor_op first, std::string_view from,
                   MDB_cursor_op step, const EntryVisitor& visit, std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = lmdb::ToVal(from), value = {};
  int rc = cursor->Get(&key, &value, first);
  return VisitFrom(*cursor, rc, &key, &value, step, visit, what);
}

Status WalkBackwardsBelow(const lmdb::Txn& txn, MDB_dbi dbi,
                          std::optional<std::string_view> duplicates_of,
                          std::optional<std::string_view> below, const EntryVisitor& visit,
                          std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = {}, value = {};
  if (duplicates_of) {
    int rc = PositionOnDuplicateBelow(*cursor, *duplicates_of, below, &key, &value);
    return VisitFrom(*cursor, rc, &key, &value, MDB_PREV_DUP, visit, what);
  }
  int rc = PositionBelow(*cursor, below, &key, &value);
  return VisitFrom(*cursor, rc, &key, &value, MDB_PREV, visit, what);
}

Status WalkDuplicatesFrom(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                          std::string_view from, const EntryVisitor& visit,
                          std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key_val = lmdb::ToVal(key), value = lmdb::ToVal(from);
  int rc = cursor->Get(&key_val, &value, MDB_GET_BOTH_RANGE);
  return VisitFrom(*cursor, rc, &key_val, &value, MDB_NEXT_DUP, visit, what);
}

Result<bool> HasDuplicate(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                          std::string_view value, std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key_val = lmdb::ToVal(key), value_val = lmdb::ToVal(value);
  int rc = cursor->Get(&key_val, &value_val, MDB_GET_BOTH);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb::ToStatus(rc, what);
  return true;
}

Status WalkPrefixed(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view prefix, bool reverse,
                    const PrefixVisitor& visit, std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  std::string from(prefix);
  if (reverse) {
    // The first key after every key with the prefix ("name\0" -> "name\1").
    while (!from.empty() && static_cast<unsigned char>(from.back()) == 0xFF) from.pop_back();
    if (!from.empty()) from.back() = static_cast<char>(from.back() + 1);
  }
  MDB_val key = lmdb::ToVal(from), value = {};
  int rc = from.empty() ? (reverse ? MDB_NOTFOUND : cursor->Get(&key, &value, MDB_FIRST))
                        : cursor->Get(&key, &value, MDB_SET_RANGE);
  if (reverse) rc = cursor->Get(&key, &value, rc == 0 ? MDB_PREV : MDB_LAST);
  for (; rc == 0; rc = cursor->Get(&key, &value, reverse ? MDB_PREV : MDB_NEXT)) {
    std::string_view key_view = lmdb::ToView(key);
    if (key_view.substr(0, prefix.size()) != prefix) return Status::Ok();
    bool more = true;
    Status visited = visit(key_view, lmdb::ToView(value), &more);
    if (!visited.ok() || !more) return visited;
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, what);
  return Status::Ok();
}

Result<size_t> CountDuplicates(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                               std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key_val = lmdb::ToVal(key), value = {};
  int rc = cursor->Get(&key_val, &value, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return size_t{0};
  size_t count = 0;
  if (rc == 0) rc = cursor->Count(&count);
  if (rc != 0) return lmdb::ToStatus(rc, what);
  return count;
}

Status WalkKeyCounts(const lmdb::Txn& txn, MDB_dbi dbi, const KeyCountVisitor& visit,
                     std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = {}, value = {};
  int rc = cursor->Get(&key, &value, MDB_FIRST);
  for (; rc == 0; rc = cursor->Get(&key, &value, MDB_NEXT_NODUP)) {
    size_t count = 0;
    if (int counted = cursor->Count(&count); counted != 0) return lmdb::ToStatus(counted, what);
    bool stop = false;
    Status visited = visit(lmdb::ToView(key), count, &stop);
    if (!visited.ok() || stop) return visited;
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, what);
  return Status::Ok();
}

Status DeletePrefixed(lmdb::Txn& txn, MDB_dbi dbi, std::string_view prefix) {
  std::vector<std::string> keys;
  Status walked =
      WalkPrefixed(txn, dbi, prefix, false, [&](std::string_view key, std::string_view, bool*) {
        keys.emplace_back(key);
        return Status::Ok();
      });
  for (size_t i = 0; walked.ok() && i < keys.size(); ++i) walked = DeleteEntry(txn, dbi, keys[i]);
  return walked;
}

}  // namespace archiver::internal
