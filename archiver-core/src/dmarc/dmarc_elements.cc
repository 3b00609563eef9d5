// The DMARC aggregate report's element tree and value parsing (see dmarc_elements.h).
#include "dmarc/dmarc_elements.h"

#include <initializer_list>

#include "base/ascii.h"

namespace archiver::dmarc {
namespace {

struct Child {
  std::string_view name;
  Node node;
};

Node Lookup(std::initializer_list<Child> children, std::string_view name) {
  for (const Child& child : children) {
    if (child.name == name) return child.node;
  }
  return Node::kIgnored;
}

}  // namespace

// Over 60 lines: the schema's element tree as one table, a case per parent element.
Node ChildOf(Node parent, std::string_view name) {
  using enum Node;
  switch (parent) {
    case kFeedback:
      return Lookup({{"record", kRecord},
                     {"report_metadata", kReportMetadata},
                     {"policy_published", kPolicyPublished},
                     {"version", kVersion}},
                    name);
    case kReportMetadata:
      return Lookup({{"org_name", kOrgName},
                     {"email", kEmail},
                     {"extra_contact_info", kExtraContactInfo},
                     {"report_id", kReportId},
                     {"date_range", kDateRange},
                     {"error", kError},
                     {"generator", kGenerator}},
                    name);
    case kDateRange:
      return Lookup({{"begin", kBegin}, {"end", kEnd}}, name);
    case kPolicyPublished:
      return Lookup({{"domain", kDomain},
                     {"adkim", kAdkim},
                     {"aspf", kAspf},
                     {"p", kP},
                     {"sp", kSp},
                     {"np", kNp},
                     {"pct", kPct},
                     {"fo", kFo},
                     {"testing", kTesting},
                     {"discovery_method", kDiscoveryMethod}},
                    name);
    case kRecord:
      return Lookup({{"row", kRow}, {"identifiers", kIdentifiers}, {"auth_results", kAuthResults}},
                    name);
    case kRow:
      return Lookup(
          {{"source_ip", kSourceIp}, {"count", kCount}, {"policy_evaluated", kPolicyEvaluated}},
          name);
    case kPolicyEvaluated:
      return Lookup({{"disposition", kDisposition},
                     {"dkim", kEvaluatedDkim},
                     {"spf", kEvaluatedSpf},
                     {"reason", kReason}},
                    name);
    case kReason:
      return Lookup({{"type", kReasonType}, {"comment", kReasonComment}}, name);
    case kIdentifiers:
      return Lookup({{"header_from", kHeaderFrom},
                     {"envelope_from", kEnvelopeFrom},
                     {"envelope_to", kEnvelopeTo}},
                    name);
    case kAuthResults:
      return Lookup({{"dkim", kDkim}, {"spf", kSpf}}, name);
    case kDkim:
      return Lookup({{"domain", kDkimDomain},
                     {"selector", kDkimSelector},
                     {"result", kDkimResult},
                     {"human_result", kDkimHumanResult}},
                    name);
    case kSpf:
      return Lookup({{"domain", kSpfDomain},
                     {"scope", kSpfScope},
                     {"result", kSpfResult},
                     {"human_result", kSpfHumanResult}},
                    name);
    default:
      return kIgnored;
  }
}

bool HoldsText(Node node) {
  using enum Node;
  switch (node) {
    case kIgnored:
    case kFeedback:
    case kReportMetadata:
    case kDateRange:
    case kPolicyPublished:
    case kRecord:
    case kRow:
    case kPolicyEvaluated:
    case kReason:
    case kIdentifiers:
    case kAuthResults:
    case kDkim:
    case kSpf:
      return false;
    default:
      return true;
  }
}

void Normalize(std::string& value, std::span<const std::string_view> known) {
  for (std::string_view candidate : known) {
    if (ascii::EqualsIgnoreCase(value, candidate)) {
      value.assign(candidate);
      return;
    }
  }
}

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<int64_t> ParseEpoch(std::string_view text) {
  size_t dot = text.find('.');
  if (dot != std::string_view::npos) {
    if (text.substr(dot + 1).find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    text = text.substr(0, dot);
  }
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  std::optional<uint64_t> magnitude = ParseUnsigned(text);
  if (!magnitude || *magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return negative ? -static_cast<int64_t>(*magnitude) : static_cast<int64_t>(*magnitude);
}

}  // namespace archiver::dmarc
