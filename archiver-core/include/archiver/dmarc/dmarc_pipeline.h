// DmarcMailPipeline: what happens to the parts of one report mail (or one imported
// file). The caller walks the MIME tree (the glue does it with Dovecot's message parser)
// and hands over every leaf part, decoded; the pipeline tells reports from other parts
// by content, unpacks containers, parses aggregate and failure reports, stores them,
// and records what it could not read in the error ledger. Bad input never fails the
// call: only the store's own failures do. Dovecot-independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/dmarc/payload.h"

namespace archiver {

struct DmarcPart {
  std::string content_type;  // lowercased "type/subtype"; "" when the part had none, which
                             // is read as text/plain (RFC 2045). A file given to `doveadm
                             // dmarc import`: "application/octet-stream" and its file name.
  std::string filename;      // Content-Disposition filename or Content-Type name
  std::string path;          // the MIME part number, "1", "2.1"
  std::string_view body;     // decoded (base64 / quoted-printable) bytes; only read
                             // during AddPart
};

// What one report mail may cost in all its parts together. Past any of these, one error
// of kind "mail" is recorded and the mail's remaining parts are not read (the reports
// found before stay); the mail itself is not affected.
struct DmarcMailBudget {
  // Report bytes read (XML as given or decompressed); 0 = four times
  // unpack.max_output_bytes. A part is read whole once begun: one may go past it.
  uint64_t max_bytes = 0;
  uint64_t max_records = 1'000'000;  // aggregate records over all reports
  // Time spent reading, checked before each part and each report.
  std::chrono::milliseconds max_time{20'000};
};

struct DmarcPipelineOptions {
  UnpackLimits unpack;  // archiver_dmarc_max_size and the ratio cap; a plain XML
                        // part larger than unpack.max_output_bytes is an error too
  DmarcImportOptions import;
  DmarcMailBudget budget;
};

// What came of it.
enum class DmarcItemResult : uint8_t {
  kOk,         // stored: new
  kDuplicate,  // found again: stored before
  kError,      // not readable: recorded in the ledger
};
// The names in doveadm's output: "ok", "duplicate", "error" (DmarcItemKind, what an
// item is about, is in dmarc_store.h: the error ledger stores it).
const char* DmarcItemResultName(DmarcItemResult result);

// One thing found in a mail: a report stored or found again, or an error.
struct DmarcItem {
  std::string part;  // DmarcOrigin::part of it
  DmarcItemKind kind = DmarcItemKind::kMail;
  DmarcItemResult result = DmarcItemResult::kError;
  std::string reason;    // for errors
  uint64_t id = 0;       // report or failure id for ok / duplicate
  uint64_t records = 0;  // aggregate: records and their message total
  uint64_t messages = 0;
  bool recovered = false;          // aggregate: salvaged from XML that is not well-formed
  std::vector<std::string> notes;  // what was tolerated on the way (bytes after a gzip
                                   // stream, a ZIP entry that is not XML)
};

// What a mail's (or a file's) items add up to.
struct DmarcItemTally {
  uint64_t reports = 0;   // aggregate reports stored or found again
  uint64_t failures = 0;  // failure reports stored or found again
  uint64_t errors = 0;
  uint64_t records = 0;   // records of those aggregate reports
  bool stored = false;    // at least one report was new
  std::string reasons;    // the errors' "part: reason", "; "-separated
  // kError when any item is an error, else kOk when anything was new, else kDuplicate.
  DmarcItemResult Result() const;
};
DmarcItemTally TallyDmarcItems(const std::vector<DmarcItem>& items);

class DmarcMailPipeline {
 public:
  // `origin` describes the mail or file; each item's origin is it plus the part.
  // `store` must outlive the pipeline.
  DmarcMailPipeline(DmarcStore& store, DmarcPipelineOptions options, DmarcOrigin origin);

  // One part, in MIME order. The caller hands over every leaf part, and also each
  // message/rfc822 part itself (body: the embedded message, or at least its header
  // block) before the parts inside it. What a part is:
  // - message/feedback-report: a failure report (ARF), paired with the next
  //   text/rfc822-headers or message/rfc822 part as its original; the parts inside that
  //   original are not looked at.
  // - text/plain: an Exim-style text-only failure report, stored at Finish when the mail
  //   has no feedback-report part; any other text is skipped.
  // - bytes that are XML, gzip, ZIP or zlib (told by content, whatever the type or file
  //   name says): aggregate reports, one per XML document inside. A text or image part
  //   is only taken for a report when its content says so (XML rooted in <feedback>, or a
  //   container that unpacks); otherwise it is skipped quietly.
  // - an attachment that should hold a report (application/octet-stream, an XML, gzip,
  //   ZIP or zlib type, or a name ending .xml, .gz, .zip, .zlib) but does not, or is
  //   empty: an error of kind "payload". Other attachments (a PDF, a signature) are
  //   skipped unless their bytes are a container or a DMARC report.
  // Returns non-OK only when the store fails (IOError, MapFull, Corruption, or
  // InvalidArgument from a read-only archive); bad input becomes ledger errors.
  Status AddPart(const DmarcPart& part);

  // An error found outside the pipeline (the MIME walk's own limits, say): recorded in
  // the ledger under this mail's origin and `part`, and returned among the items like
  // the pipeline's own, so that Finish does not call the mail empty. Non-OK only when
  // the store fails.
  Status RecordError(DmarcItemKind kind, const std::string& part, const std::string& reason,
                     std::vector<std::string> notes = {});

  // Ends the mail: a pending failure report without its original is stored as it is;
  // Exim-style text reports are stored if the mail had no feedback-report part; a mail
  // in which nothing was found (no report, no error) records an error of kind "mail"
  // ("no DMARC report found in the mail") — unless `quiet_when_empty`. Returns every
  // item, in order. Errors as for AddPart. Call it once.
  Result<std::vector<DmarcItem>> Finish(bool quiet_when_empty = false);

 private:
  struct PendingFeedback {
    std::string body;  // the feedback-report part, copied: it waits for its original
    std::string part;
  };
  struct TextReport {
    FailureReport report;
    std::string part;
  };

  Status AddPayload(const DmarcPart& part, PayloadKind kind);
  // Whether the mail's budget allows reading `bytes` more (0: just checking); when it
  // does not, records the one "mail" error once. A non-OK Status when that fails.
  Result<bool> WithinBudget(uint64_t bytes, const std::string& part);
  Status ImportDocument(std::string_view xml, const std::string& part,
                        std::vector<std::string> notes);
  Status ImportFeedback(const PendingFeedback& feedback, std::string_view original);
  Status ImportFailure(const FailureReport& report, const std::string& part);
  DmarcOrigin OriginOf(const std::string& part) const;

  DmarcStore& store_;
  DmarcPipelineOptions options_;
  DmarcOrigin origin_;
  std::vector<DmarcItem> items_;
  std::deque<PendingFeedback> pending_feedback_;
  std::vector<TextReport> text_reports_;  // Exim-style candidates, kept until Finish
  bool saw_feedback_ = false;
  std::string original_path_;  // the message/rfc822 original paired last; its parts skip
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  uint64_t spent_bytes_ = 0;
  uint64_t spent_records_ = 0;
  bool exhausted_ = false;  // over budget: the remaining parts are not read
};

}  // namespace archiver
