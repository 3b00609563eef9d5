// ASCII-only text helpers shared by the header, trace and index code: protocol tokens
// (field names, addresses' case) are ASCII, whatever charset the rest of a header uses.
#pragma once

#include <string>
#include <string_view>

namespace archiver::ascii {

inline char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string Lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = Lower(c);
  return lower;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// `text` without leading and trailing characters from `whitespace`.
inline std::string_view Trim(std::string_view text, std::string_view whitespace = " \t\r\n") {
  size_t begin = text.find_first_not_of(whitespace);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(whitespace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace archiver::ascii
