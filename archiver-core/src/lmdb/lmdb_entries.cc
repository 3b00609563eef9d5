// Entry-level helpers over an LMDB transaction (lmdb_entries.h).
#include "lmdb/lmdb_entries.h"

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
                   MDB_cursor_op step, const EntryVisitor& visit) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = lmdb::ToVal(from), value = {};
  int rc = cursor->Get(&key, &value, first);
  for (; rc == 0; rc = cursor->Get(&key, &value, step)) {
    bool stop = false;
    Status visited = visit(lmdb::ToView(key), lmdb::ToView(value), &stop);
    if (!visited.ok() || stop) return visited;
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "read archive entries");
  return Status::Ok();
}

}  // namespace archiver::internal
