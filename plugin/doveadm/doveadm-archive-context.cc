// Shared plumbing of the `doveadm archive` commands.
#include "doveadm/doveadm-archive-context.h"

#include <cerrno>
#include <cstring>

#include "archiver/archive_access.h"
#include "archiver/archive_path.h"
#include "archiver/display_text.h"
#include "archiver/time_format.h"
#if DOVECOT_PREREQ(2, 4, 0)
#include "common/archiver-settings-event.h"
#endif

namespace archiver::doveadm {
namespace {

static_assert(DOVEADM_EX_NOTFOUND == EX_NOHOST, "ExitCodeFor's NotFound code");

// Looks USER up in the userdb and returns its expanded archiver_* settings.
CommandStatus UserSettings(const char* username, plugin::ArchiverSettings* settings) {
  auto flags = static_cast<enum mail_storage_service_flags>(
      MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP | MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
      MAIL_STORAGE_SERVICE_FLAG_NO_PLUGINS | MAIL_STORAGE_SERVICE_FLAG_NO_NAMESPACES |
      MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS | MAIL_STORAGE_SERVICE_FLAG_NO_CHDIR);
#if DOVECOT_PREREQ(2, 4, 0)
  struct mail_storage_service_ctx* service = mail_storage_service_init(master_service, flags);
#else
  struct mail_storage_service_ctx* service = mail_storage_service_init(master_service, nullptr, flags);
  struct mail_storage_service_user* service_user = nullptr;
#endif
  struct mail_storage_service_input input;
  i_zero(&input);
  input.service = "doveadm";
  input.username = username;
  struct mail_user* user = nullptr;
  const char* error = nullptr;
#if DOVECOT_PREREQ(2, 4, 0)
  int ret = mail_storage_service_lookup_next(service, &input, &user, &error);
#else
  int ret = mail_storage_service_lookup_next(service, &input, &service_user, &user, &error);
#endif
  CommandStatus outcome;
  if (ret == 0) {
    outcome = CommandStatus::Failed(EX_NOUSER, std::string("User doesn't exist: ") + username);
  } else if (ret < 0) {
    outcome = CommandStatus::Failed(EX_TEMPFAIL,
                                    std::string("User lookup of ") + username +
                                        " failed: " + (error != nullptr ? error : "unknown error"));
  } else {
#if DOVECOT_PREREQ(2, 4, 0)
    Status parsed = plugin::ReadArchiverSettings(user->event, true, true, settings);
#else
    Status parsed = plugin::ParseArchiverSettings(
        [user](const char* name) { return mail_user_plugin_getenv(user, name); }, true, settings);
#endif
    if (!parsed.ok()) {
      outcome = CommandStatus::Failed(EX_CONFIG, parsed.message());
    } else {
      settings->path = mail_user_home_expand(user, settings->path.c_str());
    }
  }
  if (user != nullptr) mail_user_deinit(&user);
#if !DOVECOT_PREREQ(2, 4, 0)
  if (service_user != nullptr) mail_storage_service_user_unref(&service_user);
#endif
  mail_storage_service_deinit(&service);
  return outcome;
}

// The global (no user) archiver_* settings, parsed (ReadArchiverSettings' or
// ParseArchiverSettings' Status).
Status GlobalSettings(struct doveadm_cmd_context* cctx, plugin::ArchiverSettings* settings) {
#if DOVECOT_PREREQ(2, 4, 0)
  return plugin::ReadArchiverSettings(cctx->set_event, true, true, settings);
#else
  (void)cctx;
  return plugin::ParseArchiverSettings([](const char* name) { return doveadm_plugin_getenv(name); },
                                       true, settings);
#endif
}

}  // namespace

void ReportAndContinue(const CommandStatus& failure) {
  if (failure.ok()) return;
  i_error("%s", failure.message().c_str());
  doveadm_exit_code = CombinedExitCode(doveadm_exit_code, failure);
}

void PrintValue(const char* value) {
  if (value == nullptr || !NeedsDisplayEscape(value)) {
    doveadm_print(value);
    return;
  }
  doveadm_print(DisplayText(value).c_str());
}

const char* ParamString(struct doveadm_cmd_context* cctx, const char* name) {
  const char* value = nullptr;
  if (!doveadm_cmd_param_str(cctx, name, &value)) return nullptr;
  return value;
}

void RunCommand(const std::function<CommandStatus()>& body) {
  CommandStatus outcome;
  try {
    outcome = body();
  } catch (const std::exception& e) {
    outcome =
        CommandStatus::Failed(EX_SOFTWARE, std::string("archive: internal error: ") + e.what());
  } catch (...) {
    outcome = CommandStatus::Failed(EX_SOFTWARE, "archive: internal error");
  }
  ReportAndContinue(outcome);
}

std::string RawGlobalArchivePath(struct doveadm_cmd_context* cctx) {
#if DOVECOT_PREREQ(2, 4, 0)
  plugin::ArchiverSettings raw;
  (void)plugin::ReadArchiverSettings(cctx->set_event, false, false, &raw);
  return raw.path;
#else
  (void)cctx;
  const char* path = doveadm_plugin_getenv("archiver_path");
  return path != nullptr ? path : "";
#endif
}

CommandStatus CommandSettings(struct doveadm_cmd_context* cctx,
                              plugin::ArchiverSettings* settings) {
  const char* username = ParamString(cctx, "user");
  if (username != nullptr && ArchivePathDependsOnUser(RawGlobalArchivePath(cctx)))
    return UserSettings(username, settings);
  Status global = GlobalSettings(cctx, settings);
  if (!global.ok()) return CommandStatus::Failed(EX_CONFIG, global.message());
  if (ArchivePathDependsOnUser(settings->path))
    return CommandStatus::Failed(EX_USAGE, "archiver_path = " + settings->path +
                                               " depends on the user: name one with -u USER");
  return CommandStatus::Ok();
}

CommandStatus OpenArchive(struct doveadm_cmd_context* cctx, const ArchiveOpening& how,
                          CommandArchive* archive) {
  archive->missing = false;
  if (how.server_wide) {
    // Sources belong to one archive for the whole server: `--user` names the remote
    // login, never a local user whose archive to open.
    const std::string path = RawGlobalArchivePath(cctx);
    if (ArchivePathDependsOnUser(path))
      return CommandStatus::Failed(EX_CONFIG, "archiver_path = " + path +
                                                  " depends on the user: remote sources need "
                                                  "one archive for the server");
  }
  plugin::ArchiverSettings settings;
  CommandStatus found = CommandSettings(cctx, &settings);
  if (!found.ok()) return found;
  StoreOptions options = settings.StoreOptionsFor(!how.writable);
  options.create_if_missing = how.writable && how.create_if_missing;
  Result<std::shared_ptr<Store>> store = Store::Open(options);
  if (!store.ok() && how.quiet_when_missing && !how.writable &&
      store.status().code() == Status::Code::kNotFound) {
    archive->missing = true;
    return CommandStatus::Ok();
  }
  if (!store.ok())
    return CommandStatus::Of(store.status(), "Cannot open the archive " + settings.path + ": " +
                                                 store.status().message());
  archive->settings = std::move(settings);
  archive->store = std::move(store).value();
  return CommandStatus::Ok();
}

CommandStatus DropRootForGoodBefore(const CommandArchive& archive, const char* activity) {
  Status dropped = DropRootForGood(archive.store->owner());
  if (dropped.ok()) return CommandStatus::Ok();
  return CommandStatus::Failed(EX_TEMPFAIL,
                               std::string("Not ") + activity + " as root: " + dropped.ToString());
}

CommandStatus OpenCommandArchive(struct doveadm_cmd_context* cctx, std::shared_ptr<Store>* store,
                                 bool writable) {
  CommandArchive archive;
  // A command never makes an archive appear.
  CommandStatus opened = OpenArchive(cctx, {.writable = writable}, &archive);
  if (opened.ok()) *store = archive.store;
  return opened;
}

CommandStatus ParseListingOptions(struct doveadm_cmd_context* cctx, uint64_t* since_us,
                                  uint64_t* until_us, uint64_t* limit) {
  uint64_t now = NowMicros();
  for (const char* name : {"since", "until"}) {
    const char* text = ParamString(cctx, name);
    if (text == nullptr) continue;
    Result<uint64_t> time = ParseTimeArgument(text, now);
    if (!time.ok())
      return CommandStatus::Failed(
          EX_USAGE, std::string("Invalid --") + name + " " + text + ": " + time.status().message());
    if (std::strcmp(name, "since") == 0) *since_us = *time;
    else *until_us = *time;
  }
  int64_t value = 0;
  if (doveadm_cmd_param_int64(cctx, "limit", &value)) {
    if (value < 0)
      return CommandStatus::Failed(EX_USAGE, "Invalid --limit: must be 0 (no limit) or more");
    *limit = static_cast<uint64_t>(value);
  }
  return CommandStatus::Ok();
}

CommandStatus ParseListFilter(struct doveadm_cmd_context* cctx, ListFilter* filter) {
  CommandStatus options =
      ParseListingOptions(cctx, &filter->since_us, &filter->until_us, &filter->limit);
  if (!options.ok()) return options;
  if (const char* value = ParamString(cctx, "from")) filter->from = value;
  if (const char* value = ParamString(cctx, "rcpt")) filter->rcpt = value;
  if (const char* value = ParamString(cctx, "user")) filter->user = value;
  if (const char* value = ParamString(cctx, "mailbox")) filter->mailbox = value;
  if (const char* value = ParamString(cctx, "subject")) filter->subject = value;
  if (const char* value = ParamString(cctx, "source")) filter->source = value;
  return CommandStatus::Ok();
}

}  // namespace archiver::doveadm
