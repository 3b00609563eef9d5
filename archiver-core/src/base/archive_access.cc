// Archive access: the archive directory's owner, the checks on its files, and taking the
// owner's identity while root opens the archive. See archive_access.h.
#include "archiver/archive_access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace archiver {
namespace {

constexpr uid_t kNobodyFallback = 65534;

std::string ErrnoText(int error) { return std::strerror(error); }

uid_t NobodyUid() {
  const struct passwd* nobody = getpwnam("nobody");
  return nobody != nullptr ? nobody->pw_uid : kNobodyFallback;
}

// Root follows a symbolic link only when root made it: any other owner could point it at
// a directory of root's (and rewrite it between our check and our open).
Status CheckLinksInPath(const std::string& dir) {
  std::string prefix = dir.starts_with('/') ? "" : ".";
  size_t start = 0;
  while (start < dir.size()) {
    size_t slash = dir.find('/', start);
    if (slash == std::string::npos) slash = dir.size();
    std::string component = dir.substr(start, slash - start);
    start = slash + 1;
    if (component.empty() || component == ".") continue;
    prefix += "/" + component;
    struct stat st;
    if (lstat(prefix.c_str(), &st) != 0) return Status::Ok();  // the caller reports it
    if (S_ISLNK(st.st_mode) && st.st_uid != 0) {
      return Status::PermissionDenied(
          prefix + " is a symbolic link owned by uid " + std::to_string(st.st_uid) +
          ": running as root, refusing to follow it (use the real path in archiver_path)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ArchiveOwner> InspectArchiveDirectory(const std::string& dir) {
  if (geteuid() == 0) {
    Status links = CheckLinksInPath(dir);
    if (!links.ok()) return links;
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Status::IOError(dir + ": " + ErrnoText(errno));
  if (!S_ISDIR(st.st_mode)) return Status::IOError(dir + " is not a directory");
  if ((st.st_mode & S_IWOTH) != 0) {
    return Status::PermissionDenied(
        "the archive directory " + dir + " is writable by everyone: anyone could replace "
        "its files (chmod o-w it; see README, Permissions)");
  }
  ArchiveOwner owner;
  owner.uid = st.st_uid;
  owner.gid = st.st_gid;
  owner.group_shared = (st.st_mode & S_IWGRP) != 0 && st.st_gid != 0;
  if (owner.uid == 0 && owner.group_shared) owner.uid = NobodyUid();
  return owner;
}

Status CheckArchiveFiles(const std::string& dir, const ArchiveOwner& owner,
                         std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Status::IOError(path + ": " + ErrnoText(errno));
    }
    const char* problem = nullptr;
    if (S_ISLNK(st.st_mode)) problem = "is a symbolic link";
    else if (!S_ISREG(st.st_mode)) problem = "is not a regular file";
    else if (st.st_nlink != 1) problem = "has more than one hard link";
    if (problem != nullptr) {
      return Status::PermissionDenied(path + " " + problem +
                                      ": refusing to open it (an archive's files are plain "
                                      "files; remove it, or restore the archive from a backup)");
    }
    const bool owners = st.st_uid == owner.uid;
    const bool groups = owner.group_shared && st.st_gid == owner.gid;
    if (!owners && !groups) {
      return Status::PermissionDenied(
          path + " belongs to uid " + std::to_string(st.st_uid) + " gid " +
          std::to_string(st.st_gid) + ", not to the archive directory's owner (uid " +
          std::to_string(owner.uid) + (owner.group_shared ? " or group " : " gid ") +
          std::to_string(owner.gid) + "): chown it to the directory's owner");
    }
  }
  return Status::Ok();
}

Status ArchiveOwnerIdentity::Assume(const ArchiveOwner& owner) {
  if (assumed_) return Status::Internal("archive owner identity assumed twice");  // a bug
  if (geteuid() != 0 || owner.uid == 0) return Status::Ok();
  saved_uid_ = geteuid();
  saved_gid_ = getegid();
  int count = getgroups(0, nullptr);
  if (count < 0) return Status::IOError("getgroups: " + ErrnoText(errno));
  saved_groups_.resize(static_cast<size_t>(count));
  if (count > 0 && getgroups(count, saved_groups_.data()) < 0)
    return Status::IOError("getgroups: " + ErrnoText(errno));
  assumed_ = true;  // from here on Restore() undoes whatever part succeeded
  if (setgroups(1, &owner.gid) != 0 || setegid(owner.gid) != 0 || seteuid(owner.uid) != 0) {
    const int error = errno;
    Restore();
    return Status::IOError("cannot act as the archive's owner (uid " + std::to_string(owner.uid) +
                           " gid " + std::to_string(owner.gid) + "): " + ErrnoText(error));
  }
  return Status::Ok();
}

void ArchiveOwnerIdentity::Restore() {
  if (!assumed_) return;
  assumed_ = false;
  if (seteuid(saved_uid_) != 0 || setegid(saved_gid_) != 0 ||
      setgroups(saved_groups_.size(), saved_groups_.data()) != 0) {
    std::abort();  // still someone else, or with someone else's groups: never go on
  }
}

Status DropRootForGood(const ArchiveOwner& owner) {
  if (geteuid() != 0 && getuid() != 0) return Status::Ok();
  uid_t uid = owner.uid;
  gid_t gid = owner.gid;
  if (uid == 0) {  // a root-only archive: root's rights are not needed to use it any more
    uid = NobodyUid();
    const struct group* nogroup = getgrnam("nogroup");
    gid = nogroup != nullptr ? nogroup->gr_gid : static_cast<gid_t>(kNobodyFallback);
  }
  if (seteuid(0) != 0 || setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    return Status::IOError("cannot give up root for uid " + std::to_string(uid) + ": " +
                           ErrnoText(errno));
  }
  if (setuid(0) == 0 || seteuid(0) == 0) std::abort();  // root must be gone for good
  return Status::Ok();
}

Status SetArchiveFileMode(const std::string& path, const ArchiveOwner& owner) {
  if (owner.group_shared && chown(path.c_str(), static_cast<uid_t>(-1), owner.gid) != 0 &&
      errno != EPERM) {
    return Status::IOError("chgrp " + path + ": " + ErrnoText(errno));
  }
  if (chmod(path.c_str(), owner.file_mode()) != 0)
    return Status::IOError("chmod " + path + ": " + ErrnoText(errno));
  return Status::Ok();
}

}  // namespace archiver
