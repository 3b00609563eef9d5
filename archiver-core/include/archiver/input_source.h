// InputSource: bytes read in pieces, so that a large report (a 420 MB aggregate XML
// file) is parsed without being held in memory. Dovecot-independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver {

class InputSource {
 public:
  virtual ~InputSource() = default;
  // Reads up to `n` bytes into `buffer`; 0 at the end. IOError when reading fails.
  virtual Result<size_t> Read(char* buffer, size_t n) = 0;
  // Starts again from the first byte (a parse retried in recover mode reads twice).
  virtual Status Rewind() = 0;
  // The total size in bytes when known up front (checked against limits before
  // parsing), UINT64_MAX when not.
  virtual uint64_t size() const = 0;
  // What to call the input in messages ("report.xml", "attachment 2").
  virtual std::string name() const = 0;
};

// Bytes already in memory; the view must outlive the source.
class MemorySource final : public InputSource {
 public:
  explicit MemorySource(std::string_view bytes, std::string name = "input");
  Result<size_t> Read(char* buffer, size_t n) override;
  Status Rewind() override;
  uint64_t size() const override { return bytes_.size(); }
  std::string name() const override { return name_; }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
  std::string name_;
};

// A regular file, read with read(2) in the caller's buffer sizes (no mmap: the pages
// read would count in the process's resident size).
class FileSource final : public InputSource {
 public:
  // NotFound (no such file), IOError (permissions, a directory, ...).
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  Result<size_t> Read(char* buffer, size_t n) override;
  Status Rewind() override;
  uint64_t size() const override { return size_; }
  std::string name() const override { return path_; }
  int fd() const { return fd_; }  // owned by the source

 private:
  FileSource(int fd, std::string path, uint64_t size);
  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
};

}  // namespace archiver
