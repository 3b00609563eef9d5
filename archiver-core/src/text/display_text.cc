// DisplayText (display_text.h).
#include "archiver/display_text.h"

namespace archiver {
namespace {

// Bytes of `text` from `i` that form one control character to escape: 1 (C0, DEL), 2 (a
// C1 control in UTF-8: C2 80..C2 9F), 0 (none).
size_t ControlAt(std::string_view text, size_t i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  if (byte < 0x20 || byte == 0x7f) return 1;
  if (byte == 0xc2 && i + 1 < text.size()) {
    const auto next = static_cast<unsigned char>(text[i + 1]);
    if (next >= 0x80 && next <= 0x9f) return 2;
  }
  return 0;
}

bool EscapedBackslash(std::string_view text, size_t i) {
  return text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'x';
}

}  // namespace

bool NeedsDisplayEscape(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (ControlAt(text, i) != 0 || EscapedBackslash(text, i)) return true;
  }
  return false;
}

std::string DisplayText(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const size_t control = ControlAt(text, i);
    if (control == 0) {
      if (EscapedBackslash(text, i)) out += '\\';
      out += text[i];
      continue;
    }
    for (size_t k = 0; k < control; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
    i += control - 1;
  }
  return out;
}

}  // namespace archiver
