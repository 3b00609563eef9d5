// What the tests of remote sources share: a valid source's settings.
#pragma once

#include <string>

#include "archiver/sources/sources.h"

namespace archiver::testing {

// A valid archive source on imap.example.org:993 (imaps), user alice@example.org.
inline SourceConfig SampleSource(const std::string& name = "old-server") {
  SourceConfig config;
  config.name = name;
  config.host = "imap.example.org";
  config.user = "alice@example.org";
  return config;
}

}  // namespace archiver::testing
