// LMDB RAII handles and error translation (see lmdb_handles.h).
#include "lmdb_handles.h"

#include <cerrno>
#include <string>

#include "archiver/store.h"

namespace archiver::lmdb {

Status ToStatus(int rc, std::string_view what, MDB_env* env) {
  std::string message(what);
  message += ": ";
  message += mdb_strerror(rc);
  switch (rc) {
    case 0:
      return Status::Ok();
    case MDB_NOTFOUND:
    case ENOENT:
      return Status::NotFound(message);
    case MDB_MAP_FULL: {
      MDB_envinfo info = {};
      if (env != nullptr && mdb_env_info(env, &info) == 0) {
        message += " (map size " + FormatBytes(info.me_mapsize) + ")";
      }
      return Status::MapFull(message + ": raise archiver_map_size");
    }
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
      return Status::Corruption(message);
    case MDB_BAD_VALSIZE:
      return Status::InvalidArgument(message);
    default:
      return Status::IOError(message);
  }
}

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = std::exchange(other.env_, nullptr);
  }
  return *this;
}

Result<Env> Env::Create() {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return ToStatus(rc, "create LMDB environment");
  return Env(env);
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    txn_ = std::exchange(other.txn_, nullptr);
    write_ = std::exchange(other.write_, false);
  }
  return *this;
}

namespace {
// The user-context value that marks an environment for FlushMetaAfterCommit.
char flush_meta_after_commit_marker;
}  // namespace

void FlushMetaAfterCommit(MDB_env* env) { mdb_env_set_userctx(env, &flush_meta_after_commit_marker); }

Result<Txn> Txn::Begin(MDB_env* env, bool write) {
  MDB_txn* txn = nullptr;
  unsigned flags = write ? 0 : MDB_RDONLY;
  int rc = mdb_txn_begin(env, nullptr, flags, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map; adopt its size (legal: no transaction is active here).
    rc = mdb_env_set_mapsize(env, 0);
    if (rc == 0) rc = mdb_txn_begin(env, nullptr, flags, &txn);
  }
  if (rc != 0) return ToStatus(rc, write ? "begin write transaction" : "begin read transaction");
  return Txn(txn, write);
}

Status Txn::Commit(std::string_view what) {
  MDB_env* environment = env();
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc == 0 && std::exchange(write_, false) &&
      mdb_env_get_userctx(environment) == &flush_meta_after_commit_marker) {
    rc = mdb_env_sync(environment, 1);
  }
  return ToStatus(rc, what, environment);
}

void Txn::Abort() noexcept {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Status Txn::Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const {
  MDB_val key_val = ToVal(key);
  MDB_val data = {};
  int rc = mdb_get(txn_, dbi, &key_val, &data);
  if (rc == MDB_NOTFOUND) return Status::NotFound("key not found");
  if (rc != 0) return ToStatus(rc, "read");
  *value = ToView(data);
  return Status::Ok();
}

Status Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
  MDB_val key_val = ToVal(key);
  MDB_val data = ToVal(value);
  int rc = mdb_put(txn_, dbi, &key_val, &data, flags);
  if (rc == MDB_KEYEXIST) return Status::InvalidArgument("key exists");
  return ToStatus(rc, "write", env());
}

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    Close();
    cursor_ = std::exchange(other.cursor_, nullptr);
  }
  return *this;
}

Result<Cursor> Cursor::Open(const Txn& txn, MDB_dbi dbi) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbi, &cursor);
  if (rc != 0) return ToStatus(rc, "open cursor");
  return Cursor(cursor);
}

void Cursor::Close() noexcept {
  if (cursor_ != nullptr) mdb_cursor_close(std::exchange(cursor_, nullptr));
}

}  // namespace archiver::lmdb
