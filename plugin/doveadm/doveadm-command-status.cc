// CommandStatus and the exit codes of doveadm commands (no Dovecot header: unit-tested).
#include "doveadm/doveadm-command-status.h"

#include <sysexits.h>

namespace archiver::doveadm {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return 0;
    case Status::Code::kNotFound:
      return EX_NOHOST;  // DOVEADM_EX_NOTFOUND
    case Status::Code::kInvalidArgument:
    case Status::Code::kAmbiguous:
      return EX_USAGE;
    case Status::Code::kCorruption:
      return EX_DATAERR;
    case Status::Code::kPermissionDenied:
      return EX_NOPERM;
    case Status::Code::kInternal:
      return EX_SOFTWARE;  // a bug: trying again will not help
    default:
      return EX_TEMPFAIL;
  }
}

int CombinedExitCode(int current, const CommandStatus& failure) {
  return current != 0 ? current : failure.exit_code();
}

}  // namespace archiver::doveadm
