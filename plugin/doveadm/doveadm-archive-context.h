// What every `doveadm archive` command shares: finding and opening the archive that
// the plugin { archiver_* } settings name, reading common parameters, and turning a
// core Status into doveadm's exit codes and error messages.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/archiver-settings.h"
#include "archiver/store/store.h"
#include "doveadm/doveadm-archive-dovecot.h"

namespace archiver::doveadm {

// Logs `message` as an error and sets the command's exit code (EX_USAGE, EX_NOHOST for
// "not found", EX_DATAERR, EX_TEMPFAIL, EX_CONFIG…). The first failure's code wins.
void CommandFailed(int exit_code, const std::string& message);

// doveadm's exit code for a failed core call: NotFound → 68, InvalidArgument and
// Ambiguous → 64, Corruption → 65, others → 75.
int ExitCodeFor(const Status& status);

// The string value of parameter `name`, or nullptr when not given.
const char* ParamString(struct doveadm_cmd_context* cctx, const char* name);

// doveadm_print for every value a command prints: text from anyone (a subject, a report's
// org, a remote server's reply) shows its control characters as \xNN (DisplayText), so
// that it cannot drive the terminal of whoever reads the output.
void PrintValue(const char* value);
inline void PrintValue(const std::string& value) { PrintValue(value.c_str()); }

// Runs a command body as an exception barrier: nothing may unwind into doveadm's C.
void RunCommand(const std::function<void()>& body);

// The global archiver_path as written in the configuration (variables not expanded), ""
// when unset.
std::string RawGlobalArchivePath(struct doveadm_cmd_context* cctx);

// The archiver_* settings a command works with: with `-u USER`, when archiver_path
// depends on the user, that user's (userdb lookup; %u, %d, ~ expanded); otherwise the
// global plugin { } ones, whose archiver_path must not depend on the user. False after
// CommandFailed (EX_NOUSER, EX_TEMPFAIL, EX_CONFIG, EX_USAGE).
bool CommandSettings(struct doveadm_cmd_context* cctx, plugin::ArchiverSettings* settings);

// How a command opens its archive (OpenArchive).
struct ArchiveOpening {
  bool writable = false;           // else read-only
  bool create_if_missing = false;  // with writable: a missing archive is made
  // The archive for the whole server (remote sources): the global archiver_path, which
  // must not depend on the user (EX_CONFIG); `-u`/--user never selects a local user.
  bool server_wide = false;
  // A read-only open of an archive that does not exist is no error: OpenArchive returns
  // false with CommandArchive::missing set, and nothing reported.
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
// (archive_access.h), and takes the process's open handle of the archive when there is one. False after CommandFailed (the settings' codes, or ExitCodeFor the open),
// or quietly missing (see ArchiveOpening); `*archive` is then unchanged but for `missing`.
bool OpenArchive(struct doveadm_cmd_context* cctx, const ArchiveOpening& how,
                 CommandArchive* archive);

// Gives up root for good (DropRootForGood), for the owner of the opened archive, before
// the command does `activity` ("parsing reports"): what anyone may have written is never
// handled as root. Not root: does nothing. False after CommandFailed(EX_TEMPFAIL).
bool DropRootForGoodBefore(const CommandArchive& archive, const char* activity);

// Opens the archive for a command, read-only unless `writable` (an existing archive
// only: a command never creates one). With `-u USER` the user's settings are
// looked up (userdb; the archive path may then use %u, %d, ~); without it the global
// plugin { archiver_path } is used and must not depend on the user. On failure the
// error is reported (CommandFailed) and nullptr returned.
std::shared_ptr<Store> OpenCommandArchive(struct doveadm_cmd_context* cctx,
                                          bool writable = false);

// Reads --since and --until (ParseTimeArgument's syntax, in microseconds) and --limit;
// an option not given leaves its value as it was. False (after CommandFailed with
// EX_USAGE) on a bad value.
bool ParseListingOptions(struct doveadm_cmd_context* cctx, uint64_t* since_us, uint64_t* until_us,
                         uint64_t* limit);

// Reads --since --until --from --rcpt --user --mailbox --subject --limit into a
// filter. False (after CommandFailed with EX_USAGE) on a bad value.
bool ParseListFilter(struct doveadm_cmd_context* cctx, ListFilter* filter);

}  // namespace archiver::doveadm
