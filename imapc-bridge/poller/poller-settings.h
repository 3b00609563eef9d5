// The poller service's settings: read once at start from Dovecot's configuration
// (plugin { archiver_sources_poll_interval, archiver_path }).
#pragma once

#include <string>

#include "archiver/status.h"

struct master_service;

namespace archiver::poller {

// Default and bounds of archiver_sources_poll_interval.
inline constexpr unsigned kDefaultPollIntervalSecs = 60;
inline constexpr unsigned kMinPollIntervalSecs = 1;
inline constexpr unsigned kMaxPollIntervalSecs = 24 * 60 * 60;

struct PollerSettings {
  unsigned poll_interval_secs = kDefaultPollIntervalSecs;
  std::string archiver_path;  // the global plugin { archiver_path }; "" when unset
};

// Why this configuration can have no remote sources, "" when it can: sources live in one
// archive for the server, so archiver_path must be set and must not depend on the user
// (%u, %d, … or ~), as `doveadm archive source` requires.
std::string SourcesDisabledReason(const PollerSettings& settings);

// Parses an archiver_sources_poll_interval value (Dovecot's time syntax: "30s", "1m",
// "5 mins") into `*secs`. InvalidArgument naming the setting and the value when it does
// not parse or lies outside [kMinPollIntervalSecs, kMaxPollIntervalSecs].
Status ParsePollInterval(const char* value, unsigned* secs);

// Reads the settings from the configuration master_service was started with (the
// config socket under Dovecot's master). IOError when the configuration cannot be read,
// InvalidArgument when a value is invalid; `*settings` is then unchanged. The message is
// what the poller logs.
Status ReadPollerSettings(struct master_service* service, PollerSettings* settings);

}  // namespace archiver::poller
