// Archive access: whom an archive directory belongs to, and acting as them.
//
// LMTP and dovecot-lda write the archive as the mail uid, so anything in the archive
// directory may have been put there by it: a lock.mdb that is a symbolic link to
// /etc/shadow, a data.mdb hard-linked to a root file. A process running as root (doveadm,
// the poller) therefore never touches the directory as root: it first takes the identity of
// the directory's owner (ArchiveOwnerIdentity), so that whatever it opens or creates there is
// exactly what that owner could open or create, and new files belong to the owner with the
// modes the mail uids need. CheckArchiveFiles turns the plantings into clear errors rather
// than a puzzling LMDB or permission error. Not root, these only check: the mail uid can do
// nothing through its own archive that it could not do anyway.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "archiver/status.h"

namespace archiver {

struct ArchiveOwner {
  uid_t uid = 0;              // whose identity root takes (see InspectArchiveDirectory)
  gid_t gid = 0;              // the directory's group
  bool group_shared = false;  // the group may write the directory: several mail uids share it
  // Mode of the files an archive holds: group-writable when several uids share it.
  mode_t file_mode() const { return group_shared ? 0660 : 0600; }
};

// Who `dir` (an existing directory) belongs to. The owner's uid; for a directory owned by
// root that its (non-root) group may write, the uid `nobody` with that group, so that root
// acts with the group's rights and no more. Refused (PermissionDenied): a directory anyone
// may write; and, when running as root, a symbolic link anywhere in `dir` that is not
// root's own (its owner could point it anywhere).
Result<ArchiveOwner> InspectArchiveDirectory(const std::string& dir);

// Refuses (PermissionDenied) each of `names` in `dir` that exists and is a symbolic link,
// not a regular file, has more than one link, or belongs neither to the owner nor (shared
// directory) to its group. Absent files pass: they are created under the owner's identity.
Status CheckArchiveFiles(const std::string& dir, const ArchiveOwner& owner,
                         std::initializer_list<const char*> names);

// While assumed, and when the process runs as root: the effective uid and gid are the
// owner's, with the owner's group as the only supplementary group. Restored when
// destroyed (a failure to restore aborts: going on as the wrong user is never safe).
// Not root: does nothing. Not thread-safe: call it while no other thread runs.
class ArchiveOwnerIdentity {
 public:
  ArchiveOwnerIdentity() = default;
  ~ArchiveOwnerIdentity() { Restore(); }
  ArchiveOwnerIdentity(const ArchiveOwnerIdentity&) = delete;
  ArchiveOwnerIdentity& operator=(const ArchiveOwnerIdentity&) = delete;

  Status Assume(const ArchiveOwner& owner);
  void Restore();

 private:
  bool assumed_ = false;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
  std::vector<gid_t> saved_groups_;
};

// Gives up root for good: the real, effective and saved uid and gid become the owner's
// (for an archive root owns: nobody's), with the owner's group as the only other group.
// What the process opened before (the archive among them) stays usable; root never comes
// back. Done before parsing content anyone may have sent (DMARC reports), so that a flaw
// in a parser cannot act as root. Not root: does nothing.
Status DropRootForGood(const ArchiveOwner& owner);

// Gives `path` (just created by this process, still owned by it) the owner's group and
// file mode. Used for files a library created with the process umask (LMDB's lock.mdb).
Status SetArchiveFileMode(const std::string& path, const ArchiveOwner& owner);

}  // namespace archiver
