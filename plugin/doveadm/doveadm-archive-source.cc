// Registration of `doveadm archive source …` and the helpers its command bodies share.
#include "doveadm/doveadm-archive-source.h"

#include <sys/prctl.h>
#include <unistd.h>

#include "archiver/digest.h"
#include "archiver/secret_box.h"
#include "archiver/time_format.h"
#include "doveadm/doveadm-archive-context.h"

namespace archiver::doveadm {
namespace {

// The signal this process gets when its parent dies (PR_SET_PDEATHSIG: the poller asks for
// SIGKILL) and that parent, as they were when doveadm loaded the module, before a change
// of uid made Linux forget the signal.
int parent_death_signal = 0;
pid_t starting_parent = 0;

#define SOURCE_PARAM(param_name, param_type, short_option, param_flags)                      \
  doveadm_cmd_param {                                                                        \
    .short_opt = short_option, .name = param_name, .type = param_type, .flags = param_flags  \
  }
#define SOURCE_OPTION(name, type) SOURCE_PARAM(name, type, '\0', CMD_PARAM_FLAG_NONE)

const doveadm_cmd_param kName =
    SOURCE_PARAM("name", CMD_PARAM_STR, '\0', CMD_PARAM_FLAG_POSITIONAL);
const doveadm_cmd_param kLast = SOURCE_OPTION(nullptr, CMD_PARAM_BOOL);

// The settings `add` and `edit` take.
#define SOURCE_SETTING_OPTIONS                                                              \
  SOURCE_OPTION("host", CMD_PARAM_STR), SOURCE_OPTION("port", CMD_PARAM_INT64),             \
      SOURCE_OPTION("user", CMD_PARAM_STR), SOURCE_OPTION("password-file", CMD_PARAM_STR), \
      SOURCE_OPTION("password-stdin", CMD_PARAM_BOOL), SOURCE_OPTION("tls", CMD_PARAM_STR), \
      SOURCE_OPTION("tls-verify", CMD_PARAM_STR), SOURCE_OPTION("folders", CMD_PARAM_STR),  \
      SOURCE_OPTION("all-folders", CMD_PARAM_BOOL), SOURCE_OPTION("exclude", CMD_PARAM_STR), \
      SOURCE_OPTION("interval", CMD_PARAM_STR), SOURCE_OPTION("purpose", CMD_PARAM_STR),    \
      SOURCE_OPTION("after", CMD_PARAM_STR), SOURCE_OPTION("subject-filter", CMD_PARAM_STR), \
      SOURCE_OPTION("sender-filter", CMD_PARAM_STR), SOURCE_OPTION("max-age", CMD_PARAM_STR), \
      SOURCE_OPTION("max-size", CMD_PARAM_STR)
#define SOURCE_SETTING_USAGE                                                                  \
  "[--port <port>] [--tls imaps|starttls|none] [--tls-verify yes|no] "                        \
  "[--folders <f1,f2,…> | --all-folders] [--exclude <f1,f2,…>] [--interval <duration>] "     \
  "[--purpose archive|dmarc] [--after seen|move:<folder>|delete|none] "                       \
  "[--subject-filter <text>] [--sender-filter <text>] [--max-age <duration>] "                \
  "[--max-size <size>]"

const doveadm_cmd_param kSettingParams[] = {SOURCE_SETTING_OPTIONS, kName, kLast};
const doveadm_cmd_param kNameParams[] = {kName, kLast};
const doveadm_cmd_param kListParams[] = {kLast};
const doveadm_cmd_param kLogParams[] = {SOURCE_OPTION("limit", CMD_PARAM_INT64), kName,
                                        kLast};
const doveadm_cmd_param kSyncParams[] = {SOURCE_OPTION("all", CMD_PARAM_BOOL),
                                         SOURCE_OPTION("due", CMD_PARAM_BOOL),
                                         SOURCE_OPTION("max-message-size", CMD_PARAM_STR),
                                         kName, kLast};

doveadm_cmd_ver2 kSourceCommands[] = {
    {.cmd = CmdSourceAdd,
     .name = "archive source add",
     .usage = "--host <host> --user <login> (--password-file <file> | "
              "--password-stdin) " SOURCE_SETTING_USAGE " <name>",
     .parameters = kSettingParams},
    {.cmd = CmdSourceEdit,
     .name = "archive source edit",
     .usage = "[--host <host>] [--user <login>] [--password-file <file> | "
              "--password-stdin] " SOURCE_SETTING_USAGE " <name>",
     .parameters = kSettingParams},
    {.cmd = CmdSourceList, .name = "archive source list", .usage = "",
     .parameters = kListParams},
    {.cmd = CmdSourceShow, .name = "archive source show", .usage = "<name>",
     .parameters = kNameParams},
    {.cmd = CmdSourceTest, .name = "archive source test", .usage = "<name>",
     .parameters = kNameParams},
    {.cmd = CmdSourcePause, .name = "archive source pause", .usage = "<name>",
     .parameters = kNameParams},
    {.cmd = CmdSourceResume, .name = "archive source resume", .usage = "<name>",
     .parameters = kNameParams},
    {.cmd = CmdSourceSync,
     .name = "archive source sync",
     .usage = "[--max-message-size <size>] <name> | --all | --due",
     .parameters = kSyncParams},
    {.cmd = CmdSourceRemove, .name = "archive source remove", .usage = "<name>",
     .parameters = kNameParams},
    {.cmd = CmdSourceLog, .name = "archive source log", .usage = "[--limit <n>] <name>",
     .parameters = kLogParams},
};

// Dovecot's state_dir (/var/lib/dovecot): root's, outside every archive directory.
std::string DovecotStateDir() {
#if DOVECOT_PREREQ(2, 4, 0)
  const master_service_settings* set = master_service_get_service_settings(master_service);
#else
  const master_service_settings* set = master_service_settings_get(master_service);
#endif
  return set != nullptr && set->state_dir != nullptr ? set->state_dir : "";
}

// The key file of the source passwords: archiver_sources_key, or by default
// STATE_DIR/archiver/sources-HASH.key, HASH the first 16 hex digits of the SHA-256 of
// archiver_path (trailing slashes removed): outside the archive directory, which the mail
// uid may write, in a directory only root writes.
// "" when there is no state_dir.
std::string SourcesKeyPath(const plugin::ArchiverSettings& settings) {
  if (!settings.sources_key.empty()) return settings.sources_key;
  const std::string state_dir = DovecotStateDir();
  if (state_dir.empty()) return "";
  std::string archive = settings.path;
  while (archive.size() > 1 && archive.back() == '/') archive.pop_back();
  return state_dir + "/archiver/sources-" + ToHex(Sha256::Of(archive)).substr(0, 16) + ".key";
}

// The default key of older versions, inside the archive directory, whose passwords move
// to SourcesKeyPath once; "" when archiver_sources_key is set.
std::string LegacySourcesKeyPath(const plugin::ArchiverSettings& settings) {
  return settings.sources_key.empty() ? settings.path + "/sources.key" : std::string();
}

// Before a writable command: the default key's directory exists (root's, 0700), and the
// passwords of an older version's key in the archive directory have moved to the key.
CommandStatus PrepareSourcesKey(SourceArchive* archive, const std::string& key_path) {
  if (archive->settings.sources_key.empty()) {
    const std::string dir = key_path.substr(0, key_path.rfind('/'));
    Status made = SecretBox::MakeKeyDirectory(dir);
    if (!made.ok())
      return CommandStatus::Of(made, "Cannot prepare the sources key: " + made.message());
  }
  Result<LegacyKeyMigration> moved = archive->registry->MigrateLegacyKey();
  if (!moved.ok())
    return CommandStatus::Of(
        moved.status(),
        "Cannot move the sources key out of the archive directory: " + moved.status().message());
  const std::string legacy = LegacySourcesKeyPath(archive->settings);
  if (moved->removed) {
    i_info("archiver: sources key moved out of the archive directory: %llu passwords sealed "
           "again under %s, bound to their servers; %s emptied and removed",
           static_cast<unsigned long long>(moved->resealed), key_path.c_str(), legacy.c_str());
  } else if (moved->found) {
    i_warning("archiver: %s is not used (the sources key is %s): remove it", legacy.c_str(),
              key_path.c_str());
  }
  for (const std::string& name : moved->unopened) {
    i_warning("archiver: the old sources key did not open the password of source %s: "
              "re-enter it with doveadm archive source edit %s --password-stdin",
              name.c_str(), name.c_str());
  }
  return CommandStatus::Ok();
}

}  // namespace

void RegisterSourceCommands() {
  if (prctl(PR_GET_PDEATHSIG, &parent_death_signal) != 0) parent_death_signal = 0;
  starting_parent = getppid();
  for (doveadm_cmd_ver2& command : kSourceCommands) doveadm_cmd_register_ver2(&command);
}

CommandStatus OpenSourceArchive(struct doveadm_cmd_context* cctx, bool writable,
                                SourceArchive* archive, bool quiet_when_missing) {
  const ArchiveOpening how = {.writable = writable,
                              .create_if_missing = true,
                              .server_wide = true,
                              .quiet_when_missing = quiet_when_missing};
  CommandStatus opened = OpenArchive(cctx, how, archive);
  if (!opened.ok() || archive->missing) return opened;
  const std::string key_path = SourcesKeyPath(archive->settings);
  if (key_path.empty())
    return CommandStatus::Failed(EX_CONFIG,
                                 "Dovecot's state_dir is empty: set archiver_sources_key");
  archive->registry = std::make_unique<SourceRegistry>(archive->store, key_path,
                                                       LegacySourcesKeyPath(archive->settings));
  return writable ? PrepareSourcesKey(archive, key_path) : CommandStatus::Ok();
}

CommandStatus DropRootBeforeConnecting(const SourceArchive& archive) {
  CommandStatus dropped = DropRootForGoodBefore(archive, "connecting to a remote server");
  if (!dropped.ok()) return dropped;
  // Linux forgets the parent-death signal when the uid changes: asked for again, a sync
  // the poller started never outlives it (a new poller would start a second one).
  if (parent_death_signal != 0 &&
      (prctl(PR_SET_PDEATHSIG, parent_death_signal) != 0 || getppid() != starting_parent))
    return CommandStatus::Failed(EX_TEMPFAIL,
                                 "The process that started this sync is gone: not syncing");
  return CommandStatus::Ok();
}

CommandStatus SourceNameParam(struct doveadm_cmd_context* cctx, const char** name) {
  *name = ParamString(cctx, "name");
  if (*name != nullptr && **name != '\0') return CommandStatus::Ok();
  return CommandStatus::Failed(EX_USAGE, "Missing the source name");
}

int ExitCodeForFailure(imapc::FailureKind kind) {
  switch (kind) {
    case imapc::FailureKind::kNone:
      return 0;
    case imapc::FailureKind::kDns:
      return EX_NOHOST;
    case imapc::FailureKind::kTcp:
      return EX_UNAVAILABLE;
    case imapc::FailureKind::kTls:
      return EX_PROTOCOL;
    case imapc::FailureKind::kAuthentication:
      return EX_NOPERM;
    case imapc::FailureKind::kMissingFolder:
      return EX_NOINPUT;
    case imapc::FailureKind::kRemote:
      return EX_TEMPFAIL;
    case imapc::FailureKind::kLocal:
      break;
  }
  return EX_SOFTWARE;
}

std::string FormatOptionalTime(uint64_t micros) {
  return micros == 0 ? std::string() : FormatTimeUtc(micros);
}

}  // namespace archiver::doveadm
