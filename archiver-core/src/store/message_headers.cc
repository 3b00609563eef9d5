// msg_headers and DeliveryReader (message_headers.h).
#include "store/message_headers.h"

#include <string>

#include "lmdb/lmdb_entries.h"

namespace archiver::internal {
namespace {

constexpr NamedDb<MessageHeadersDb> kMessageHeaders[] = {
    {kMessageHeadersDb, 0, &MessageHeadersDb::msg_headers},
};

}  // namespace

Result<bool> RecordsCompact(const lmdb::Txn& txn, MDB_dbi meta) {
  return MarkerSet(txn, meta, kRecordsCompactKey);
}

Status MarkRecordsCompact(lmdb::Txn& txn, MDB_dbi meta) {
  return SetMarker(txn, meta, kRecordsCompactKey);
}

Result<const MessageHeadersDb*> OpenMessageHeaders(lmdb::ArchiveEnv& env, bool write) {
  if (write) {
    if (Status writable = env.CheckWritable(); !writable.ok()) return writable;
  }
  const std::string& path = env.path();
  return env.OpenGroup<MessageHeadersDb>(
      "header summaries", write, [&](lmdb::Txn& txn, bool create, MessageHeadersDb* group) {
        return OpenNamedDatabases(path, txn, create, kMessageHeaders, group,
                                  "no header summaries in " + path);
      });
}

Status PutMessageHeaders(lmdb::Txn& txn, const MessageHeadersDb& db, const MessageId& id,
                         const HeaderSummary& headers, std::string_view what, bool message_is_new) {
  if (!message_is_new) {
    std::string_view stored;
    Status found = txn.Get(db.msg_headers, IdBytes(id), &stored);
    if (found.code() != Status::Code::kNotFound) return found;  // Ok: it has one
  }
  return PutEntry(txn, db.msg_headers, IdBytes(id), record::EncodeHeaderSummary(headers),
                  std::string(what));
}

DeliveryReader::DeliveryReader(const OpenArchive& archive) {
  db_ = archive.env.FindGroup<MessageHeadersDb>();
  if (db_ != nullptr) return;
  Result<const MessageHeadersDb*> opened = OpenMessageHeaders(archive.env, false);
  if (opened.ok()) db_ = *opened;  // a failure shows as a missing summary
}

Status DeliveryReader::Load(const lmdb::Txn& txn, std::string_view value, DeliveryRecord* record,
                            record::TraceDecoding trace, bool with_headers) const {
  Status decoded = record::DecodeDelivery(value, record, trace);
  if (!decoded.ok() || !with_headers || record::DeliveryHoldsHeaders(value)) return decoded;
  return Headers(txn, record->id, &record->headers);
}

Status DeliveryReader::Headers(const lmdb::Txn& txn, const MessageId& id,
                               HeaderSummary* headers) const {
  if (db_ == nullptr) {
    return Status::Corruption("delivery record of version 3 in an archive without msg_headers");
  }
  std::string_view stored;
  Status found = txn.Get(db_->msg_headers, IdBytes(id), &stored);
  if (found.code() == Status::Code::kNotFound) {
    return Status::Corruption("the header summary of its message is missing");
  }
  if (!found.ok()) return found;
  return record::DecodeHeaderSummary(stored, headers);
}

}  // namespace archiver::internal
