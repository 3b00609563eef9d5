// Display text: what doveadm prints that may come from anyone (a subject, a DMARC report's
// org, a remote server's message) must not drive the admin's terminal. DisplayText shows
// every control character (C0, DEL, and C1 written in UTF-8, which some terminals obey
// like ESC [) as \xNN; other bytes, valid UTF-8 or not, pass unchanged. A backslash that
// would read as the start of such an escape is doubled, so the text stays unambiguous.
#pragma once

#include <string>
#include <string_view>

namespace archiver {

std::string DisplayText(std::string_view text);

// True when DisplayText would change `text` (the common case, plain text, costs no copy).
bool NeedsDisplayEscape(std::string_view text);

}  // namespace archiver
