// `doveadm archive source add|edit|remove|pause|resume`: the registry's settings and
// state. Passwords come from a file or stdin only, never from the command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "common/archiver-settings.h"
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-archive-source.h"

namespace archiver::doveadm {
namespace {

// "a,b, c" → {"a", "b", "c"} (empty items dropped).
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t first = item.find_first_not_of(" \t");
    size_t last = item.find_last_not_of(" \t");
    if (first != std::string::npos) items.push_back(item.substr(first, last - first + 1));
  }
  return items;
}

CommandStatus Usage(const std::string& message) { return CommandStatus::Failed(EX_USAGE, message); }

// The password from --password-file or --password-stdin (one final line end removed).
// nullopt when neither is given; EX_USAGE or EX_NOINPUT.
CommandStatus ReadPassword(struct doveadm_cmd_context* cctx, std::optional<std::string>* password) {
  const char* file = ParamString(cctx, "password-file");
  bool from_stdin = false;
  (void)doveadm_cmd_param_bool(cctx, "password-stdin", &from_stdin);
  if (file != nullptr && from_stdin)
    return Usage("Give either --password-file or --password-stdin, not both");
  if (file == nullptr && !from_stdin) return CommandStatus::Ok();
  std::string text;
  if (from_stdin) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream input(file, std::ios::binary);
    if (!input)
      return CommandStatus::Failed(EX_NOINPUT,
                                   std::string("Cannot read the password file ") + file);
    text.assign(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return Usage("The password is empty");
  if (text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
    return Usage("The password must be one line");
  *password = std::move(text);
  return CommandStatus::Ok();
}

// Applies the options given on the command line to `config`; EX_USAGE on a bad one.
CommandStatus ApplyOptions(struct doveadm_cmd_context* cctx, SourceConfig* config) {
  if (const char* value = ParamString(cctx, "host")) config->host = value;
  if (const char* value = ParamString(cctx, "user")) config->user = value;
  int64_t port = 0;
  if (doveadm_cmd_param_int64(cctx, "port", &port)) {
    if (port < 1 || port > 65535) return Usage("Invalid --port " + std::to_string(port));
    config->port = static_cast<uint32_t>(port);
  }
  if (const char* value = ParamString(cctx, "tls")) {
    Result<SourceTls> tls = ParseSourceTls(value);
    if (!tls.ok()) return Usage("Invalid --tls: " + tls.status().message());
    config->tls = *tls;
  }
  if (const char* value = ParamString(cctx, "tls-verify")) {
    std::string text = value;
    if (text == "yes") config->tls_verify = true;
    else if (text == "no") config->tls_verify = false;
    else return Usage("Invalid --tls-verify " + text + ": expected yes or no");
  }
  bool all_folders = false;
  const char* folders = ParamString(cctx, "folders");
  if (doveadm_cmd_param_bool(cctx, "all-folders", &all_folders) && all_folders) {
    if (folders != nullptr) return Usage("Give either --folders or --all-folders, not both");
    config->all_folders = true;
  } else if (folders != nullptr) {
    config->folders = SplitList(folders);
    config->all_folders = false;
  }
  if (const char* value = ParamString(cctx, "exclude")) config->exclude = SplitList(value);
  for (auto [name, target] : {std::pair{"interval", &config->interval_seconds},
                              std::pair{"max-age", &config->max_age_seconds}}) {
    const char* value = ParamString(cctx, name);
    if (value == nullptr) continue;
    Result<uint64_t> seconds = plugin::ParseDuration(value, plugin::DurationSyntax::kOption);
    if (!seconds.ok())
      return Usage(std::string("Invalid --") + name + " " + value +
                   ": expected a duration such as 90s, 15m, 2h, 1d");
    *target = *seconds;
  }
  if (const char* value = ParamString(cctx, "purpose")) {
    Result<SourcePurpose> purpose = ParseSourcePurpose(value);
    if (!purpose.ok()) return Usage("Invalid --purpose: " + purpose.status().message());
    config->purpose = *purpose;
  }
  if (const char* value = ParamString(cctx, "after")) {
    Status after = ParseSourceAfter(value, &config->after, &config->after_folder);
    if (!after.ok()) return Usage("Invalid --after: " + after.message());
  }
  if (const char* value = ParamString(cctx, "subject-filter")) config->subject_filter = value;
  if (const char* value = ParamString(cctx, "sender-filter")) config->sender_filter = value;
  if (const char* value = ParamString(cctx, "max-size")) {
    Result<uint64_t> size = plugin::ParseSize(value);
    if (!size.ok())
      return Usage(std::string("Invalid --max-size ") + value + ": expected a size such as 10M");
    config->max_size = *size;
  }
  Status valid = config->Validate();
  if (!valid.ok()) return Usage(valid.message());
  return CommandStatus::Ok();
}

// Prints the one-row result of a command that changes a source.
void PrintChange(const std::string& name, const char* change, const std::string& note) {
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  for (const char* column : {"name", "change", "note"}) doveadm_print_header_simple(column);
  PrintValue(name.c_str());
  PrintValue(change);
  PrintValue(note.c_str());
}

// A registry call's outcome as the command's: "Cannot ACTION source NAME: …".
CommandStatus Outcome(const Status& status, const std::string& name, const char* action) {
  if (status.ok()) return CommandStatus::Ok();
  return CommandStatus::Of(
      status, std::string("Cannot ") + action + " source " + name + ": " + status.message());
}

// The named source and the archive opened for writing.
CommandStatus OpenNamedSource(struct doveadm_cmd_context* cctx, const char** name,
                              SourceArchive* archive) {
  if (CommandStatus named = SourceNameParam(cctx, name); !named.ok()) return named;
  return OpenSourceArchive(cctx, true, archive);
}

// pause, resume: one registry call on a named source.
CommandStatus NamedChange(struct doveadm_cmd_context* cctx, const char* action,
                          Status (SourceRegistry::*change)(const std::string&)) {
  const char* name = nullptr;
  SourceArchive archive;
  if (CommandStatus opened = OpenNamedSource(cctx, &name, &archive); !opened.ok()) return opened;
  CommandStatus changed = Outcome((archive.registry.get()->*change)(name), name, action);
  if (changed.ok()) PrintChange(name, action, "");
  return changed;
}

}  // namespace

void CmdSourceAdd(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    if (CommandStatus named = SourceNameParam(cctx, &name); !named.ok()) return named;
    SourceConfig config;
    config.name = name;
    std::optional<std::string> password;
    if (CommandStatus applied = ApplyOptions(cctx, &config); !applied.ok()) return applied;
    if (CommandStatus read = ReadPassword(cctx, &password); !read.ok()) return read;
    if (!password) return Usage("A source needs --password-file <file> or --password-stdin");
    SourceArchive archive;
    if (CommandStatus opened = OpenSourceArchive(cctx, true, &archive); !opened.ok()) return opened;
    Status added = archive.registry->Add(config, *password);
    std::fill(password->begin(), password->end(), '\0');
    CommandStatus outcome = Outcome(added, name, "add");
    if (outcome.ok())
      PrintChange(name, "added", "status importing: the first sync imports the folders");
    return outcome;
  });
}

void CmdSourceEdit(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    SourceArchive archive;
    if (CommandStatus opened = OpenNamedSource(cctx, &name, &archive); !opened.ok()) return opened;
    Result<SourceConfig> config = archive.registry->Get(name);
    if (!config.ok()) return Outcome(config.status(), name, "edit");
    std::optional<std::string> password;
    if (CommandStatus applied = ApplyOptions(cctx, &config.value()); !applied.ok()) return applied;
    if (CommandStatus read = ReadPassword(cctx, &password); !read.ok()) return read;
    Status updated = archive.registry->Update(*config, password);
    if (password) std::fill(password->begin(), password->end(), '\0');
    CommandStatus outcome = Outcome(updated, name, "edit");
    if (outcome.ok()) PrintChange(name, "edited", "due for a sync now");
    return outcome;
  });
}

void CmdSourceRemove(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = nullptr;
    SourceArchive archive;
    if (CommandStatus opened = OpenNamedSource(cctx, &name, &archive); !opened.ok()) return opened;
    Result<SourceInfo> info = archive.registry->Describe(name);
    if (!info.ok()) return Outcome(info.status(), name, "remove");
    CommandStatus removed = Outcome(archive.registry->Remove(name), name, "remove");
    if (!removed.ok()) return removed;
    PrintChange(name, "removed",
                std::to_string(info->status.messages_archived) +
                    " archived messages stay in the archive (doveadm archive list --source " +
                    name + ")");
    return CommandStatus::Ok();
  });
}

void CmdSourcePause(struct doveadm_cmd_context* cctx) {
  RunCommand([&] { return NamedChange(cctx, "pause", &SourceRegistry::Pause); });
}

void CmdSourceResume(struct doveadm_cmd_context* cctx) {
  RunCommand([&] { return NamedChange(cctx, "resume", &SourceRegistry::Resume); });
}

}  // namespace archiver::doveadm
