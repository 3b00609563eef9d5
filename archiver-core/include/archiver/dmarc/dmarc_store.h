// DmarcStore: DMARC aggregate reports, their records, failure reports, the mails that
// carried them and a ledger of reports that could not be read, kept in sub-databases of
// the archive's LMDB environment (docs/store-format.md, "DMARC"). Dovecot-independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archiver/digest.h"
#include "archiver/dmarc/dmarc_aggregate.h"
#include "archiver/dmarc/dmarc_failure.h"
#include "archiver/input_source.h"
#include "archiver/status.h"
#include "archiver/store/store.h"

namespace archiver {

// How a report reached the archive. Stored by name: "mail" (a delivered mail), "file"
// (doveadm dmarc import), "imap" (a remote source).
enum class DmarcOriginKind : uint8_t { kMail, kFile, kImap };
const char* DmarcOriginKindName(DmarcOriginKind kind);
// The kind named `name`; nullopt for any other text.
std::optional<DmarcOriginKind> DmarcOriginKindNamed(std::string_view name);

// What a report-processing item is about; a ledger error's kind. Stored by name:
// "aggregate", "failure", "payload", "mail".
enum class DmarcItemKind : uint8_t {
  kAggregate,  // an aggregate report (RUA)
  kFailure,    // a failure report (ARF or Exim-style text)
  kPayload,    // an attachment that should hold a report but does not
  kMail,       // the mail as a whole (no report in it, over its budget, stopped)
};
const char* DmarcItemKindName(DmarcItemKind kind);
std::optional<DmarcItemKind> DmarcItemKindNamed(std::string_view name);

// Where a report came from.
struct DmarcOrigin {
  DmarcOriginKind kind = DmarcOriginKind::kMail;
  std::string detail;               // the file path; the source and folder; the recipient
  std::optional<MessageId> mail;    // the archived mail that carried it, if any
  std::string part;                 // where inside: MIME part "2.1", then "/" and the ZIP
                                    // entry name when there is one ("2/report.xml")
};

struct DmarcReport {
  uint64_t id = 0;                  // this archive's number for the report, from 1
  AggregateReportMeta meta;         // metadata and published policy
  uint64_t records = 0;
  uint64_t messages = 0;            // sum of the records' counts
  uint64_t pass = 0;                // messages whose evaluated DKIM or SPF is "pass"
  uint64_t fail = 0;                // messages - pass
  bool recovered = false;           // stored from libxml2's recover mode
  std::vector<std::string> parser_messages;
  uint64_t imported_us = 0;         // when it was stored, microseconds since the epoch
  DmarcOrigin origin;
};

struct DmarcFailure {
  uint64_t id = 0;                  // from 1, its own numbering
  uint64_t imported_us = 0;
  FailureReport report;
  DmarcOrigin origin;
};

// A report that could not be read, and why.
struct DmarcError {
  uint64_t id = 0;
  uint64_t time_us = 0;
  DmarcItemKind kind = DmarcItemKind::kMail;
  std::string reason;               // e.g. "gzip: invalid header", "XML: DOCTYPE not allowed"
  DmarcOrigin origin;
};

// A mail that reached a report mailbox, and what came of it (for `dmarc reprocess`).
struct DmarcMail {
  MessageId mail{};
  uint64_t processed_us = 0;
  std::string user;                 // the Dovecot user and mailbox, or the source
  std::string mailbox;
  uint32_t reports = 0;             // aggregate reports stored or found duplicate
  uint32_t failures = 0;            // failure reports stored or found duplicate
  uint32_t errors = 0;              // errors recorded
};

enum class DmarcImportOutcome { kStored, kDuplicate };

struct DmarcImportResult {
  DmarcImportOutcome outcome = DmarcImportOutcome::kStored;
  uint64_t id = 0;                  // the report stored, or the one it duplicates
  uint64_t records = 0;
  uint64_t messages = 0;
  bool recovered = false;
};

struct DmarcImportOptions {
  AggregateLimits limits;
  // Records per write transaction. A report larger than this is stored in several
  // commits and is invisible to queries until its last; an import interrupted midway
  // leaves an incomplete report that the next import of it replaces.
  uint64_t batch_records = 20000;
  // Sources gathered in memory for the report's rollups (about 150 bytes each); past
  // this, they are written sorted to a temporary file in the archive's directory and
  // merged back when the rollups are written, after the last record: the rollups of
  // such a report take one more commit per this many sources.
  uint64_t max_pending_sources = 200000;
  // Sources of a report given a place in its by-messages order (its most messages
  // first): a summary of one report with a row limit up to this reads only them; a
  // larger limit reads every source of it.
  uint64_t ordered_sources = 1000;
};

// Which reports a query covers. A report belongs to the time its date range begins
// (its import time when it has no date range).
struct DmarcFilter {
  std::string domain;               // policy domain, exact, case-insensitive
  std::string org;                  // reporting organisation, case-insensitive substring
  int64_t since = std::numeric_limits<int64_t>::min();  // range begin >= since (seconds)
  int64_t until = std::numeric_limits<int64_t>::max();  // range begin < until
  uint64_t limit = 0;               // 0 = no limit; counts reports that match
};

struct DmarcTally {
  uint64_t messages = 0;
  uint64_t dmarc_pass = 0;          // evaluated DKIM or SPF pass
  uint64_t dkim_aligned = 0;        // evaluated DKIM pass
  uint64_t spf_aligned = 0;         // evaluated SPF pass
  uint64_t none = 0;                // disposition none / quarantine / reject, by messages
  uint64_t quarantine = 0;
  uint64_t reject = 0;
  uint64_t reports = 0;             // distinct reports that contributed
};

struct DmarcSummary {
  DmarcTally total;
  // Sorted by messages, most first (ties by name); at most `top` of each when asked.
  std::vector<std::pair<std::string, DmarcTally>> by_source_ip;
  std::vector<std::pair<std::string, DmarcTally>> by_org;
  uint64_t source_ips = 0;  // distinct source IPs, before the `top` cut
  uint64_t orgs = 0;        // distinct organisations, before the `top` cut
  // Reports summed from their records because their rollups are missing or incomplete
  // (reports stored before rollups existed: see BuildRollups).
  uint64_t reports_from_records = 0;
};

// What BuildRollups did.
struct DmarcRollupBuild {
  uint64_t reports = 0;  // reports whose rollups it completed
  uint64_t records = 0;  // records it added to rollups
};

struct DmarcStats {
  uint64_t reports = 0, records = 0, messages = 0, failures = 0, errors = 0, mails = 0;
};

// When a DmarcStore::Bulk commits what joined it. The write transaction (and with it
// LMDB's write lock, which every delivering process waits for) stays open from the
// first write that joins until one of these is reached.
struct DmarcBulkOptions {
  uint64_t max_reports = 200;  // reports, failure reports and ledger errors per commit
  std::chrono::milliseconds max_open{100};  // age of the open transaction
  uint64_t max_bytes = 4u << 20;            // encoded records pending
};

namespace internal {
class DmarcBulkTxn;
}

class DmarcStore {
 public:
  class Bulk;

  // The DMARC side of an open archive. An archive written before DMARC support has no
  // DMARC databases: reads find nothing, the first write creates them.
  explicit DmarcStore(std::shared_ptr<Store> store);

  // Parses the aggregate report in `xml` (streamed, never held whole) and stores it
  // with its records, unless a complete report with the same reporting organisation
  // (case-insensitive) and report id is stored already (kDuplicate, nothing written;
  // found from the metadata, before the records are parsed). Records are written in
  // commits of options.batch_records; nothing of the report is visible to queries
  // before the last, and a failed import deletes what it wrote. An import that died
  // midway is replaced by the next import of the report (which gets a new id).
  // Errors: those of ParseAggregateReport (the report is then not stored: the caller
  // records the error), MapFull, IOError (also when another live process is importing
  // the same report right now), InvalidArgument (read-only archive).
  Result<DmarcImportResult> ImportAggregate(InputSource& xml, const DmarcImportOptions& options,
                                            const DmarcOrigin& origin);

  // Stores a failure report unless the same one is stored (same feedback fields and
  // original headers: kDuplicate).
  Result<DmarcImportResult> ImportFailure(const FailureReport& report, const DmarcOrigin& origin);

  // Adds to the error ledger; idempotent per (carrying mail or file, part, reason).
  Status RecordError(DmarcItemKind kind, const std::string& reason,
                     const DmarcOrigin& origin);

  // Records what processing a report mail produced (replacing an earlier entry).
  Status NoteMail(const DmarcMail& mail);
  // Removes the ledger errors carried by `mail` (before it is processed again).
  Status ForgetErrorsOf(const MessageId& mail);

  // Reports matching `filter`, newest range first. Uses the domain index when a domain
  // is given, the date index otherwise.
  Status ListReports(const DmarcFilter& filter,
                     const std::function<bool(const DmarcReport&)>& visit) const;
  // NotFound for an unknown id (or a report still being imported).
  Result<DmarcReport> GetReport(uint64_t id) const;
  // The records of one report, in report order, from the `first` (0-based; past the
  // last: none). NotFound as GetReport.
  Status ListRecords(uint64_t report_id, const std::function<bool(const AggregateRecord&)>& visit,
                     uint64_t first = 0) const;
  // Per source IP, per reporting organisation and in total, over the records of the
  // reports matching `filter` (domain required by doveadm, not here), with at most `top`
  // source IP and organisation rows (0: all). Organisations are told apart as written.
  // Reads the matching reports and their rollups (dmarc_rollups), and the records only
  // of reports whose rollups are incomplete (counted in reports_from_records). With
  // `top` and one matching report, only its `top` largest sources are read.
  Result<DmarcSummary> Summarize(const DmarcFilter& filter, uint64_t top = 0) const;

  // Completes the rollups of every complete report that lacks them (stored before
  // rollups existed, or by older software), `batch_records` records per write
  // transaction; `progress` is called after each commit and stops the build by
  // returning false (Ok: what was committed stays, the next build goes on from there).
  // Online and resumable: progress is kept in each report's value, in the transaction
  // that adds to its rollups. Errors: MapFull, IOError, Corruption (a record that does
  // not decode), InvalidArgument (read-only archive).
  Result<DmarcRollupBuild> BuildRollups(
      uint64_t batch_records = 20000,
      const std::function<bool(const DmarcRollupBuild&)>& progress = {});

  // Failure reports, newest first; `filter.domain` matches policy_domain, since/until
  // the arrival time (the import time when the report has none); `filter.org` is not
  // used.
  Status ListFailures(const DmarcFilter& filter,
                      const std::function<bool(const DmarcFailure&)>& visit) const;
  // NotFound for an unknown id.
  Result<DmarcFailure> GetFailure(uint64_t id) const;
  // The error ledger, newest first.
  Status ListErrors(const std::function<bool(const DmarcError&)>& visit) const;
  // Report mails seen, in id order.
  Status ListMails(const std::function<bool(const DmarcMail&)>& visit) const;
  // Whether the report mail `mail` was processed already (NoteMail): a delivery of it to
  // another recipient, or a retry, then need not read it again.
  Result<bool> MailNoted(const MessageId& mail) const;

  Result<DmarcStats> GetStats() const;

 private:
  friend class Bulk;
  // A bulk transaction over this archive; null without an archive.
  std::unique_ptr<internal::DmarcBulkTxn> NewBulk(const DmarcBulkOptions& options);

  std::shared_ptr<lmdb::ArchiveEnv> env_;   // the archive's, shared with its Store
  internal::DmarcBulkTxn* bulk_ = nullptr;  // the live Bulk's transaction, if any
};

// Many small writes in one durable commit (`doveadm dmarc import` of many files). While
// a Bulk lives, the store's writes (ImportAggregate of a report that fits in one batch,
// ImportFailure, RecordError, NoteMail, ForgetErrorsOf) join one write transaction
// instead of committing each; their results are final (ids, duplicates: the dedup
// checks run inside that transaction and see its own writes) but durable only once a
// commit covers them: commits() has grown past its value before the write, and
// pending() is false. The Bulk commits by itself when a DmarcBulkOptions threshold is
// reached (checked when a write joins and before an aggregate report is parsed), and
// before a report larger than one batch, which is then imported as without a Bulk.
// A failed write or commit aborts everything not committed yet and is returned by that
// call; every later call through the Bulk then fails with the same reason (a caller
// never sees a later write succeed after earlier ones were lost).
// Queries do not see writes before their commit. One thread; no other write to the
// archive (Store or another DmarcStore) from this thread while writes are pending: it
// would wait for the lock this thread holds. Not nested: one Bulk per DmarcStore,
// which must outlive it.
class DmarcStore::Bulk {
 public:
  explicit Bulk(DmarcStore& store, DmarcBulkOptions options = {});
  // Aborts what is not committed: call Commit first to keep it.
  ~Bulk();
  Bulk(const Bulk&) = delete;
  Bulk& operator=(const Bulk&) = delete;

  // Commits what joined (Ok when nothing did). Errors: MapFull, IOError, or the failure
  // that aborted this Bulk earlier.
  Status Commit();
  // Commits when a threshold of DmarcBulkOptions is reached; Ok otherwise.
  Status CommitIfDue();
  // Whether writes are waiting for a commit.
  bool pending() const;
  // Commits made so far (each covers every write that joined before it).
  uint64_t commits() const;

 private:
  DmarcStore& store_;
  std::unique_ptr<internal::DmarcBulkTxn> txn_;
};

}  // namespace archiver
