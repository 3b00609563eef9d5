// ArchiveEnv: the LMDB environment of one archive, the seam between the subsystems built
// on it (Store, DmarcStore, SourceRegistry each hold it, shared). One per path and process
// (LMDB must not open one file twice in a process); it owns the environment, the settings
// its first opener chose, and the groups of named databases each subsystem opens on first use.
#pragma once

#include <lmdb.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeindex>

#include "archiver/archive_access.h"
#include "archiver/archive_options.h"
#include "archiver/status.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::lmdb {

// How a walk reads the map (ScanAdvice, map_advice.h). kLookups: point reads and index
// walks, no read-ahead (how the environment is opened); kSequential: forward through the
// map in offset order, read-ahead; kNormal: the kernel's default read-around (a scan in
// key order, backwards or in pages scattered over the map).
enum class MapAccess { kLookups, kSequential, kNormal };

class ScanAdvice;

class ArchiveEnv {
 public:
  // The environment of the archive at options.path, creating the directory (mode 0700)
  // and the files when options.create_if_missing. Every Open of a path in this process
  // shares one ArchiveEnv while any caller holds it: the first decides options (map
  // size, compression, sync); a writable Open while it is open read-only is
  // InvalidArgument. After fork() the child must not use its parent's: Open in the child
  // opens its own. Errors: IOError (permissions, not a directory), NotFound (missing and
  // !create_if_missing, or read-only), Corruption (not an LMDB file).
  static Result<std::shared_ptr<ArchiveEnv>> Open(const StoreOptions& requested);

  // Closes the environment (forgets it when inherited across fork()).
  ~ArchiveEnv();
  ArchiveEnv(const ArchiveEnv&) = delete;
  ArchiveEnv& operator=(const ArchiveEnv&) = delete;

  MDB_env* get() const { return env_.get(); }
  const StoreOptions& options() const { return options_; }  // options.path is canonical
  const std::string& path() const { return options_.path; }
  const ArchiveOwner& owner() const { return owner_; }  // whose the directory is
  size_t max_key_size() const { return max_key_size_; }
  // InvalidArgument "archive PATH is open read-only" for a read-only environment.
  Status CheckWritable() const;
  // Ok while path()/data.mdb is still the file this environment opened: NotFound (moved
  // or removed) or IOError (replaced) otherwise (see Store::StillAtPath).
  Status StillAtPath() const;

  // A group of named databases (a struct of MDB_dbi) is opened once per environment.
  // OpenGroup: a read transaction is tried first (opening existing databases takes no
  // write lock); when they are missing and `write`, a write transaction creates them.
  // `open_all(txn, create, group)` opens the group (and may check or write its format
  // version). Returns the group, valid as long as this environment; null when it is
  // missing and !write (checked again next time: another process may create it). `what`
  // names the group in messages ("DMARC databases").
  template <typename Group>
  using GroupOpener = std::function<Status(Txn& txn, bool create, Group* group)>;
  template <typename Group>
  Result<const Group*> OpenGroup(std::string_view what, bool write,
                                 const GroupOpener<Group>& open_all);
  // A group OpenGroup has returned (in this or another thread); null before.
  template <typename Group>
  const Group* FindGroup() const {
    return static_cast<const Group*>(Published(typeid(Group)));
  }
  // The same when it must have been opened: aborts otherwise (a bug).
  template <typename Group>
  const Group& OpenedGroup() const {
    const Group* group = FindGroup<Group>();
    if (group == nullptr) std::abort();
    return *group;
  }

  // The one object of type T built on this environment (the Store): the live one, or
  // make()'s, kept (weakly) for later calls while any caller holds it.
  template <typename T>
  std::shared_ptr<T> SharedObject(const std::function<std::shared_ptr<T>()>& make) {
    std::lock_guard lock(object_mutex_);
    std::shared_ptr<T> object = std::static_pointer_cast<T>(object_.lock());
    if (!object) {
      object = make();
      object_ = object;
    }
    return object;
  }

 private:
  struct GroupSlot {
    std::mutex mutex;               // serialises opening the group
    std::atomic<bool> open{false};  // `handles` is set and never changes again
    std::shared_ptr<const void> handles;
  };

  friend class ScanAdvice;

  ArchiveEnv() = default;
  // A scan of this process begins or ends (ScanAdvice): the map is advised as `access`
  // while any runs, as kLookups otherwise.
  void AdviseScan(MapAccess access, bool begin);
  Status OpenEnvironment(const StoreOptions& options, const ArchiveOwner& owner);
  GroupSlot& Slot(std::type_index group) const;
  const void* Published(std::type_index group) const;
  // The protocol of OpenGroup, for any group: `open_all` opens into a scratch copy,
  // `publish` keeps it; Ok with *present = false for a missing group and !write.
  Status OpenOnFirstUse(GroupSlot& slot, bool write, bool* present, std::string_view what,
                        const std::function<Status(Txn& txn, bool create)>& open_all,
                        const std::function<void()>& publish);

  StoreOptions options_;
  ArchiveOwner owner_;
  EnvContext env_context_;  // before env_: it must outlive the environment
  Env env_;
  size_t max_key_size_ = 511;
  pid_t pid_ = 0;            // the process that opened env_; another one must not use it
  bool registered_ = false;  // in the registry: closed under its lock
  mutable std::mutex slots_mutex_;
  mutable std::map<std::type_index, std::unique_ptr<GroupSlot>> slots_;
  std::mutex object_mutex_;
  std::weak_ptr<void> object_;
  std::mutex scan_mutex_;
  int scans_ = 0;  // ScanAdvice objects alive
};

template <typename Group>
Result<const Group*> ArchiveEnv::OpenGroup(std::string_view what, bool write,
                                           const GroupOpener<Group>& open_all) {
  GroupSlot& slot = Slot(typeid(Group));
  auto scratch = std::make_shared<Group>();
  bool present = false;
  Status opened = OpenOnFirstUse(
      slot, write, &present, what,
      [&](Txn& txn, bool create) { return open_all(txn, create, scratch.get()); },
      [&] { slot.handles = scratch; });
  if (!opened.ok()) return opened;
  if (!present) return static_cast<const Group*>(nullptr);
  return static_cast<const Group*>(slot.handles.get());
}

}  // namespace archiver::lmdb

namespace archiver::internal {

template <typename Group>
struct NamedDb {
  const char* name;
  unsigned flags;       // MDB_DUPSORT | MDB_DUPFIXED for an index, else 0
  MDB_dbi Group::*dbi;  // where the handle goes
};

// Opens every database of `databases` in `txn` into `group`, creating them when `create`.
// NotFound(`missing`) when one does not exist and !create; Corruption when one exists with
// other flags (not one of ours: when `whole_archive`, "PATH is not an archive").
template <typename Group, size_t N>
Status OpenNamedDatabases(const std::string& path, lmdb::Txn& txn, bool create,
                          const NamedDb<Group> (&databases)[N], Group* group,
                          const std::string& missing, bool whole_archive = false) {
  for (const NamedDb<Group>& named : databases) {
    int rc = mdb_dbi_open(txn.get(), named.name, named.flags | (create ? MDB_CREATE : 0),
                          &(group->*named.dbi));
    if (rc == MDB_NOTFOUND) return Status::NotFound(missing);
    if (rc == MDB_INCOMPATIBLE && whole_archive) {
      return Status::Corruption(path + " is not an archive (database '" + named.name +
                                "' has the wrong kind)");
    }
    if (rc == MDB_INCOMPATIBLE) {
      return Status::Corruption(path + ": database '" + named.name + "' has the wrong kind");
    }
    if (rc != 0) return lmdb::ToStatus(rc, "open database " + std::string(named.name));
  }
  return Status::Ok();
}

}  // namespace archiver::internal
