// What every `doveadm archive` command shares: finding and opening the archive that
// the plugin { archiver_* } settings name, reading common parameters, and reporting a
// command's outcome (CommandStatus) to doveadm once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "archiver/store/store.h"
#include "common/archiver-settings.h"
#include "doveadm/doveadm-archive-dovecot.h"
#include "doveadm/doveadm-command-status.h"

namespace archiver::doveadm {

// Error convention: a command body and every helper it calls return a CommandStatus (or
// a core Status the body turns into one); nothing below reports. RunCommand translates the
// body's outcome once: i_error(message) and doveadm_exit_code, the first failure's code
// winning. The one exception is ReportAndContinue, for a command that reports a failure of
// one item and goes on with the next.

// Runs a command body behind an exception barrier (nothing may unwind into doveadm's C)
// and reports its outcome; an exception is a bug: EX_SOFTWARE, "archive: internal error".
void RunCommand(const std::function<CommandStatus()>& body);

// Reports `failure` now (nothing when OK) and lets the command go on: logged as an error,
// its code the command's exit code unless an earlier failure set one (CombinedExitCode).
void ReportAndContinue(const CommandStatus& failure);

// The string value of parameter `name`, or nullptr when not given.
const char* ParamString(struct doveadm_cmd_context* cctx, const char* name);

// doveadm_print for every value a command prints: text from anyone (a subject, a report's
// org, a remote server's reply) shows its control characters as \xNN (DisplayText), so
// that it cannot drive the terminal of whoever reads the output.
void PrintValue(const char* value);
inline void PrintValue(const std::string& value) { PrintValue(value.c_str()); }

// The global archiver_path as written in the configuration (variables not expanded), ""
// when unset.
std::string RawGlobalArchivePath(struct doveadm_cmd_context* cctx);

// The archiver_* settings a command works with: with `-u USER`, when archiver_path
// depends on the user, that user's (userdb lookup; %u, %d, ~ expanded); otherwise the
// global plugin { } ones, whose archiver_path must not depend on the user. Failures:
// EX_NOUSER, EX_TEMPFAIL (the lookup), EX_CONFIG (a bad setting), EX_USAGE (no -u).
CommandStatus CommandSettings(struct doveadm_cmd_context* cctx, plugin::ArchiverSettings* settings);

// How a command opens its archive (OpenArchive).
struct ArchiveOpening {
  bool writable = false;           // else read-only
  bool create_if_missing = false;  // with writable: a missing archive is made
  // The archive for the whole server (remote sources): the global archiver_path, which
  // must not depend on the user (EX_CONFIG); `-u`/--user never selects a local user.
  bool server_wide = false;
  // A read-only open of an archive that does not exist is no error: OpenArchive returns
  // OK with CommandArchive::missing set and no store.
  bool quiet_when_missing = false;
};

// An opened archive and the settings it was opened with.
struct CommandArchive {
  plugin::ArchiverSettings settings;
  std::shared_ptr<Store> store;
  bool missing = false;  // see ArchiveOpening::quiet_when_missing
};

// The one way a doveadm command opens an archive. The settings are CommandSettings'
// (with `how.server_wide` always the global ones: the raw archiver_path is checked
// first); Store::Open then acts in the archive directory only as its owner, never as root
// (archive_access.h), and takes the process's open handle of the archive when there is
// one. Fails with the settings' codes, EX_CONFIG (server_wide and a per-user path) or
// ExitCodeFor the open; `*archive` is then unchanged but for `missing` (false), as it is
// when quietly missing (OK, see ArchiveOpening).
CommandStatus OpenArchive(struct doveadm_cmd_context* cctx, const ArchiveOpening& how,
                          CommandArchive* archive);

// Gives up root for good (DropRootForGood), for the owner of the opened archive, before
// the command does `activity` ("parsing reports"): what anyone may have written is never
// handled as root. Not root: does nothing. Fails with EX_TEMPFAIL.
CommandStatus DropRootForGoodBefore(const CommandArchive& archive, const char* activity);

// Opens the archive for a command, read-only unless `writable` (an existing archive
// only: a command never creates one). With `-u USER` the user's settings are
// looked up (userdb; the archive path may then use %u, %d, ~); without it the global
// plugin { archiver_path } is used and must not depend on the user. OK with `*store` set,
// else OpenArchive's failure.
CommandStatus OpenCommandArchive(struct doveadm_cmd_context* cctx, std::shared_ptr<Store>* store,
                                 bool writable = false);

// Reads --since and --until (ParseTimeArgument's syntax, in microseconds) and --limit;
// an option not given leaves its value as it was. EX_USAGE on a bad value.
CommandStatus ParseListingOptions(struct doveadm_cmd_context* cctx, uint64_t* since_us,
                                  uint64_t* until_us, uint64_t* limit);

// Reads --since --until --from --rcpt --user --mailbox --subject --limit into a
// filter. EX_USAGE on a bad value.
CommandStatus ParseListFilter(struct doveadm_cmd_context* cctx, ListFilter* filter);

}  // namespace archiver::doveadm
