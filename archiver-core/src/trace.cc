// DeliveryTraceLength: recognises the exact header lines Dovecot 2.3's LMTP server
// prepends (lmtp-local.c and smtp_server_transaction_write_trace_record()).
#include "archiver/trace.h"

#include <optional>
#include <string>

namespace archiver {
namespace {

struct RawField {
  std::string_view name;
  std::string_view value;  // folded, without the final line ending
  size_t end = 0;          // index just past the field's last line ending
};

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// The header field starting at `pos`, with its continuation lines; nullopt when there
// is no complete "Name: value" line there.
std::optional<RawField> ReadField(std::string_view message, size_t pos) {
  size_t eol = message.find('\n', pos);
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view first_line = message.substr(pos, eol - pos);
  size_t colon = first_line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  if (first_line.find_first_of(" \t") < colon) return std::nullopt;
  size_t end = eol + 1;
  while (end < message.size() && (message[end] == ' ' || message[end] == '\t')) {
    eol = message.find('\n', end);
    if (eol == std::string_view::npos) return std::nullopt;
    end = eol + 1;
  }
  RawField field;
  field.name = first_line.substr(0, colon);
  field.value = message.substr(pos + colon + 1, end - (pos + colon + 1));
  field.end = end;
  return field;
}

// Unfolded value with every run of whitespace (including line breaks) made one space.
std::string Unfold(std::string_view value) {
  std::string unfolded;
  bool space = false;
  for (char c : Trim(value)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space) unfolded.push_back(' ');
    space = false;
    unfolded.push_back(c);
  }
  return unfolded;
}

std::string_view StripAngles(std::string_view address) {
  address = Trim(address);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  return address;
}

bool IsDovecotDeliveredTo(std::string_view value, std::string_view rcpt_to,
                          std::string_view orcpt) {
  std::string_view address = StripAngles(value);
  if (address.empty()) return false;
  for (std::string_view candidate : {rcpt_to, orcpt}) {
    candidate = StripAngles(candidate);
    if (!candidate.empty() && EqualsIgnoreCase(address, candidate)) return true;
  }
  return false;
}

// Dovecot's trace record: "from HELO ([IP]) (using …) by HOST with LMTP id ID
// (envelope-from <S>) for <R>; DATE". A Received an MTA wrote lacks one of these marks.
bool IsDovecotReceived(std::string_view value) {
  std::string unfolded = " " + Unfold(value);
  return unfolded.starts_with(" from ") && unfolded.find(" by ") != std::string::npos &&
         unfolded.find(" with LMTP") != std::string::npos &&
         unfolded.find("(envelope-from <") != std::string::npos;
}

}  // namespace

size_t DeliveryTraceLength(std::string_view message, DeliveryAgent agent, std::string_view rcpt_to,
                           std::string_view orcpt) {
  if (agent != DeliveryAgent::kLmtp) return 0;

  std::optional<RawField> field = ReadField(message, 0);
  if (!field || field->name != "Return-Path") return 0;
  std::string_view sender = Trim(field->value);
  if (sender.size() < 2 || sender.front() != '<' || sender.back() != '>') return 0;
  size_t length = field->end;

  field = ReadField(message, length);
  if (field && field->name == "Delivered-To") {
    if (!IsDovecotDeliveredTo(field->value, rcpt_to, orcpt)) return length;
    length = field->end;
    field = ReadField(message, length);
  }
  if (field && field->name == "Received" && IsDovecotReceived(field->value)) {
    length = field->end;
  }
  return length;
}

}  // namespace archiver
