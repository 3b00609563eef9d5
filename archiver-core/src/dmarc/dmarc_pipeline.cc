// The DMARC mail pipeline (see dmarc_pipeline.h): which part is which kind of report,
// told by content first, and the one place where what cannot be read becomes a ledger
// error instead of a failed call.
#include "archiver/dmarc/dmarc_pipeline.h"

#include <iterator>
#include <utility>

#include "archiver/input_source.h"
#include "base/ascii.h"
#include "base/enum_names.h"

namespace archiver {
namespace {

// Only this much of a text part is searched for the root element of a DMARC report.
constexpr size_t kSniffBytes = 64 * 1024;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Failures of the store itself, as opposed to a report that cannot be read. A read-only
// archive's InvalidArgument is told apart when recording the error fails the same way.
bool IsStoreFailure(const Status& status) {
  return status.code() == Status::Code::kIOError || status.code() == Status::Code::kMapFull ||
         status.code() == Status::Code::kCorruption || status.code() == Status::Code::kInternal;
}

bool IsTextPlain(const std::string& content_type) {
  return content_type.empty() || content_type == "text/plain";
}

// A part that was meant to carry an aggregate report, so that failing to find one in it
// is worth an error: its type or its file name says so. Other attachments (a PDF, an
// S/MIME or PGP signature) are only read when their bytes are a container or XML.
bool ExpectsReport(const DmarcPart& part) {
  const std::string& type = part.content_type;
  if (type == "application/octet-stream" || type == "text/xml") return true;
  if (StartsWith(type, "application/")) {
    for (std::string_view word : {"xml", "zip", "gzip", "zlib", "compress"}) {
      if (type.find(word) != std::string::npos) return true;
    }
  }
  std::string name = ascii::Lowercase(part.filename);
  for (std::string_view extension : {".xml", ".gz", ".gzip", ".zip", ".zlib", ".z"}) {
    if (EndsWith(name, extension)) return true;
  }
  return false;
}

// The first element's name, with the prolog (declaration, comments, processing
// instructions, DOCTYPE) skipped; "" when none starts in the first kSniffBytes. A sniff
// for text parts only: the real parse is the hardened reader's.
std::string_view FirstElementName(std::string_view xml) {
  xml = xml.substr(0, kSniffBytes);
  size_t at = 0;
  while ((at = xml.find('<', at)) != std::string_view::npos) {
    std::string_view rest = xml.substr(at);
    if (StartsWith(rest, "<?") || StartsWith(rest, "<!--")) {
      size_t end = xml.find(rest[1] == '?' ? "?>" : "-->", at);
      if (end == std::string_view::npos) return {};
      at = end + 2;
      continue;
    }
    if (StartsWith(rest, "<!")) {  // a declaration, with an internal subset in [ ]
      int brackets = 0;
      size_t i = 2;
      for (; i < rest.size() && (rest[i] != '>' || brackets > 0); ++i) {
        if (rest[i] == '[') ++brackets;
        if (rest[i] == ']' && brackets > 0) --brackets;
      }
      at += i;
      continue;
    }
    size_t end = rest.find_first_of(" \t\r\n/>", 1);
    return rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
  }
  return {};
}

// Whether an XML text part is a DMARC aggregate report rather than, say, an HTML body.
bool RootIsFeedback(std::string_view xml) {
  std::string_view name = FirstElementName(xml);
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
  return name == "feedback";
}

DmarcItemResult ResultOf(DmarcImportOutcome outcome) {
  return outcome == DmarcImportOutcome::kStored ? DmarcItemResult::kOk
                                                : DmarcItemResult::kDuplicate;
}

// The names, indexed by the enum's values.
constexpr const char* kItemResultNames[] = {"ok", "duplicate", "error"};
static_assert(std::size(kItemResultNames) == static_cast<size_t>(DmarcItemResult::kError) + 1);

}  // namespace

const char* DmarcItemResultName(DmarcItemResult result) {
  return enum_names::NameOf(kItemResultNames, result);
}

DmarcMailPipeline::DmarcMailPipeline(DmarcStore& store, DmarcPipelineOptions options,
                                     DmarcOrigin origin)
    : store_(store), options_(std::move(options)), origin_(std::move(origin)) {}

DmarcOrigin DmarcMailPipeline::OriginOf(const std::string& part) const {
  DmarcOrigin origin = origin_;
  origin.part = part;
  return origin;
}

Result<bool> DmarcMailPipeline::WithinBudget(uint64_t bytes, const std::string& part) {
  if (exhausted_) return false;
  const DmarcMailBudget& budget = options_.budget;
  const uint64_t max_bytes =
      budget.max_bytes != 0 ? budget.max_bytes : 4 * options_.unpack.max_output_bytes;
  const auto spent_time = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_);
  std::string over;
  if (spent_bytes_ > 0 && spent_bytes_ + bytes > max_bytes) {
    over = std::to_string(spent_bytes_ + bytes) + " bytes of reports, more than " +
           std::to_string(max_bytes);
  } else if (spent_records_ >= budget.max_records) {
    over = std::to_string(spent_records_) + " records, the most " +
           std::to_string(budget.max_records);
  } else if (spent_time >= budget.max_time) {
    over = std::to_string(spent_time.count()) + " ms of reading, the most " +
           std::to_string(budget.max_time.count());
  }
  if (over.empty()) {
    spent_bytes_ += bytes;
    return true;
  }
  exhausted_ = true;
  Status recorded = RecordError(
      DmarcItemKind::kMail, part, "over the mail's budget (" + over + "): this part and the rest not read");
  if (!recorded.ok()) return recorded;
  return false;
}

Status DmarcMailPipeline::AddPart(const DmarcPart& part) {
  if (exhausted_) return Status::Ok();
  // The parts of an original message already paired with its feedback report are that
  // message's body, not reports.
  if (!original_path_.empty() && StartsWith(part.path, original_path_ + ".")) {
    return Status::Ok();
  }
  const std::string& type = part.content_type;
  if (type == "message/feedback-report") {
    saw_feedback_ = true;
    pending_feedback_.push_back({std::string(part.body), part.path});
    return Status::Ok();
  }
  if (type == "text/rfc822-headers" || type == "message/rfc822") {
    // Without a report waiting for it, a message/rfc822 part is a forwarded mail whose
    // own parts follow, and a header block is not a report.
    if (pending_feedback_.empty()) return Status::Ok();
    PendingFeedback feedback = std::move(pending_feedback_.front());
    pending_feedback_.pop_front();
    if (type == "message/rfc822") original_path_ = part.path;
    return ImportFeedback(feedback, part.body);
  }
  PayloadKind kind = DetectPayload(part.body);
  // Text: an Exim-style failure report, else a body (whose first two bytes may happen to
  // read as a zlib header: AddPayload tells).
  if (IsTextPlain(type) && (kind == PayloadKind::kUnknown || kind == PayloadKind::kZlib)) {
    Result<FailureReport> text = ParseTextFailureReport(part.body);
    if (text.ok()) {
      text_reports_.push_back({std::move(*text), part.path});
      return Status::Ok();
    }
    if (text.status().code() != Status::Code::kNotFound) {
      return RecordError(DmarcItemKind::kFailure, part.path, text.status().message());
    }
    if (kind == PayloadKind::kUnknown) return Status::Ok();
  }
  return AddPayload(part, kind);
}

Status DmarcMailPipeline::AddPayload(const DmarcPart& part, PayloadKind kind) {
  bool expected = ExpectsReport(part);
  if (kind == PayloadKind::kUnknown && !expected) return Status::Ok();  // a body, an image
  if (kind == PayloadKind::kXml) {
    if (!expected && !RootIsFeedback(part.body)) return Status::Ok();  // e.g. an HTML body
    if (part.body.size() > options_.unpack.max_output_bytes) {
      return RecordError(DmarcItemKind::kAggregate, part.path,
                         "XML report of " + std::to_string(part.body.size()) + " bytes exceeds " +
                             std::to_string(options_.unpack.max_output_bytes) +
                             " bytes (archiver_dmarc_max_size)");
    }
    Result<bool> within = WithinBudget(part.body.size(), part.path);
    if (!within.ok() || !*within) return within.status();
    return ImportDocument(part.body, part.path, {});
  }
  if (part.body.empty()) return RecordError(DmarcItemKind::kPayload, part.path, "empty attachment (0 bytes)");
  Result<bool> within = WithinBudget(0, part.path);  // before decompressing anything
  if (!within.ok() || !*within) return within.status();

  std::vector<std::string> notes;
  Result<std::vector<UnpackedDocument>> documents =
      UnpackPayload(part.body, options_.unpack, &notes);
  if (!documents.ok()) {
    // Text that merely begins like a zlib header (two bytes) is still text.
    if (!expected && kind == PayloadKind::kZlib &&
        documents.status().code() == Status::Code::kInvalidArgument) {
      return Status::Ok();
    }
    return RecordError(DmarcItemKind::kPayload, part.path, documents.status().message());
  }
  for (UnpackedDocument& document : *documents) {
    // A ZIP entry is named in the part even when its name is empty ("2/").
    bool in_zip = kind == PayloadKind::kZip || !document.name.empty();
    std::string where = in_zip ? part.path + "/" + document.name : part.path;
    within = WithinBudget(document.bytes.size(), where);
    if (!within.ok() || !*within) return within.status();
    Status status = ImportDocument(document.bytes, where, std::exchange(notes, {}));
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status DmarcMailPipeline::ImportDocument(std::string_view xml, const std::string& part,
                                         std::vector<std::string> notes) {
  MemorySource source(xml, "part " + part);
  // The records this report may still have of the mail's budget.
  DmarcImportOptions import = options_.import;
  const uint64_t records_left = options_.budget.max_records - spent_records_;
  if (import.limits.max_records == 0 || import.limits.max_records > records_left)
    import.limits.max_records = records_left;
  Result<DmarcImportResult> imported = store_.ImportAggregate(source, import, OriginOf(part));
  if (!imported.ok()) {
    if (IsStoreFailure(imported.status())) return imported.status();
    return RecordError(DmarcItemKind::kAggregate, part, imported.status().message(),
                       std::move(notes));
  }
  DmarcItem item;
  item.part = part;
  item.kind = DmarcItemKind::kAggregate;
  item.result = ResultOf(imported->outcome);
  item.id = imported->id;
  item.records = imported->records;
  spent_records_ += imported->records;
  item.messages = imported->messages;
  item.recovered = imported->recovered;
  item.notes = std::move(notes);
  items_.push_back(std::move(item));
  return Status::Ok();
}

Status DmarcMailPipeline::ImportFeedback(const PendingFeedback& feedback,
                                         std::string_view original) {
  Result<bool> within = WithinBudget(feedback.body.size() + original.size(), feedback.part);
  if (!within.ok() || !*within) return within.status();
  Result<FailureReport> report = ParseFailureReport(feedback.body, original);
  if (!report.ok())
    return RecordError(DmarcItemKind::kFailure, feedback.part, report.status().message());
  return ImportFailure(*report, feedback.part);
}

Status DmarcMailPipeline::ImportFailure(const FailureReport& report, const std::string& part) {
  Result<DmarcImportResult> imported = store_.ImportFailure(report, OriginOf(part));
  if (!imported.ok()) {
    if (IsStoreFailure(imported.status())) return imported.status();
    return RecordError(DmarcItemKind::kFailure, part, imported.status().message());
  }
  DmarcItem item;
  item.part = part;
  item.kind = DmarcItemKind::kFailure;
  item.result = ResultOf(imported->outcome);
  item.id = imported->id;
  items_.push_back(std::move(item));
  return Status::Ok();
}

Status DmarcMailPipeline::RecordError(DmarcItemKind kind, const std::string& part,
                                      const std::string& reason, std::vector<std::string> notes) {
  Status status = store_.RecordError(kind, reason, OriginOf(part));
  if (!status.ok()) return status;
  DmarcItem item;
  item.part = part;
  item.kind = kind;
  item.result = DmarcItemResult::kError;
  item.reason = reason;
  item.notes = std::move(notes);
  items_.push_back(std::move(item));
  return Status::Ok();
}

Result<std::vector<DmarcItem>> DmarcMailPipeline::Finish(bool quiet_when_empty) {
  while (!pending_feedback_.empty()) {
    PendingFeedback feedback = std::move(pending_feedback_.front());
    pending_feedback_.pop_front();
    Status status = ImportFeedback(feedback, {});
    if (!status.ok()) return status;
  }
  // An ARF report's human-readable text part may read like Exim's: the ARF part wins.
  if (!saw_feedback_) {
    for (const TextReport& text : text_reports_) {
      Status status = ImportFailure(text.report, text.part);
      if (!status.ok()) return status;
    }
  }
  text_reports_.clear();
  if (items_.empty() && !quiet_when_empty) {
    std::string where = origin_.kind == DmarcOriginKind::kFile ? "file" : "mail";
    Status status = RecordError(DmarcItemKind::kMail, "", "no DMARC report found in the " + where);
    if (!status.ok()) return status;
  }
  return std::move(items_);
}

DmarcItemResult DmarcItemTally::Result() const {
  if (errors > 0) return DmarcItemResult::kError;
  return stored ? DmarcItemResult::kOk : DmarcItemResult::kDuplicate;
}

DmarcItemTally TallyDmarcItems(const std::vector<DmarcItem>& items) {
  DmarcItemTally tally;
  for (const DmarcItem& item : items) {
    if (item.result == DmarcItemResult::kError) {
      ++tally.errors;
      if (!tally.reasons.empty()) tally.reasons += "; ";
      tally.reasons += item.part.empty() ? item.reason : item.part + ": " + item.reason;
      continue;
    }
    if (item.result == DmarcItemResult::kOk) tally.stored = true;
    if (item.kind == DmarcItemKind::kFailure) {
      ++tally.failures;
    } else if (item.kind == DmarcItemKind::kAggregate) {
      ++tally.reports;
      tally.records += item.records;
    }
  }
  return tally;
}

}  // namespace archiver
