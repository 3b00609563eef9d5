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

// The password from --password-file or --password-stdin (one final line end removed).
// nullopt when neither is given; false after CommandFailed.
bool ReadPassword(struct doveadm_cmd_context* cctx, std::optional<std::string>* password) {
  const char* file = ParamString(cctx, "password-file");
  bool from_stdin = false;
  (void)doveadm_cmd_param_bool(cctx, "password-stdin", &from_stdin);
  if (file != nullptr && from_stdin) {
    CommandFailed(EX_USAGE, "Give either --password-file or --password-stdin, not both");
    return false;
  }
  if (file == nullptr && !from_stdin) return true;
  std::string text;
  if (from_stdin) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream input(file, std::ios::binary);
    if (!input) {
      CommandFailed(EX_NOINPUT, std::string("Cannot read the password file ") + file);
      return false;
    }
    text.assign(std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>());
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) {
    CommandFailed(EX_USAGE, "The password is empty");
    return false;
  }
  if (text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    CommandFailed(EX_USAGE, "The password must be one line");
    return false;
  }
  *password = std::move(text);
  return true;
}

bool Usage(const std::string& message) {
  CommandFailed(EX_USAGE, message);
  return false;
}

// Applies the options given on the command line to `config`.
bool ApplyOptions(struct doveadm_cmd_context* cctx, SourceConfig* config) {
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
  return true;
}

// Prints the one-row result of a command that changes a source.
void PrintChange(const std::string& name, const char* change, const std::string& note) {
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  for (const char* column : {"name", "change", "note"}) doveadm_print_header_simple(column);
  PrintValue(name.c_str());
  PrintValue(change);
  PrintValue(note.c_str());
}

bool Report(const Status& status, const std::string& name, const char* action) {
  if (status.ok()) return true;
  CommandFailed(ExitCodeFor(status), std::string("Cannot ") + action + " source " + name + ": " +
                                         status.message());
  return false;
}

// pause, resume: one registry call on a named source.
void NamedChange(struct doveadm_cmd_context* cctx, const char* action,
                 Status (SourceRegistry::*change)(const std::string&)) {
  const char* name = SourceNameParam(cctx);
  SourceArchive archive;
  if (name == nullptr || !OpenSourceArchive(cctx, true, &archive)) return;
  if (Report((archive.registry.get()->*change)(name), name, action))
    PrintChange(name, action, "");
}

}  // namespace

void CmdSourceAdd(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = SourceNameParam(cctx);
    if (name == nullptr) return;
    SourceConfig config;
    config.name = name;
    std::optional<std::string> password;
    if (!ApplyOptions(cctx, &config) || !ReadPassword(cctx, &password)) return;
    if (!password) {
      CommandFailed(EX_USAGE, "A source needs --password-file <file> or --password-stdin");
      return;
    }
    SourceArchive archive;
    if (!OpenSourceArchive(cctx, true, &archive)) return;
    Status added = archive.registry->Add(config, *password);
    std::fill(password->begin(), password->end(), '\0');
    if (Report(added, name, "add"))
      PrintChange(name, "added", "status importing: the first sync imports the folders");
  });
}

void CmdSourceEdit(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = SourceNameParam(cctx);
    SourceArchive archive;
    if (name == nullptr || !OpenSourceArchive(cctx, true, &archive)) return;
    Result<SourceConfig> config = archive.registry->Get(name);
    if (!Report(config.status(), name, "edit")) return;
    std::optional<std::string> password;
    if (!ApplyOptions(cctx, &config.value()) || !ReadPassword(cctx, &password)) return;
    Status updated = archive.registry->Update(*config, password);
    if (password) std::fill(password->begin(), password->end(), '\0');
    if (Report(updated, name, "edit")) PrintChange(name, "edited", "due for a sync now");
  });
}

void CmdSourceRemove(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* name = SourceNameParam(cctx);
    SourceArchive archive;
    if (name == nullptr || !OpenSourceArchive(cctx, true, &archive)) return;
    Result<SourceInfo> info = archive.registry->Describe(name);
    if (!Report(info.status(), name, "remove")) return;
    if (!Report(archive.registry->Remove(name), name, "remove")) return;
    PrintChange(name, "removed",
                std::to_string(info->status.messages_archived) +
                    " archived messages stay in the archive (doveadm archive list --source " +
                    name + ")");
  });
}

void CmdSourcePause(struct doveadm_cmd_context* cctx) {
  RunCommand([&] { NamedChange(cctx, "pause", &SourceRegistry::Pause); });
}

void CmdSourceResume(struct doveadm_cmd_context* cctx) {
  RunCommand([&] { NamedChange(cctx, "resume", &SourceRegistry::Resume); });
}

}  // namespace archiver::doveadm
