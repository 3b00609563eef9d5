// LMDB RAII handles and error translation (see lmdb_handles.h).
#include "lmdb/lmdb_handles.h"

#include <fcntl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "archiver/store/store.h"

namespace archiver::lmdb {

Status ToStatus(int rc, std::string_view what, MDB_env* env) {
  // Every put and commit comes here: success must not pay for the message.
  if (rc == 0) return Status::Ok();
  std::string message(what);
  message += ": ";
  message += mdb_strerror(rc);
  switch (rc) {
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
    // Only a put with MDB_NOOVERWRITE or MDB_NODUPDATA meets an existing entry: callers use
    // them for entries that must be new (a delivery's sequence key), so one already there
    // means the archive contradicts itself (a counter behind its entries).
    case MDB_KEYEXIST:
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
    gate_fd_ = std::exchange(other.gate_fd_, -1);
  }
  return *this;
}

void SetEnvContext(MDB_env* env, const EnvContext* context) {
  mdb_env_set_userctx(env, const_cast<EnvContext*>(context));
}

namespace {

const EnvContext* ContextOf(MDB_env* env) {
  return static_cast<const EnvContext*>(mdb_env_get_userctx(env));
}

// The write gate: a one-byte open-file-description lock far beyond the data file's
// pages (LMDB never locks the data file). Such locks belong to the open file, so all
// threads of a process share it (LMDB's own mutex orders those), and closing another
// descriptor of the file does not drop it.
constexpr off_t kGateOffset = off_t{1} << 50;

std::string SecondsText(std::chrono::milliseconds limit) {
  std::string text = std::to_string(limit.count() / 1000);
  if (limit.count() % 1000 != 0) {
    std::string millis = std::to_string(limit.count() % 1000);
    text += "." + std::string(3 - millis.size(), '0') + millis;
  }
  return text + " s";
}

int GateLock(int fd, short type, bool wait) {
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = kGateOffset;
  lock.l_len = 1;
  return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock);
}

// Takes the gate of `env` within `limit`, polling (a lock wait cannot time out); backs
// off from 0.05 ms to 1 ms, so that the usual wait for a commit of a few milliseconds
// costs at most about a millisecond more than LMDB's own lock, and a long wait about a
// thousand fcntl calls a second. The data file's descriptor, or an error.
Result<int> TakeGate(MDB_env* env, std::chrono::milliseconds limit) {
  int fd = -1;
  if (mdb_env_get_fd(env, &fd) != 0 || fd < 0) return Status::IOError("archive has no data file");
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::microseconds(50);
  while (GateLock(fd, F_WRLCK, false) != 0) {
    if (errno != EAGAIN && errno != EACCES && errno != EINTR)
      return Status::IOError(std::string("lock the archive for writing: ") + strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::IOError("another process has been writing the archive for over " +
                             SecondsText(limit) +
                             " without finishing (a stopped or stuck doveadm?): giving up");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(1));
  }
  return fd;
}

}  // namespace

Result<Txn> Txn::Begin(MDB_env* env, bool write) {
  int gate_fd = -1;
  const EnvContext* context = ContextOf(env);
  if (write && context != nullptr && context->write_wait.count() > 0) {
    Result<int> gate = TakeGate(env, context->write_wait);
    if (!gate.ok()) return gate.status();
    gate_fd = *gate;
  }
  MDB_txn* txn = nullptr;
  unsigned flags = write ? 0 : MDB_RDONLY;
  int rc = mdb_txn_begin(env, nullptr, flags, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map; adopt its size (legal: no transaction is active here).
    rc = mdb_env_set_mapsize(env, 0);
    if (rc == 0) rc = mdb_txn_begin(env, nullptr, flags, &txn);
  }
  if (rc != 0) {
    if (gate_fd >= 0) GateLock(gate_fd, F_UNLCK, false);
    return ToStatus(rc, write ? "begin write transaction" : "begin read transaction");
  }
  return Txn(txn, write, gate_fd);
}

void Txn::OpenGate() noexcept {
  if (gate_fd_ >= 0) GateLock(std::exchange(gate_fd_, -1), F_UNLCK, false);
}

Status Txn::Commit(std::string_view what) {
  MDB_env* environment = env();
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  OpenGate();
  const EnvContext* context = ContextOf(environment);
  if (rc == 0 && std::exchange(write_, false) && context != nullptr &&
      context->flush_meta_after_commit) {
    rc = mdb_env_sync(environment, 1);
  }
  return ToStatus(rc, what, environment);
}

void Txn::Abort() noexcept {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  OpenGate();
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
