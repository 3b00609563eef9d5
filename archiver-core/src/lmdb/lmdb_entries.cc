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

Status WalkEntries(const lmdb::Txn& txn, MDB_dbi dbi, MDB_cursor_op first, std::string_view from,
                   MDB_cursor_op step, const EntryVisitor& visit, std::string_view what) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = lmdb::ToVal(from), value = {};
  int rc = cursor->Get(&key, &value, first);
  for (; rc == 0; rc = cursor->Get(&key, &value, step)) {
    bool stop = false;
    Status visited = visit(lmdb::ToView(key), lmdb::ToView(value), &stop);
    if (!visited.ok() || stop) return visited;
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, what);
  return Status::Ok();
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
