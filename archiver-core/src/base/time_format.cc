// Times as administrators type and read them (see time_format.h). Calendar dates are
// validated field by field before timegm(), which would silently normalise "02-30".
#include "archiver/time_format.h"

#include <time.h>

#include <cstdio>
#include <limits>

#include "base/ascii.h"

namespace archiver {
namespace {

constexpr uint64_t kMicrosPerSecond = 1000000;

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool AtEnd() const { return pos_ == text_.size(); }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  // Exactly `digits` decimal digits.
  bool Number(int digits, int* value) {
    if (text_.size() - pos_ < static_cast<size_t>(digits)) return false;
    int result = 0;
    for (int i = 0; i < digits; ++i) {
      char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      result = result * 10 + (c - '0');
    }
    pos_ += digits;
    *value = result;
    return true;
  }
  // Skips a decimal fraction (".123"); seconds precision is all we keep.
  void SkipFraction() {
    if (!Consume('.') && !Consume(',')) return;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

bool ParseUnsigned(std::string_view digits, uint64_t* value) {
  if (digits.empty() || digits.size() > 19) return false;
  uint64_t result = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = result;
  return true;
}

// "7d", "12h", "30m", "2w", "45s": that long before now (never before the epoch).
bool ParseRelative(std::string_view text, uint64_t now_us, uint64_t* result) {
  if (text.size() < 2) return false;
  uint64_t unit_seconds;
  switch (text.back()) {
    case 's':
      unit_seconds = 1;
      break;
    case 'm':
      unit_seconds = 60;
      break;
    case 'h':
      unit_seconds = 3600;
      break;
    case 'd':
      unit_seconds = 86400;
      break;
    case 'w':
      unit_seconds = 7 * 86400;
      break;
    default:
      return false;
  }
  uint64_t count;
  if (!ParseUnsigned(text.substr(0, text.size() - 1), &count)) return false;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (count > kMax / unit_seconds / kMicrosPerSecond) return false;
  uint64_t span = count * unit_seconds * kMicrosPerSecond;
  *result = span > now_us ? 0 : now_us - span;
  return true;
}

// "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH[:]MM]".
bool ParseCalendar(std::string_view text, uint64_t* result) {
  Cursor in(text);
  struct tm fields = {};
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!in.Number(4, &year) || !in.Consume('-') || !in.Number(2, &month) || !in.Consume('-') ||
      !in.Number(2, &day)) {
    return false;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return false;
  }
  int64_t offset_seconds = 0;
  if (in.Consume('T') || in.Consume('t') || in.Consume(' ')) {
    if (!in.Number(2, &hour) || !in.Consume(':') || !in.Number(2, &minute)) return false;
    if (in.Consume(':')) {
      if (!in.Number(2, &second)) return false;
      in.SkipFraction();
    }
    if (hour > 23 || minute > 59 || second > 59) return false;
    if (in.Consume('Z') || in.Consume('z')) {
      // UTC
    } else if (in.Peek('+') || in.Peek('-')) {
      int sign = in.Consume('+') ? 1 : -1;
      if (sign < 0) in.Consume('-');
      int offset_hours, offset_minutes;
      if (!in.Number(2, &offset_hours)) return false;
      in.Consume(':');
      if (!in.Number(2, &offset_minutes)) return false;
      if (offset_hours > 23 || offset_minutes > 59) return false;
      offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
    }
  }
  if (!in.AtEnd()) return false;
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  int64_t seconds = static_cast<int64_t>(timegm(&fields)) - offset_seconds;
  if (seconds < 0) return false;
  *result = static_cast<uint64_t>(seconds) * kMicrosPerSecond;
  return true;
}

}  // namespace

std::string FormatTimeUtc(uint64_t micros_since_epoch) {
  time_t seconds = static_cast<time_t>(micros_since_epoch / kMicrosPerSecond);
  struct tm fields = {};
  if (gmtime_r(&seconds, &fields) == nullptr) return "?";
  char text[64];
  snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", fields.tm_year + 1900,
           fields.tm_mon + 1, fields.tm_mday, fields.tm_hour, fields.tm_min, fields.tm_sec);
  return text;
}

Result<uint64_t> ParseTimeArgument(std::string_view text, uint64_t now_us) {
  std::string_view trimmed = ascii::Trim(text, " \t");
  uint64_t result = 0;
  if (trimmed.starts_with('@')) {
    uint64_t seconds;
    if (ParseUnsigned(trimmed.substr(1), &seconds) &&
        seconds <= std::numeric_limits<uint64_t>::max() / kMicrosPerSecond) {
      return seconds * kMicrosPerSecond;
    }
  } else if (ParseRelative(trimmed, now_us, &result) || ParseCalendar(trimmed, &result)) {
    return result;
  } else if (ascii::EqualsIgnoreCase(trimmed, "now")) {
    return now_us;
  } else if (ascii::EqualsIgnoreCase(trimmed, "today") ||
             ascii::EqualsIgnoreCase(trimmed, "yesterday")) {
    const uint64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
    uint64_t midnight = now_us - now_us % kMicrosPerDay;  // UTC, like every time shown
    return ascii::EqualsIgnoreCase(trimmed, "today") ? midnight : midnight - kMicrosPerDay;
  }
  return Status::InvalidArgument("invalid time '" + std::string(text) +
                                 "' (expected e.g. 2024-05-01, 2024-05-01T12:34:56Z, "
                                 "@1714567890, 7d, today, yesterday or now)");
}

uint64_t NowMicros() {
  struct timespec now = {};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * kMicrosPerSecond +
         static_cast<uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace archiver
