// DeliveryTraceLength: recognises the exact header lines Dovecot's LMTP server prepends
// (lmtp-local.c and smtp_server_transaction_write_trace_record()), and those Postfix's
// pipe(8)/local(8) prepend before running dovecot-lda (mail_copy.c: Return-Path,
// X-Original-To, Delivered-To, in this order, one line each). Dovecot writes Return-Path
// and Delivered-To on one line each and its Received record as tab-indented lines ending
// in "; DATE": anything else belongs to the message.
#include "archiver/trace.h"

#include <initializer_list>
#include <optional>
#include <string>

#include "base/ascii.h"

namespace archiver {
namespace {

std::string_view StripAngles(std::string_view address) {
  address = ascii::Trim(address);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  return address;
}

// One line: its text without the line ending, and the index just past the ending.
struct Line {
  std::string_view text;
  size_t end = 0;
};

// nullopt at the end of input or for a line with no ending (Dovecot ends all of its).
std::optional<Line> ReadLine(std::string_view message, size_t pos) {
  if (pos >= message.size()) return std::nullopt;
  size_t eol = message.find('\n', pos);
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view text = message.substr(pos, eol - pos);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return Line{text, eol + 1};
}

// The value of a one-line "Name: value" field at `pos` (the name compared exactly, as
// Dovecot spells it), and the index past it.
std::optional<Line> ReadSingleLineField(std::string_view message, size_t pos,
                                        std::string_view name) {
  std::optional<Line> line = ReadLine(message, pos);
  if (!line || line->text.size() <= name.size() || !line->text.starts_with(name) ||
      line->text[name.size()] != ':')
    return std::nullopt;
  return Line{line->text.substr(name.size() + 1), line->end};
}

// Whether the address `value` (angle brackets optional) is one of `candidates`.
bool NamesOneOf(std::string_view value, std::initializer_list<std::string_view> candidates) {
  std::string_view address = StripAngles(value);
  if (address.empty()) return false;
  for (std::string_view candidate : candidates) {
    candidate = StripAngles(candidate);
    if (!candidate.empty() && ascii::EqualsIgnoreCase(address, candidate)) return true;
  }
  return false;
}

// Dovecot's trace record: "Received: from HELO ([IP])", then tab-indented lines
// "(using …)", "by HOST with LMTP…", "id ID", "(envelope-from <SENDER>)", optionally
// "for <R>", the last ending in "; DATE". SENDER is the Return-Path's, written the same
// way, so it is matched exactly: a quoted sender may itself contain "; " or ">)".
// Returns the index just past the record, or 0 when the lines at `pos` are not it (an
// MTA's own Received stays in the message).
size_t DovecotReceivedEnd(std::string_view message, size_t pos, std::string_view sender) {
  std::optional<Line> line = ReadLine(message, pos);
  if (!line || !line->text.starts_with("Received: from ")) return 0;
  const std::string envelope_from = "(envelope-from <" + std::string(sender) + ">)";
  bool saw_by_lmtp = false;
  bool saw_envelope_from = false;
  size_t next = line->end;
  for (int count = 0; count < 6; ++count) {  // the record has at most six lines
    line = ReadLine(message, next);
    if (!line || line->text.empty() || line->text[0] != '\t') return 0;
    std::string_view text = line->text.substr(1);
    next = line->end;
    std::string_view rest;  // what follows the line's fixed part, where "; DATE" may be
    if (!saw_by_lmtp) {
      if (text.starts_with("(using ")) continue;  // with TLS, before "by"
      if (!text.starts_with("by ")) return 0;
      if (text.find(" with LMTP") == std::string_view::npos) return 0;
      saw_by_lmtp = true;
      continue;
    }
    if (!saw_envelope_from) {
      if (text.starts_with("id ")) continue;
      if (!text.starts_with(envelope_from)) return 0;
      saw_envelope_from = true;
      rest = text.substr(envelope_from.size());
    } else {
      if (!text.starts_with("for <")) return 0;
      size_t end_of_address = text.rfind(">; ");
      if (end_of_address == std::string_view::npos) return 0;
      rest = text.substr(end_of_address + 1);
    }
    if (rest.starts_with("; ")) return next;
    if (!rest.empty()) return 0;
  }
  return 0;
}

// The MTA's lines before dovecot-lda's input: "Return-Path: <SENDER>" (the -f sender),
// "X-Original-To: ADDR", "Delivered-To: ADDR" (the recipient: -a, its original, or the
// -d user), each optional, in this order.
size_t MtaTraceLength(std::string_view message, const TraceEnvelope& envelope) {
  size_t length = 0;
  std::optional<Line> field = ReadSingleLineField(message, length, "Return-Path");
  if (field) {
    std::string_view value = ascii::Trim(field->text);
    if (value.size() >= 2 && value.front() == '<' && value.back() == '>' &&
        ascii::EqualsIgnoreCase(value.substr(1, value.size() - 2), StripAngles(envelope.sender)))
      length = field->end;
  }
  for (std::string_view name : {"X-Original-To", "Delivered-To"}) {
    field = ReadSingleLineField(message, length, name);
    if (field && NamesOneOf(field->text, {envelope.rcpt_to, envelope.orcpt, envelope.user}))
      length = field->end;
  }
  return length;
}

}  // namespace

DeliveryAgent AgentOfService(std::string_view service) {
  if (service == "lmtp") return DeliveryAgent::kLmtp;
  if (service == "lda") return DeliveryAgent::kLda;
  return DeliveryAgent::kAppend;
}

size_t DeliveryTraceLength(std::string_view message, DeliveryAgent agent,
                           const TraceEnvelope& envelope) {
  if (agent == DeliveryAgent::kLda) return MtaTraceLength(message, envelope);
  if (agent != DeliveryAgent::kLmtp) return 0;

  std::optional<Line> field = ReadSingleLineField(message, 0, "Return-Path");
  if (!field) return 0;
  std::string_view sender = ascii::Trim(field->text);
  if (sender.size() < 2 || sender.front() != '<' || sender.back() != '>') return 0;
  sender = sender.substr(1, sender.size() - 2);
  size_t length = field->end;

  field = ReadSingleLineField(message, length, "Delivered-To");
  if (field && NamesOneOf(field->text, {envelope.rcpt_to, envelope.orcpt})) length = field->end;
  if (size_t received_end = DovecotReceivedEnd(message, length, sender)) length = received_end;
  return length;
}

}  // namespace archiver
