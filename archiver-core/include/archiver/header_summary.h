// HeaderSummary: the few header fields an administrator searches and lists by,
// unfolded and decoded from RFC 2047 to UTF-8. Dovecot-independent.
#pragma once

#include <string>
#include <string_view>

namespace archiver {

struct HeaderSummary {
  std::string from;        // decoded, e.g. "Jörg Müller <jm@example.com>"
  std::string from_addr;   // addr-spec of the first From mailbox, lowercased ("" if none)
  std::string to;          // decoded, comma separated as in the message
  std::string cc;
  std::string subject;     // decoded
  std::string date;        // the Date header as given (trimmed, unfolded)
  std::string message_id;  // the Message-ID header as given (trimmed, unfolded)
};

// Reads the header block of `message` (up to the first empty line; LF or CRLF; a
// leading mbox "From " line is skipped) and fills the summary. Never fails: absent
// fields stay empty, undecodable encoded-words are kept as written, invalid UTF-8 is
// replaced with U+FFFD so the result is always valid UTF-8.
HeaderSummary SummarizeHeaders(std::string_view message);

// Decodes RFC 2047 encoded-words (B and Q, any charset iconv knows) in an unfolded
// header value; adjacent encoded-words separated only by whitespace are joined.
// Exposed for tests.
std::string DecodeRfc2047(std::string_view value);

// Lowercased addr-spec of the first mailbox in an address-list header value
// ("Name <A@B>" -> "a@b", "a@b (c)" -> "a@b", and from senders who leave out the angle
// brackets, "Name a@b" -> "a@b"); "" when none is found.
std::string FirstAddress(std::string_view value);

}  // namespace archiver
