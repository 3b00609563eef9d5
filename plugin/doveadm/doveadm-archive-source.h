// `doveadm archive source …`: remote IMAP sources managed in the archive's registry and
// synced through the imapc bridge. Shared helpers of the command bodies.
#pragma once

#include <memory>
#include <string>

#include "common/archiver-settings.h"
#include "common/archiver-units.h"
#include "archiver/sources/sources.h"
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-archive-dovecot.h"
#include "source-connect.h"

namespace archiver::doveadm {

// Registers the commands. Called as doveadm loads the module, before any change of uid:
// also notes the parent-death signal the process was started with (DropRootBeforeConnecting).
void RegisterSourceCommands();

void CmdSourceAdd(struct doveadm_cmd_context* cctx);     // doveadm-archive-source-manage.cc
void CmdSourceEdit(struct doveadm_cmd_context* cctx);
void CmdSourceRemove(struct doveadm_cmd_context* cctx);
void CmdSourcePause(struct doveadm_cmd_context* cctx);
void CmdSourceResume(struct doveadm_cmd_context* cctx);
void CmdSourceList(struct doveadm_cmd_context* cctx);    // doveadm-archive-source-query.cc
void CmdSourceShow(struct doveadm_cmd_context* cctx);
void CmdSourceLog(struct doveadm_cmd_context* cctx);
void CmdSourceTest(struct doveadm_cmd_context* cctx);    // doveadm-archive-source-sync.cc
void CmdSourceSync(struct doveadm_cmd_context* cctx);

// The archive named by the global plugin { archiver_path } and its source registry
// (sources need one archive for the server: an archiver_path with %u or ~ is refused).
// The settings give the DMARC sources' report limits.
struct SourceArchive : CommandArchive {
  std::unique_ptr<SourceRegistry> registry;
};

// Opens the archive (writable: created when missing) and its registry: OpenArchive's
// failures, EX_CONFIG without a place for the key, or preparing the key's. With
// `quiet_when_missing`, a read-only open of an archive that does not exist is not an
// error: OK with archive->missing set and no registry.
CommandStatus OpenSourceArchive(struct doveadm_cmd_context* cctx, bool writable,
                                SourceArchive* archive, bool quiet_when_missing = false);

// Gives up root for good, for the archive's owner (archive_access.h DropRootForGood),
// before the process speaks to a remote server: imapc's parsing of the remote's answers,
// TLS and the DMARC reading of remote mail never run as root. Called once everything that
// needs root was read (the sources' passwords: their key is root's alone). Fails with
// EX_TEMPFAIL. Not root: does nothing. A parent-death signal the process was started with
// (the poller's) holds again afterwards; EX_TEMPFAIL when that parent is gone.
CommandStatus DropRootBeforeConnecting(const SourceArchive& archive);

// The positional NAME into `*name`; EX_USAGE when missing or empty.
CommandStatus SourceNameParam(struct doveadm_cmd_context* cctx, const char** name);

// The exit code of a failed connection or sync: DNS 68 (EX_NOHOST), TCP 69
// (EX_UNAVAILABLE), TLS 76 (EX_PROTOCOL), authentication 77 (EX_NOPERM), missing folder
// 66 (EX_NOINPUT), other remote failures 75 (EX_TEMPFAIL), local ones 70 (EX_SOFTWARE).
int ExitCodeForFailure(imapc::FailureKind kind);

// A time for output: ISO 8601 UTC, "" for 0 (never).
std::string FormatOptionalTime(uint64_t micros);

}  // namespace archiver::doveadm
