// Store: the LMDB archive. One stored, compressed copy per distinct message (keyed by
// its SHA-256) and one index record per delivery of it, with secondary indexes for
// listing by time, sender, recipient, user and message. Format: docs/store-format.md.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/archive_access.h"
#include "archiver/archive_options.h"
#include "archiver/digest.h"
#include "archiver/header_summary.h"
#include "archiver/status.h"

namespace archiver {

namespace lmdb {
class ArchiveEnv;  // the archive's LMDB environment (private to the core)
}

// One delivery of a message: who got it where and when. Everything here is stored
// with the delivery, not with the message, so one message may have many of these.
struct DeliveryRecord {
  MessageId id{};              // the message (filled in by Archive)
  uint64_t received_us = 0;    // delivery time, microseconds since the epoch, UTC
                               // (0: Archive and AddDelivery use the current time)
  std::string origin;          // how it reached the archive: "lmtp", "lda", "append",
                               // "imap" (a remote source), or the name of the Dovecot
                               // service that saved it. Open-ended text (a service name),
                               // so a string, not an enum: readers only print it.
  std::string envelope_from;   // MAIL FROM as given ("" for the null sender)
  std::string envelope_to;     // RCPT TO as given, +detail kept
  std::string user;            // the Dovecot user it was delivered to
  std::string mailbox;         // the mailbox it was saved in (vname)
  HeaderSummary headers;       // summary of the message's headers
  uint64_t size = 0;           // size of the message in bytes (trace prefix excluded)
  std::string trace_prefix;    // trace headers Dovecot prepended for this delivery
  // A message imported from a remote IMAP source (origin "imap"); empty/0 otherwise.
  std::string source;          // the source's name (kept after the source is removed)
  std::string folder;          // the remote folder
  uint32_t uidvalidity = 0;    // the folder's UIDVALIDITY when it was imported
  uint32_t uid = 0;            // its UID under that UIDVALIDITY
  uint64_t internal_date_us = 0;  // IMAP INTERNALDATE, microseconds since the epoch
  std::string flags;           // IMAP flags when it was fetched, space-separated
};

// The key of a delivery: time first so that key order is time order.
struct DeliveryKey {
  uint64_t received_us = 0;
  uint64_t sequence = 0;       // unique within the archive
  // Time order, which is also the byte order of the encoded key.
  auto operator<=>(const DeliveryKey&) const = default;
};

struct Delivery {
  DeliveryKey key;
  DeliveryRecord record;
};

struct MessageInfo {
  MessageId id{};
  uint64_t raw_size = 0;       // bytes of the message
  uint64_t stored_size = 0;    // bytes of its stored record (header + payload)
  std::string codec;           // "zlib" or "none"
  uint32_t format_version = 0;
};

enum class ArchiveOutcome {
  kStored,           // a new message and a new delivery were written
  kDeduplicated,     // the message was already stored; a new delivery was written
  kAlreadyArchived,  // this (message, recipient, mailbox) delivery already existed
};

struct ListFilter {
  uint64_t since_us = 0;          // inclusive; 0 = no lower bound
  uint64_t until_us = UINT64_MAX; // exclusive
  std::string from;               // envelope sender or header From address (case-insensitive)
  std::string rcpt;               // envelope recipient; "a@b" also matches "a+x@b"
  std::string user;               // Dovecot user, exact
  std::string mailbox;            // mailbox, exact
  std::string subject;            // case-insensitive substring of the decoded subject
  std::string source;             // remote source name, exact (through idx_source)
  uint64_t limit = 0;             // 0 = no limit
  // false: record.headers may be left empty unless `from` or `subject` needs them (no
  // lookup of each message's header summary: for walks that do not show them, as export).
  bool headers = true;
};

struct StoreStats {
  uint64_t messages = 0;          // distinct stored messages
  uint64_t deliveries = 0;        // delivery records
  uint64_t raw_bytes = 0;         // sum of distinct messages' sizes
  uint64_t stored_bytes = 0;      // sum of their stored record sizes
  uint64_t delivered_bytes = 0;   // sum over deliveries of the message size
  uint64_t map_size = 0;          // configured LMDB map size
  uint64_t map_used = 0;          // bytes of the map in use (pages × page size)
};

// One meta counter as Store::RepairCounters found and left it.
struct CounterRepair {
  std::string name;          // "messages", "deliveries", "raw_bytes", "stored_bytes",
                             // "delivered_bytes", "next_sequence"
  bool was_damaged = false;  // its stored value could not be read (then before = 0)
  uint64_t before = 0;
  uint64_t after = 0;        // what the archive holds; rewritten when it differs
};

struct VerifyReport {
  uint64_t messages_checked = 0;
  uint64_t deliveries_checked = 0;
  // One entry per damaged item: the message id and why (Corruption, or NotFound for a
  // delivery whose message is missing).
  std::vector<std::pair<MessageId, Status>> damaged;
  // VerifyOptions::stop said so: what was checked until then is above, the rest was not
  // checked (nor the counters).
  bool interrupted = false;
};

// Where a running Verify stands, for VerifyOptions::progress.
struct VerifyProgress {
  const char* phase = "";  // "listing messages", "messages", "deliveries", "counters"
  uint64_t done = 0;       // entries of this phase checked so far
  uint64_t total = 0;      // entries the phase expects (from the counters; 0: unknown)
};

struct VerifyOptions {
  // Asked between entries: true stops verify, which returns what it found so far with
  // `interrupted` set. Empty: never stops.
  std::function<bool()> stop;
  // Called at the start of each phase and about every `progress_interval_ms` within it
  // (from the calling thread). Empty: no progress.
  std::function<void(const VerifyProgress&)> progress;
  uint64_t progress_interval_ms = 500;
  // Entries read per read transaction: between two, writers may reuse the pages freed
  // meanwhile (one transaction for the whole run would pin them).
  uint64_t entries_per_transaction = 512;
};

// What Store::ListDistinctMessages hands out: a message's newest matching delivery.
using DeliveryVisitor = std::function<bool(const Delivery&)>;

// What one Store::ReindexStep did.
struct ReindexProgress {
  uint64_t filed = 0;     // deliveries this step filed
  bool complete = false;  // every delivery is filed: --mailbox and --subject use the indexes
};

// What one Store::CompactRecordsStep did.
struct CompactProgress {
  uint64_t visited = 0;    // deliveries this step read
  uint64_t rewritten = 0;  // of them, records rewritten in the compact form
  bool complete = false;   // every record is compact (written by format 4 software)
};

// One delivery of a group (Store::ArchiveGroup): the message, its record, and what
// became of it.
struct GroupDelivery {
  std::string_view message;
  DeliveryRecord record;
  bool id_known = false;  // record.id is the message's id already (see Store::Archive)
  Result<ArchiveOutcome> outcome = Status::IOError("not archived");  // set by ArchiveGroup
};

class Store {
 public:
  // Opens (or creates) the archive at options.path. An archive is opened once per
  // process and path: a second Open of the same path returns the same Store, so
  // callers may simply call Open whenever they need it. Errors: IOError (permissions,
  // not a directory), NotFound (missing and !create_if_missing), Corruption (not an
  // archive or an unknown newer format).
  // The first Open of a path decides map size, compression and sync for the process; a
  // writable Open while it is open read-only is InvalidArgument. After fork() the child
  // must not use a Store opened by its parent: Open in the child opens its own.
  static Result<std::shared_ptr<Store>> Open(const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  // Whose the archive directory is (what root acted as while opening it).
  const ArchiveOwner& owner() const;
  // The archive's environment, which DmarcStore and SourceRegistry share with this Store
  // (their constructors take it from here); opaque outside the core.
  const std::shared_ptr<lmdb::ArchiveEnv>& environment() const;

  // Ok while path()/data.mdb is still the file this Store opened. An admin may move,
  // replace or remove the archive while processes keep it open; they must then not write
  // to the moved-away files: NotFound (nothing there now) or IOError (another file),
  // after which the caller drops this Store and opens the path again. A stat and an fstat.
  Status StillAtPath() const;

  // Stores `message` (unless a message with the same SHA-256 is stored already) and
  // one delivery record, in one transaction. Idempotent per (message id, user,
  // envelope_to, mailbox), or per (message id, source, folder) when record.source is set:
  // a repeated call returns kAlreadyArchived and writes nothing. `record.id` and
  // `record.size` are filled in from `message`. `id_out`, if not null, receives the id.
  // `known_id`, if not null, is `message`'s id from an earlier Archive of the same bytes
  // (a later recipient of one transaction): trusted, not hashed again.
  // Errors: LimitExceeded (the message can never be archived: over 4 GiB, or larger once
  // stored than the whole map), MapFull (no room left now), IOError, InvalidArgument
  // (read-only store).
  Result<ArchiveOutcome> Archive(std::string_view message, DeliveryRecord record,
                                 MessageId* id_out = nullptr, const MessageId* known_id = nullptr);

  // Archives several deliveries in ONE write transaction: one commit and, with sync, one
  // flush for all of them (group commit). Each is archived as by Archive (record.id,
  // record.size and a zero received_us filled in; dedup, also within the group;
  // idempotency) and gets its own outcome; one over the size limit or larger than the
  // map gets LimitExceeded and the others are written. When the transaction fails (MapFull, IOError;
  // InvalidArgument for a read-only store) nothing is written: that error is returned
  // and is every other delivery's outcome. Archive is a group of one.
  Status ArchiveGroup(std::span<GroupDelivery> deliveries);

  // Adds a delivery of a message that is already stored (record.id names it), with the
  // same idempotency as Archive. NotFound when the message is not stored.
  Result<ArchiveOutcome> AddDelivery(const DeliveryRecord& record);

  // Visits deliveries that match `filter`, newest first, until the visitor returns
  // false or `filter.limit` rows were visited. Uses the index with the fewest candidates
  // among those the filter names (rcpt, from, user, source, mailbox, a word of the
  // subject), else time; the remaining conditions are checked per record. Mailbox and
  // subject use their indexes only once they are complete (ReindexStep).
  Status ListDeliveries(const ListFilter& filter,
                        const std::function<bool(const Delivery&)>& visit) const;

  // All deliveries of one message, oldest first.
  Result<std::vector<Delivery>> DeliveriesOf(const MessageId& id) const;

  // The id of the one stored message whose hex id starts with `hex_prefix`.
  // InvalidArgument (not hex), NotFound (none), Ambiguous (several).
  Result<MessageId> ResolvePrefix(std::string_view hex_prefix) const;

  Result<MessageInfo> GetInfo(const MessageId& id) const;

  // The message bytes, re-hashed: Corruption (naming the id) if they do not match.
  Result<std::string> ReadMessage(const MessageId& id) const;

  Result<StoreStats> GetStats() const;

  // Visits each distinct message that has a delivery matching `filter` once, with its
  // newest matching delivery, oldest first (by that delivery), until the visitor returns
  // false: what ListDeliveries lists, deduplicated by message and reversed. `filter.limit`
  // bounds the deliveries considered (the newest `limit` matches), not the messages.
  // Memory stays bounded whatever the archive's size (deliveries are read in windows of
  // time, a few thousand at a time); deliveries made after the call began are not seen.
  // The deliveries handed out have no header summary (record.headers empty).
  Status ListDistinctMessages(const ListFilter& filter, const DeliveryVisitor& visit) const;

  // Re-reads and re-hashes every stored message (in the order they lie on disk, with
  // read-ahead), checks that every delivery decodes, names a stored message and is filed
  // in its indexes, and that the statistics counters match; in short read transactions
  // (options.entries_per_transaction), so writers go on meanwhile: what is added
  // meanwhile may not be checked, what is removed is not reported. A non-OK Status means
  // verification itself could not run.
  Result<VerifyReport> Verify(const VerifyOptions& options = {}) const;

  // One step of the backfill of idx_mailbox and idx_subject in an archive written before
  // they existed (format 2 or older): files up to `max_deliveries` deliveries, oldest
  // first, from where the last step stopped (meta content_reindex_position), in one short
  // write transaction, and marks the indexes complete with the last one. Online and
  // resumable: deliveries go on meanwhile, and an interrupted backfill resumes. Filed 0
  // and complete when they are complete already. Errors: InvalidArgument (read-only
  // store, max_deliveries 0), IOError, MapFull.
  Result<ReindexProgress> ReindexStep(size_t max_deliveries);

  // One step of the resumable rewrite of an archive's older delivery records (versions 1
  // and 2, written before format 4) in the compact form: each message's header summary
  // moves to msg_headers (once per message; a message that has one keeps it), the trace
  // is packed. Reads up to `max_deliveries` from where the last step stopped (meta
  // `compact_position`), in one write transaction; the last step marks every record
  // compact (meta `records_compact`). Online and resumable like ReindexStep; nothing an
  // operation shows changes. The archive file does not shrink: LMDB reuses the pages freed.
  // Errors: InvalidArgument (read-only store, max_deliveries 0), IOError, MapFull.
  Result<CompactProgress> CompactRecordsStep(size_t max_deliveries);

  // Recounts the statistics counters (and the next delivery sequence, never lowered) from
  // the messages and deliveries the archive holds, and rewrites those that are damaged or
  // differ, in one write transaction: deliveries wait for it (it reads every message
  // header and delivery record). Returns every
  // counter, before and after. Errors: InvalidArgument (read-only store), IOError, MapFull.
  Result<std::vector<CounterRepair>> RepairCounters();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Human-readable size, "1.5 MiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace archiver
