// RFC 2047 encoded-words ("=?charset?B|Q?text?=") in header values, decoded to UTF-8.
// Lenient where real senders are sloppy (words inside quoted strings or glued to text,
// spaces in Q text, missing base64 padding); a word that cannot be decoded stays literal.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "archiver/header_summary.h"
#include "text/charset.h"

namespace archiver {
namespace {

struct EncodedWord {
  std::string_view charset;  // language suffix ("*en") removed
  std::string bytes;         // decoded, still in `charset`
  size_t end = 0;            // index just past "?="
};

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Base64 with optional padding; spaces (from folding inside a word) are skipped.
std::optional<std::string> DecodeB(std::string_view text) {
  std::string out;
  uint32_t accumulator = 0;
  int bits = 0;
  size_t symbols = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int value = Base64Value(c);
    if (value < 0 || padding) return std::nullopt;  // stray byte, or data after padding
    accumulator = accumulator << 6 | static_cast<uint32_t>(value);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  if (symbols % 4 == 1) return std::nullopt;  // a lone 6-bit group cannot encode a byte
  return out;
}

std::string DecodeQ(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) << 4 | HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);  // includes a malformed "=", kept as written
    }
  }
  return out;
}

// Parses the encoded-word starting at value[start] ("=?"); nullopt if it is not one
// that can be decoded (syntax, bad base64, charset unknown to iconv).
std::optional<EncodedWord> ParseEncodedWord(std::string_view value, size_t start) {
  size_t charset_begin = start + 2;
  size_t charset_end = value.find('?', charset_begin);
  if (charset_end == std::string_view::npos || charset_end == charset_begin) return std::nullopt;
  if (charset_end + 3 > value.size() || value[charset_end + 2] != '?') return std::nullopt;
  char encoding = value[charset_end + 1];
  size_t text_begin = charset_end + 3;
  size_t text_end = value.find("?=", text_begin);
  if (text_end == std::string_view::npos) return std::nullopt;

  std::string_view charset = value.substr(charset_begin, charset_end - charset_begin);
  if (size_t star = charset.find('*'); star != std::string_view::npos) {
    charset = charset.substr(0, star);  // RFC 2231 language suffix
  }
  if (charset.find_first_of(" \t\"()<>@,;:\\/[]=") != std::string_view::npos) return std::nullopt;
  if (!charset::IsKnownCharset(charset)) return std::nullopt;

  std::string_view text = value.substr(text_begin, text_end - text_begin);
  EncodedWord word;
  word.charset = charset;
  word.end = text_end + 2;
  if (encoding == 'B' || encoding == 'b') {
    std::optional<std::string> bytes = DecodeB(text);
    if (!bytes) return std::nullopt;
    word.bytes = std::move(*bytes);
  } else if (encoding == 'Q' || encoding == 'q') {
    word.bytes = DecodeQ(text);
  } else {
    return std::nullopt;
  }
  return word;
}

bool IsLinearWhitespace(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool SameCharset(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string DecodeRfc2047(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  // Decoded bytes of consecutive words in one charset are converted together, so a
  // multi-byte character split across two words (a common sender bug) survives.
  std::string run_bytes;
  std::string_view run_charset;
  auto flush_run = [&] {
    if (!run_charset.empty()) {
      charset::AppendInCharset(run_charset, run_bytes, &out);
    }
    run_bytes.clear();
    run_charset = {};
  };

  size_t literal_begin = 0;
  bool after_word = false;
  size_t i = 0;
  while (i + 1 < value.size()) {
    if (value[i] != '=' || value[i + 1] != '?') {
      ++i;
      continue;
    }
    std::optional<EncodedWord> word = ParseEncodedWord(value, i);
    if (!word) {
      ++i;
      continue;
    }
    std::string_view between = value.substr(literal_begin, i - literal_begin);
    bool joins = after_word && IsLinearWhitespace(between);  // RFC 2047 section 6.2
    if (!joins) {
      flush_run();
      charset::AppendUtf8OrWindows1252(between, &out);
    } else if (!SameCharset(run_charset, word->charset)) {
      flush_run();
    }
    run_charset = word->charset;
    run_bytes += word->bytes;
    after_word = true;
    i = literal_begin = word->end;
  }
  flush_run();
  charset::AppendUtf8OrWindows1252(value.substr(literal_begin), &out);
  return out;
}

}  // namespace archiver
