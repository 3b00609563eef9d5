// `doveadm archive source test|sync`: connect to the remote through the imapc bridge.
// test lists the remote folders; sync runs imapc::SyncSource for one, all or the due
// sources, with progress on stderr when it is a terminal.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "archiver/time_format.h"
#include "common/archiver-dmarc-launch.h"
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-archive-source.h"
#include "source-sync.h"

namespace archiver::doveadm {
namespace {

// A remote's failure as the command's outcome (ExitCodeForFailure).
CommandStatus ConnectionFailed(const std::string& name, const imapc::RemoteError& error) {
  return CommandStatus::Failed(
      ExitCodeForFailure(error.kind),
      "Source " + name + ": " + imapc::FailureKindName(error.kind) + " failure: " + error.reason);
}

// One row of `source sync`'s output.
void PrintSyncRow(const std::string& name, const std::string& state,
                  const imapc::SyncOutcome& outcome) {
  PrintValue(name.c_str());
  PrintValue(state.c_str());
  PrintValue(std::to_string(outcome.archived).c_str());
  PrintValue(imapc::FailureKindName(outcome.failure));
  PrintValue(outcome.error.c_str());
}

// The sources `sync --due` (or --all: every source not paused) would sync, read from the
// archive opened read-only: none when the archive does not exist. The archive is closed
// again on return, so that it can be opened writable.
CommandStatus SelectSources(struct doveadm_cmd_context* cctx, bool due,
                            std::vector<std::string>* names) {
  SourceArchive archive;
  CommandStatus opened = OpenSourceArchive(cctx, false, &archive, true);
  if (!opened.ok() || archive.missing) return opened;
  Result<std::vector<std::string>> selected = archive.registry->Due(due ? NowMicros() : UINT64_MAX);
  if (!selected.ok()) return CommandStatus::Of(selected.status(), selected.status().message());
  *names = std::move(selected).value();
  return CommandStatus::Ok();
}

// The source `sync NAME` names exists (else the lookup's failure) and is not paused
// (EX_TEMPFAIL).
CommandStatus CheckNamedSource(const SourceArchive& archive, const char* name) {
  Result<SourceInfo> info = archive.registry->Describe(name);
  if (!info.ok()) return CommandStatus::Of(info.status(), info.status().message());
  if (info->status.paused)
    return CommandStatus::Failed(
        EX_TEMPFAIL, std::string("Source ") + name + " is paused: resume it to sync it");
  return CommandStatus::Ok();
}

// The options of a sync into `*options`: --max-message-size (EX_USAGE when bad), the DMARC
// reader, progress on a terminal.
CommandStatus SyncOptionsFor(struct doveadm_cmd_context* cctx,
                             const plugin::ArchiverSettings& settings,
                             imapc::SyncOptions* options_out) {
  imapc::SyncOptions& options = *options_out;
  if (const char* text = ParamString(cctx, "max-message-size")) {
    Result<uint64_t> size = plugin::ParseSize(text);
    if (!size.ok() || *size == 0)
      return CommandStatus::Failed(EX_USAGE, std::string("Invalid --max-message-size: ") + text);
    options.max_message_bytes = *size;
  }
  // DMARC sources: each mail read as a report delivery is, by archiver-dmarc-reader
  // (a process of its own with its limits: a mail that crashes the parser is that mail's
  // error, never the sync's end), into the archive the sync writes to; the mail, not
  // committed yet, is handed to it.
  options.dmarc_reader = [settings](std::string_view mail, const DmarcOrigin& origin,
                                    DmarcMail* noted) {
    DmarcReaderJob job = plugin::DmarcReaderJobFor(settings, noted->mail, noted->user,
                                                   noted->mailbox, origin.detail, true);
    job.origin_kind = origin.kind;
    job.mail_on_fd = true;
    Result<DmarcItemTally> read = plugin::ReadWithDmarcReader(job, mail);
    if (!read.ok()) return read.status();
    noted->reports = static_cast<uint32_t>(read->reports);
    noted->failures = static_cast<uint32_t>(read->failures);
    noted->errors = static_cast<uint32_t>(read->errors);
    return Status::Ok();
  };
  if (isatty(STDERR_FILENO)) {
    options.progress = [](const std::string& folder, uint64_t done, uint64_t remaining) {
      fprintf(stderr, "\r%s: %llu archived, about %llu UIDs to go   ", folder.c_str(),
              static_cast<unsigned long long>(done), static_cast<unsigned long long>(remaining));
      if (remaining == 0) fputc('\n', stderr);
    };
  }
  return CommandStatus::Ok();
}

// Syncs `names` one after the other, a row each. Every password is read while still
// root; from there on the process is the archive's owner for good. A source that fails is
// reported as it ends (ReportAndContinue: the next sources still sync; the first failure's
// code is the command's).
CommandStatus SyncSources(const SourceArchive& archive, const std::vector<std::string>& names,
                          const imapc::SyncOptions& options) {
  std::vector<imapc::SourceCredentials> credentials;
  for (const std::string& source : names)
    credentials.push_back(imapc::ReadSourceCredentials(*archive.registry, source));
  if (CommandStatus dropped = DropRootBeforeConnecting(archive); !dropped.ok()) return dropped;
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  for (const char* column : {"name", "status", "archived", "failure", "error"})
    doveadm_print_header_simple(column);
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& source = names[i];
    imapc::SyncOutcome outcome =
        imapc::SyncSource(archive.registry.get(), source, credentials[i], options);
    Result<SourceInfo> after = archive.registry->Describe(source);
    PrintSyncRow(source, after.ok() ? SourceStateName(after->status.state()) : "", outcome);
    if (outcome.failure != imapc::FailureKind::kNone)
      ReportAndContinue(ConnectionFailed(source, {outcome.failure, outcome.error}));
  }
  return CommandStatus::Ok();
}

}  // namespace

void CmdSourceTest(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    if (CommandStatus named = SourceNameParam(cctx, &name); !named.ok()) return named;
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, false, &archive); !opened.ok())
      return opened;
    Result<SourceConfig> config = archive.registry->Get(name);
    if (!config.ok()) return CommandStatus::Of(config.status(), config.status().message());
    // The password is read while still root; the remote is spoken to as the archive's owner.
    imapc::SourceCredentials credentials;
    credentials.error =
        imapc::SourceRemoteSettings(*archive.registry, *config, &credentials.remote);
    if (!credentials.error.ok()) return ConnectionFailed(name, credentials.error);
    if (CommandStatus dropped = DropRootBeforeConnecting(archive); !dropped.ok()) return dropped;
    std::unique_ptr<imapc::RemoteAccount> account;
    std::vector<std::string> remote_folders;
    std::vector<std::string> synced;
    imapc::RemoteError error = imapc::RemoteAccount::Connect(credentials.remote, &account);
    if (error.ok()) error = account->ListFolders(&remote_folders);
    if (error.ok()) error = imapc::SourceFolders(account.get(), *config, &synced);
    if (!error.ok()) return ConnectionFailed(name, error);
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header_simple("folder");
    doveadm_print_header("messages", "messages", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header("unseen", "unseen", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("synced");
    doveadm_print_header_simple("error");
    std::vector<std::string> folders = remote_folders;
    for (const std::string& folder : synced)  // configured folders missing on the remote
      if (std::find(folders.begin(), folders.end(), folder) == folders.end())
        folders.push_back(folder);
    imapc::RemoteError first_error;
    for (const std::string& folder : folders) {
      imapc::RemoteFolderStatus status;
      imapc::RemoteError folder_error = account->FolderStatus(folder, &status);
      const bool ok = folder_error.ok();
      PrintValue(folder.c_str());
      PrintValue(ok ? std::to_string(status.messages).c_str() : "");
      PrintValue(ok ? std::to_string(status.unseen).c_str() : "");
      PrintValue(std::find(synced.begin(), synced.end(), folder) != synced.end() ? "yes" : "no");
      PrintValue(folder_error.reason.c_str());
      if (!ok && first_error.ok()) first_error = folder_error;
    }
    if (!first_error.ok()) return ConnectionFailed(name, first_error);
    return CommandStatus::Ok();
  });
}

void CmdSourceSync(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    bool all = false;
    bool due = false;
    (void)doveadm_cmd_param_bool(cctx, "all", &all);
    (void)doveadm_cmd_param_bool(cctx, "due", &due);
    const char* name = ParamString(cctx, "name");
    if ((name != nullptr) + all + due != 1)
      return CommandStatus::Failed(EX_USAGE,
                                   "source sync needs one of: a source name, --all, --due");
    std::vector<std::string> names;
    if (name == nullptr) {
      // --all and --due look read-only first: with no archive or nothing to sync the
      // command creates nothing (run as root by the poller on servers without sources) and
      // prints nothing.
      CommandStatus selected = SelectSources(cctx, due, &names);
      if (!selected.ok() || names.empty()) return selected;
    }
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, true, &archive); !opened.ok()) return opened;
    if (name != nullptr) {
      if (CommandStatus usable = CheckNamedSource(archive, name); !usable.ok()) return usable;
      names.push_back(name);
    }
    imapc::SyncOptions options;
    if (CommandStatus parsed = SyncOptionsFor(cctx, archive.settings, &options); !parsed.ok())
      return parsed;
    return SyncSources(archive, names, options);
  });
}

}  // namespace archiver::doveadm
