// DMARC aggregate report parser: a fixed state machine over element local names, fed by
// the hardened SAX2 entry (xml_reader.h), delivering one record per </record>.
#include "archiver/dmarc/dmarc_aggregate.h"

#include <cstdint>
#include <span>
#include <vector>

#include "base/ascii.h"
#include "dmarc/dmarc_elements.h"
#include "dmarc/xml_reader.h"

namespace archiver {
namespace {

using dmarc::Node;

// The event handler for one pass over the document.
class AggregateHandler final : public XmlEventHandler {
 public:
  AggregateHandler(const AggregateLimits& limits,
                   const std::function<Status(const AggregateReportMeta&)>& on_meta,
                   const std::function<Status(const AggregateRecord&)>& on_record,
                   bool meta_delivered, uint64_t records_delivered)
      : limits_(limits),
        on_meta_(on_meta),
        on_record_(on_record),
        meta_delivered_(meta_delivered),
        records_already_delivered_(records_delivered) {
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
      if (namespace_uri == dmarc::kDmarc2Namespace) summary_.meta.schema = "rfc9990";
      node = Node::kFeedback;
    } else {
      Node parent = stack_.empty() ? Node::kIgnored : stack_.back();
      node = dmarc::HoldsText(parent) ? Node::kIgnored : dmarc::ChildOf(parent, local_name);
    }
    stack_.push_back(node);
    if (dmarc::HoldsText(node)) {
      text_.clear();
      return Status::Ok();
    }
    switch (node) {
      case Node::kReportMetadata:
        saw_metadata_ = true;
        break;
      case Node::kRecord:
        return BeginRecord();
      case Node::kReason:
        record_.reasons.emplace_back();
        break;
      case Node::kDkim:
        record_.dkim_results.emplace_back();
        break;
      case Node::kSpf:
        record_.spf_results.emplace_back();
        break;
      default:
        break;
    }
    return Status::Ok();
  }

  Status EndElement(std::string_view /*local_name*/, size_t /*depth*/) override {
    if (stack_.empty()) return Status::Ok();
    Node node = stack_.back();
    stack_.pop_back();
    if (node == Node::kRecord) return EndRecord();
    if (dmarc::HoldsText(node)) Assign(node, ascii::Trim(text_));
    return Status::Ok();
  }

  Status Characters(std::string_view text) override {
    if (stack_.empty() || !dmarc::HoldsText(stack_.back())) return Status::Ok();
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
    std::optional<uint64_t> count = dmarc::ParseUnsigned(text);
    record_.count_valid = count.has_value();
    record_.count = count.value_or(0);
    if (!count) {
      AddMessage("record " + std::to_string(summary_.records + 1) + ": count '" +
                 std::string(text.substr(0, 40)) + "' is not a number; counted as 0");
    }
  }

  void SetEpoch(std::optional<int64_t>& target, std::string_view text, const char* name) {
    target = dmarc::ParseEpoch(text);
    if (!target) {
      AddMessage(std::string("date_range ") + name + " '" + std::string(text.substr(0, 40)) +
                 "' is not a timestamp");
    }
  }

  void MarkRfc9990() {
    if (!meta_delivered_) summary_.meta.schema = "rfc9990";
  }

  // An element's text, to the field it names: one step per element group.
  void Assign(Node node, std::string_view text) {
    if (AssignMetadata(node, text) || AssignPolicy(node, text) || AssignRecord(node, text) ||
        AssignDkim(node, text)) {
      return;
    }
    AssignSpf(node, text);
  }

  // A field of an enumeration: its known values lowercased, others kept as written.
  static void SetKnown(std::string& field, std::string_view text,
                       std::span<const std::string_view> known) {
    field.assign(text);
    dmarc::Normalize(field, known);
  }

  // <version> and <report_metadata>. False for any other element.
  bool AssignMetadata(Node node, std::string_view text) {
    AggregateReportMeta& meta = summary_.meta;
    using enum Node;
    switch (node) {
      case kVersion:
        meta.version.assign(text);
        return true;
      case kOrgName:
        meta.org_name.assign(text);
        return true;
      case kEmail:
        meta.email.assign(text);
        return true;
      case kExtraContactInfo:
        meta.extra_contact_info.assign(text);
        return true;
      case kReportId:
        meta.report_id.assign(text);
        return true;
      case kBegin:
        SetEpoch(meta.begin, text, "begin");
        return true;
      case kEnd:
        SetEpoch(meta.end, text, "end");
        return true;
      case kError:
        meta.errors.emplace_back(text);
        return true;
      case kGenerator:
        meta.generator.assign(text);
        MarkRfc9990();
        return true;
      default:
        return false;
    }
  }

  // <policy_published>. False for any other element.
  bool AssignPolicy(Node node, std::string_view text) {
    PolicyPublished& policy = summary_.meta.policy_published;
    using enum Node;
    switch (node) {
      case kDomain:
        policy.domain.assign(text);
        return true;
      case kAdkim:
        SetKnown(policy.adkim, text, dmarc::kAlignments);
        return true;
      case kAspf:
        SetKnown(policy.aspf, text, dmarc::kAlignments);
        return true;
      case kP:
        SetKnown(policy.p, text, dmarc::kPolicies);
        return true;
      case kSp:
        SetKnown(policy.sp, text, dmarc::kPolicies);
        return true;
      case kNp:
        SetKnown(policy.np, text, dmarc::kPolicies);
        MarkRfc9990();
        return true;
      case kPct:
        SetPct(policy, text);
        return true;
      case kFo:
        policy.fo.assign(text);
        return true;
      case kTesting:
        SetKnown(policy.testing, text, dmarc::kYesNo);
        MarkRfc9990();
        return true;
      case kDiscoveryMethod:
        SetKnown(policy.discovery_method, text, dmarc::kDiscoveryMethods);
        MarkRfc9990();
        return true;
      default:
        return false;
    }
  }

  void SetPct(PolicyPublished& policy, std::string_view text) {
    std::optional<uint64_t> pct = dmarc::ParseUnsigned(text);
    if (pct && *pct <= 1000) {
      policy.pct = static_cast<int>(*pct);
    } else if (!text.empty()) {
      AddMessage("pct '" + std::string(text.substr(0, 40)) + "' is not a number");
    }
  }

  // A record's <row> (with <policy_evaluated>) and <identifiers>. False for any other
  // element.
  bool AssignRecord(Node node, std::string_view text) {
    using enum Node;
    switch (node) {
      case kSourceIp:
        record_.source_ip.assign(text);
        return true;
      case kCount:
        SetCount(text);
        return true;
      case kDisposition:
        SetKnown(record_.disposition, text, dmarc::kDispositions);
        return true;
      case kEvaluatedDkim:
        SetKnown(record_.dkim, text, dmarc::kPassFail);
        return true;
      case kEvaluatedSpf:
        SetKnown(record_.spf, text, dmarc::kPassFail);
        return true;
      case kReasonType:
        SetKnown(record_.reasons.back().type, text, dmarc::kReasonTypes);
        return true;
      case kReasonComment:
        record_.reasons.back().comment.assign(text);
        return true;
      case kHeaderFrom:
        record_.header_from.assign(text);
        return true;
      case kEnvelopeFrom:
        record_.envelope_from.assign(text);
        return true;
      case kEnvelopeTo:
        record_.envelope_to.assign(text);
        return true;
      default:
        return false;
    }
  }

  // <auth_results><dkim>. False for any other element.
  bool AssignDkim(Node node, std::string_view text) {
    using enum Node;
    switch (node) {
      case kDkimDomain:
        record_.dkim_results.back().domain.assign(text);
        return true;
      case kDkimSelector:
        record_.dkim_results.back().selector.assign(text);
        return true;
      case kDkimResult:
        SetKnown(record_.dkim_results.back().result, text, dmarc::kDkimResults);
        return true;
      case kDkimHumanResult:
        record_.dkim_results.back().human_result.assign(text);
        return true;
      default:
        return false;
    }
  }

  // <auth_results><spf>; other elements are not kept.
  void AssignSpf(Node node, std::string_view text) {
    using enum Node;
    switch (node) {
      case kSpfDomain:
        record_.spf_results.back().domain.assign(text);
        break;
      case kSpfScope:
        SetKnown(record_.spf_results.back().scope, text, dmarc::kSpfScopes);
        break;
      case kSpfResult:
        SetKnown(record_.spf_results.back().result, text, dmarc::kSpfResults);
        break;
      case kSpfHumanResult:
        record_.spf_results.back().human_result.assign(text);
        break;
      default:
        break;
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
    InputSource& source, const AggregateLimits& limits,
    const std::function<Status(const AggregateReportMeta&)>& on_meta,
    const std::function<Status(const AggregateRecord&)>& on_record) {
  uint64_t size = source.size();
  if (size != UINT64_MAX && size > limits.max_input_bytes) {
    return Status::LimitExceeded("DMARC report of " + std::to_string(size) +
                                 " bytes exceeds the limit of " +
                                 std::to_string(limits.max_input_bytes));
  }
  const XmlReaderLimits reader_limits = ReaderLimits(limits);

  AggregateHandler strict(limits, on_meta, on_record, false, 0);
  Result<XmlParseReport> parsed = ParseXml(source, reader_limits, XmlParseMode::kStrict, strict);
  if (!parsed.ok()) return parsed.status();
  if (parsed->empty) return Status::InvalidArgument("empty report");
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
  Status rewound = source.Rewind();
  if (!rewound.ok()) return rewound;
  AggregateHandler recovering(limits, on_meta, on_record, strict.meta_delivered(),
                              strict.records_delivered());
  parsed = ParseXml(source, reader_limits, XmlParseMode::kRecover, recovering);
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

Result<AggregateSummary> ParseAggregateReport(
    std::string_view xml, const AggregateLimits& limits,
    const std::function<Status(const AggregateReportMeta&)>& on_meta,
    const std::function<Status(const AggregateRecord&)>& on_record) {
  MemorySource source(xml, "DMARC report");
  return ParseAggregateReport(source, limits, on_meta, on_record);
}

}  // namespace archiver
