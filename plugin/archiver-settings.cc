// Parsing of the plugin { archiver_* } settings into ArchiverSettings.
#include "archiver-settings.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace archiver::plugin {
namespace {

std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

std::string Invalid(const char* name, const std::string& value, const std::string& expected) {
  return std::string("Invalid ") + name + "=" + value + ": " + expected;
}

bool ParseBool(const std::string& text, bool* value) {
  if (text == "yes" || text == "true" || text == "1") {
    *value = true;
    return true;
  }
  if (text == "no" || text == "false" || text == "0") {
    *value = false;
    return true;
  }
  return false;
}

}  // namespace

bool ParseSize(const std::string& text, uint64_t* bytes) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  unsigned long long number = std::strtoull(text.c_str(), &end, 10);
  std::string unit(end);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();  // "16GB" like "16G"
  unsigned shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "k") shift = 10;
  else if (unit == "m") shift = 20;
  else if (unit == "g") shift = 30;
  else if (unit == "t") shift = 40;
  else return false;
  if (shift > 0 && number > (UINT64_MAX >> shift)) return false;
  *bytes = static_cast<uint64_t>(number) << shift;
  return true;
}

StoreOptions ArchiverSettings::StoreOptionsFor(bool read_only) const {
  StoreOptions options;
  options.path = path;
  options.map_size = map_size;
  options.compression_level = compression_level;
  options.create_if_missing = !read_only;
  options.read_only = read_only;
  options.sync = fsync;
  options.meta_sync = fsync_meta;
  return options;
}

std::string ParseArchiverSettings(const SettingLookup& lookup, bool require_path,
                                  ArchiverSettings* settings) {
  auto get = [&](const char* name) -> std::string {
    const char* value = lookup(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  ArchiverSettings parsed;

  parsed.path = get("archiver_path");
  if (parsed.path.empty() && require_path)
    return "archiver_path is not set: name the archive directory in plugin { archiver_path = … }";

  std::string value = get("archiver_failure");
  if (value.empty() || value == "tempfail") parsed.failure = FailureMode::kTempfail;
  else if (value == "continue") parsed.failure = FailureMode::kContinue;
  else return Invalid("archiver_failure", value, "expected tempfail or continue");

  value = get("archiver_capture");
  if (!value.empty()) {
    parsed.capture_delivery = false;
    for (const std::string& word : SplitWords(value)) {
      if (word == "delivery") parsed.capture_delivery = true;
      else if (word == "append") parsed.capture_append = true;
      else if (word == "none") continue;
      else return Invalid("archiver_capture", value, "expected words among delivery, append, none");
    }
  }

  value = get("archiver_compression");
  if (value.empty() || value == "zlib") {
    parsed.compression_level = 6;
  } else if (value == "none") {
    parsed.compression_level = 0;
  } else if (value.rfind("zlib:", 0) == 0 && value.size() == 6 && value[5] >= '1' &&
             value[5] <= '9') {
    parsed.compression_level = value[5] - '0';
  } else {
    return Invalid("archiver_compression", value, "expected zlib, zlib:1 … zlib:9 or none");
  }

  value = get("archiver_map_size");
  if (!value.empty()) {
    if (!ParseSize(value, &parsed.map_size) || parsed.map_size < (1ULL << 20))
      return Invalid("archiver_map_size", value, "expected a size of at least 1M, such as 16G");
  }

  value = get("archiver_fsync");
  if (value == "once") {
    parsed.fsync_meta = false;
  } else if (!value.empty() && !ParseBool(value, &parsed.fsync)) {
    return Invalid("archiver_fsync", value, "expected yes, once or no");
  }

  parsed.exclude_users = SplitWords(get("archiver_exclude_users"));
  parsed.exclude_mailboxes = SplitWords(get("archiver_exclude_mailboxes"));

  *settings = std::move(parsed);
  return "";
}

}  // namespace archiver::plugin
