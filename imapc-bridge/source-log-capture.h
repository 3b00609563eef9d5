// LogCapture: while alive, remembers the warnings and errors Dovecot logs in this process
// (imapc reports DNS, TCP and TLS failures only to the log) and still passes them on to
// the handler that was installed before. Not reentrant: one capture at a time.
#pragma once

#include <string>
#include <vector>

namespace archiver::imapc {

class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The warning and error lines logged since construction, oldest first, without prefix.
  const std::vector<std::string>& lines() const { return lines_; }
  void Clear() { lines_.clear(); }

 private:
  std::vector<std::string> lines_;
};

}  // namespace archiver::imapc
