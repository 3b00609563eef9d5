// ArchiveEnv (archive_env.h): the archive directory and its LMDB environment, the
// process-wide registry that keeps one environment per path, and database groups opened
// on first use.
#include "lmdb/archive_env.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>

namespace archiver::lmdb {
namespace {

// LMDB must not open one file twice in a process (closing either handle drops the
// other's locks), so every Open of a path shares one ArchiveEnv while any caller holds it.
struct RegistryEntry {
  std::weak_ptr<ArchiveEnv> env;
  const ArchiveEnv* address = nullptr;
  pid_t pid = 0;
};

struct Registry {
  std::mutex mutex;
  std::condition_variable closed;  // signalled when an environment has been closed
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

// The directory of `requested`, made when missing and allowed; whose it is; its
// canonical path in options->path.
Status PrepareDirectory(const StoreOptions& requested, StoreOptions* options, ArchiveOwner* owner) {
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
  Result<ArchiveOwner> inspected = InspectArchiveDirectory(requested.path);
  if (!inspected.ok()) return inspected.status();
  *owner = *inspected;
  char resolved[PATH_MAX];
  if (realpath(requested.path.c_str(), resolved) == nullptr) {
    return Status::IOError("resolve " + requested.path + ": " + ErrnoText(errno));
  }
  *options = requested;
  options->path = resolved;
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ArchiveEnv>> ArchiveEnv::Open(const StoreOptions& requested) {
  std::shared_ptr<ArchiveEnv> existing;  // declared first: released only after the lock
  Registry& registry = TheRegistry();
  std::unique_lock lock(registry.mutex);

  StoreOptions options;
  ArchiveOwner owner;
  Status prepared = PrepareDirectory(requested, &options, &owner);
  if (!prepared.ok()) return prepared;

  const pid_t pid = getpid();
  while (true) {
    auto entry = registry.entries.find(options.path);
    if (entry == registry.entries.end() || entry->second.pid != pid) break;
    existing = entry->second.env.lock();
    if (!existing) {
      registry.closed.wait(lock);  // its last user is closing it right now
      continue;
    }
    // Moved or replaced under us: the files at the path now are others (opening them
    // beside the old environment is safe: LMDB forbids only one file opened twice).
    if (!existing->StillAtPath().ok()) break;
    if (existing->options_.read_only && !options.read_only) {
      return Status::InvalidArgument("archive " + options.path +
                                     " is already open read-only in this process");
    }
    return existing;
  }

  std::shared_ptr<ArchiveEnv> env(new ArchiveEnv());
  Status opened = env->OpenEnvironment(options, owner);
  if (!opened.ok()) {
    env.reset();  // closes it while no one can reopen the path
    return opened;
  }
  env->registered_ = true;
  registry.entries[options.path] = RegistryEntry{env, env.get(), pid};
  return env;
}

// Opens the environment as the archive's owner (see archive_access.h): LMDB opens or
// creates data.mdb and lock.mdb with the owner's rights, whoever runs this.
Status ArchiveEnv::OpenEnvironment(const StoreOptions& options, const ArchiveOwner& owner) {
  options_ = options;
  owner_ = owner;
  pid_ = getpid();
  const std::string& path = options.path;

  Result<Env> env = Env::Create();
  if (!env.ok()) return env.status();
  env_ = std::move(env.value());
  MDB_env* handle = env_.get();
  int rc = mdb_env_set_maxdbs(handle, 64);
  if (rc == 0) rc = mdb_env_set_maxreaders(handle, 1024);
  if (rc == 0) rc = mdb_env_set_mapsize(handle, options.map_size);
  if (rc != 0) return ToStatus(rc, "configure LMDB for " + path);

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
  // No read-ahead: a lookup faults in the page it reads, not megabytes around it; scans
  // ask for read-ahead for their duration (ScanAdvice, map_advice.h).
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (!options.sync) flags |= MDB_NOSYNC;
  // Fully durable commits flush their meta page after the write lock is released
  // (EnvContext); with meta_sync off it is never flushed by the commit.
  const bool flush_meta_after = options.sync && options.meta_sync && !options.read_only;
  if (!options.meta_sync || flush_meta_after) flags |= MDB_NOMETASYNC;
  if (options.read_only) flags |= MDB_RDONLY;
  env_context_.flush_meta_after_commit = flush_meta_after;
  env_context_.write_wait = std::chrono::milliseconds(options.write_wait_ms);
  SetEnvContext(handle, &env_context_);
  rc = mdb_env_open(handle, path.c_str(), flags, owner.file_mode());
  if (rc == ENOENT && options.read_only) return Status::NotFound("no archive at " + path);
  if (rc == MDB_INVALID)
    return Status::Corruption(path + " is not an archive (" + mdb_strerror(rc) + ")");
  if (rc != 0) return ToStatus(rc, "open archive " + path);
  // New files got the process umask: give them the archive's group and mode.
  for (const auto& [file, is_new] : {std::pair{data_file, created}, {lock_file, lock_created}}) {
    if (!is_new) continue;
    Status moded = SetArchiveFileMode(file, owner);
    if (!moded.ok()) return moded;
  }
  int dead_readers = 0;
  mdb_reader_check(handle, &dead_readers);  // free slots of readers that died
  max_key_size_ = static_cast<size_t>(mdb_env_get_maxkeysize(handle));
  return Status::Ok();
}

ArchiveEnv::~ArchiveEnv() {
  if (pid_ != getpid()) {
    // Inherited across fork(): LMDB forbids using it here, and closing its files would
    // drop this process's own locks on the same archive.
    env_.Release();
    return;
  }
  if (!registered_) return;  // closed by Open, under the registry's lock
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mutex);
  env_ = Env();  // closes the environment while no one can reopen the path
  auto entry = registry.entries.find(options_.path);
  if (entry != registry.entries.end() && entry->second.address == this) {
    registry.entries.erase(entry);
  }
  registry.closed.notify_all();
}

Status ArchiveEnv::CheckWritable() const {
  if (options_.read_only) {
    return Status::InvalidArgument("archive " + options_.path + " is open read-only");
  }
  return Status::Ok();
}

Status ArchiveEnv::StillAtPath() const {
  const std::string data_file = options_.path + "/data.mdb";
  int fd = -1;
  struct stat opened, now;
  if (mdb_env_get_fd(env_.get(), &fd) != 0 || fstat(fd, &opened) != 0)
    return Status::IOError("archive " + options_.path + ": cannot stat its open file");
  if (lstat(data_file.c_str(), &now) != 0) {
    return Status::NotFound("the archive " + options_.path +
                            " was moved or removed since this process opened it");
  }
  if (now.st_dev != opened.st_dev || now.st_ino != opened.st_ino) {
    return Status::IOError("the archive " + options_.path +
                           " was replaced since this process opened it");
  }
  return Status::Ok();
}

ArchiveEnv::GroupSlot& ArchiveEnv::Slot(std::type_index group) const {
  std::lock_guard lock(slots_mutex_);
  std::unique_ptr<GroupSlot>& slot = slots_[group];
  if (!slot) slot = std::make_unique<GroupSlot>();
  return *slot;
}

const void* ArchiveEnv::Published(std::type_index group) const {
  GroupSlot& slot = Slot(group);
  return slot.open.load(std::memory_order_acquire) ? slot.handles.get() : nullptr;
}

Status ArchiveEnv::OpenOnFirstUse(GroupSlot& slot, bool write, bool* present, std::string_view what,
                                  const std::function<Status(Txn& txn, bool create)>& open_all,
                                  const std::function<void()>& publish) {
  *present = true;
  if (slot.open.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lock(slot.mutex);
  if (slot.open.load(std::memory_order_relaxed)) return Status::Ok();
  for (bool create : {false, true}) {
    if (create && !write) {
      *present = false;
      return Status::Ok();
    }
    Result<Txn> txn = Txn::Begin(env_.get(), create);
    if (!txn.ok()) return txn.status();
    Status opened = open_all(*txn, create);
    if (opened.ok()) {
      opened = txn->Commit(std::string(create ? "create the " : "open the ") + std::string(what) +
                           " of " + options_.path);
    }
    if (opened.ok()) {
      publish();
      slot.open.store(true, std::memory_order_release);
      return Status::Ok();
    }
    if (opened.code() != Status::Code::kNotFound || create) return opened;
  }
  return Status::Ok();  // not reached: the create pass returns
}

}  // namespace archiver::lmdb
