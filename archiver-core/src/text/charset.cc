// Header text to UTF-8 (see charset.h). iconv handles are owned by a small RAII type
// and opened per conversion; glibc caches the conversion modules themselves.
#include "text/charset.h"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <array>

namespace archiver::charset {
namespace {

constexpr uint32_t kReplacement = 0xFFFD;

// windows-1252 0x80..0x9F; 0 marks the five undefined bytes.
constexpr std::array<uint16_t, 32> kWindows1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

// Length of the well-formed UTF-8 sequence starting at p, or 0 if there is none.
size_t SequenceLength(const unsigned char* p, size_t available) {
  unsigned char lead = p[0];
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead < 0xC2) {
    return 0;
  } else if (lead < 0xE0) {
    length = 2;
  } else if (lead < 0xF0) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;  // no UTF-16 surrogates
  } else if (lead < 0xF5) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (available < length) return 0;
  if (p[1] < second_min || p[1] > second_max) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return length;
}

uint32_t Windows1252CodePoint(unsigned char byte) {
  if (byte < 0x80 || byte >= 0xA0) return byte;
  uint32_t mapped = kWindows1252High[byte - 0x80];
  return mapped == 0 ? kReplacement : mapped;
}

enum class CharsetKind { kUtf8, kWindows1252, kGuess, kIconv, kInvalid };

struct ResolvedCharset {
  CharsetKind kind;
  std::string iconv_name;
};

// Maps a MIME charset label to how it is decoded. Labels are attacker-controlled, so only
// plain names reach iconv (no "//" suffixes, nothing unusually long).
ResolvedCharset Resolve(std::string_view label) {
  if (label.empty() || label.size() > 64) return {CharsetKind::kInvalid, {}};
  std::string name;
  for (char c : label) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':' || c == '+';
    if (!plain) return {CharsetKind::kInvalid, {}};
    name += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (name == "utf-8" || name == "utf8") return {CharsetKind::kUtf8, {}};
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1" || name == "windows-1252" || name == "cp1252" ||
      name == "x-cp1252") {
    return {CharsetKind::kWindows1252, {}};
  }
  if (name == "us-ascii" || name == "ascii" || name == "ansi_x3.4-1968" || name == "unknown-8bit" ||
      name == "x-unknown" || name == "unknown") {
    return {CharsetKind::kGuess, {}};
  }
  // Labels whose usual senders mean a superset.
  if (name == "gb2312" || name == "gbk" || name == "cp936" || name == "x-gbk") name = "gb18030";
  if (name == "ks_c_5601-1987" || name == "ks_c_5601") name = "cp949";
  return {CharsetKind::kIconv, name};
}

class IconvHandle {
 public:
  IconvHandle(const char* to, const char* from) : cd_(iconv_open(to, from)) {}
  ~IconvHandle() {
    if (valid()) iconv_close(cd_);
  }
  IconvHandle(const IconvHandle&) = delete;
  IconvHandle& operator=(const IconvHandle&) = delete;
  bool valid() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

// Converts with iconv into `converted` (UTF-8); invalid input bytes become U+FFFD.
void Convert(IconvHandle& handle, std::string_view bytes, std::string* converted) {
  std::array<char, 4096> buffer;
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  bool flushing = false;
  while (true) {
    char* out = buffer.data();
    size_t out_left = buffer.size();
    size_t rc = flushing ? iconv(handle.get(), nullptr, nullptr, &out, &out_left)
                         : iconv(handle.get(), &in, &in_left, &out, &out_left);
    int error = rc == static_cast<size_t>(-1) ? errno : 0;
    converted->append(buffer.data(), out - buffer.data());
    if (error == E2BIG) continue;
    if (error == EILSEQ || error == EINVAL) {
      AppendCodePoint(kReplacement, converted);
      if (error == EINVAL) in_left = 0;  // truncated sequence at the end
      if (in_left > 0) {
        ++in;
        --in_left;
      }
      continue;
    }
    if (error != 0) return;
    if (flushing) return;
    flushing = true;  // emit the shift-back sequence of stateful charsets (ISO-2022-JP)
  }
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t length = SequenceLength(p + i, bytes.size() - i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void AppendCodePoint(uint32_t cp, std::string* out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacement;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendUtf8OrWindows1252(std::string_view bytes, std::string* out) {
  auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t length = SequenceLength(p + i, bytes.size() - i);
    if (length == 0) {
      AppendCodePoint(Windows1252CodePoint(p[i]), out);
      ++i;
    } else {
      out->append(bytes.substr(i, length));
      i += length;
    }
  }
}

void AppendUtf8Repaired(std::string_view bytes, std::string* out) {
  auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t length = SequenceLength(p + i, bytes.size() - i);
    if (length == 0) {
      AppendCodePoint(kReplacement, out);
      ++i;
    } else {
      out->append(bytes.substr(i, length));
      i += length;
    }
  }
}

void AppendWindows1252(std::string_view bytes, std::string* out) {
  for (char c : bytes) AppendCodePoint(Windows1252CodePoint(static_cast<unsigned char>(c)), out);
}

bool IsKnownCharset(std::string_view charset) {
  ResolvedCharset resolved = Resolve(charset);
  if (resolved.kind == CharsetKind::kInvalid) return false;
  if (resolved.kind != CharsetKind::kIconv) return true;
  return IconvHandle("UTF-8", resolved.iconv_name.c_str()).valid();
}

bool AppendInCharset(std::string_view charset, std::string_view bytes, std::string* out) {
  ResolvedCharset resolved = Resolve(charset);
  switch (resolved.kind) {
    case CharsetKind::kInvalid:
      return false;
    case CharsetKind::kUtf8:
      AppendUtf8Repaired(bytes, out);
      return true;
    case CharsetKind::kWindows1252:
      AppendWindows1252(bytes, out);
      return true;
    case CharsetKind::kGuess:
      AppendUtf8OrWindows1252(bytes, out);
      return true;
    case CharsetKind::kIconv:
      break;
  }
  IconvHandle handle("UTF-8", resolved.iconv_name.c_str());
  if (!handle.valid()) return false;
  std::string converted;
  Convert(handle, bytes, &converted);
  AppendUtf8Repaired(converted, out);  // iconv's output is UTF-8; this only guards it
  return true;
}

std::string CleanControls(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\t' || byte == '\r' || byte == '\n') {
      clean.push_back(' ');
    } else if (byte < 0x20 || byte == 0x7F) {
      AppendCodePoint(kReplacement, &clean);
    } else if (byte == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      AppendCodePoint(kReplacement, &clean);  // a C1 control, U+0080..U+009F
      ++i;
    } else {
      clean.push_back(static_cast<char>(byte));
    }
  }
  return clean;
}

}  // namespace archiver::charset
