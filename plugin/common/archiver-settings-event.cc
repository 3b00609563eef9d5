// Dovecot 2.4: archiver_* settings through settings_get() (see the header).
#include "common/archiver-settings-event.h"

#include <cctype>
#include <map>

#include "common/archiver-dovecot.h"

extern "C" {
#include "common/archiver-settings-dovecot24.h"
}

namespace archiver::plugin {
namespace {

// Each setting as the text the 2.3 parser reads; a value Dovecot does not know yet (it
// holds %{variables} and this is the config process) is left out.
std::map<std::string, std::string> SettingTexts(const struct archiver_settings* set) {
  std::map<std::string, std::string> texts;
  for (const struct setting_define* def = archiver_setting_parser_info.defines;
       def->key != nullptr; def++) {
    const void* field = reinterpret_cast<const char*>(set) + def->offset;
    switch (def->type) {
      case SET_STR:
      case SET_STR_NOVARS:
      case SET_ENUM: {
        const char* value = *static_cast<const char* const*>(field);
        if (value != nullptr && value != set_value_unknown) texts[def->key] = value;
        break;
      }
      case SET_SIZE:
        texts[def->key] = std::to_string(*static_cast<const uoff_t*>(field));
        break;
      case SET_UINT:
      case SET_TIME:
        texts[def->key] = std::to_string(*static_cast<const unsigned int*>(field));
        break;
      case SET_TIME_MSECS:
        texts[def->key] = std::to_string(*static_cast<const unsigned int*>(field)) + "ms";
        break;
      case SET_BOOLLIST: {
        const auto* list = static_cast<const ARRAY_TYPE(const_string)*>(field);
        std::string words;
        if (array_is_created(list)) {
          for (const char* const* item = settings_boollist_get(list); *item != nullptr; item++)
            words += std::string(words.empty() ? "" : " ") + *item;
        }
        // An emptied list (archiver_capture =) means nothing, not the default.
        texts[def->key] = words.empty() ? "none" : words;
        break;
      }
      default:
        break;
    }
  }
  return texts;
}

// ParseArchiverSettings over `texts`, and 2.4's own checks: InvalidArgument on a bad value.
Status ParseSettingTexts(const std::map<std::string, std::string>& texts, bool require_path,
                         ArchiverSettings* settings) {
  Status parsed = ParseArchiverSettings(
      [&texts](const char* name) -> const char* {
        auto found = texts.find(name);
        return found == texts.end() ? nullptr : found->second.c_str();
      },
      require_path, settings);
  if (!parsed.ok()) return parsed;
  // The poller's bounds (kMin/kMaxPollIntervalSecs of poller-settings.h, which reads the
  // value through this check on 2.4), so that Dovecot refuses the value at load time.
  auto interval = texts.find("archiver_sources_poll_interval");
  if (interval != texts.end()) {
    unsigned long secs = std::stoul(interval->second);
    if (secs < 1 || secs > 24 * 60 * 60)
      return Status::InvalidArgument("Invalid archiver_sources_poll_interval=" + interval->second +
                                     "s: must be between 1 second and 1 day");
  }
  std::string old = OldStyleVariable(settings->path);
  if (!old.empty())
    return Status::InvalidArgument(
        "Invalid archiver_path=" + settings->path + ": " + old +
        " is Dovecot 2.3's variable syntax, which 2.4 takes literally; write %{user} "
        "(2.3: %u), %{user | domain} (%d), %{user | username} (%n) or %{home} (~)");
  return Status::Ok();
}

}  // namespace

std::string OldStyleVariable(const std::string& path) {
  for (size_t i = 0; i + 1 < path.size(); i++) {
    if (path[i] == '%' && std::isalpha(static_cast<unsigned char>(path[i + 1])))
      return path.substr(i, 2);
  }
  return "";
}

Status ReadArchiverSettings(struct event* event, bool expand, bool require_path,
                            ArchiverSettings* settings) {
  const struct archiver_settings* set = nullptr;
  const char* error = nullptr;
  auto flags = expand ? static_cast<enum settings_get_flags>(0) : SETTINGS_GET_FLAG_NO_EXPAND;
  if (archiver_settings_lookup(event, flags, &set, &error) < 0)
    return Status::InvalidArgument(error != nullptr ? error
                                                    : "cannot read the archiver_* settings");
  std::map<std::string, std::string> texts = SettingTexts(set);
  archiver_settings_release(&set);
  return ParseSettingTexts(texts, require_path, settings);
}

}  // namespace archiver::plugin

// Dovecot's check_func (through archiver-settings-dovecot24.c): the 2.3 parser's checks,
// without requiring archiver_path (a configuration may set it per user or protocol only).
extern "C" bool archiver_settings_check_values(const struct archiver_settings* set,
                                               const char** error_r) {
  try {
    archiver::plugin::ArchiverSettings parsed;
    archiver::Status valid =
        archiver::plugin::ParseSettingTexts(archiver::plugin::SettingTexts(set), false, &parsed);
    if (valid.ok()) return true;
    *error_r = t_strdup(valid.message().c_str());
  } catch (const std::exception& e) {
    *error_r = t_strdup_printf("archiver: %s", e.what());
  } catch (...) {
    *error_r = "archiver: unexpected error while checking the settings";
  }
  return false;
}
