// DMARC aggregate ("rua") reports, RFC 7489 Appendix C and RFC 9990: the parsed
// metadata, published policy and records, delivered as a stream of callbacks so that a
// report of a million records is never held in memory. Dovecot-independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/input_source.h"
#include "archiver/status.h"

namespace archiver {

// Enumerated values (adkim, p, disposition, results, scope, reason type, ...) are
// compared case-insensitively and lowercased when known ("Pass" -> "pass"); an unknown
// value ("hardfail") is kept as written. Every text value is trimmed of whitespace.
// An absent element is "" (or std::nullopt where absence must be told apart).

struct PolicyPublished {
  std::string domain;
  std::string adkim;  // "r", "s" or ""
  std::string aspf;
  std::string p;  // "none", "quarantine", "reject"
  std::string sp;
  std::string np;                // RFC 9990
  std::optional<int> pct;        // absent in RFC 9990 reports; kept as given otherwise
  std::string fo;                // as given, e.g. "0:1:d"
  std::string testing;           // RFC 9990: "y", "n" or ""
  std::string discovery_method;  // RFC 9990: "psl", "treewalk" or ""
};

struct AggregateReportMeta {
  std::string org_name;
  std::string email;
  std::string extra_contact_info;
  std::string report_id;
  std::optional<int64_t> begin;  // date_range, seconds since the epoch (UTC)
  std::optional<int64_t> end;
  std::vector<std::string> errors;  // report_metadata/error, one per element
  std::string generator;            // RFC 9990
  std::string version;              // feedback/version as given ("1.0"), "" if absent
  // "rfc9990" when the root is in the urn:ietf:params:xml:ns:dmarc-2.0 namespace or an
  // RFC 9990-only element (np, testing, discovery_method, generator) appears before the
  // first record; "rfc7489" otherwise. A guess, for display.
  std::string schema;
  PolicyPublished policy_published;
};

struct PolicyOverrideReason {
  std::string type;  // "forwarded", "local_policy", "mailing_list", "other", ...
  std::string comment;
};

struct DkimAuthResult {
  std::string domain;
  std::string selector;
  std::string result;  // "pass", "fail", "none", ... or an unknown value as given
  std::string human_result;
};

struct SpfAuthResult {
  std::string domain;
  std::string scope;   // "mfrom", "helo" or ""
  std::string result;  // "pass", "softfail", ... or an unknown value as given
  std::string human_result;
};

struct AggregateRecord {
  std::string source_ip;
  uint64_t count = 0;
  // False when <count> was missing or not a number: the record is still delivered (its
  // identifiers and results are worth keeping) with count 0, and the summary's messages
  // say which record it was.
  bool count_valid = true;
  std::string disposition;  // policy_evaluated
  std::string dkim;         // policy_evaluated: aligned DKIM "pass" / "fail"
  std::string spf;          // policy_evaluated: aligned SPF "pass" / "fail"
  std::vector<PolicyOverrideReason> reasons;
  std::string header_from;
  std::string envelope_from;
  std::string envelope_to;
  std::vector<DkimAuthResult> dkim_results;
  std::vector<SpfAuthResult> spf_results;  // may be empty
};

struct AggregateLimits {
  size_t max_input_bytes = 256u << 20;  // checked before parsing: LimitExceeded
  size_t max_depth = 64;                // element nesting: LimitExceeded
  size_t max_text_bytes = 64u << 10;    // one element's text or one attribute: LimitExceeded
  uint64_t max_records = 0;             // 0: no limit; more records: LimitExceeded
};

struct AggregateSummary {
  uint64_t records = 0;
  uint64_t messages = 0;   // sum of the records' counts
  bool recovered = false;  // not well-formed: this is what libxml2's recover mode salvaged
  std::vector<std::string> parser_messages;  // libxml2 and record messages, at most kMaxMessages
  AggregateReportMeta meta;                  // as known at the end of the document
  static constexpr size_t kMaxMessages = 50;
};

// Parses one aggregate report. `on_meta` is called exactly once, before the first
// record; it sees report_metadata and policy_published when they precede the records
// (as every known reporter writes them), otherwise what is known by then — the
// summary's `meta` holds the complete values. When there are no records it is called at
// the end. `on_record` is called as each </record> closes; the record is only valid
// during the call. A callback's non-OK Status stops the parse and is returned.
// A document that is not well-formed is parsed again in recover mode; records already
// delivered are not delivered twice, and the result has recovered = true.
// Errors: InvalidArgument for an empty input ("empty report"), a DOCTYPE, a root other
// than <feedback>, or a broken document with neither report_metadata nor a record;
// LimitExceeded for the limits above. Never reads files or the network.
Result<AggregateSummary> ParseAggregateReport(
    std::string_view xml, const AggregateLimits& limits,
    const std::function<Status(const AggregateReportMeta&)>& on_meta,
    const std::function<Status(const AggregateRecord&)>& on_record);

// The same, reading `source` in pieces: memory stays bounded by the limits whatever the
// input's size (max_input_bytes is checked against source.size() before parsing, and
// against the bytes read while parsing when the size is not known). The source is
// rewound for a recover-mode retry. IOError when reading fails.
Result<AggregateSummary> ParseAggregateReport(
    InputSource& source, const AggregateLimits& limits,
    const std::function<Status(const AggregateReportMeta&)>& on_meta,
    const std::function<Status(const AggregateRecord&)>& on_record);

}  // namespace archiver
