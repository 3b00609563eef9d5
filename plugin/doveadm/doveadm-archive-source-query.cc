// `doveadm archive source list|show|log`: what the registry knows about the sources.
// Nothing here prints or reads a password.
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-archive-source.h"
#include "doveadm/doveadm-dmarc-fields.h"

namespace archiver::doveadm {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

void PrintSettings(FieldPrinter& out, const SourceConfig& config) {
  out.Print("source", "name", config.name);
  out.Print("source", "host", config.host);
  out.Print("source", "port", std::to_string(config.port));
  out.Print("source", "user", config.user);
  out.Print("source", "tls", SourceTlsName(config.tls));
  out.Print("source", "tls_verify", config.tls_verify ? "yes" : "no");
  out.Print("source", "folders", config.all_folders ? "*" : Join(config.folders));
  out.Print("source", "exclude", Join(config.exclude));
  out.Print("source", "interval", plugin::FormatDuration(config.interval_seconds));
  out.Print("source", "purpose", SourcePurposeName(config.purpose));
  if (config.purpose != SourcePurpose::kDmarc) return;
  std::string after = SourceAfterName(config.after);
  if (config.after == SourceAfter::kMove) after += ":" + config.after_folder;
  out.Print("source", "after", after);
  out.Print("source", "subject_filter", config.subject_filter);
  out.Print("source", "sender_filter", config.sender_filter);
  out.Print("source", "max_age", config.max_age_seconds ? plugin::FormatDuration(config.max_age_seconds)
                                                        : "");
  out.Print("source", "max_size", config.max_size ? std::to_string(config.max_size) : "");
}

void PrintStatus(FieldPrinter& out, const SourceStatus& status) {
  out.Print("status", "state", SourceStateName(status.state()));
  out.Print("status", "last_sync", FormatOptionalTime(status.last_sync_us));
  out.Print("status", "last_attempt", FormatOptionalTime(status.last_attempt_us));
  out.Print("status", "next_due", FormatOptionalTime(status.next_due_us));
  out.Print("status", "messages", std::to_string(status.messages_archived));
  out.Print("status", "consecutive_failures", std::to_string(status.consecutive_failures));
  out.Print("status", "last_error", status.last_error);
  out.Print("status", "created", FormatOptionalTime(status.created_us));
}

void PrintFolder(FieldPrinter& out, const FolderCheckpoint& folder) {
  const std::string section = "folder." + folder.folder;
  out.Print(section, "uidvalidity", std::to_string(folder.uidvalidity));
  out.Print(section, "last_uid", std::to_string(folder.last_uid));
  out.Print(section, "archived", std::to_string(folder.archived));
  out.Print(section, "remote_messages", std::to_string(folder.remote_messages));
  out.Print(section, "updated", FormatOptionalTime(folder.updated_us));
  // DMARC sources: --after actions committed but not yet accepted by the remote.
  std::string pending;
  for (uint32_t uid : folder.pending_after)
    pending += (pending.empty() ? "" : ",") + std::to_string(uid);
  out.Print(section, "pending_after", pending);
  // Messages the remote failed to give, fetched again by each sync: one row each.
  out.Print(section, "retry", std::to_string(folder.retry.size()));
  for (const RetryMessage& retry : folder.retry) {
    const std::string field = "retry." + std::to_string(retry.uid);
    out.Print(section, field.c_str(),
              "failed " + std::to_string(retry.failures) + " of " +
                  std::to_string(kRefusedSyncsBeforeSkip) + " syncs: " + retry.reason);
  }
}

constexpr uint64_t kShowLogEntries = 10;

}  // namespace

void CmdSourceList(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, false, &archive); !opened.ok())
      return opened;
    Result<std::vector<SourceInfo>> sources = archive.registry->List();
    if (!sources.ok())
      return CommandStatus::Of(sources.status(),
                               "Listing the sources failed: " + sources.status().message());
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* column : {"name", "host", "user", "purpose", "status", "last_sync"})
      doveadm_print_header_simple(column);
    doveadm_print_header("messages", "messages", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("last_error");
    // Messages the remote failed to give, waiting in the folders' retry lists.
    doveadm_print_header("retrying", "retrying", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    for (const SourceInfo& source : *sources) {
      PrintValue(source.config.name.c_str());
      PrintValue(source.config.host.c_str());
      PrintValue(source.config.user.c_str());
      PrintValue(SourcePurposeName(source.config.purpose));
      PrintValue(SourceStateName(source.status.state()));
      PrintValue(FormatOptionalTime(source.status.last_sync_us).c_str());
      PrintValue(std::to_string(source.status.messages_archived).c_str());
      PrintValue(source.status.last_error.c_str());
      size_t retrying = 0;
      for (const FolderCheckpoint& folder : source.folders) retrying += folder.retry.size();
      PrintValue(std::to_string(retrying).c_str());
    }
    return CommandStatus::Ok();
  });
}

void CmdSourceShow(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    if (CommandStatus named = SourceNameParam(cctx, &name); !named.ok()) return named;
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, false, &archive); !opened.ok())
      return opened;
    Result<SourceInfo> info = archive.registry->Describe(name);
    if (!info.ok()) return CommandStatus::Of(info.status(), info.status().message());
    FieldPrinter out;
    PrintSettings(out, info->config);
    PrintStatus(out, info->status);
    for (const FolderCheckpoint& folder : info->folders) PrintFolder(out, folder);
    uint64_t shown = 0;
    Status log = archive.registry->ListLog(name, [&](const SourceLogEntry& entry) {
      const std::string section = "log." + std::to_string(++shown);
      out.Print(section, "time", FormatOptionalTime(entry.time_us));
      out.Print(section, "what", entry.what);
      out.Print(section, "count", std::to_string(entry.count));
      out.Print(section, "error", entry.error);
      return shown < kShowLogEntries;
    });
    if (!log.ok())
      return CommandStatus::Of(log, "Reading the activity log failed: " + log.message());
    return CommandStatus::Ok();
  });
}

void CmdSourceLog(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    if (CommandStatus named = SourceNameParam(cctx, &name); !named.ok()) return named;
    int64_t limit = 0;
    if (doveadm_cmd_param_int64(cctx, "limit", &limit) && limit < 0)
      return CommandStatus::Failed(EX_USAGE, "Invalid --limit: must be 0 (no limit) or more");
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, false, &archive); !opened.ok())
      return opened;
    bool started = false;
    uint64_t shown = 0;
    Status log = archive.registry->ListLog(name, [&](const SourceLogEntry& entry) {
      if (!started) {
        doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
        doveadm_print_header_simple("time");
        doveadm_print_header_simple("what");
        doveadm_print_header("count", "count", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
        doveadm_print_header_simple("error");
        started = true;
      }
      PrintValue(FormatOptionalTime(entry.time_us).c_str());
      PrintValue(entry.what.c_str());
      PrintValue(std::to_string(entry.count).c_str());
      PrintValue(entry.error.c_str());
      return limit == 0 || ++shown < static_cast<uint64_t>(limit);
    });
    if (!log.ok())
      return CommandStatus::Of(log, "Source " + std::string(name) + ": " + log.message());
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
