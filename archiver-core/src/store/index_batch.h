// Batched filing of deliveries in idx_rcpt, idx_from, idx_user, idx_mailbox and idx_subject
// (docs/store-format.md, "Batched index entries"). A delivery's write appends its delivery
// key to the meta value `unindexed`; the write that makes that list kIndexBatch long files
// every listed delivery in the five indexes and empties it. Their keys are few and hot
// (recipients, senders, users, mailboxes, subject words), so a batch rewrites about as many
// of their pages as one delivery did: a delivery's commit writes five B-trees fewer.
// Readers that use these indexes add the listed deliveries that match (UnindexedMatches):
// the list is short and in one page.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "archiver/store/store.h"
#include "store/content_indexes.h"
#include "store/index_keys.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver::internal {

inline constexpr size_t kIndexBatch = 32;
inline constexpr std::string_view kUnindexedKey = "unindexed";

// The archive format that may hold an `unindexed` list (older software would miss those
// deliveries in filtered listings, so it must refuse such an archive).
inline constexpr uint64_t kBatchedIndexFormat = 2;

// The delivery keys of `unindexed`, oldest first; empty when absent. Corruption when
// its length is not a multiple of the key size; `keys` then holds its complete keys all
// the same (the writes and the listings go on with those; the next write repairs it).
Status ReadUnindexed(const lmdb::Txn& txn, const OpenArchive& archive,
                     std::vector<record::DeliveryKeyBytes>* keys);

// The entries `record` has in idx_rcpt, idx_from and idx_user, and with `content` (not
// null) in idx_mailbox and idx_subject: visit(dbi, database name, key) for each, the key
// not yet cut to LMDB's limit. Stops at the first error.
Status ForEachBatchedEntry(const Databases& db, const ContentIndexes* content,
                           const DeliveryRecord& record, const IndexEntryVisitor& visit);

// In the write transaction that has just put the deliveries value of `record` under
// `delivery_key`: lists it in `unindexed`, and files the whole list when it is full.
// Listed deliveries this software cannot decode (a newer record version) stay listed;
// listed keys without a delivery are dropped. Raises an older archive's format_version to
// record::kFormatVersion first (older writers would file no content entries). The
// content indexes must be open (OpenContentIndexes). Failures are described as `what`.
Status DeferIndexing(OpenArchive& archive, lmdb::Txn& txn, const DeliveryRecord& record,
                     std::string_view delivery_key, std::string_view what);

// Raises an older archive's format_version to record::kFormatVersion in `txn` (a newer one
// is left as it is).
Status RaiseFormatVersion(const OpenArchive& archive, lmdb::Txn& txn);

// The deliveries of `unindexed` that `filter` matches, newest first, read in `txn`.
// `keys` receives every listed key (matching or not), so that an index walk in a later
// transaction can skip those that were filed meanwhile.
Status UnindexedMatches(const lmdb::Txn& txn, const OpenArchive& archive,
                        const DeliveryReader& reader, const index::PreparedFilter& filter,
                        std::vector<Delivery>* matches, std::unordered_set<std::string>* keys);

}  // namespace archiver::internal
