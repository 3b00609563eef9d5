// idx_mailbox and idx_subject: opening them, their completeness, a delivery's entries
// (content_indexes.h).
#include "store/content_indexes.h"

#include "store/record.h"
#include "store/subject_words.h"

namespace archiver::internal {
namespace {

constexpr unsigned kIndex = MDB_DUPSORT | MDB_DUPFIXED;
constexpr NamedDb<ContentIndexes> kContentIndexes[] = {
    {kMailboxIndexDb, kIndex, &ContentIndexes::idx_mailbox},
    {kSubjectIndexDb, kIndex, &ContentIndexes::idx_subject},
};

}  // namespace

Result<const ContentIndexes*> OpenContentIndexes(lmdb::ArchiveEnv& env, bool write) {
  if (write) {
    if (Status writable = env.CheckWritable(); !writable.ok()) return writable;
  }
  const std::string& path = env.path();
  return env.OpenGroup<ContentIndexes>("mailbox and subject indexes", write,
                                       [&](lmdb::Txn& txn, bool create, ContentIndexes* group) {
                                         return OpenNamedDatabases(
                                             path, txn, create, kContentIndexes, group,
                                             "no mailbox and subject indexes in " + path);
                                       });
}

Result<bool> ContentIndexesComplete(const lmdb::Txn& txn, MDB_dbi meta) {
  return MarkerSet(txn, meta, kContentIndexedKey);
}

Status MarkContentIndexed(lmdb::Txn& txn, MDB_dbi meta) { return SetMarker(txn, meta, kContentIndexedKey); }

Status ForEachContentEntry(const ContentIndexes& indexes, const DeliveryRecord& record,
                           const IndexEntryVisitor& visit) {
  if (!record.mailbox.empty()) {
    if (Status visited = visit(indexes.idx_mailbox, kMailboxIndexDb, record.mailbox); !visited.ok())
      return visited;
  }
  for (std::string& word : index::SubjectWords(record.headers.subject)) {
    if (Status visited = visit(indexes.idx_subject, kSubjectIndexDb, std::move(word));
        !visited.ok())
      return visited;
  }
  return Status::Ok();
}

}  // namespace archiver::internal
