// Failure reports sent as plain text, without an ARF part: Exim's DMARC module writes
// "Label: value" lines, then a marker line and a copy of the original headers (see
// dmarc_failure.h).
#include <string>

#include "archiver/dmarc/dmarc_failure.h"
#include "base/ascii.h"
#include "dmarc/dmarc_failure_internal.h"

namespace archiver {
namespace {

// Where the copy of the original headers begins.
constexpr std::string_view kHeadersMarker = "------ This is a copy of the headers";

// The text before the original headers is a few lines; more than this is not Exim's.
constexpr size_t kMaxSummaryBytes = 64u << 10;

// "Sender IP Address" and the like: letters and spaces, short.
bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 40) return false;
  for (char c : label) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter && c != ' ' && c != '-') return false;
  }
  return true;
}

bool IsYes(std::string_view value) { return ascii::EqualsIgnoreCase(value, "yes"); }

}  // namespace

Result<FailureReport> ParseTextFailureReport(std::string_view text) {
  FailureReport report;
  std::string spf_alignment;
  std::string dkim_alignment;
  bool saw_results = false;
  std::string_view original;
  failure::LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    std::string_view trimmed = ascii::Trim(line, " \t");
    if (trimmed.size() >= kHeadersMarker.size() &&
        ascii::EqualsIgnoreCase(trimmed.substr(0, kHeadersMarker.size()), kHeadersMarker)) {
      original = text.substr(lines.offset());
      break;
    }
    if (lines.offset() > kMaxSummaryBytes) break;
    size_t colon = trimmed.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view label = ascii::Trim(trimmed.substr(0, colon), " \t");
    if (!IsLabel(label)) continue;
    std::string value = failure::CleanValue(trimmed.substr(colon + 1));
    if (ascii::EqualsIgnoreCase(label, "Sender Domain")) {
      report.reported_domain = value;
    } else if (ascii::EqualsIgnoreCase(label, "Sender IP Address")) {
      report.source_ip = value;
    } else if (ascii::EqualsIgnoreCase(label, "Received Date")) {
      report.arrival_date = value;
      report.arrival_time = failure::ParseRfc5322Date(value);
    } else if (ascii::EqualsIgnoreCase(label, "SPF Alignment")) {
      spf_alignment = value;
    } else if (ascii::EqualsIgnoreCase(label, "DKIM Alignment")) {
      dkim_alignment = value;
    } else if (ascii::EqualsIgnoreCase(label, "DMARC Results")) {
      saw_results = true;
    }
    report.fields.emplace_back(std::string(label), std::move(value));
  }
  if (report.reported_domain.empty() ||
      (!saw_results && spf_alignment.empty() && dkim_alignment.empty())) {
    return Status::NotFound("not a text DMARC failure report (no Sender Domain and results)");
  }
  report.feedback_type = "auth-failure";
  report.auth_failure = "dmarc";
  report.is_dmarc = true;
  if (!spf_alignment.empty() || !dkim_alignment.empty()) {
    if (IsYes(dkim_alignment) && IsYes(spf_alignment)) {
      report.identity_alignment = "dkim, spf";
    } else if (IsYes(dkim_alignment)) {
      report.identity_alignment = "dkim";
    } else if (IsYes(spf_alignment)) {
      report.identity_alignment = "spf";
    } else {
      report.identity_alignment = "none";
    }
  }
  std::string original_from_address = failure::ReadOriginal(original, report);
  failure::SetPolicyDomain(report, original_from_address);
  return report;
}

}  // namespace archiver
