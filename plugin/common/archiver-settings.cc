// Parsing of the archiver_* settings into ArchiverSettings: a table of (name, default,
// parser) walked in order; on 2.3 the plugin { } strings, on 2.4 the typed values as text.
#include "common/archiver-settings.h"

#include "common/archiver-dovecot.h"
#include "common/archiver-units.h"

#include <cctype>
#include <cstdlib>
#include <string_view>

namespace archiver::plugin {
namespace {

// The words of `text` between white space (as the "C" locale's isspace has it). Not
// through an istringstream: the settings are read for every delivery's mail user, and
// each stream costs a locale set-up.
std::vector<std::string> SplitWords(const std::string& text) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  std::vector<std::string> words;
  const std::string_view rest(text);
  for (size_t begin = rest.find_first_not_of(kSpace); begin != std::string_view::npos;) {
    const size_t end = rest.find_first_of(kSpace, begin);
    words.emplace_back(rest.substr(begin, end - begin));
    if (end == std::string_view::npos) break;
    begin = rest.find_first_not_of(kSpace, end);
  }
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

// archiver_dmarc_mailboxes: the rules, or why `value` is invalid.
Status ParseDmarcMailboxes(const std::string& value, std::vector<DmarcMailboxRule>* rules) {
  for (const std::string& entry : SplitWords(value)) {
    DmarcMailboxRule rule;
    size_t slash = entry.find('/');
    if (slash == std::string::npos) {
      size_t at = entry.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == entry.size())
        return Status::InvalidArgument(
            "\"" + entry + "\" is neither an address (local@domain) nor USER/MAILBOX");
      rule.rcpt = RecipientKey(entry);
    } else {
      rule.user_pattern = entry.substr(0, slash);
      rule.mailbox_pattern = entry.substr(slash + 1);
      if (rule.user_pattern.empty() || rule.mailbox_pattern.empty())
        return Status::InvalidArgument(
            "\"" + entry + "\" needs both a user and a mailbox (USER/MAILBOX, wildcards allowed)");
    }
    rules->push_back(std::move(rule));
  }
  return Status::Ok();
}

// `value` as a size into `*bytes` when it is at least `min_bytes`; else `expected`.
Status SizeAtLeast(const std::string& value, uint64_t min_bytes, uint64_t* bytes,
                   const char* expected) {
  Result<uint64_t> size = ParseSize(value);
  if (!size.ok() || *size < min_bytes) return Status::InvalidArgument(expected);
  *bytes = *size;
  return Status::Ok();
}

// `value` as a time into `*millis` when it lies in [min_ms, max_ms]; else `expected`.
Status TimeWithin(const std::string& value, uint64_t min_ms, uint64_t max_ms, uint64_t* millis,
                  const char* expected) {
  Result<uint64_t> duration = ParseDuration(value, DurationSyntax::kSetting);
  if (!duration.ok() || *duration < min_ms || *duration > max_ms)
    return Status::InvalidArgument(expected);
  *millis = *duration;
  return Status::Ok();
}

// A space-separated list of words (patterns) into `*words`; never invalid.
Status Words(const std::string& value, std::vector<std::string>* words) {
  *words = SplitWords(value);
  return Status::Ok();
}

Status ParseFailure(const std::string& value, ArchiverSettings* s) {
  if (value == "tempfail") s->failure = FailureMode::kTempfail;
  else if (value == "continue") s->failure = FailureMode::kContinue;
  else return Status::InvalidArgument("expected tempfail or continue");
  return Status::Ok();
}

Status ParseCapture(const std::string& value, ArchiverSettings* s) {
  s->capture_delivery = false;
  s->capture_append = false;
  for (const std::string& word : SplitWords(value)) {
    if (word == "delivery") s->capture_delivery = true;
    else if (word == "append") s->capture_append = true;
    else if (word != "none")
      return Status::InvalidArgument("expected words among delivery, append, none");
  }
  return Status::Ok();
}

Status ParseCompression(const std::string& value, ArchiverSettings* s) {
  if (value == "zlib") s->compression_level = 6;
  else if (value == "none") s->compression_level = 0;
  else if (value.rfind("zlib:", 0) == 0 && value.size() == 6 && value[5] >= '1' && value[5] <= '9')
    s->compression_level = value[5] - '0';
  else return Status::InvalidArgument("expected zlib, zlib:1 … zlib:9 or none");
  return Status::Ok();
}

// yes: every commit durable (data and meta page); once: the data only; no: neither.
Status ParseFsync(const std::string& value, ArchiverSettings* s) {
  s->fsync = true;
  s->fsync_meta = value != "once";
  if (value != "once" && !ParseBool(value, &s->fsync))
    return Status::InvalidArgument("expected yes, once or no");
  return Status::Ok();
}

Status ParseDmarcMaxRatio(const std::string& value, ArchiverSettings* s) {
  char* end = nullptr;
  unsigned long long ratio = std::strtoull(value.c_str(), &end, 10);
  if (!std::isdigit(static_cast<unsigned char>(value[0])) || *end != '\0' || ratio == 0)
    return Status::InvalidArgument("expected a whole number above 0");
  s->dmarc_max_ratio = ratio;
  return Status::Ok();
}

// Read after archiver_map_size (the table's order): DMARC data gets a share of the map.
Status ParseDmarcMaxSpace(const std::string& value, ArchiverSettings* s) {
  Result<uint64_t> size = ParseSize(value);
  if (!size.ok() || (*size != 0 && *size < (1ULL << 20)))
    return Status::InvalidArgument(
        "expected 0 (an eighth of archiver_map_size) or a size of at least 1M");
  s->dmarc_max_space = *size;
  if (s->dmarc_max_space >= s->map_size)
    return Status::InvalidArgument(
        "must be less than archiver_map_size, or DMARC reports could fill the archive that "
        "mail needs");
  return Status::Ok();
}

Status ParseSourcesKey(const std::string& value, ArchiverSettings* s) {
  s->sources_key = value;
  if (!value.empty() && value[0] != '/') return Status::InvalidArgument("expected an absolute path");
  return Status::Ok();
}

// Every archiver_* setting the parser reads, in the order they are checked (the first
// invalid one is reported). The default is the text an unset or empty setting stands for:
// what conf.d/90-archiver.conf documents and ArchiverSettings{} holds (settings_test.cc).
const SettingDefinition kSettings[] = {
    {"archiver_path", "",
     [](const std::string& v, ArchiverSettings* s) {
       s->path = v;
       return Status::Ok();
     }},
    {"archiver_failure", "tempfail", ParseFailure},
    {"archiver_capture", "delivery", ParseCapture},
    {"archiver_compression", "zlib", ParseCompression},
    {"archiver_map_size", "16G",
     [](const std::string& v, ArchiverSettings* s) {
       return SizeAtLeast(v, 1ULL << 20, &s->map_size,
                          "expected a size of at least 1M, such as 16G");
     }},
    {"archiver_fsync", "yes", ParseFsync},
    {"archiver_lock_timeout", "30s",
     [](const std::string& v, ArchiverSettings* s) {
       return TimeWithin(v, 1000, 600'000, &s->lock_timeout_ms,
                         "expected a time between 1s and 10min, such as 30s");
     }},
    {"archiver_exclude_users", "",
     [](const std::string& v, ArchiverSettings* s) { return Words(v, &s->exclude_users); }},
    {"archiver_exclude_mailboxes", "",
     [](const std::string& v, ArchiverSettings* s) { return Words(v, &s->exclude_mailboxes); }},
    {"archiver_dmarc_mailboxes", "",
     [](const std::string& v, ArchiverSettings* s) {
       return ParseDmarcMailboxes(v, &s->dmarc_mailboxes);
     }},
    {"archiver_dmarc_max_size", "10M",
     [](const std::string& v, ArchiverSettings* s) {
       return SizeAtLeast(v, 1, &s->dmarc_max_size, "expected a size above 0, such as 10M");
     }},
    {"archiver_dmarc_max_ratio", "100", ParseDmarcMaxRatio},
    {"archiver_dmarc_max_space", "0", ParseDmarcMaxSpace},
    {"archiver_dmarc_max_time", "20s",
     [](const std::string& v, ArchiverSettings* s) {
       return TimeWithin(v, 1000, 600'000, &s->dmarc_max_time_ms,
                         "expected a time between 1s and 10min, such as 20s");
     }},
    {"archiver_dmarc_wait", "1s",
     [](const std::string& v, ArchiverSettings* s) {
       return TimeWithin(v, 0, 600'000, &s->dmarc_wait_ms,
                         "expected a time up to 10min, such as 1s (0: do not wait)");
     }},
    {"archiver_dmarc_senders", "",
     [](const std::string& v, ArchiverSettings* s) { return Words(v, &s->dmarc_senders); }},
    {"archiver_dmarc_subjects", "",
     [](const std::string& v, ArchiverSettings* s) { return Words(v, &s->dmarc_subjects); }},
    {"archiver_sources_key", "", ParseSourcesKey},
};

}  // namespace

std::span<const SettingDefinition> ArchiverSettingDefinitions() { return kSettings; }

bool AnyWildcardMatches(const std::vector<std::string>& patterns, const std::string& text) {
  for (const std::string& pattern : patterns) {
    if (wildcard_match_icase(text.c_str(), pattern.c_str())) return true;
  }
  return false;
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

Status ParseArchiverSettings(const SettingLookup& lookup, bool require_path,
                             ArchiverSettings* settings) {
  auto get = [&](const char* name) -> std::string {
    const char* value = lookup(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  if (require_path && get("archiver_path").empty())
#if DOVECOT_PREREQ(2, 4, 0)
    return Status::InvalidArgument(
        "archiver_path is not set: name the archive directory with archiver_path = …");
#else
    return Status::InvalidArgument(
        "archiver_path is not set: name the archive directory in plugin { archiver_path = … }");
#endif
  ArchiverSettings parsed;
  for (const SettingDefinition& setting : ArchiverSettingDefinitions()) {
    std::string value = get(setting.name);
    if (value.empty()) value = setting.default_value;
    Status valid = setting.parse(value, &parsed);
    if (!valid.ok()) return Status::InvalidArgument(Invalid(setting.name, value, valid.message()));
  }
  *settings = std::move(parsed);
  return Status::Ok();
}

}  // namespace archiver::plugin
