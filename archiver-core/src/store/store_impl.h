// The state behind a Store: its share of the archive's environment (lmdb/archive_env.h)
// and its database handles, used by the files that implement Store (store.cc,
// store_write.cc, store_query.cc, store_list.cc, store_verify.cc, store_counters.cc).
#pragma once

#include <lmdb.h>

#include <memory>
#include <string>
#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/archive_env.h"
#include "lmdb/lmdb_handles.h"
#include "store/archive_writer.h"
#include "store/meta_counter.h"
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

// The store's view of its archive: the shared environment and the store's databases,
// which Store::Open has opened (OpenStoreDatabases) before any OpenArchive is made.
struct OpenArchive {
  explicit OpenArchive(std::shared_ptr<lmdb::ArchiveEnv> environment)
      : shared(std::move(environment)),
        env(*shared),
        options(shared->options()),
        max_key_size(shared->max_key_size()),
        db(shared->OpenedGroup<Databases>()) {}
  std::shared_ptr<lmdb::ArchiveEnv> shared;
  lmdb::ArchiveEnv& env;        // env.get() is the MDB_env
  const StoreOptions& options;  // options.path is the canonical path
  size_t max_key_size;
  Databases db;
};

// Opens (creating them when the environment is writable) the store's databases in
// `env` and checks the archive's format. NotFound "no archive at PATH" when a read-only
// environment has none; Corruption when they are not an archive's or of a newer format.
Status OpenStoreDatabases(lmdb::ArchiveEnv& env);

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
// Counts one messages value, or one delivery (`record`: null when it does not decode).
void CountMessage(std::string_view value, ArchiveCounts* counts);
void CountDelivery(std::string_view key, const DeliveryRecord* record, ArchiveCounts* counts);
// Reads every message header and delivery record in `txn`.
Status CountArchive(const lmdb::Txn& txn, const OpenArchive& archive, ArchiveCounts* counts);
// The five statistics counters of `counts`, by their meta names.
struct CountedValue {
  std::string_view name;
  uint64_t value;
};
std::vector<CountedValue> CountedValues(const ArchiveCounts& counts);

// The 32 bytes of `id` as a key.
inline std::string_view IdBytes(const MessageId& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

// "message <hex>: <what>", keeping `status`'s category.
Status AboutMessage(const MessageId& id, const Status& status);

}  // namespace archiver::internal

namespace archiver {
struct Store::Impl {
  explicit Impl(std::shared_ptr<lmdb::ArchiveEnv> environment) : archive(std::move(environment)) {}
  internal::OpenArchive archive;
};
}  // namespace archiver
