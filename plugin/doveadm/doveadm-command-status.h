// CommandStatus: how a doveadm command, or one of its steps, ended: OK, or the exit code
// doveadm returns with the message it logs. Inside the glue everything returns one of
// these (or a core Status, turned into one with Of); RunCommand reports it once.
#pragma once

#include <string>
#include <utility>

#include "archiver/status.h"

namespace archiver::doveadm {

// doveadm's exit code for a failed core call: NotFound → 68 (DOVEADM_EX_NOTFOUND),
// InvalidArgument and Ambiguous → 64 (EX_USAGE), Corruption → 65 (EX_DATAERR),
// PermissionDenied → 77 (EX_NOPERM), Internal → 70 (EX_SOFTWARE: a bug), others
// (IOError, MapFull, LimitExceeded) → 75 (EX_TEMPFAIL), OK → 0.
int ExitCodeFor(const Status& status);

class CommandStatus {
 public:
  CommandStatus() = default;  // OK
  static CommandStatus Ok() { return CommandStatus(); }
  // A failure whose exit code the core's categories do not say: EX_NOUSER (unknown user),
  // EX_CONFIG (a bad archiver_* setting), EX_USAGE (a bad option), EX_SOFTWARE (a bug).
  // `exit_code` must not be 0.
  static CommandStatus Failed(int exit_code, std::string message) {
    return CommandStatus(exit_code, std::move(message));
  }
  // A failed core call (`status` not OK): ExitCodeFor(status), with `message` as the
  // command words it (usually naming what failed and status.ToString() or .message()).
  static CommandStatus Of(const Status& status, std::string message) {
    return Failed(ExitCodeFor(status), std::move(message));
  }

  bool ok() const { return exit_code_ == 0; }
  int exit_code() const { return exit_code_; }    // 0 when OK
  const std::string& message() const { return message_; }  // "" when OK

 private:
  CommandStatus(int exit_code, std::string message)
      : exit_code_(exit_code), message_(std::move(message)) {}
  int exit_code_ = 0;
  std::string message_;
};

// The exit code a command has after `failure` (OK: unchanged) when it already had
// `current`: the first failure's code wins, so a later, milder one cannot hide it.
int CombinedExitCode(int current, const CommandStatus& failure);

}  // namespace archiver::doveadm
