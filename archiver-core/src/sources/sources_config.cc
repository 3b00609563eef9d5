// SourceConfig validation, the names of the source enumerations, and SourceStatus::state.
// Every error names the field and the value it refused.
#include <string>

#include "archiver/sources/sources.h"

namespace archiver {
namespace {

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxHostLength = 253;
// A folder is part of an LMDB key with the source name: 511 bytes in all.
constexpr size_t kMaxFolderLength = 400;
constexpr uint64_t kMinIntervalSeconds = 60;

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

Status CheckText(const char* field, std::string_view value, size_t max_length) {
  if (value.empty()) return Status::InvalidArgument(std::string("source ") + field + " is empty");
  if (HasControl(value)) {
    return Status::InvalidArgument(std::string("source ") + field + " " + Quoted(value) +
                                   " contains control characters");
  }
  if (value.size() > max_length) {
    return Status::InvalidArgument(std::string("source ") + field + " " + Quoted(value) +
                                   " is longer than " + std::to_string(max_length) + " bytes");
  }
  return Status::Ok();
}

Status CheckFolders(const char* field, const std::vector<std::string>& folders) {
  for (const std::string& folder : folders) {
    Status checked = CheckText(field, folder, kMaxFolderLength);
    if (!checked.ok()) return checked;
  }
  return Status::Ok();
}

// A DMARC-only setting given to an archive source.
Status DmarcOnly(const char* field, const std::string& value) {
  return Status::InvalidArgument("source " + std::string(field) + " " + Quoted(value) +
                                 " applies to DMARC sources only (purpose dmarc)");
}

}  // namespace

const char* SourceTlsName(SourceTls tls) {
  switch (tls) {
    case SourceTls::kImaps:
      return "imaps";
    case SourceTls::kStarttls:
      return "starttls";
    case SourceTls::kNone:
      return "none";
  }
  return "unknown";
}

const char* SourcePurposeName(SourcePurpose purpose) {
  return purpose == SourcePurpose::kDmarc ? "dmarc" : "archive";
}

const char* SourceAfterName(SourceAfter after) {
  switch (after) {
    case SourceAfter::kSeen:
      return "seen";
    case SourceAfter::kMove:
      return "move";
    case SourceAfter::kDelete:
      return "delete";
    case SourceAfter::kNone:
      return "none";
  }
  return "unknown";
}

const char* SourceStateName(SourceState state) {
  switch (state) {
    case SourceState::kImporting:
      return "importing";
    case SourceState::kActive:
      return "active";
    case SourceState::kPaused:
      return "paused";
    case SourceState::kError:
      return "error";
  }
  return "unknown";
}

Result<SourceTls> ParseSourceTls(std::string_view text) {
  for (SourceTls tls : {SourceTls::kImaps, SourceTls::kStarttls, SourceTls::kNone}) {
    if (text == SourceTlsName(tls)) return tls;
  }
  return Status::InvalidArgument("source tls " + Quoted(text) +
                                 " is not one of imaps, starttls, none");
}

Result<SourcePurpose> ParseSourcePurpose(std::string_view text) {
  for (SourcePurpose purpose : {SourcePurpose::kArchive, SourcePurpose::kDmarc}) {
    if (text == SourcePurposeName(purpose)) return purpose;
  }
  return Status::InvalidArgument("source purpose " + Quoted(text) +
                                 " is not one of archive, dmarc");
}

Status ParseSourceAfter(std::string_view text, SourceAfter* after, std::string* folder) {
  constexpr std::string_view kMove = "move:";
  if (text.substr(0, kMove.size()) == kMove) {
    if (text.size() == kMove.size()) {
      return Status::InvalidArgument("source after " + Quoted(text) + " names no folder");
    }
    *after = SourceAfter::kMove;
    *folder = std::string(text.substr(kMove.size()));
    return Status::Ok();
  }
  for (SourceAfter action : {SourceAfter::kSeen, SourceAfter::kDelete, SourceAfter::kNone}) {
    if (text == SourceAfterName(action)) {
      *after = action;
      folder->clear();
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("source after " + Quoted(text) +
                                 " is not one of seen, move:FOLDER, delete, none");
}

Status SourceConfig::Validate() const {
  if (name.empty() || name.size() > kMaxNameLength ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
          std::string::npos) {
    return Status::InvalidArgument("source name " + Quoted(name) +
                                   " is not 1 to 64 letters, digits, '.', '_' or '-'");
  }
  Status status = CheckText("host", host, kMaxHostLength);
  if (status.ok() && host.find_first_of(" /") != std::string::npos) {
    status = Status::InvalidArgument("source host " + Quoted(host) + " is not a host name");
  }
  if (status.ok() && (port == 0 || port > 65535)) {
    status = Status::InvalidArgument("source port " + std::to_string(port) + " is not in 1..65535");
  }
  if (status.ok()) status = CheckText("user", user, 1024);
  if (status.ok() && !all_folders && folders.empty()) {
    status = Status::InvalidArgument("source folders is empty (name one, or all folders)");
  }
  if (status.ok() && !all_folders) status = CheckFolders("folder", folders);
  if (status.ok()) status = CheckFolders("exclude folder", exclude);
  if (status.ok() && interval_seconds < kMinIntervalSeconds) {
    status = Status::InvalidArgument("source interval " + std::to_string(interval_seconds) +
                                     "s is shorter than the minimum of 60s");
  }
  if (!status.ok()) return status;
  if (purpose == SourcePurpose::kArchive) {
    if (after != SourceAfter::kSeen) return DmarcOnly("after", SourceAfterName(after));
    if (!subject_filter.empty()) return DmarcOnly("subject filter", subject_filter);
    if (!sender_filter.empty()) return DmarcOnly("sender filter", sender_filter);
    if (max_age_seconds != 0) return DmarcOnly("max age", std::to_string(max_age_seconds) + "s");
    if (max_size != 0) return DmarcOnly("max size", std::to_string(max_size));
  }
  if (after == SourceAfter::kMove) {
    status = CheckText("after move folder", after_folder, kMaxFolderLength);
  } else if (!after_folder.empty()) {
    status = Status::InvalidArgument("source after folder " + Quoted(after_folder) +
                                     " is given but the action is " + SourceAfterName(after));
  }
  if (status.ok() && HasControl(subject_filter)) {
    status = Status::InvalidArgument("source subject filter " + Quoted(subject_filter) +
                                     " contains control characters");
  }
  if (status.ok() && HasControl(sender_filter)) {
    status = Status::InvalidArgument("source sender filter " + Quoted(sender_filter) +
                                     " contains control characters");
  }
  return status;
}

SourceState SourceStatus::state() const {
  if (paused) return SourceState::kPaused;
  if (!last_error.empty()) return SourceState::kError;
  return import_done ? SourceState::kActive : SourceState::kImporting;
}

}  // namespace archiver
