// Reads archiver_sources_poll_interval and archiver_path: on 2.3 through lib-master's
// settings reader (a settings root holding only the plugin { } string list, every other
// key ignored), on 2.4 through the archiver settings struct every binary shares.
#include "poller-settings.h"

#include <cstddef>
#include <cstring>

#include "archiver/archive_path.h"
#include "poller-dovecot.h"

namespace archiver::poller {
namespace {

constexpr const char* kPollIntervalKey = "archiver_sources_poll_interval";

#if !DOVECOT_PREREQ(2, 4, 0)
constexpr const char* kArchivePathKey = "archiver_path";

struct PluginSection {
  ARRAY_TYPE(const_string) plugin_envs;
};

const struct setting_define kPluginDefines[] = {
    {.type = SET_STRLIST, .key = "plugin", .offset = offsetof(PluginSection, plugin_envs)},
    {}};  // SETTING_DEFINE_LIST_END

const PluginSection kPluginDefaults = {};

const struct setting_parser_info kPluginInfo = {
    .module_name = "archiver-poller",
    .defines = kPluginDefines,
    .defaults = &kPluginDefaults,
    .type_offset = SIZE_MAX,
    .struct_size = sizeof(PluginSection),
    .parent_offset = SIZE_MAX,
};

const struct setting_parser_info* const kRoots[] = {&kPluginInfo, nullptr};
#endif

}  // namespace

Status ParsePollInterval(const char* value, unsigned* secs) {
  unsigned parsed = 0;
  const char* parse_error = nullptr;
#if DOVECOT_PREREQ(2, 4, 0)
  int ret = str_parse_get_interval(value, &parsed, &parse_error);
#else
  int ret = settings_get_time(value, &parsed, &parse_error);
#endif
  if (ret < 0)
    return Status::InvalidArgument(std::string(kPollIntervalKey) + " = " + value + ": " +
                                   parse_error);
  if (parsed < kMinPollIntervalSecs || parsed > kMaxPollIntervalSecs)
    return Status::InvalidArgument(std::string(kPollIntervalKey) + " = " + value +
                                   ": must be between 1 second and 1 day");
  *secs = parsed;
  return Status::Ok();
}

#if DOVECOT_PREREQ(2, 4, 0)
// Dovecot 2.4: the typed archiver_* settings (archiver-settings-dovecot24.h), raw: the
// poller only needs to know whether archiver_path names one archive for the server. The
// interval's bounds are checked by the settings' own check (a failed lookup), as at load.
Status ReadPollerSettings(struct master_service* service, PollerSettings* settings) {
  const char* read_error = nullptr;
  if (master_service_settings_read_simple(service, &read_error) < 0)
    return Status::IOError(std::string("Cannot read the configuration: ") + read_error);
  const struct archiver_settings* set = nullptr;
  // A failed lookup is an invalid value: the settings' check refused it.
  if (archiver_settings_lookup(master_service_get_event(service), SETTINGS_GET_FLAG_NO_EXPAND, &set,
                               &read_error) < 0)
    return Status::InvalidArgument(std::string("Cannot read the archiver_* settings: ") +
                                   read_error);
  PollerSettings parsed;
  parsed.archiver_path = set->archiver_path;
  parsed.poll_interval_secs = set->archiver_sources_poll_interval;
  archiver_settings_release(&set);
  *settings = parsed;
  return Status::Ok();
}
#else
Status ReadPollerSettings(struct master_service* service, PollerSettings* settings) {
  struct master_service_settings_input input = {};
  input.roots = kRoots;
  input.service = "archiver-poller";
  struct master_service_settings_output output;
  const char* read_error = nullptr;
  if (master_service_settings_read(service, &input, &output, &read_error) < 0)
    return Status::IOError(std::string("Cannot read the configuration: ") + read_error);
  const auto* section =
      static_cast<const PluginSection*>(master_service_settings_get_others(service)[0]);
  PollerSettings parsed;
  if (array_is_created(&section->plugin_envs)) {
    unsigned count = 0;
    const char* const* envs = array_get(&section->plugin_envs, &count);
    for (unsigned i = 0; i + 1 < count; i += 2) {
      if (std::strcmp(envs[i], kPollIntervalKey) == 0 && envs[i + 1][0] != '\0') {
        Status interval = ParsePollInterval(envs[i + 1], &parsed.poll_interval_secs);
        if (!interval.ok()) return interval;
      }
      if (std::strcmp(envs[i], kArchivePathKey) == 0) parsed.archiver_path = envs[i + 1];
    }
  }
  *settings = parsed;
  return Status::Ok();
}
#endif

std::string SourcesDisabledReason(const PollerSettings& settings) {
  const std::string& path = settings.archiver_path;
  if (path.empty()) return "archiver_path is not set";
  if (ArchivePathDependsOnUser(path))
    return "archiver_path = " + path + " depends on the user";
  return "";
}

}  // namespace archiver::poller
