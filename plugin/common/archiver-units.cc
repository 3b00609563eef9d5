// Sizes and durations (see archiver-units.h): a decimal number, then a unit word looked up
// in the table of what is being read.
#include "common/archiver-units.h"

#include <span>

namespace archiver::plugin {
namespace {

struct Unit {
  std::string_view word;
  uint64_t scale;  // in the result's unit
};

constexpr Unit kSizeUnits[] = {
    {"", 1}, {"k", 1ULL << 10}, {"m", 1ULL << 20}, {"g", 1ULL << 30}, {"t", 1ULL << 40}};

constexpr Unit kSettingTimeUnits[] = {  // milliseconds
    {"ms", 1},         {"msec", 1},        {"msecs", 1},       {"", 1000},
    {"s", 1000},       {"sec", 1000},      {"secs", 1000},     {"second", 1000},
    {"seconds", 1000}, {"m", 60'000},      {"min", 60'000},    {"mins", 60'000},
    {"minute", 60'000}, {"minutes", 60'000}};

constexpr Unit kOptionTimeUnits[] = {  // seconds; FormatDuration tries them from the end
    {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86'400}, {"w", 7 * 86'400}};

std::string Lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// The leading decimal number of `text` times the scale of `unit_of(the rest)` in `units`.
template <typename UnitOf>
Result<uint64_t> NumberWithUnit(std::string_view text, std::span<const Unit> units,
                                UnitOf unit_of, const char* what) {
  const Status invalid = Status::InvalidArgument(std::string("not ") + what + ": " +
                                                 std::string(text));
  size_t digits = 0;
  uint64_t number = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; digits++) {
    const uint64_t digit = static_cast<uint64_t>(text[digits] - '0');
    if (number > (UINT64_MAX - digit) / 10) return invalid;
    number = number * 10 + digit;
  }
  if (digits == 0) return invalid;
  const std::string unit = unit_of(text.substr(digits));
  for (const Unit& candidate : units) {
    if (candidate.word != unit) continue;
    if (number > UINT64_MAX / candidate.scale) return invalid;
    return number * candidate.scale;
  }
  return invalid;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  return NumberWithUnit(
      text, kSizeUnits,
      [](std::string_view unit) {
        std::string word = Lowercase(unit);
        if (!word.empty() && word.back() == 'b') word.pop_back();  // "16GB" like "16G"
        return word;
      },
      "a size");
}

Result<uint64_t> ParseDuration(std::string_view text, DurationSyntax syntax) {
  if (syntax == DurationSyntax::kOption)
    return NumberWithUnit(
        text, kOptionTimeUnits, [](std::string_view unit) { return std::string(unit); },
        "a duration");
  return NumberWithUnit(
      text, kSettingTimeUnits,
      [](std::string_view unit) {
        while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);  // "2 min"
        return Lowercase(unit);
      },
      "a duration");
}

std::string FormatDuration(uint64_t seconds) {
  for (auto unit = std::rbegin(kOptionTimeUnits); unit != std::rend(kOptionTimeUnits); ++unit) {
    if (unit->scale > 1 && seconds != 0 && seconds % unit->scale == 0)
      return std::to_string(seconds / unit->scale) + std::string(unit->word);
  }
  return std::to_string(seconds) + "s";
}

}  // namespace archiver::plugin
