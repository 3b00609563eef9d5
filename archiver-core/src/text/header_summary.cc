// SummarizeHeaders and FirstAddress: the header block read the way mail clients read it
// (first occurrence of a field wins, folded lines joined), every field valid UTF-8.
#include "archiver/header_summary.h"

#include <array>
#include <optional>

#include "base/ascii.h"
#include "text/charset.h"

namespace archiver {
namespace {

// A summary field longer than this (unfolded, before decoding) is cut: the summary is
// for listing and searching, and it is stored with every delivery.
constexpr size_t kMaxValueBytes = 16 * 1024;

enum Field { kFrom, kTo, kCc, kSubject, kDate, kMessageId, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"from",    "to",   "cc",
                                                                   "subject", "date", "message-id"};

void AppendCapped(std::string_view text, std::string* value) {
  if (value->size() >= kMaxValueBytes) return;
  value->append(text.substr(0, kMaxValueBytes - value->size()));
}

// The raw, unfolded value of the first occurrence of each summary field.
std::array<std::optional<std::string>, kFieldCount> ReadRawFields(std::string_view message) {
  std::array<std::optional<std::string>, kFieldCount> raw;
  size_t pos = 0;
  // Lines end in LF, CRLF or (old Mac files) a lone CR.
  auto next_line = [&message, &pos]() {
    // A plain loop: find_first_of calls memchr on its two-character set for every byte.
    size_t end = pos;
    while (end < message.size() && message[end] != '\r' && message[end] != '\n') ++end;
    std::string_view line = message.substr(pos, end - pos);
    pos = end;
    if (pos < message.size() && message[pos] == '\r') ++pos;
    if (pos < message.size() && message[pos] == '\n') ++pos;
    return line;
  };
  if (message.starts_with("From ")) next_line();  // mbox separator line
  std::string* current = nullptr;
  while (pos < message.size()) {
    std::string_view line = next_line();
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (current != nullptr) AppendCapped(line, current);  // unfolding drops only the CRLF
      continue;
    }
    current = nullptr;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a field; ignored as clients do
    std::string_view name = ascii::Trim(line.substr(0, colon));
    for (size_t field = 0; field < kFieldCount; ++field) {
      if (!raw[field] && ascii::EqualsIgnoreCase(name, kFieldNames[field])) {
        raw[field].emplace();
        AppendCapped(line.substr(colon + 1), &*raw[field]);
        current = &*raw[field];
        break;
      }
    }
  }
  return raw;
}

std::string DecodedField(const std::optional<std::string>& raw) {
  if (!raw) return {};
  return std::string(ascii::Trim(charset::CleanControls(DecodeRfc2047(ascii::Trim(*raw)))));
}

std::string VerbatimField(std::string_view raw) {
  std::string utf8;
  charset::AppendUtf8OrWindows1252(ascii::Trim(raw), &utf8);
  return std::string(ascii::Trim(charset::CleanControls(utf8)));
}

// Skips the quoted-string or comment at value[i] ('"' or '('); returns the index after it.
size_t SkipQuoted(std::string_view value, size_t i) {
  for (++i; i < value.size(); ++i) {
    if (value[i] == '\\') {
      ++i;
    } else if (value[i] == '"') {
      return i + 1;
    }
  }
  return value.size();
}

size_t SkipComment(std::string_view value, size_t i) {
  int depth = 0;
  for (; i < value.size(); ++i) {
    if (value[i] == '\\') {
      ++i;
    } else if (value[i] == '(') {
      ++depth;
    } else if (value[i] == ')' && --depth == 0) {
      return i + 1;
    }
  }
  return value.size();
}

std::string Lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = ascii::Lower(c);
  return lower;
}

// The address of a mailbox written without angle brackets (comments already gone): the
// whole text when it is one word, quoted parts included ("a@b", "root"); else the first
// word with an '@' outside quotes, from senders who leave the brackets out after a phrase
// ("Big Bug bb@bug.com"); empty when there is none.
std::string_view AddressWithoutBrackets(std::string_view text) {
  std::string_view first_with_at;
  size_t words = 0;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    const size_t begin = i;
    bool at = false;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
      if (text[i] == '"') {
        i = SkipQuoted(text, i);
      } else {
        at = at || text[i] == '@';
        ++i;
      }
    }
    ++words;
    if (at && first_with_at.empty()) first_with_at = text.substr(begin, i - begin);
  }
  return words == 1 ? text : first_with_at;
}

// "<@relay:a@b>" carries an obsolete source route before the colon.
std::string_view StripRoute(std::string_view address) {
  if (!address.starts_with('@')) return address;
  size_t colon = address.find(':');
  return colon == std::string_view::npos ? address : address.substr(colon + 1);
}

}  // namespace

std::string FirstAddress(std::string_view value) {
  std::string bare;  // the current mailbox's text outside comments
  for (size_t i = 0; i <= value.size();) {
    char c = i < value.size() ? value[i] : ',';
    if (c == ',' || c == ';') {
      std::string_view address = AddressWithoutBrackets(ascii::Trim(bare));
      if (!address.empty()) return Lowercase(address);
      bare.clear();
      ++i;
    } else if (c == '"') {
      size_t end = SkipQuoted(value, i);
      bare.append(value.substr(i, end - i));
      i = end;
    } else if (c == '(') {
      i = SkipComment(value, i);
      bare.push_back(' ');
    } else if (c == '<') {
      size_t close = value.find('>', i);
      size_t end = close == std::string_view::npos ? value.size() : close;
      std::string_view address = ascii::Trim(StripRoute(ascii::Trim(value.substr(i + 1, end - i - 1))));
      if (!address.empty()) return Lowercase(address);
      bare.clear();  // "<>": this mailbox has no address; try the next one
      size_t comma = value.find(',', end);
      i = comma == std::string_view::npos ? value.size() + 1 : comma + 1;
    } else if (c == ':') {
      bare.clear();  // "group-name:" starts a group; its members follow
      ++i;
    } else {
      bare.push_back(c);
      ++i;
    }
  }
  return {};
}

HeaderSummary SummarizeHeaders(std::string_view message) {
  std::array<std::optional<std::string>, kFieldCount> raw = ReadRawFields(message);
  HeaderSummary summary;
  summary.from = DecodedField(raw[kFrom]);
  summary.to = DecodedField(raw[kTo]);
  summary.cc = DecodedField(raw[kCc]);
  summary.subject = DecodedField(raw[kSubject]);
  if (raw[kDate]) summary.date = VerbatimField(*raw[kDate]);
  if (raw[kMessageId]) summary.message_id = VerbatimField(*raw[kMessageId]);
  if (raw[kFrom]) summary.from_addr = VerbatimField(FirstAddress(*raw[kFrom]));
  return summary;
}

}  // namespace archiver
