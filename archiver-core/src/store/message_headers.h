// msg_headers (docs/store-format.md, "msg_headers"; format 4): the header summary of each
// stored message (From, To, Cc, Subject, Date, Message-ID), kept once per message rather
// than in each of its delivery records. A record of version 3 holds none: DeliveryReader
// reads a delivery with its message's summary, whatever the record's version. Archives
// written before format 4 lack the database: writers create it, readers open it when
// present (a version 3 record without it is Corruption).
#pragma once

#include <lmdb.h>

#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/archive_env.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver::internal {

inline constexpr const char* kMessageHeadersDb = "msg_headers";  // message id -> summary
struct MessageHeadersDb {
  MDB_dbi msg_headers = 0;
};

// Meta "records_compact" (8 bytes, 1): every delivery record is of version 3 (written since
// the archive was made by format 4 software, or rewritten by Store::CompactRecordsStep).
// Meta "compact_position" (a delivery key): CompactRecordsStep has rewritten every record
// below it.
inline constexpr std::string_view kRecordsCompactKey = "records_compact";
inline constexpr std::string_view kCompactPositionKey = "compact_position";
// Whether meta says so; a damaged marker counts as none.
Result<bool> RecordsCompact(const lmdb::Txn& txn, MDB_dbi meta);
// Marks it (a new archive's first transaction, the rewrite's last step).
Status MarkRecordsCompact(lmdb::Txn& txn, MDB_dbi meta);

// The database of `env`, created when `write` and missing (InvalidArgument for a read-only
// archive). Null (Ok) when missing and !write: no software of format 4 wrote yet.
Result<const MessageHeadersDb*> OpenMessageHeaders(lmdb::ArchiveEnv& env, bool write);

// Stores `headers` as the summary of message `id` unless it has one already; with
// `message_is_new` (stored in this transaction: it has none) without looking. Errors are
// described as `what`.
Status PutMessageHeaders(lmdb::Txn& txn, const MessageHeadersDb& db, const MessageId& id,
                         const HeaderSummary& headers, std::string_view what,
                         bool message_is_new = false);

// Reads deliveries values with the header summary of their message.
class DeliveryReader {
 public:
  // Looks up (or opens) msg_headers: make it before the transactions it reads in begin.
  explicit DeliveryReader(const OpenArchive& archive);
  // Decodes `value` (record::DecodeDelivery) and, for a version 3 record, reads its
  // message's summary into record->headers. Corruption when the record is damaged, or
  // its summary missing or damaged.
  // With !with_headers, a version 3 record's summary is not read (record->headers empty).
  Status Load(const lmdb::Txn& txn, std::string_view value, DeliveryRecord* record,
              record::TraceDecoding trace = record::TraceDecoding::kExpand,
              bool with_headers = true) const;
  // The summary of message `id` from msg_headers: Corruption when missing or damaged.
  Status Headers(const lmdb::Txn& txn, const MessageId& id, HeaderSummary* headers) const;

 private:
  const MessageHeadersDb* db_ = nullptr;  // null: the archive has none
};

}  // namespace archiver::internal
