// The ARF failure-report parser (see dmarc_failure.h): the feedback-report part's fields
// mapped onto FailureReport, as real reporters write them (any case, folded, repeated,
// with comments and brackets), and the original message's headers.
#include "archiver/dmarc/dmarc_failure.h"

#include <string>

#include "base/ascii.h"
#include "dmarc/dmarc_failure_internal.h"

namespace archiver {
namespace {

using failure::Field;

// A feedback-report part is a few KiB; one over this is not a report.
constexpr size_t kMaxFeedbackReportBytes = 1u << 20;

// A field copied into a FailureReport member as it is (the first non-empty occurrence
// wins; every occurrence stays in `fields`).
struct TextField {
  std::string_view name;
  std::string FailureReport::*member;
  bool lowercase;  // an enumeration: compared by the store and the commands as lowercase
};

constexpr TextField kTextFields[] = {
    {"Feedback-Type", &FailureReport::feedback_type, true},
    {"Version", &FailureReport::version, false},
    {"User-Agent", &FailureReport::user_agent, false},
    {"Reported-Domain", &FailureReport::reported_domain, false},
    {"Reporting-MTA", &FailureReport::reporting_mta, false},
    {"Original-Envelope-Id", &FailureReport::original_envelope_id, false},
    {"Authentication-Results", &FailureReport::authentication_results, false},
    {"Auth-Failure", &FailureReport::auth_failure, true},
    {"Delivery-Result", &FailureReport::delivery_result, true},
    {"Identity-Alignment", &FailureReport::identity_alignment, true},
    {"DKIM-Domain", &FailureReport::dkim_domain, false},
    {"DKIM-Identity", &FailureReport::dkim_identity, false},
    {"DKIM-Selector", &FailureReport::dkim_selector, false},
    {"SPF-DNS", &FailureReport::spf_dns, false},
};

// The address in a Source-IP value as reporters write it: "192.0.2.1",
// "[192.0.2.1]", "192.0.2.1 (mail.example.net)", "IPv6:2001:db8::1", "[IPv6:::1]".
std::string SourceAddress(std::string_view value) {
  std::string bare = failure::WithoutComments(value);
  std::string_view address = ascii::Trim(bare, " \t");
  address = address.substr(0, address.find_first_of(" \t"));
  if (address.starts_with('[')) address = ascii::Trim(address.substr(1), "]");
  if (address.size() > 5 && ascii::EqualsIgnoreCase(address.substr(0, 5), "IPv6:")) {
    address.remove_prefix(5);
  }
  return address.empty() ? std::string(value) : std::string(address);
}

void Assign(FailureReport& report, const Field& field) {
  const auto& [name, value] = field;
  if (ascii::EqualsIgnoreCase(name, "Original-Rcpt-To")) {
    std::string address = failure::WithoutAngleBrackets(value);
    if (!address.empty()) report.original_rcpt_to.push_back(std::move(address));
    return;
  }
  if (value.empty()) return;
  if (ascii::EqualsIgnoreCase(name, "Original-Mail-From")) {
    if (report.original_mail_from.empty()) {
      report.original_mail_from = failure::WithoutAngleBrackets(value);
    }
  } else if (ascii::EqualsIgnoreCase(name, "Source-IP")) {
    if (report.source_ip.empty()) report.source_ip = SourceAddress(value);
  } else if (ascii::EqualsIgnoreCase(name, "Arrival-Date") ||
             ascii::EqualsIgnoreCase(name, "Received-Date")) {  // its name in early drafts
    if (report.arrival_date.empty()) {
      report.arrival_date = value;
      report.arrival_time = failure::ParseRfc5322Date(value);
    }
  } else {
    for (const TextField& text : kTextFields) {
      if (!ascii::EqualsIgnoreCase(name, text.name)) continue;
      std::string& member = report.*text.member;
      if (member.empty()) member = text.lowercase ? ascii::Lowercase(value) : value;
      return;
    }
  }
}

bool HasField(const FailureReport& report, std::string_view name) {
  for (const Field& field : report.fields) {
    if (ascii::EqualsIgnoreCase(field.first, name)) return true;
  }
  return false;
}

}  // namespace

Result<FailureReport> ParseFailureReport(std::string_view feedback_report,
                                         std::string_view original) {
  if (feedback_report.size() > kMaxFeedbackReportBytes) {
    return Status::LimitExceeded(
        "feedback-report part of " + std::to_string(feedback_report.size()) +
        " bytes exceeds the limit of " + std::to_string(kMaxFeedbackReportBytes));
  }
  FailureReport report;
  report.fields = failure::ReadFields(feedback_report);
  if (report.fields.empty()) {
    return Status::InvalidArgument("feedback-report part holds no header fields");
  }
  if (!HasField(report, "Feedback-Type")) {
    return Status::InvalidArgument("feedback-report part has no Feedback-Type field");
  }
  for (const Field& field : report.fields) Assign(report, field);
  report.is_dmarc = report.feedback_type == "auth-failure" || report.auth_failure == "dmarc" ||
                    HasField(report, "Identity-Alignment");
  std::string original_from_address = failure::ReadOriginal(original, report);
  failure::SetPolicyDomain(report, original_from_address);
  return report;
}

}  // namespace archiver
