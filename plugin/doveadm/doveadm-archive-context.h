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
