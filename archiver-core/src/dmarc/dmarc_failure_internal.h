// What the two failure-report parsers (ARF and Exim's text form) share: header-block
// reading, the original message's headers, the policy domain, and RFC 5322 dates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archiver/dmarc/dmarc_failure.h"

namespace archiver::failure {

// The most of an original message's header block that is kept.
inline constexpr size_t kMaxOriginalHeaderBytes = 64u << 10;

using Field = std::pair<std::string, std::string>;  // (name as written, value)

// Splits `text` into lines (LF, CRLF or a lone CR), yielding each without its ending.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool Next(std::string_view* line);
  size_t offset() const { return pos_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The fields of a header-like block, in order: names as written; values unfolded (a
// line break and the whitespace after it become one space), trimmed, made valid UTF-8
// without control characters. Empty lines are skipped, so is a line that is neither a
// field nor a continuation. Reads the whole of `text`.
std::vector<Field> ReadFields(std::string_view text);

// A field value fit for storing and showing: valid UTF-8 (8-bit bytes that are not
// UTF-8 read as windows-1252), controls replaced, trimmed.
std::string CleanValue(std::string_view raw);

// The header block of `message` (up to the first empty line; leading empty lines and
// an mbox "From " line skipped), cut at the last line that ends within
// kMaxOriginalHeaderBytes (inside the first line when that one is longer).
std::string_view HeaderBlock(std::string_view message);

// Fills the original_* fields from `original` (a message or its header block); returns
// the original From's address, lowercased ("" when there is none).
std::string ReadOriginal(std::string_view original, FailureReport& report);

// policy_domain: reported_domain (its first domain, when it lists several), else the
// domain of `original_from_address`; lowercased.
void SetPolicyDomain(FailureReport& report, std::string_view original_from_address);

// `text` with each (possibly nested) RFC 5322 comment replaced by a space.
std::string WithoutComments(std::string_view text);

// "a@b" from "<a@b>" (and "" from "<>"); anything else trimmed and kept.
std::string WithoutAngleBrackets(std::string_view value);

// An RFC 5322 date-time ("Mon, 1 Oct 2018 11:20:27 +0200 (CEST)") in seconds since the
// epoch, UTC. Tolerant as RFC 5322 section 4.3 asks: no weekday, a weekday without its
// comma or spelled out, no seconds, a two- or three-digit year, a named zone (UT, GMT,
// UTC, Z, the US zones, a few European and Asian ones; an unknown name counts as
// -0000), no zone at all (taken as UTC), comments anywhere, fractional seconds.
// nullopt when it is not a date or names an impossible one (31 Feb, 25:00).
std::optional<int64_t> ParseRfc5322Date(std::string_view text);

}  // namespace archiver::failure
