// The state behind a Store: its LMDB environment and database handles, shared by the
// files that implement Store (store.cc, store_write.cc, store_query.cc, store_verify.cc).
#pragma once

#include <lmdb.h>
#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/lmdb_handles.h"
#include "store/record.h"

namespace archiver::internal {

// Names of the named LMDB databases (docs/store-format.md).
inline constexpr const char* kMetaDb = "meta";
inline constexpr const char* kMessagesDb = "messages";
inline constexpr const char* kDeliveriesDb = "deliveries";
inline constexpr const char* kDeliveryKeysDb = "delivery_keys";
inline constexpr const char* kRcptIndexDb = "idx_rcpt";
inline constexpr const char* kFromIndexDb = "idx_from";
inline constexpr const char* kUserIndexDb = "idx_user";
inline constexpr const char* kMessageIndexDb = "idx_message";

// Keys of the meta database; values are 8-byte big-endian integers.
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kNextSequenceKey = "next_sequence";
inline constexpr std::string_view kMessagesCounter = "messages";
inline constexpr std::string_view kDeliveriesCounter = "deliveries";
inline constexpr std::string_view kRawBytesCounter = "raw_bytes";
inline constexpr std::string_view kStoredBytesCounter = "stored_bytes";
inline constexpr std::string_view kDeliveredBytesCounter = "delivered_bytes";

struct Databases {
  MDB_dbi meta = 0;
  MDB_dbi messages = 0;
  MDB_dbi deliveries = 0;
  MDB_dbi delivery_keys = 0;
  MDB_dbi idx_rcpt = 0;
  MDB_dbi idx_from = 0;
  MDB_dbi idx_user = 0;
  MDB_dbi idx_message = 0;
};

// The DMARC databases (docs/store-format.md, "DMARC"). Archives written before DMARC
// support have none of them, so DmarcStore opens them on first use, not Store::Open.
struct DmarcDatabases {
  MDB_dbi meta = 0;
  MDB_dbi reports = 0;
  MDB_dbi report_keys = 0;
  MDB_dbi records = 0;
  MDB_dbi idx_domain = 0;
  MDB_dbi idx_date = 0;
  MDB_dbi failures = 0;
  MDB_dbi failure_keys = 0;
  MDB_dbi failure_domain = 0;
  MDB_dbi failure_date = 0;
  MDB_dbi errors = 0;
  MDB_dbi error_keys = 0;
  MDB_dbi error_mails = 0;
  MDB_dbi mails = 0;
};

// The databases of remote sources and idx_source (docs/store-format.md, "Sources"),
// opened on first use like the DMARC ones (sources_db.h).
struct SourceDatabases {
  MDB_dbi config = 0;
  MDB_dbi status = 0;
  MDB_dbi folders = 0;
  MDB_dbi log = 0;
  MDB_dbi secrets = 0;
  MDB_dbi idx_source = 0;
};

struct OpenArchive {
  StoreOptions options;  // options.path is the canonical path
  ArchiveOwner owner;    // whose the directory is (archive_access.h)
  lmdb::EnvContext env_context;  // before env: it must outlive the environment
  lmdb::Env env;
  Databases db;
  size_t max_key_size = 511;
  pid_t pid = 0;  // the process that opened env; another one must not use it
  std::mutex dmarc_mutex;             // serialises opening the DMARC databases
  std::atomic<bool> dmarc_open{false};  // dmarc holds valid handles
  DmarcDatabases dmarc;
  std::mutex sources_mutex;             // serialises opening the source databases
  std::atomic<bool> sources_open{false};  // sources holds valid handles
  SourceDatabases sources;
};

// A meta counter, 0 when absent. Corruption when its value is not 8 bytes.
Status ReadCounter(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t* value);

// What the statistics counters should say, counted from the archive itself. A message or
// delivery that cannot be decoded counts, with size 0 (verify reports it).
struct ArchiveCounts {
  uint64_t messages = 0;
  uint64_t deliveries = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t delivered_bytes = 0;
  uint64_t next_sequence = 1;  // past the highest delivery sequence
};
// Reads every message header and delivery record in `txn`.
Status CountArchive(const lmdb::Txn& txn, const OpenArchive& archive, ArchiveCounts* counts);
// The five statistics counters of `counts`, by their meta names.
struct CountedValue {
  std::string_view name;
  uint64_t value;
};
std::vector<CountedValue> CountedValues(const ArchiveCounts& counts);

// Copies the message stored in messages value `value` into `out` (decompressing it)
// without checking its hash. Corruption when the value is malformed.
Status DecodeStoredMessage(std::string_view value, std::string* out);

// A message's stored form, prepared outside the write transaction (compression is the
// slow part, and LMDB's write lock is shared). `raw` is borrowed.
struct PreparedMessage {
  std::string_view raw;
  record::Codec codec = record::Codec::kNone;
  std::string compressed;  // the zlib stream when codec is kZlib
  std::string_view bytes() const {
    return codec == record::Codec::kZlib ? std::string_view(compressed) : raw;
  }
};
// Compresses `raw` at zlib `level` (0, or no gain: stored as is).
PreparedMessage PrepareMessage(std::string_view raw, int level);

// In the write transaction `txn`: adds the delivery `record` (record.id names the
// message) unless its idempotency key exists (*outcome = kAlreadyArchived, nothing
// written), storing the message first when it is missing. When it is missing and
// `message` is null: *need_message = true and nothing is written. Fills record.size from
// the stored message. Files it in idx_message at once, in idx_rcpt / idx_from / idx_user
// in batches (index_batch.h), and in idx_source when record.source is set (the source
// databases must be open: OpenSourcesForWrite). Errors leave `txn` to be aborted.
Status WriteDeliveryIn(OpenArchive& archive, lmdb::Txn& txn, DeliveryRecord& record,
                       const PreparedMessage* message, ArchiveOutcome* outcome,
                       bool* need_message);

// "message <hex>: <what>", keeping `status`'s category.
Status AboutMessage(const MessageId& id, const Status& status);

}  // namespace archiver::internal

namespace archiver {
struct Store::Impl {
  internal::OpenArchive archive;
};
}  // namespace archiver
