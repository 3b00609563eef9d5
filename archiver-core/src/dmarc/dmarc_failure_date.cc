// RFC 5322 dates as failure reports carry them (Arrival-Date, Exim's "Received date"),
// with the obsolete and sloppy forms real senders write (see dmarc_failure_internal.h).
#include <array>
#include <string>

#include "base/ascii.h"
#include "dmarc/dmarc_failure_internal.h"

namespace archiver::failure {
namespace {

// The date's tokens: words, numbers and the punctuation between them; comments gone.
class DateTokens {
 public:
  explicit DateTokens(std::string_view text) : clean_(WithoutComments(text)), rest_(clean_) {}
  DateTokens(const DateTokens&) = delete;  // rest_ points into clean_
  DateTokens& operator=(const DateTokens&) = delete;

  void SkipSpace() { rest_ = ascii::Trim(rest_, " \t\r\n"); }
  bool AtEnd() {
    SkipSpace();
    return rest_.empty();
  }
  bool Consume(char c) {
    SkipSpace();
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }
  // Letters, as written.
  std::string_view Word() {
    SkipSpace();
    size_t n = 0;
    while (n < rest_.size() && IsLetter(rest_[n])) ++n;
    std::string_view word = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return word;
  }
  // 1 to `max_digits` decimal digits; -1 when there are none (or too many).
  int Number(size_t max_digits, size_t* digits = nullptr) {
    SkipSpace();
    size_t n = 0;
    int value = 0;
    while (n < rest_.size() && rest_[n] >= '0' && rest_[n] <= '9') {
      if (n == max_digits) return -1;
      value = value * 10 + (rest_[n] - '0');
      ++n;
    }
    if (n == 0) return -1;
    rest_.remove_prefix(n);
    if (digits != nullptr) *digits = n;
    return value;
  }
  // '+', '-' or 0 when neither comes next.
  char Sign() {
    if (Consume('+')) return '+';
    if (Consume('-')) return '-';
    return 0;
  }
  bool PeekDigit() {
    SkipSpace();
    return !rest_.empty() && rest_.front() >= '0' && rest_.front() <= '9';
  }
  bool PeekLetter() {
    SkipSpace();
    return !rest_.empty() && IsLetter(rest_.front());
  }

 private:
  static bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  std::string clean_;
  std::string_view rest_;
};

constexpr std::array<std::string_view, 12> kMonths = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

constexpr std::array<std::string_view, 7> kWeekdays = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

// "Oct" or "October" (any case); 1..12, or 0 when not a month.
int MonthNumber(std::string_view word) {
  std::string lower = ascii::Lowercase(word);
  if (lower.size() < 3) return 0;
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i].starts_with(lower)) return static_cast<int>(i) + 1;
  }
  return 0;
}

bool IsWeekday(std::string_view word) {
  std::string lower = ascii::Lowercase(word);
  if (lower.size() < 3) return false;
  for (std::string_view day : kWeekdays) {
    if (day.starts_with(lower)) return true;
  }
  return false;
}

struct NamedZone {
  std::string_view name;
  int minutes;
};

// RFC 5322's obsolete zones, and the few others reporters write that mean one thing.
constexpr NamedZone kZones[] = {
    {"ut", 0},        {"utc", 0},        {"gmt", 0},        {"z", 0},          {"est", -5 * 60},
    {"edt", -4 * 60}, {"cst", -6 * 60},  {"cdt", -5 * 60},  {"mst", -7 * 60},  {"mdt", -6 * 60},
    {"pst", -8 * 60}, {"pdt", -7 * 60},  {"wet", 0},        {"west", 60},      {"cet", 60},
    {"cest", 2 * 60}, {"met", 60},       {"mest", 2 * 60},  {"eet", 2 * 60},   {"eest", 3 * 60},
    {"msk", 3 * 60},  {"jst", 9 * 60},   {"kst", 9 * 60},   {"hkt", 8 * 60},   {"sgt", 8 * 60},
    {"awst", 8 * 60}, {"aest", 10 * 60}, {"nzst", 12 * 60}, {"nzdt", 13 * 60},
};

// Minutes east of UTC for a named zone; an unknown name (military letters included,
// whose sign RFC 822 got backwards) is -0000, as RFC 5322 section 4.3 says.
int ZoneMinutes(std::string_view name) {
  std::string lower = ascii::Lowercase(name);
  for (const NamedZone& zone : kZones) {
    if (zone.name == lower) return zone.minutes;
  }
  return 0;
}

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  int64_t era = (year >= 0 ? year : year - 399) / 400;
  int64_t year_of_era = year - era * 400;
  int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// [day-of-week ","] day month year; "Oct 1 2018" (month first) is written too. False
// when it is not a date of the calendar.
bool ReadDate(DateTokens& in, int* year, int* month, int* day) {
  std::string_view word = in.PeekLetter() ? in.Word() : std::string_view();
  if (!word.empty() && IsWeekday(word)) {
    in.Consume(',');
    word = in.PeekLetter() ? in.Word() : std::string_view();
  }
  *day = -1;
  *month = 0;
  if (word.empty()) {
    *day = in.Number(2);
    in.Consume('-');
    *month = MonthNumber(in.Word());
  } else {
    *month = MonthNumber(word);
    *day = in.Number(2);
    in.Consume(',');
  }
  in.Consume('-');
  size_t year_digits = 0;
  *year = in.Number(4, &year_digits);
  if (*day < 1 || *month == 0 || *year < 0) return false;
  if (year_digits == 2) *year += *year < 50 ? 2000 : 1900;  // obs-year
  if (year_digits == 3) *year += 1900;
  if (year_digits == 1) return false;
  return *day <= DaysInMonth(*year, *month);
}

// hour ":" minute [":" second ["." fraction]]. False when malformed or out of range.
bool ReadTime(DateTokens& in, int* hour, int* minute, int* second) {
  *hour = in.Number(2);
  if (*hour < 0 || !in.Consume(':')) return false;
  *minute = in.Number(2);
  if (*minute < 0) return false;
  *second = 0;
  if (in.Consume(':')) {
    *second = in.Number(2);
    if (*second < 0) return false;
    if (in.Consume('.') || in.Consume(',')) in.Number(9);
  }
  if (*hour > 23 || *minute > 59 || *second > 60) return false;
  if (*second == 60) *second = 59;  // a leap second: the instant before is close enough
  return true;
}

// The zone, in minutes east of UTC: "+hhmm", "-hh:mm", a name, or nothing (0). nullopt
// when malformed.
std::optional<int> ReadZone(DateTokens& in) {
  if (char sign = in.Sign()) {
    size_t digits = 0;
    int hours = in.Number(4, &digits);
    int minutes = 0;
    if (hours < 0) return std::nullopt;
    if (digits == 4) {
      minutes = hours % 100;
      hours /= 100;
    } else if (digits > 2) {
      return std::nullopt;
    } else if (in.Consume(':')) {
      minutes = in.Number(2);
    }
    if (minutes < 0 || minutes > 59 || hours > 23) return std::nullopt;
    return (sign == '+' ? 1 : -1) * (hours * 60 + minutes);
  }
  if (in.PeekLetter()) return ZoneMinutes(in.Word());
  return 0;
}

}  // namespace

std::optional<int64_t> ParseRfc5322Date(std::string_view text) {
  DateTokens in(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDate(in, &year, &month, &day) || !ReadTime(in, &hour, &minute, &second))
    return std::nullopt;
  std::optional<int> zone_minutes = ReadZone(in);
  if (!zone_minutes || !in.AtEnd()) return std::nullopt;
  int64_t days = DaysFromCivil(year, month, day);
  return days * 86400 + hour * 3600 + minute * 60 + second - *zone_minutes * 60;
}

}  // namespace archiver::failure
