// Groups of named LMDB databases that an archive gets after it was created (DMARC,
// remote sources): opened on first use rather than by Store::Open, since archives
// written before them lack them. Reads find nothing until the first write creates them.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "archiver/status.h"
#include "lmdb/lmdb_handles.h"
#include "store/store_impl.h"

namespace archiver::internal {

template <typename Group>
struct NamedDb {
  const char* name;
  unsigned flags;        // MDB_DUPSORT | MDB_DUPFIXED for an index, else 0
  MDB_dbi Group::*dbi;   // where the handle goes
};

// Opens every database of `databases` in `txn` into `group`, creating them when `create`.
// NotFound(`missing`) when one does not exist and !create; Corruption when one exists with
// other flags (not one of ours).
template <typename Group, size_t N>
Status OpenNamedDatabases(const std::string& path, lmdb::Txn& txn, bool create,
                          const NamedDb<Group> (&databases)[N], Group* group,
                          const std::string& missing) {
  for (const NamedDb<Group>& named : databases) {
    int rc = mdb_dbi_open(txn.get(), named.name, named.flags | (create ? MDB_CREATE : 0),
                          &(group->*named.dbi));
    if (rc == MDB_NOTFOUND) return Status::NotFound(missing);
    if (rc == MDB_INCOMPATIBLE) {
      return Status::Corruption(path + ": database '" + named.name + "' has the wrong kind");
    }
    if (rc != 0) return lmdb::ToStatus(rc, "open database " + std::string(named.name));
  }
  return Status::Ok();
}

// Opens a group once per environment; later calls only check `open`. A read transaction
// is tried first (opening existing databases takes no write lock); when they are missing
// and `write`, a write transaction creates them. `open_all(txn, create)` opens the group
// into a scratch copy (and may check or write its format version); `publish()` copies it
// into the archive, under `mutex`, before `open` is set. With !write and the group
// missing: Ok and *present = false (checked again next time: another process may create
// it meanwhile). `what` names the group in messages ("DMARC databases").
Status OpenOnFirstUse(OpenArchive& archive, std::mutex& mutex, std::atomic<bool>& open, bool write,
                      bool* present, std::string_view what,
                      const std::function<Status(lmdb::Txn& txn, bool create)>& open_all,
                      const std::function<void()>& publish);

}  // namespace archiver::internal
