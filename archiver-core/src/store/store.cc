// Store: opening an archive (directory, LMDB environment, named databases, format check),
// the process-wide registry that keeps one environment per path, statistics, FormatBytes.
#include "archiver/store/store.h"

#include "archiver/archive_access.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

// LMDB must not open one file twice in a process (closing either handle drops the
// other's locks), so every Open of a path shares one Store while any caller holds it.
struct RegistryEntry {
  std::weak_ptr<Store> store;
  const Store* address = nullptr;
  pid_t pid = 0;
};

struct Registry {
  std::mutex mutex;
  std::condition_variable closed;  // signalled when a Store has closed its environment
  std::map<std::string, RegistryEntry> entries;
};

Registry& TheRegistry() {
  static Registry* registry = new Registry();  // never destroyed: Stores may outlive statics
  return *registry;
}

std::string ErrnoText(int error) { return std::strerror(error); }

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// mkdir -p with mode 0700 whatever the umask.
Status MakeDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0700) == 0) {
      if (chmod(prefix.c_str(), 0700) != 0) {
        return Status::IOError("chmod " + prefix + ": " + ErrnoText(errno));
      }
    } else if (!prefix.empty() && errno != EEXIST) {
      return Status::IOError("mkdir " + prefix + ": " + ErrnoText(errno));
    }
    if (slash == std::string::npos) return Status::Ok();
  }
}

// Opens the named databases, creating what is missing when `write`. A read transaction
// is tried first (see OpenEnvironment): opening an existing archive takes no write lock
// and commits nothing, which matters to processes that open it for one delivery.
Status OpenDatabases(OpenArchive& archive, bool write) {
  const std::string& path = archive.options.path;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), write);
  if (!txn.ok()) return txn.status();
  const unsigned create = write ? MDB_CREATE : 0;
  const unsigned index = MDB_DUPSORT | MDB_DUPFIXED;
  internal::Databases& db = archive.db;
  const struct {
    const char* name;
    unsigned flags;
    MDB_dbi* dbi;
  } databases[] = {
      {internal::kMetaDb, 0, &db.meta},
      {internal::kMessagesDb, 0, &db.messages},
      {internal::kDeliveriesDb, 0, &db.deliveries},
      {internal::kDeliveryKeysDb, 0, &db.delivery_keys},
      {internal::kRcptIndexDb, index, &db.idx_rcpt},
      {internal::kFromIndexDb, index, &db.idx_from},
      {internal::kUserIndexDb, index, &db.idx_user},
      {internal::kMessageIndexDb, index, &db.idx_message},
  };
  for (const auto& database : databases) {
    int rc = mdb_dbi_open(txn->get(), database.name, database.flags | create, database.dbi);
    if (rc == MDB_NOTFOUND) return Status::NotFound("no archive at " + path);
    if (rc == MDB_INCOMPATIBLE) {
      return Status::Corruption(path + " is not an archive (database '" + database.name +
                                "' has the wrong kind)");
    }
    if (rc != 0) return lmdb::ToStatus(rc, "open database " + std::string(database.name));
  }

  std::string_view stored;
  Status found = txn->Get(db.meta, internal::kFormatVersionKey, &stored);
  if (found.code() == Status::Code::kNotFound) {
    if (!write) return Status::NotFound("no archive at " + path);
    std::array<char, 8> version = record::EncodeCounter(record::kFormatVersion);
    std::array<char, 8> first_sequence = record::EncodeCounter(1);
    Status put = txn->Put(db.meta, internal::kFormatVersionKey, {version.data(), 8}, 0);
    if (put.ok())
      put = txn->Put(db.meta, internal::kNextSequenceKey, {first_sequence.data(), 8}, 0);
    if (!put.ok()) return put;
  } else if (!found.ok()) {
    return found;
  } else {
    uint64_t version = 0;
    if (!record::DecodeCounter(stored, &version) || version == 0) {
      return Status::Corruption(path + ": unreadable format version");
    }
    if (version > record::kFormatVersion) {
      return Status::Corruption(path + ": archive format " + std::to_string(version) +
                                " is newer than this software reads (up to " +
                                std::to_string(record::kFormatVersion) + ")");
    }
  }
  return txn->Commit("open archive " + path);
}

// Opens the environment as the archive's owner (see archive_access.h): LMDB opens or
// creates data.mdb and lock.mdb with the owner's rights, whoever runs this.
Status OpenEnvironment(const StoreOptions& options, const ArchiveOwner& owner,
                       OpenArchive& archive) {
  archive.options = options;
  archive.owner = owner;
  archive.pid = getpid();
  const std::string& path = options.path;

  Result<lmdb::Env> env = lmdb::Env::Create();
  if (!env.ok()) return env.status();
  archive.env = std::move(env.value());
  MDB_env* handle = archive.env.get();
  int rc = mdb_env_set_maxdbs(handle, 32);
  if (rc == 0) rc = mdb_env_set_maxreaders(handle, 1024);
  if (rc == 0) rc = mdb_env_set_mapsize(handle, options.map_size);
  if (rc != 0) return lmdb::ToStatus(rc, "configure LMDB for " + path);

  const std::string data_file = path + "/data.mdb";
  const std::string lock_file = path + "/lock.mdb";
  Status planted = CheckArchiveFiles(path, owner, {"data.mdb", "lock.mdb"});
  if (!planted.ok()) return planted;
  const bool created = !Exists(data_file);
  if (created && options.read_only) return Status::NotFound("no archive at " + path);
  const bool lock_created = !Exists(lock_file);
  ArchiveOwnerIdentity identity;
  Status assumed = identity.Assume(owner);
  if (!assumed.ok()) return assumed;
  unsigned flags = MDB_NOTLS;
  if (!options.sync) flags |= MDB_NOSYNC;
  // Fully durable commits flush their meta page after the write lock is released
  // (lmdb::EnvContext); with meta_sync off it is never flushed by the commit.
  const bool flush_meta_after = options.sync && options.meta_sync && !options.read_only;
  if (!options.meta_sync || flush_meta_after) flags |= MDB_NOMETASYNC;
  if (options.read_only) flags |= MDB_RDONLY;
  archive.env_context.flush_meta_after_commit = flush_meta_after;
  archive.env_context.write_wait = std::chrono::milliseconds(options.write_wait_ms);
  lmdb::SetEnvContext(handle, &archive.env_context);
  rc = mdb_env_open(handle, path.c_str(), flags, owner.file_mode());
  if (rc == ENOENT && options.read_only) return Status::NotFound("no archive at " + path);
  if (rc == MDB_INVALID)
    return Status::Corruption(path + " is not an archive (" + mdb_strerror(rc) + ")");
  if (rc != 0) return lmdb::ToStatus(rc, "open archive " + path);
  // New files got the process umask: give them the archive's group and mode.
  for (const auto& [file, is_new] : {std::pair{data_file, created}, {lock_file, lock_created}}) {
    if (!is_new) continue;
    Status moded = SetArchiveFileMode(file, owner);
    if (!moded.ok()) return moded;
  }
  int dead_readers = 0;
  mdb_reader_check(handle, &dead_readers);  // free slots of readers that died
  archive.max_key_size = static_cast<size_t>(mdb_env_get_maxkeysize(handle));

  Status opened = OpenDatabases(archive, false);
  if (opened.code() == Status::Code::kNotFound && !options.read_only)
    opened = OpenDatabases(archive, true);  // a new archive: create its databases
  return opened;
}

}  // namespace

Result<std::shared_ptr<Store>> Store::Open(const StoreOptions& requested) {
  if (requested.path.empty()) return Status::InvalidArgument("archive path is empty");
  if (requested.compression_level < 0 || requested.compression_level > 9) {
    return Status::InvalidArgument("compression level " +
                                   std::to_string(requested.compression_level) + " is not in 0..9");
  }
  if (requested.map_size == 0) return Status::InvalidArgument("map size is zero");

  std::shared_ptr<Store> existing;  // declared first: released only after the lock
  Registry& registry = TheRegistry();
  std::unique_lock lock(registry.mutex);

  struct stat st;
  if (stat(requested.path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError(requested.path + ": " + ErrnoText(errno));
    if (requested.read_only || !requested.create_if_missing) {
      return Status::NotFound("no archive at " + requested.path);
    }
    Status made = MakeDirectories(requested.path);
    if (!made.ok()) return made;
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::IOError(requested.path + " is not a directory");
  } else if (!requested.create_if_missing &&
             lstat((requested.path + "/data.mdb").c_str(), &st) != 0 && errno == ENOENT) {
    return Status::NotFound("no archive at " + requested.path);  // an empty directory
  }
  // Whose the directory is, before realpath() resolves the links that root must check.
  Result<ArchiveOwner> owner = InspectArchiveDirectory(requested.path);
  if (!owner.ok()) return owner.status();
  char resolved[PATH_MAX];
  if (realpath(requested.path.c_str(), resolved) == nullptr) {
    return Status::IOError("resolve " + requested.path + ": " + ErrnoText(errno));
  }
  StoreOptions options = requested;
  options.path = resolved;

  const pid_t pid = getpid();
  while (true) {
    auto entry = registry.entries.find(options.path);
    if (entry == registry.entries.end() || entry->second.pid != pid) break;
    existing = entry->second.store.lock();
    if (!existing) {
      registry.closed.wait(lock);  // its last user is closing it right now
      continue;
    }
    // Moved or replaced under us: the files at the path now are others (opening them
    // beside the old environment is safe: LMDB forbids only one file opened twice).
    if (!existing->StillAtPath().ok()) break;
    if (existing->impl_->archive.options.read_only && !options.read_only) {
      return Status::InvalidArgument("archive " + options.path +
                                     " is already open read-only in this process");
    }
    return existing;
  }

  auto impl = std::make_unique<Impl>();
  Status opened = OpenEnvironment(options, *owner, impl->archive);
  if (!opened.ok()) return opened;
  std::shared_ptr<Store> store(new Store(std::move(impl)));
  registry.entries[options.path] = RegistryEntry{store, store.get(), pid};
  return store;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mutex);
  OpenArchive& archive = impl_->archive;
  if (archive.pid != getpid()) {
    // Inherited across fork(): LMDB forbids using it here, and closing its files would
    // drop this process's own locks on the same archive.
    archive.env.Release();
    return;
  }
  const std::string path = archive.options.path;
  impl_.reset();  // closes the environment while no one can reopen the path
  auto entry = registry.entries.find(path);
  if (entry != registry.entries.end() && entry->second.address == this) {
    registry.entries.erase(entry);
  }
  registry.closed.notify_all();
}

const std::string& Store::path() const { return impl_->archive.options.path; }

const ArchiveOwner& Store::owner() const { return impl_->archive.owner; }

Status Store::StillAtPath() const {
  const OpenArchive& archive = impl_->archive;
  const std::string data_file = archive.options.path + "/data.mdb";
  int fd = -1;
  struct stat opened, now;
  if (mdb_env_get_fd(archive.env.get(), &fd) != 0 || fstat(fd, &opened) != 0)
    return Status::IOError("archive " + archive.options.path + ": cannot stat its open file");
  if (lstat(data_file.c_str(), &now) != 0) {
    return Status::NotFound("the archive " + archive.options.path +
                            " was moved or removed since this process opened it");
  }
  if (now.st_dev != opened.st_dev || now.st_ino != opened.st_ino) {
    return Status::IOError("the archive " + archive.options.path +
                           " was replaced since this process opened it");
  }
  return Status::Ok();
}

Result<StoreStats> Store::GetStats() const {
  const OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  StoreStats stats;
  const struct {
    std::string_view name;
    uint64_t* value;
  } counters[] = {
      {internal::kMessagesCounter, &stats.messages},
      {internal::kDeliveriesCounter, &stats.deliveries},
      {internal::kRawBytesCounter, &stats.raw_bytes},
      {internal::kStoredBytesCounter, &stats.stored_bytes},
      {internal::kDeliveredBytesCounter, &stats.delivered_bytes},
  };
  for (const auto& counter : counters) {
    Status read = internal::ReadCounter(*txn, archive.db.meta, counter.name, counter.value);
    if (read.code() == Status::Code::kCorruption) {
      return Status::Corruption("statistics counter '" + std::string(counter.name) +
                                "' is damaged: run doveadm archive repair");
    }
    if (!read.ok()) return read;
  }
  MDB_envinfo info = {};
  MDB_stat stat = {};
  int rc = mdb_env_info(archive.env.get(), &info);
  if (rc == 0) rc = mdb_env_stat(archive.env.get(), &stat);
  if (rc != 0) return lmdb::ToStatus(rc, "read archive statistics");
  stats.map_size = info.me_mapsize;
  stats.map_used = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  return stats;
}

namespace internal {

Status ReadCounter(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t* value) {
  std::string_view stored;
  Status found = txn.Get(meta, name, &stored);
  if (found.code() == Status::Code::kNotFound) {
    *value = 0;
    return Status::Ok();
  }
  if (!found.ok()) return found;
  if (!record::DecodeCounter(stored, value)) {
    return Status::Corruption("meta value '" + std::string(name) + "' is not 8 bytes");
  }
  return Status::Ok();
}

}  // namespace internal

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

}  // namespace archiver
