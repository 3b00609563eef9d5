// DMARC aggregate report parser: a fixed state machine over element local names, fed by
// the hardened SAX2 entry (xml_reader.h), delivering one record per </record>.
#include "archiver/dmarc_aggregate.h"

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "ascii.h"
#include "xml_reader.h"

namespace archiver {
namespace {

constexpr std::string_view kDmarc2Namespace = "urn:ietf:params:xml:ns:dmarc-2.0";

// Every element the parser knows, by position in the document. Anything else (and
// everything below it) is kIgnored: extensions never fail a report.
enum class Node : uint8_t {
  kIgnored, kFeedback, kVersion,
  kReportMetadata, kOrgName, kEmail, kExtraContactInfo, kReportId, kDateRange, kBegin, kEnd,
  kError, kGenerator,
  kPolicyPublished, kDomain, kAdkim, kAspf, kP, kSp, kNp, kPct, kFo, kTesting,
  kDiscoveryMethod,
  kRecord, kRow, kSourceIp, kCount, kPolicyEvaluated, kDisposition, kEvaluatedDkim,
  kEvaluatedSpf, kReason, kReasonType, kReasonComment,
  kIdentifiers, kHeaderFrom, kEnvelopeFrom, kEnvelopeTo,
  kAuthResults, kDkim, kDkimDomain, kDkimSelector, kDkimResult, kDkimHumanResult,
  kSpf, kSpfDomain, kSpfScope, kSpfResult, kSpfHumanResult,
};

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

Node ChildOf(Node parent, std::string_view name) {
  using enum Node;
  switch (parent) {
    case kFeedback:
      return Lookup({{"record", kRecord}, {"report_metadata", kReportMetadata},
                     {"policy_published", kPolicyPublished}, {"version", kVersion}}, name);
    case kReportMetadata:
      return Lookup({{"org_name", kOrgName}, {"email", kEmail},
                     {"extra_contact_info", kExtraContactInfo}, {"report_id", kReportId},
                     {"date_range", kDateRange}, {"error", kError}, {"generator", kGenerator}},
                    name);
    case kDateRange:
      return Lookup({{"begin", kBegin}, {"end", kEnd}}, name);
    case kPolicyPublished:
      return Lookup({{"domain", kDomain}, {"adkim", kAdkim}, {"aspf", kAspf}, {"p", kP},
                     {"sp", kSp}, {"np", kNp}, {"pct", kPct}, {"fo", kFo},
                     {"testing", kTesting}, {"discovery_method", kDiscoveryMethod}}, name);
    case kRecord:
      return Lookup({{"row", kRow}, {"identifiers", kIdentifiers},
                     {"auth_results", kAuthResults}}, name);
    case kRow:
      return Lookup({{"source_ip", kSourceIp}, {"count", kCount},
                     {"policy_evaluated", kPolicyEvaluated}}, name);
    case kPolicyEvaluated:
      return Lookup({{"disposition", kDisposition}, {"dkim", kEvaluatedDkim},
                     {"spf", kEvaluatedSpf}, {"reason", kReason}}, name);
    case kReason:
      return Lookup({{"type", kReasonType}, {"comment", kReasonComment}}, name);
    case kIdentifiers:
      return Lookup({{"header_from", kHeaderFrom}, {"envelope_from", kEnvelopeFrom},
                     {"envelope_to", kEnvelopeTo}}, name);
    case kAuthResults:
      return Lookup({{"dkim", kDkim}, {"spf", kSpf}}, name);
    case kDkim:
      return Lookup({{"domain", kDkimDomain}, {"selector", kDkimSelector},
                     {"result", kDkimResult}, {"human_result", kDkimHumanResult}}, name);
    case kSpf:
      return Lookup({{"domain", kSpfDomain}, {"scope", kSpfScope}, {"result", kSpfResult},
                     {"human_result", kSpfHumanResult}}, name);
    default:
      return kIgnored;
  }
}

// Elements whose text is a value; the others only hold elements.
bool HoldsText(Node node) {
  using enum Node;
  switch (node) {
    case kIgnored: case kFeedback: case kReportMetadata: case kDateRange:
    case kPolicyPublished: case kRecord: case kRow: case kPolicyEvaluated: case kReason:
    case kIdentifiers: case kAuthResults: case kDkim: case kSpf:
      return false;
    default:
      return true;
  }
}

// Lowercases `value` when it is one of `known` (compared case-insensitively); an unknown
// value is kept as written.
void Normalize(std::string& value, std::initializer_list<std::string_view> known) {
  for (std::string_view candidate : known) {
    if (ascii::EqualsIgnoreCase(value, candidate)) {
      value.assign(candidate);
      return;
    }
  }
}

const std::initializer_list<std::string_view> kPolicies = {"none", "quarantine", "reject"};
const std::initializer_list<std::string_view> kAlignments = {"r", "s"};
const std::initializer_list<std::string_view> kDispositions = {"none", "quarantine", "reject",
                                                               "pass"};
const std::initializer_list<std::string_view> kPassFail = {"pass", "fail"};
const std::initializer_list<std::string_view> kReasonTypes = {
    "forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other",
    "policy_test_mode"};
const std::initializer_list<std::string_view> kDkimResults = {
    "none", "pass", "fail", "policy", "neutral", "temperror", "permerror"};
const std::initializer_list<std::string_view> kSpfResults = {
    "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"};
const std::initializer_list<std::string_view> kSpfScopes = {"helo", "mfrom"};
const std::initializer_list<std::string_view> kYesNo = {"y", "n"};
const std::initializer_list<std::string_view> kDiscoveryMethods = {"psl", "treewalk"};

// Decimal digits only, no sign, no overflow.
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

// An epoch timestamp; a fractional part ("1536105600.0") is dropped.
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

// The event handler for one pass over the document.
class AggregateHandler final : public XmlEventHandler {
 public:
  AggregateHandler(const AggregateLimits& limits,
                   const std::function<Status(const AggregateReportMeta&)>& on_meta,
                   const std::function<Status(const AggregateRecord&)>& on_record,
                   bool meta_delivered, uint64_t records_delivered)
      : limits_(limits), on_meta_(on_meta), on_record_(on_record),
        meta_delivered_(meta_delivered), records_already_delivered_(records_delivered) {
    stack_.reserve(limits.max_depth + 1);
    summary_.meta.schema = "rfc7489";
  }

  Status StartElement(std::string_view local_name, std::string_view namespace_uri,
                      size_t depth) override {
    Node node;
    if (depth == 0) {
      if (local_name != "feedback") {
        return Status::InvalidArgument("not a DMARC aggregate report: root element is <" +
                                       std::string(local_name.substr(0, 100)) + ">");
      }
      if (namespace_uri == kDmarc2Namespace) summary_.meta.schema = "rfc9990";
      node = Node::kFeedback;
    } else {
      Node parent = stack_.empty() ? Node::kIgnored : stack_.back();
      node = HoldsText(parent) ? Node::kIgnored : ChildOf(parent, local_name);
    }
    stack_.push_back(node);
    if (HoldsText(node)) {
      text_.clear();
      return Status::Ok();
    }
    switch (node) {
      case Node::kReportMetadata: saw_metadata_ = true; break;
      case Node::kRecord: return BeginRecord();
      case Node::kReason: record_.reasons.emplace_back(); break;
      case Node::kDkim: record_.dkim_results.emplace_back(); break;
      case Node::kSpf: record_.spf_results.emplace_back(); break;
      default: break;
    }
    return Status::Ok();
  }

  Status EndElement(std::string_view /*local_name*/, size_t /*depth*/) override {
    if (stack_.empty()) return Status::Ok();
    Node node = stack_.back();
    stack_.pop_back();
    if (node == Node::kRecord) return EndRecord();
    if (HoldsText(node)) Assign(node, ascii::Trim(text_));
    return Status::Ok();
  }

  Status Characters(std::string_view text) override {
    if (stack_.empty() || !HoldsText(stack_.back())) return Status::Ok();
    if (text_.size() + text.size() > limits_.max_text_bytes) {
      return Status::LimitExceeded("DMARC element text longer than " +
                                   std::to_string(limits_.max_text_bytes) + " bytes");
    }
    text_.append(text);
    return Status::Ok();
  }

  // After the parse ran to its end: delivers the metadata if no record did.
  Status Finish() {
    if (!meta_delivered_) return DeliverMeta();
    return Status::Ok();
  }

  bool Usable() const { return saw_metadata_ || summary_.records > 0; }
  bool meta_delivered() const { return meta_delivered_; }
  uint64_t records_delivered() const { return records_delivered_; }
  AggregateSummary& summary() { return summary_; }

  void AddMessage(std::string message) {
    if (summary_.parser_messages.size() < AggregateSummary::kMaxMessages) {
      summary_.parser_messages.push_back(std::move(message));
    }
  }

 private:
  Status DeliverMeta() {
    meta_delivered_ = true;
    return on_meta_ ? on_meta_(summary_.meta) : Status::Ok();
  }

  Status BeginRecord() {
    if (!meta_delivered_) {
      Status status = DeliverMeta();
      if (!status.ok()) return status;
    }
    // Cleared in place: the strings keep their capacity from record to record.
    record_.source_ip.clear();
    record_.count = 0;
    record_.count_valid = false;
    count_seen_ = false;
    record_.disposition.clear();
    record_.dkim.clear();
    record_.spf.clear();
    record_.reasons.clear();
    record_.header_from.clear();
    record_.envelope_from.clear();
    record_.envelope_to.clear();
    record_.dkim_results.clear();
    record_.spf_results.clear();
    return Status::Ok();
  }

  Status EndRecord() {
    ++summary_.records;
    if (limits_.max_records != 0 && summary_.records > limits_.max_records) {
      return Status::LimitExceeded("DMARC report has more than " +
                                   std::to_string(limits_.max_records) + " records");
    }
    if (!count_seen_) {
      AddMessage("record " + std::to_string(summary_.records) + ": no <count>; counted as 0");
    }
    summary_.messages += record_.count;
    if (summary_.records <= records_already_delivered_) return Status::Ok();
    ++records_delivered_;
    return on_record_ ? on_record_(record_) : Status::Ok();
  }

  void SetCount(std::string_view text) {
    count_seen_ = true;
    std::optional<uint64_t> count = ParseUnsigned(text);
    record_.count_valid = count.has_value();
    record_.count = count.value_or(0);
    if (!count) {
      AddMessage("record " + std::to_string(summary_.records + 1) + ": count '" +
                 std::string(text.substr(0, 40)) + "' is not a number; counted as 0");
    }
  }

  void SetEpoch(std::optional<int64_t>& target, std::string_view text, const char* name) {
    target = ParseEpoch(text);
    if (!target) {
      AddMessage(std::string("date_range ") + name + " '" + std::string(text.substr(0, 40)) +
                 "' is not a timestamp");
    }
  }

  void MarkRfc9990() {
    if (!meta_delivered_) summary_.meta.schema = "rfc9990";
  }

  void Assign(Node node, std::string_view text) {
    AggregateReportMeta& meta = summary_.meta;
    PolicyPublished& policy = meta.policy_published;
    using enum Node;
    switch (node) {
      case kVersion: meta.version.assign(text); break;
      case kOrgName: meta.org_name.assign(text); break;
      case kEmail: meta.email.assign(text); break;
      case kExtraContactInfo: meta.extra_contact_info.assign(text); break;
      case kReportId: meta.report_id.assign(text); break;
      case kBegin: SetEpoch(meta.begin, text, "begin"); break;
      case kEnd: SetEpoch(meta.end, text, "end"); break;
      case kError: meta.errors.emplace_back(text); break;
      case kGenerator: meta.generator.assign(text); MarkRfc9990(); break;
      case kDomain: policy.domain.assign(text); break;
      case kAdkim: policy.adkim.assign(text); Normalize(policy.adkim, kAlignments); break;
      case kAspf: policy.aspf.assign(text); Normalize(policy.aspf, kAlignments); break;
      case kP: policy.p.assign(text); Normalize(policy.p, kPolicies); break;
      case kSp: policy.sp.assign(text); Normalize(policy.sp, kPolicies); break;
      case kNp:
        policy.np.assign(text);
        Normalize(policy.np, kPolicies);
        MarkRfc9990();
        break;
      case kPct: {
        std::optional<uint64_t> pct = ParseUnsigned(text);
        if (pct && *pct <= 1000) {
          policy.pct = static_cast<int>(*pct);
        } else if (!text.empty()) {
          AddMessage("pct '" + std::string(text.substr(0, 40)) + "' is not a number");
        }
        break;
      }
      case kFo: policy.fo.assign(text); break;
      case kTesting:
        policy.testing.assign(text);
        Normalize(policy.testing, kYesNo);
        MarkRfc9990();
        break;
      case kDiscoveryMethod:
        policy.discovery_method.assign(text);
        Normalize(policy.discovery_method, kDiscoveryMethods);
        MarkRfc9990();
        break;
      case kSourceIp: record_.source_ip.assign(text); break;
      case kCount: SetCount(text); break;
      case kDisposition:
        record_.disposition.assign(text);
        Normalize(record_.disposition, kDispositions);
        break;
      case kEvaluatedDkim: record_.dkim.assign(text); Normalize(record_.dkim, kPassFail); break;
      case kEvaluatedSpf: record_.spf.assign(text); Normalize(record_.spf, kPassFail); break;
      case kReasonType:
        record_.reasons.back().type.assign(text);
        Normalize(record_.reasons.back().type, kReasonTypes);
        break;
      case kReasonComment: record_.reasons.back().comment.assign(text); break;
      case kHeaderFrom: record_.header_from.assign(text); break;
      case kEnvelopeFrom: record_.envelope_from.assign(text); break;
      case kEnvelopeTo: record_.envelope_to.assign(text); break;
      case kDkimDomain: record_.dkim_results.back().domain.assign(text); break;
      case kDkimSelector: record_.dkim_results.back().selector.assign(text); break;
      case kDkimResult:
        record_.dkim_results.back().result.assign(text);
        Normalize(record_.dkim_results.back().result, kDkimResults);
        break;
      case kDkimHumanResult: record_.dkim_results.back().human_result.assign(text); break;
      case kSpfDomain: record_.spf_results.back().domain.assign(text); break;
      case kSpfScope:
        record_.spf_results.back().scope.assign(text);
        Normalize(record_.spf_results.back().scope, kSpfScopes);
        break;
      case kSpfResult:
        record_.spf_results.back().result.assign(text);
        Normalize(record_.spf_results.back().result, kSpfResults);
        break;
      case kSpfHumanResult: record_.spf_results.back().human_result.assign(text); break;
      default: break;
    }
  }

  const AggregateLimits& limits_;
  const std::function<Status(const AggregateReportMeta&)>& on_meta_;
  const std::function<Status(const AggregateRecord&)>& on_record_;
  bool meta_delivered_;
  uint64_t records_already_delivered_;  // by an earlier pass: counted, not delivered again
  uint64_t records_delivered_ = 0;
  bool saw_metadata_ = false;
  bool count_seen_ = false;
  std::vector<Node> stack_;
  std::string text_;
  AggregateRecord record_;
  AggregateSummary summary_;
};

XmlReaderLimits ReaderLimits(const AggregateLimits& limits) {
  XmlReaderLimits reader;
  reader.max_input_bytes = limits.max_input_bytes;
  reader.max_depth = limits.max_depth;
  reader.max_text_bytes = limits.max_text_bytes;
  return reader;
}

}  // namespace

Result<AggregateSummary> ParseAggregateReport(
    std::string_view xml, const AggregateLimits& limits,
    const std::function<Status(const AggregateReportMeta&)>& on_meta,
    const std::function<Status(const AggregateRecord&)>& on_record) {
  if (xml.size() > limits.max_input_bytes) {
    return Status::LimitExceeded("DMARC report of " + std::to_string(xml.size()) +
                                 " bytes exceeds the limit of " +
                                 std::to_string(limits.max_input_bytes));
  }
  if (ascii::Trim(xml).empty()) return Status::InvalidArgument("empty report");
  const XmlReaderLimits reader_limits = ReaderLimits(limits);

  AggregateHandler strict(limits, on_meta, on_record, false, 0);
  Result<XmlParseReport> parsed = ParseXml(xml, reader_limits, XmlParseMode::kStrict, strict);
  if (!parsed.ok()) return parsed.status();
  if (parsed->well_formed) {
    if (!strict.Usable()) {
      return Status::InvalidArgument("DMARC report has neither report_metadata nor a record");
    }
    Status status = strict.Finish();
    if (!status.ok()) return status;
    return std::move(strict.summary());
  }

  // Not well-formed: once more in recover mode, without delivering again what the strict
  // pass delivered (both passes see the same events up to the first error).
  AggregateHandler recovering(limits, on_meta, on_record, strict.meta_delivered(),
                              strict.records_delivered());
  parsed = ParseXml(xml, reader_limits, XmlParseMode::kRecover, recovering);
  if (!parsed.ok()) return parsed.status();
  if (!recovering.Usable()) {
    std::string reason = parsed->messages.empty() ? "" : ": " + parsed->messages.front();
    return Status::InvalidArgument("not well-formed XML, nothing recovered" + reason);
  }
  Status status = recovering.Finish();
  if (!status.ok()) return status;
  AggregateSummary& summary = recovering.summary();
  summary.recovered = true;
  for (std::string& message : parsed->messages) recovering.AddMessage(std::move(message));
  return std::move(summary);
}

}  // namespace archiver
