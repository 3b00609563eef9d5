// ArchiverSettings: the plugin { archiver_* } settings, parsed once per user (mail
// processes) or per command (doveadm) into a typed struct. An invalid value is an error
// naming the setting and the value; nothing falls back silently to a default.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archiver/store.h"

namespace archiver::plugin {

enum class FailureMode { kTempfail, kContinue };

struct ArchiverSettings {
  std::string path;                           // archiver_path (required)
  FailureMode failure = FailureMode::kTempfail;   // archiver_failure
  bool capture_delivery = true;               // archiver_capture contains "delivery"
  bool capture_append = false;                // archiver_capture contains "append"
  int compression_level = 6;                  // archiver_compression: zlib[:N] | none
  uint64_t map_size = 16ULL << 30;            // archiver_map_size
  bool fsync = true;                          // archiver_fsync: yes, once or no
  bool fsync_meta = true;                     // archiver_fsync = yes (not once)
  std::vector<std::string> exclude_users;     // archiver_exclude_users (wildcards)
  std::vector<std::string> exclude_mailboxes; // archiver_exclude_mailboxes (wildcards)

  // Store options for this archive (read_only for queries).
  StoreOptions StoreOptionsFor(bool read_only) const;
};

// Looks a setting up by its full name ("archiver_path"); nullptr or "" when unset.
using SettingLookup = std::function<const char*(const char* name)>;

// Parses every archiver_* setting. Returns "" on success, else an error such as
// "Invalid archiver_failure=maybe: expected tempfail or continue".
// `require_path`: an unset archiver_path is an error.
std::string ParseArchiverSettings(const SettingLookup& lookup, bool require_path,
                                  ArchiverSettings* settings);

// Parses "16G", "512M", "1024k", "1T", "4096" (bytes). False on anything else.
bool ParseSize(const std::string& text, uint64_t* bytes);

}  // namespace archiver::plugin
