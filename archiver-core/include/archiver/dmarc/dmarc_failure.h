// DMARC failure ("ruf", forensic) reports: the machine-readable part of an Abuse
// Reporting Format report (RFC 5965 message/feedback-report, with the RFC 6591
// authentication-failure fields) and the headers of the original message it is about.
// Dovecot-independent: the caller finds the parts; this file reads their contents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archiver/status.h"

namespace archiver {

struct FailureReport {
  // RFC 5965 fields. Values are unfolded (a line break and the whitespace after it
  // become one space), trimmed and valid UTF-8; field names matched case-insensitively;
  // of a field given twice the first non-empty value is taken. Enumerations (feedback
  // type, auth failure, delivery result, identity alignment) are lowercased; unknown
  // values kept.
  std::string feedback_type;  // "auth-failure", "abuse", "fraud", "virus", "other", ...
  std::string version;
  std::string user_agent;
  std::string arrival_date;             // as given (Arrival-Date, or Received-Date)
  std::optional<int64_t> arrival_time;  // Arrival-Date parsed (RFC 5322 date), UTC seconds
  std::string source_ip;                // the address only: "[192.0.2.1] (x)" -> "192.0.2.1"
  std::string reported_domain;          // the first Reported-Domain
  std::string reporting_mta;            // "dns; mx.example.net" as given
  std::string original_envelope_id;
  std::string original_mail_from;             // angle brackets removed
  std::vector<std::string> original_rcpt_to;  // angle brackets removed
  std::string authentication_results;
  // RFC 6591.
  std::string auth_failure;  // "dmarc", "dkim", "spf", "adsp", "bodyhash", "revoked", "signature"
  std::string delivery_result;     // "delivered", "spam", "policy", "reject", "other"
  std::string identity_alignment;  // "none", "spf", "dkim", "dkim, spf" ... as given, lowercased
  std::string dkim_domain;
  std::string dkim_identity;
  std::string dkim_selector;
  std::string spf_dns;
  // Every field of the feedback-report part, in order, as (name as written, value).
  std::vector<std::pair<std::string, std::string>> fields;

  // A DMARC failure report: feedback type auth-failure (RFC 6591), or any report whose
  // fields name DMARC (Auth-Failure: dmarc, Identity-Alignment). Others (abuse, ...)
  // are ARF but not DMARC: stored and listed as such.
  bool is_dmarc = false;

  // The original message, from a text/rfc822-headers or message/rfc822 part.
  std::string original_headers;  // the raw header block, capped at 64 KiB
  std::string original_from;     // decoded (RFC 2047) to UTF-8
  std::string original_to;
  std::string original_subject;
  std::string original_date;
  std::string original_message_id;
  // The domain the report is about: reported_domain, else the From domain of the
  // original message, lowercased.
  std::string policy_domain;
};

// Reads a message/feedback-report part's (decoded) body and, when the caller found one,
// the original message or its headers (`original` may be a whole message; only its
// header block is read). InvalidArgument when the part holds no Feedback-Type field or
// is not a header block at all; LimitExceeded when the part is over 1 MiB; every other
// oddity is kept as given. Never fails on an absent or unreadable original.
Result<FailureReport> ParseFailureReport(std::string_view feedback_report,
                                         std::string_view original);

// A failure report sent as text only, without an ARF part (Exim's DMARC module: "Sender
// Domain:", "Sender IP Address:", "Received date:", "SPF Alignment:", "DKIM Alignment:",
// "DMARC Results:" lines, then the original headers after a "------ This is a copy of
// the headers" line). Fills the same fields (feedback_type "auth-failure",
// auth_failure "dmarc", identity_alignment from the two alignment lines; every line
// kept in `fields`). NotFound when `text` is not such a report.
Result<FailureReport> ParseTextFailureReport(std::string_view text);

}  // namespace archiver
