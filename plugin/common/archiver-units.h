// Sizes and durations as administrators write them, in the archiver_* settings and in
// doveadm's options: one reader of "a number and its unit" for the whole glue. Plain C++:
// no Dovecot call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver::plugin {

// Bytes from "16G", "512M", "1024k", "1T", "4096": a decimal number and an optional unit
// k, m, g or t (powers of 1024), any case, with an optional trailing B ("16GB").
// InvalidArgument on anything else, a number that does not fit 64 bits among it.
Result<uint64_t> ParseSize(std::string_view text);

// The two ways of writing a duration the glue reads; each its own unit words and result.
enum class DurationSyntax {
  // Dovecot's settings: "30s", "2 min", "500ms", "10mins", "30" (seconds), any case, spaces
  // allowed before the unit; ms, s and min units with their long forms. Milliseconds.
  kSetting,
  // doveadm options (--interval, --max-age): "90s", "15m", "2h", "1d", "1w", "30" (seconds),
  // exactly so. Seconds.
  kOption,
};

// The duration `text` written in `syntax`, in that syntax's unit (see DurationSyntax).
// InvalidArgument on anything else, a number that does not fit 64 bits among it.
Result<uint64_t> ParseDuration(std::string_view text, DurationSyntax syntax);

// `seconds` written in DurationSyntax::kOption with the largest unit that divides it
// ("15m", "2d", "90s"; "0s").
std::string FormatDuration(uint64_t seconds);

}  // namespace archiver::plugin
