// Parsing of the plugin { archiver_* } settings into ArchiverSettings.
#include "common/archiver-settings.h"

#include "common/archiver-dovecot.h"

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

std::string Lowercase(std::string text) {
  str_lcase(text.data());
  return text;
}

// "User+Detail@Example.COM" -> "user@example.com": the form archiver_dmarc_mailboxes
// compares recipients in.
std::string RecipientKey(const std::string& address) {
  std::string key = Lowercase(address);
  size_t at = key.rfind('@');
  size_t plus = key.find('+');
  if (plus != std::string::npos && at != std::string::npos && plus < at) key.erase(plus, at - plus);
  return key;
}

// archiver_dmarc_mailboxes: "" on success, else why `value` is invalid.
std::string ParseDmarcMailboxes(const std::string& value, std::vector<DmarcMailboxRule>* rules) {
  for (const std::string& entry : SplitWords(value)) {
    DmarcMailboxRule rule;
    size_t slash = entry.find('/');
    if (slash == std::string::npos) {
      size_t at = entry.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == entry.size())
        return "\"" + entry + "\" is neither an address (local@domain) nor USER/MAILBOX";
      rule.rcpt = RecipientKey(entry);
    } else {
      rule.user_pattern = entry.substr(0, slash);
      rule.mailbox_pattern = entry.substr(slash + 1);
      if (rule.user_pattern.empty() || rule.mailbox_pattern.empty())
        return "\"" + entry +
               "\" needs both a user and a mailbox (USER/MAILBOX, wildcards allowed)";
    }
    rules->push_back(std::move(rule));
  }
  return "";
}

}  // namespace

bool AnyWildcardMatches(const std::vector<std::string>& patterns, const std::string& text) {
  for (const std::string& pattern : patterns) {
    if (wildcard_match_icase(text.c_str(), pattern.c_str())) return true;
  }
  return false;
}

bool ParseSize(const std::string& text, uint64_t* bytes) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  unsigned long long number = std::strtoull(text.c_str(), &end, 10);
  std::string unit = Lowercase(end);
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

bool ParseDuration(const std::string& text, uint64_t* millis) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  unsigned long long number = std::strtoull(text.c_str(), &end, 10);
  std::string unit = Lowercase(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  uint64_t scale = 0;
  if (unit == "ms" || unit == "msec" || unit == "msecs") scale = 1;
  else if (unit.empty() || unit == "s" || unit == "sec" || unit == "secs" || unit == "second" ||
           unit == "seconds")
    scale = 1000;
  else if (unit == "m" || unit == "min" || unit == "mins" || unit == "minute" ||
           unit == "minutes")
    scale = 60'000;
  else return false;
  if (number > UINT64_MAX / scale) return false;
  *millis = number * scale;
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
  options.write_wait_ms = lock_timeout_ms;
  options.dmarc_max_space = dmarc_max_space;
  return options;
}

DmarcPipelineOptions ArchiverSettings::DmarcOptions(uint64_t max_size) const {
  DmarcPipelineOptions options;
  const uint64_t cap = max_size != 0 ? max_size : dmarc_max_size;
  options.unpack.max_output_bytes = cap;
  options.unpack.max_ratio = dmarc_max_ratio;
  options.import.limits.max_input_bytes = static_cast<size_t>(cap);
  options.budget.max_time = std::chrono::milliseconds(dmarc_max_time_ms);
  return options;
}

bool ArchiverSettings::IsDmarcDelivery(const std::string& rcpt, const std::string& user,
                                       const std::string& mailbox,
                                       const std::string& envelope_from,
                                       const std::string& header_from,
                                       const std::string& subject) const {
  bool listed = false;
  const std::string rcpt_key = RecipientKey(rcpt);
  for (const DmarcMailboxRule& rule : dmarc_mailboxes) {
    listed = rule.rcpt.empty()
                 ? wildcard_match_icase(user.c_str(), rule.user_pattern.c_str()) &&
                       wildcard_match_icase(mailbox.c_str(), rule.mailbox_pattern.c_str())
                 : !rcpt.empty() && rule.rcpt == rcpt_key;
    if (listed) break;
  }
  if (!listed) return false;
  if (!dmarc_senders.empty() && !AnyWildcardMatches(dmarc_senders, envelope_from) &&
      !AnyWildcardMatches(dmarc_senders, header_from))
    return false;
  return dmarc_subjects.empty() || AnyWildcardMatches(dmarc_subjects, subject);
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
#if DOVECOT_PREREQ(2, 4, 0)
    return "archiver_path is not set: name the archive directory with archiver_path = …";
#else
    return "archiver_path is not set: name the archive directory in plugin { archiver_path = … }";
#endif

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

  value = get("archiver_lock_timeout");
  if (!value.empty() && (!ParseDuration(value, &parsed.lock_timeout_ms) ||
                         parsed.lock_timeout_ms < 1000 || parsed.lock_timeout_ms > 600'000)) {
    return Invalid("archiver_lock_timeout", value,
                   "expected a time between 1s and 10min, such as 30s");
  }

  parsed.exclude_users = SplitWords(get("archiver_exclude_users"));
  parsed.exclude_mailboxes = SplitWords(get("archiver_exclude_mailboxes"));

  value = get("archiver_dmarc_mailboxes");
  std::string why = ParseDmarcMailboxes(value, &parsed.dmarc_mailboxes);
  if (!why.empty()) return Invalid("archiver_dmarc_mailboxes", value, why);

  value = get("archiver_dmarc_max_size");
  if (!value.empty() && (!ParseSize(value, &parsed.dmarc_max_size) || parsed.dmarc_max_size == 0))
    return Invalid("archiver_dmarc_max_size", value, "expected a size above 0, such as 10M");

  value = get("archiver_dmarc_max_ratio");
  if (!value.empty()) {
    char* end = nullptr;
    unsigned long long ratio = std::strtoull(value.c_str(), &end, 10);
    if (!std::isdigit(static_cast<unsigned char>(value[0])) || *end != '\0' || ratio == 0)
      return Invalid("archiver_dmarc_max_ratio", value, "expected a whole number above 0");
    parsed.dmarc_max_ratio = ratio;
  }

  value = get("archiver_dmarc_max_space");
  if (!value.empty()) {
    if (!ParseSize(value, &parsed.dmarc_max_space) ||
        (parsed.dmarc_max_space != 0 && parsed.dmarc_max_space < (1ULL << 20)))
      return Invalid("archiver_dmarc_max_space", value,
                     "expected 0 (an eighth of archiver_map_size) or a size of at least 1M");
    if (parsed.dmarc_max_space >= parsed.map_size)
      return Invalid("archiver_dmarc_max_space", value,
                     "must be less than archiver_map_size, or DMARC reports could fill the "
                     "archive that mail needs");
  }

  value = get("archiver_dmarc_max_time");
  if (!value.empty() && (!ParseDuration(value, &parsed.dmarc_max_time_ms) ||
                         parsed.dmarc_max_time_ms < 1000 || parsed.dmarc_max_time_ms > 600'000))
    return Invalid("archiver_dmarc_max_time", value,
                   "expected a time between 1s and 10min, such as 20s");

  value = get("archiver_dmarc_wait");
  if (!value.empty() &&
      (!ParseDuration(value, &parsed.dmarc_wait_ms) || parsed.dmarc_wait_ms > 600'000))
    return Invalid("archiver_dmarc_wait", value,
                   "expected a time up to 10min, such as 1s (0: do not wait)");

  parsed.dmarc_senders = SplitWords(get("archiver_dmarc_senders"));
  parsed.dmarc_subjects = SplitWords(get("archiver_dmarc_subjects"));

  parsed.sources_key = get("archiver_sources_key");
  if (!parsed.sources_key.empty() && parsed.sources_key[0] != '/')
    return Invalid("archiver_sources_key", parsed.sources_key, "expected an absolute path");

  *settings = std::move(parsed);
  return "";
}

}  // namespace archiver::plugin
