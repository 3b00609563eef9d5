// Batched filing in idx_rcpt, idx_from, idx_user, idx_mailbox and idx_subject (index_batch.h).
#include "store/index_batch.h"

#include <algorithm>
#include <cstring>

#include "lmdb/lmdb_entries.h"
#include "store/message_headers.h"

namespace archiver::internal {
namespace {

static_assert(kBatchedIndexFormat <= record::kFormatVersion);

using record::kDeliveryKeySize;

// A copy (a later put into meta in the same write transaction may move the value) of
// its complete keys. Corruption when its length is not a multiple of the key size: the
// incomplete tail is left out, and `listed` holds the rest all the same.
Status ListedValue(const lmdb::Txn& txn, const OpenArchive& archive, std::string* listed) {
  std::string_view stored;
  Status found = txn.Get(archive.db.meta, kUnindexedKey, &stored);
  if (found.code() == Status::Code::kNotFound)
    stored = {};
  else if (!found.ok())
    return found;
  listed->assign(stored.substr(0, stored.size() - stored.size() % kDeliveryKeySize));
  if (stored.size() % kDeliveryKeySize != 0) {
    return Status::Corruption("meta '" + std::string(kUnindexedKey) + "' is " +
                              std::to_string(stored.size()) +
                              " bytes, not a list of delivery keys");
  }
  return Status::Ok();
}

// Files one delivery under its keys in the five batched indexes.
Status FileInIndexes(OpenArchive& archive, lmdb::Txn& txn, const DeliveryRecord& record,
                     std::string_view delivery_key, std::string_view what) {
  const auto* content = archive.env.FindGroup<ContentIndexes>();
  if (content == nullptr) return Status::Internal("the content indexes are not open");  // a bug
  return ForEachBatchedEntry(
      archive.db, content, record, [&](MDB_dbi dbi, const char*, std::string key) {
        return PutEntry(txn, dbi, index::FitKey(key, archive.max_key_size), delivery_key, what);
      });
}

// Files every delivery of `listed`, and leaves in *kept those this software cannot decode
// (a newer version's record: that version files them). A key without a delivery is
// dropped.
Status FileListed(OpenArchive& archive, lmdb::Txn& txn, const std::string& listed,
                  std::string_view what, std::string* kept) {
  const DeliveryReader reader(archive);  // msg_headers is open: the writer opened it
  for (size_t at = 0; at < listed.size(); at += kDeliveryKeySize) {
    const std::string_view key = std::string_view(listed).substr(at, kDeliveryKeySize);
    std::string_view stored;
    Status found = txn.Get(archive.db.deliveries, key, &stored);
    if (found.code() == Status::Code::kNotFound) continue;
    if (!found.ok()) return found;
    DeliveryRecord record;
    if (!reader.Load(txn, stored, &record, record::TraceDecoding::kSkip).ok()) {
      kept->append(key);
      continue;
    }
    if (Status filed = FileInIndexes(archive, txn, record, key, what); !filed.ok()) return filed;
  }
  return Status::Ok();
}

}  // namespace

Status ForEachBatchedEntry(const Databases& db, const ContentIndexes* content,
                           const DeliveryRecord& record, const IndexEntryVisitor& visit) {
  for (std::string& rcpt : index::RcptKeys(record)) {
    if (Status visited = visit(db.idx_rcpt, kRcptIndexDb, std::move(rcpt)); !visited.ok())
      return visited;
  }
  for (std::string& from : index::FromKeys(record)) {
    if (Status visited = visit(db.idx_from, kFromIndexDb, std::move(from)); !visited.ok())
      return visited;
  }
  if (!record.user.empty()) {
    if (Status visited = visit(db.idx_user, kUserIndexDb, record.user); !visited.ok())
      return visited;
  }
  if (content == nullptr) return Status::Ok();
  return ForEachContentEntry(*content, record, visit);
}

// Before a write lists its first delivery: a writer of format 1 would miss `unindexed`, one
// of format 2 the content indexes.
Status RaiseFormatVersion(const OpenArchive& archive, lmdb::Txn& txn) {
  uint64_t version = 0;
  Status read = ReadCounter(txn, archive.db.meta, kFormatVersionKey, &version);
  if (!read.ok() || version >= record::kFormatVersion) return read;
  std::array<char, 8> raised = record::EncodeCounter(record::kFormatVersion);
  return txn.Put(archive.db.meta, kFormatVersionKey, {raised.data(), raised.size()}, 0);
}

Status ReadUnindexed(const lmdb::Txn& txn, const OpenArchive& archive,
                     std::vector<record::DeliveryKeyBytes>* keys) {
  std::string listed;
  Status read = ListedValue(txn, archive, &listed);
  if (!read.ok() && read.code() != Status::Code::kCorruption) return read;
  keys->clear();
  for (size_t at = 0; at < listed.size(); at += kDeliveryKeySize) {
    record::DeliveryKeyBytes& key = keys->emplace_back();
    std::memcpy(key.data(), listed.data() + at, kDeliveryKeySize);
  }
  return read;
}

Status DeferIndexing(OpenArchive& archive, lmdb::Txn& txn, const DeliveryRecord& record,
                     std::string_view delivery_key, std::string_view what) {
  std::string listed;
  Status read = ListedValue(txn, archive, &listed);
  // A damaged list must not stop archiving: its complete keys go on, rewritten below.
  if (!read.ok() && read.code() != Status::Code::kCorruption) return read;
  if (listed.empty()) {
    if (Status raised = RaiseFormatVersion(archive, txn); !raised.ok()) return raised;
  }
  if (listed.size() / kDeliveryKeySize + 1 < kIndexBatch) {
    listed.append(delivery_key);
    return PutEntry(txn, archive.db.meta, kUnindexedKey, listed, what);
  }
  std::string kept;
  Status filed = FileListed(archive, txn, listed, what, &kept);
  if (filed.ok()) filed = FileInIndexes(archive, txn, record, delivery_key, what);
  if (!filed.ok()) return filed;
  if (kept.empty()) return DeleteEntry(txn, archive.db.meta, kUnindexedKey);
  return PutEntry(txn, archive.db.meta, kUnindexedKey, kept, what);
}

Status UnindexedMatches(const lmdb::Txn& txn, const OpenArchive& archive,
                        const DeliveryReader& reader, const index::PreparedFilter& filter,
                        std::vector<Delivery>* matches, std::unordered_set<std::string>* keys) {
  std::vector<record::DeliveryKeyBytes> listed;
  Status read = ReadUnindexed(txn, archive, &listed);
  if (!read.ok() && read.code() != Status::Code::kCorruption) return read;  // Verify reports it
  for (const record::DeliveryKeyBytes& bytes : listed) {
    const std::string_view key(bytes.data(), bytes.size());
    if (!keys->emplace(key).second) continue;  // listed twice: Verify reports it
    Delivery delivery;
    std::string_view stored;
    if (!record::DecodeDeliveryKey(key, &delivery.key) ||
        !txn.Get(archive.db.deliveries, key, &stored).ok() ||
        !reader
             .Load(txn, stored, &delivery.record, record::TraceDecoding::kSkip, filter.load_headers)
             .ok()) {
      continue;  // Verify reports it
    }
    if (filter.Matches(delivery.record)) matches->push_back(std::move(delivery));
  }
  std::sort(matches->begin(), matches->end(),
            [](const Delivery& a, const Delivery& b) { return a.key > b.key; });
  return Status::Ok();
}

}  // namespace archiver::internal
