// Header text to UTF-8: validation and repair of UTF-8, windows-1252 for raw 8-bit bytes,
// and conversion of any charset glibc's iconv knows. Every Append* yields valid UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace archiver::charset {

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// Appends U+`code_point` encoded as UTF-8 (U+FFFD for surrogates and values > U+10FFFF).
void AppendCodePoint(uint32_t code_point, std::string* out);

// Raw header bytes of unknown charset: well-formed UTF-8 sequences are copied, every
// other byte is read as windows-1252 (the superset of latin-1 senders actually use).
void AppendUtf8OrWindows1252(std::string_view bytes, std::string* out);

// Bytes meant as UTF-8: each byte that does not start a well-formed sequence becomes U+FFFD.
void AppendUtf8Repaired(std::string_view bytes, std::string* out);

// Bytes in windows-1252 (also used for ISO-8859-1, as mail clients do).
void AppendWindows1252(std::string_view bytes, std::string* out);

// True when AppendInCharset can convert from `charset` (a MIME charset name).
bool IsKnownCharset(std::string_view charset);

// Converts `bytes` from MIME charset `charset` to UTF-8 and appends it; bytes invalid in
// that charset become U+FFFD. Returns false, appending nothing, when the charset is unknown.
bool AppendInCharset(std::string_view charset, std::string_view bytes, std::string* out);

// Copy of UTF-8 `text` fit for one-line display: TAB, CR and LF become a space, other
// C0 and C1 controls and DEL become U+FFFD.
std::string CleanControls(std::string_view text);

}  // namespace archiver::charset
