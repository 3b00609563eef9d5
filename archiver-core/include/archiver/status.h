// Status and Result<T>: how the core reports success and failure, as values.
// Third-party error codes (LMDB, zlib, OpenSSL) are translated into a Status once,
// in the adapter that calls the library; nothing in the core throws across its API.
#pragma once

#include <exception>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace archiver {

class Status {
 public:
  // Categories name how a caller should react, not which library failed.
  enum class Code {
    kOk = 0,
    kNotFound,         // the thing asked for does not exist
    kCorruption,       // stored bytes fail their integrity check
    kIOError,          // the operating system or the storage library failed
    kInvalidArgument,  // the caller's input is malformed
    kLimitExceeded,    // a configured or built-in limit was reached
    kMapFull,          // the LMDB map is full: raise archiver_map_size
    kAmbiguous,        // a prefix or name matches more than one thing
    kPermissionDenied, // refused for safety: a file or directory someone else may have planted
    kInternal,         // a bug (an unexpected exception, a broken invariant): the same call
                       // fails the same way until the code is fixed; report it as a bug
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
  static Status Corruption(std::string message) { return {Code::kCorruption, std::move(message)}; }
  static Status IOError(std::string message) { return {Code::kIOError, std::move(message)}; }
  static Status InvalidArgument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
  }
  static Status LimitExceeded(std::string message) {
    return {Code::kLimitExceeded, std::move(message)};
  }
  static Status MapFull(std::string message) { return {Code::kMapFull, std::move(message)}; }
  static Status Ambiguous(std::string message) { return {Code::kAmbiguous, std::move(message)}; }
  static Status PermissionDenied(std::string message) {
    return {Code::kPermissionDenied, std::move(message)};
  }
  static Status Internal(std::string message) { return {Code::kInternal, std::move(message)}; }

  bool ok() const { return code_ == Code::kOk; }
  // The same category, with "context: " before the message (OK stays OK).
  Status Annotated(const std::string& context) const {
    return ok() ? *this : Status(code_, context + ": " + message_);
  }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: message 3f2a…: hash mismatch"; "OK" for success.
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* StatusCodeName(Status::Code code);

// Either a value or a non-OK Status. Accessing value() of a failed Result is a bug.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Runs `work` (returning a Status) behind an exception barrier, as every entry from
// Dovecot and every thread of ours needs. An exception becomes a Status naming it, after
// `context` ("" or e.g. "background job failed: "): running out of memory or a system
// call's failure is an IOError (it may pass), any other exception Internal (a bug).
template <typename Work>
Status Guarded(Work&& work, const char* context = "") {
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return Status::IOError(std::string(context) + "out of memory");
  } catch (const std::system_error& e) {
    return Status::IOError(std::string(context) + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string(context) + e.what());
  } catch (...) {
    return Status::Internal(std::string(context) + "unexpected exception");
  }
}

}  // namespace archiver
