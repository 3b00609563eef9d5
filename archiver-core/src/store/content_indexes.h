// idx_mailbox and idx_subject (docs/store-format.md, "idx_mailbox and idx_subject"): the
// deliveries of each mailbox and of each subject word, filed in the delivery's write
// transaction (in the batches of index_batch.h), so that `--mailbox` and `--subject`
// never decode every record. Archives written before format 3 lack them: they are opened
// on first use, and the listings use them only once meta `content_indexed` says every
// delivery is filed — what Store::ReindexStep, resumable, brings about.
#pragma once

#include <lmdb.h>

#include <functional>
#include <string>
#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/archive_env.h"
#include "store/store_impl.h"

namespace archiver::internal {

inline constexpr const char* kMailboxIndexDb = "idx_mailbox";  // mailbox -> delivery keys
inline constexpr const char* kSubjectIndexDb = "idx_subject";  // word -> delivery keys
struct ContentIndexes {
  MDB_dbi idx_mailbox = 0;
  MDB_dbi idx_subject = 0;
};

// Meta "content_indexed" (8 bytes, 1): every delivery is filed in both (or listed in
// `unindexed`). Meta "content_reindex_position" (a delivery key): ReindexStep has filed
// every delivery below it.
inline constexpr std::string_view kContentIndexedKey = "content_indexed";
inline constexpr std::string_view kReindexPositionKey = "content_reindex_position";

// The two of `env`, created when `write` and missing (InvalidArgument for a read-only
// archive). Null (Ok) when missing and !write: no software of format 3 wrote yet.
Result<const ContentIndexes*> OpenContentIndexes(lmdb::ArchiveEnv& env, bool write);

// Whether meta says every delivery is filed in them (or listed in `unindexed`), read in
// `txn`. A damaged marker counts as none (verify reports it): the filters they serve then
// read every record. Open them (OpenContentIndexes) before `txn` begins.
Result<bool> ContentIndexesComplete(const lmdb::Txn& txn, MDB_dbi meta);

// Marks them complete in a new archive's first transaction (nothing to file).
Status MarkContentIndexed(lmdb::Txn& txn, MDB_dbi meta);

// What a delivery is filed under: visit(dbi, database name, key), the key not yet cut to
// LMDB's limit. Stops at the first error, which it returns.
using IndexEntryVisitor = std::function<Status(MDB_dbi dbi, const char* database, std::string key)>;

// The entries `record` has in them: its mailbox (when not empty) in idx_mailbox, each of
// index::SubjectWords of its subject in idx_subject.
Status ForEachContentEntry(const ContentIndexes& indexes, const DeliveryRecord& record,
                           const IndexEntryVisitor& visit);

}  // namespace archiver::internal
