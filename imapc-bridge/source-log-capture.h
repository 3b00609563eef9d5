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

  // The warning and error lines logged since construction or the last Clear(), oldest
  // first, without prefix.
  const std::vector<std::string>& lines() const { return lines_; }
  // The lines logged before the first Clear(), while the account was set up: Dovecot 2.4's
  // imapc already connects then, and logs why it could not only once.
  const std::vector<std::string>& setup_lines() const { return setup_lines_; }
  // Starts a new operation: lines() is emptied.
  void Clear() {
    if (!cleared_) setup_lines_ = lines_;
    cleared_ = true;
    lines_.clear();
  }

 private:
  std::vector<std::string> lines_;
  std::vector<std::string> setup_lines_;
  bool cleared_ = false;
};

}  // namespace archiver::imapc
