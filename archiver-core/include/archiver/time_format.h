// Times as administrators type and read them: ISO 8601 in UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver {

// "2024-05-01T12:34:56Z" (seconds precision, always UTC).
std::string FormatTimeUtc(uint64_t micros_since_epoch);

// Parses a time given on a command line, returning microseconds since the epoch:
//   "2024-05-01"                       midnight UTC of that day
//   "2024-05-01T12:34", "…:56", "…Z", "…+02:00", "2024-05-01 12:34:56"
//   "@1714567890"                      Unix seconds
//   "7d", "12h", "30m", "2w"           that long before `now_us`
//   "now", "today", "yesterday"        `now_us`, and midnight UTC of those days
// InvalidArgument naming the text otherwise (including impossible dates).
Result<uint64_t> ParseTimeArgument(std::string_view text, uint64_t now_us);

// Microseconds since the epoch, from the system clock.
uint64_t NowMicros();

}  // namespace archiver
