// InputSource implementations: bytes in memory, and a regular file read with read(2)
// (see input_source.h).
#include "archiver/input_source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace archiver {

MemorySource::MemorySource(std::string_view bytes, std::string name)
    : bytes_(bytes), name_(std::move(name)) {}

Result<size_t> MemorySource::Read(char* buffer, size_t n) {
  size_t count = std::min(n, bytes_.size() - offset_);
  if (count > 0) std::memcpy(buffer, bytes_.data() + offset_, count);
  offset_ += count;
  return count;
}

Status MemorySource::Rewind() {
  offset_ = 0;
  return Status::Ok();
}

namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int error = errno;
    std::string message = path + ": cannot open: " + ErrnoText(error);
    if (error == ENOENT || error == ENOTDIR) return Status::NotFound(std::move(message));
    return Status::IOError(std::move(message));
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    return Status::IOError(path + ": cannot stat: " + ErrnoText(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::IOError(path + ": not a regular file" +
                           (S_ISDIR(info.st_mode) ? std::string(" (a directory)") : ""));
  }
  return std::unique_ptr<FileSource>(new FileSource(fd, path, static_cast<uint64_t>(info.st_size)));
}

FileSource::FileSource(int fd, std::string path, uint64_t size)
    : fd_(fd), path_(std::move(path)), size_(size) {}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

Result<size_t> FileSource::Read(char* buffer, size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_, buffer, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return Status::IOError(path_ + ": read failed: " + ErrnoText(errno));
  }
}

Status FileSource::Rewind() {
  if (::lseek(fd_, 0, SEEK_SET) < 0) {
    return Status::IOError(path_ + ": cannot rewind: " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace archiver
