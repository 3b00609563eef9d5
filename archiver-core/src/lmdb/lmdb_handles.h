// Move-only RAII owners of LMDB handles, and the one place LMDB return codes become a
// Status. Destructors never throw: a transaction not committed is aborted, a cursor is
// closed. Views returned by Get are valid only until their transaction ends.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <string_view>
#include <utility>

#include "archiver/status.h"

namespace archiver::lmdb {

inline MDB_val ToVal(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
inline std::string_view ToView(const MDB_val& value) {
  return {static_cast<const char*>(value.mv_data), value.mv_size};
}

// `what` says what was being done ("open /var/archive", "store message"). MDB_MAP_FULL
// becomes MapFull naming the current map size of `env` (if given) and the setting to raise.
Status ToStatus(int rc, std::string_view what, MDB_env* env = nullptr);

class Env {
 public:
  Env() = default;
  ~Env();
  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  static Result<Env> Create();
  MDB_env* get() const { return env_; }
  // Forgets the environment without closing it (for one inherited across fork()).
  void Release() noexcept { env_ = nullptr; }

 private:
  explicit Env(MDB_env* env) : env_(env) {}
  MDB_env* env_ = nullptr;
};

// How transactions of one environment behave; set once, before the first transaction,
// with SetEnvContext (the context must outlive the environment).
struct EnvContext {
  // Durable commits with the second flush outside the write lock: an environment opened
  // with MDB_NOMETASYNC (LMDB flushes the data pages, then writes the meta page without
  // flushing it) gets that meta page flushed by Txn::Commit right after mdb_txn_commit,
  // once the write lock is free. The commit is as durable as LMDB's default when Commit
  // returns, with the same integrity (data is on disk before the meta page that points to
  // it is written), but concurrent writers no longer wait for each other's second flush.
  bool flush_meta_after_commit = false;
  // Bounded waits: LMDB's write lock has no timeout, so a process that stopped inside a
  // write transaction (a suspended doveadm) would hold every writer forever. With a
  // limit, every write transaction first takes a gate of ours (an open-file-description
  // lock on the data file, beyond what LMDB locks) and gives up with an IOError after
  // this long; writers that do not take the gate (other LMDB tools) are not bounded.
  // Zero: no gate, wait as long as LMDB does.
  std::chrono::milliseconds write_wait{0};
};
void SetEnvContext(MDB_env* env, const EnvContext* context);

class Txn {
 public:
  Txn() = default;
  ~Txn() { Abort(); }
  Txn(Txn&& other) noexcept
      : txn_(std::exchange(other.txn_, nullptr)),
        write_(std::exchange(other.write_, false)),
        gate_fd_(std::exchange(other.gate_fd_, -1)) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Begins a read or write transaction. When another process grew the map
  // (MDB_MAP_RESIZED) the new size is adopted and the begin retried once. A write
  // transaction waits for the write gate (EnvContext::write_wait) first.
  static Result<Txn> Begin(MDB_env* env, bool write);
  // Commits; the transaction is gone afterwards whether or not this succeeded.
  // Cursors of a write transaction must be closed before this. When the environment
  // asks for it (FlushMetaAfterCommit), a write commit is flushed once more after LMDB
  // released its write lock, and only then reported committed.
  Status Commit(std::string_view what);
  void Abort() noexcept;
  MDB_txn* get() const { return txn_; }
  MDB_env* env() const { return mdb_txn_env(txn_); }

  // Ok with `value` pointing into the map, NotFound, or an error.
  Status Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const;
  // Corruption when `flags` forbid overwriting and the entry exists (it was to be new).
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags);

 private:
  Txn(MDB_txn* txn, bool write, int gate_fd) : txn_(txn), write_(write), gate_fd_(gate_fd) {}
  void OpenGate() noexcept;
  MDB_txn* txn_ = nullptr;
  bool write_ = false;
  int gate_fd_ = -1;  // the data file, while this transaction holds the write gate
};

// A cursor. In a write transaction it must be destroyed (or Close()d) before Commit().
class Cursor {
 public:
  Cursor() = default;
  ~Cursor() { Close(); }
  Cursor(Cursor&& other) noexcept : cursor_(std::exchange(other.cursor_, nullptr)) {}
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  static Result<Cursor> Open(const Txn& txn, MDB_dbi dbi);
  void Close() noexcept;
  // mdb_cursor_get: 0, MDB_NOTFOUND, or another LMDB error code.
  int Get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cursor_, key, value, op);
  }
  // mdb_cursor_count: the duplicates of the current key of a DUPSORT database.
  int Count(size_t* count) { return mdb_cursor_count(cursor_, count); }

 private:
  explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace archiver::lmdb
