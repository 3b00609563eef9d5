// Store::Archive and Store::AddDelivery: one write transaction per delivery. Hashing and
// compression happen before it begins, because LMDB's write lock is shared by every
// delivering process.
#include <cstring>
#include <optional>

#include "archiver/store.h"
#include "archiver/time_format.h"
#include "codec.h"
#include "index_keys.h"
#include "record.h"
#include "store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

std::string_view Bytes(const MessageId& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

// The stored form of a message, prepared outside the write transaction.
struct Payload {
  std::string_view raw;
  record::Codec codec = record::Codec::kNone;
  std::string compressed;  // the zlib stream when codec is kZlib
  std::string_view bytes() const {
    return codec == record::Codec::kZlib ? std::string_view(compressed) : raw;
  }
};

Payload Prepare(std::string_view message, int level) {
  Payload payload;
  payload.raw = message;
  if (level > 0 && codec::DeflateAppend(message, level, &payload.compressed)) {
    payload.codec = record::Codec::kZlib;
  }
  return payload;
}

Status AddToCounter(lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t delta) {
  uint64_t value = 0;
  Status read = internal::ReadCounter(txn, meta, name, &value);
  if (!read.ok()) return read;
  std::array<char, 8> bytes = record::EncodeCounter(value + delta);
  return txn.Put(meta, name, {bytes.data(), bytes.size()}, 0);
}

// Writes the payload as a new messages value, straight into the map (MDB_RESERVE).
Status PutMessage(lmdb::Txn& txn, const OpenArchive& archive, const MessageId& id,
                  const Payload& payload, uint64_t* stored_size) {
  std::string_view bytes = payload.bytes();
  MDB_val key = lmdb::ToVal(Bytes(id));
  MDB_val value = {record::kMessageHeaderSize + bytes.size(), nullptr};
  int rc = mdb_put(txn.get(), archive.db.messages, &key, &value, MDB_RESERVE | MDB_NOOVERWRITE);
  if (rc != 0) return lmdb::ToStatus(rc, "store message " + ToHex(id), archive.env.get());
  auto* dest = static_cast<char*>(value.mv_data);
  record::EncodeMessageHeader(payload.codec, payload.raw.size(), dest);
  if (!bytes.empty()) std::memcpy(dest + record::kMessageHeaderSize, bytes.data(), bytes.size());
  *stored_size = value.mv_size;
  return Status::Ok();
}

enum class WriteResult { kDone, kNeedPayload };

// Adds `record` (and the message, if `payload` is given and it is not stored yet) in one
// write transaction. kNeedPayload: the message is missing and no payload was prepared.
Status WriteDelivery(OpenArchive& archive, DeliveryRecord& record, const Payload* payload,
                     bool payload_required, WriteResult* result, ArchiveOutcome* outcome) {
  const internal::Databases& db = archive.db;
  const MessageId key_hash =
      index::DeliveryIdempotencyKey(record.id, record.envelope_to, record.mailbox);
  Result<lmdb::Txn> begun = lmdb::Txn::Begin(archive.env.get(), true);
  if (!begun.ok()) return begun.status();
  lmdb::Txn& txn = begun.value();
  *result = WriteResult::kDone;

  std::string_view existing;
  Status found = txn.Get(db.delivery_keys, Bytes(key_hash), &existing);
  if (found.ok()) {
    *outcome = ArchiveOutcome::kAlreadyArchived;
    return Status::Ok();  // the transaction is aborted: nothing was written
  }
  if (found.code() != Status::Code::kNotFound) return found;

  uint64_t new_stored_size = 0;
  std::string_view stored;
  found = txn.Get(db.messages, Bytes(record.id), &stored);
  if (found.ok()) {
    record::MessageHeader header;
    Status decoded = record::DecodeMessageHeader(stored, &header);
    if (!decoded.ok()) return internal::AboutMessage(record.id, decoded);
    record.size = header.raw_size;
    *outcome = ArchiveOutcome::kDeduplicated;
  } else if (found.code() != Status::Code::kNotFound) {
    return found;
  } else if (payload == nullptr) {
    if (payload_required) {
      *result = WriteResult::kNeedPayload;
      return Status::Ok();
    }
    return Status::NotFound("message " + ToHex(record.id) + " is not in the archive");
  } else {
    Status put = PutMessage(txn, archive, record.id, *payload, &new_stored_size);
    if (!put.ok()) return put;
    *outcome = ArchiveOutcome::kStored;
  }

  uint64_t sequence = 0;
  Status status = internal::ReadCounter(txn, db.meta, internal::kNextSequenceKey, &sequence);
  if (!status.ok()) return status;
  if (sequence == 0) sequence = 1;
  const record::DeliveryKeyBytes key_bytes =
      record::EncodeDeliveryKey({record.received_us, sequence});
  const std::string_view delivery_key(key_bytes.data(), key_bytes.size());
  const std::string what = "archive delivery of " + ToHex(record.id);
  auto put = [&](MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
    if (!status.ok()) return;
    MDB_val key_val = lmdb::ToVal(index::FitKey(key, archive.max_key_size));
    MDB_val value_val = lmdb::ToVal(value);
    int rc = mdb_put(txn.get(), dbi, &key_val, &value_val, flags);
    if (rc != 0) status = lmdb::ToStatus(rc, what, archive.env.get());
  };
  put(db.deliveries, delivery_key, record::EncodeDelivery(record), MDB_NOOVERWRITE);
  put(db.delivery_keys, Bytes(key_hash), delivery_key, MDB_NOOVERWRITE);
  for (const std::string& rcpt : index::RcptKeys(record)) put(db.idx_rcpt, rcpt, delivery_key, 0);
  for (const std::string& from : index::FromKeys(record)) put(db.idx_from, from, delivery_key, 0);
  if (!record.user.empty()) put(db.idx_user, record.user, delivery_key, 0);
  put(db.idx_message, Bytes(record.id), delivery_key, 0);
  if (!status.ok()) return status;

  std::array<char, 8> next = record::EncodeCounter(sequence + 1);
  status = txn.Put(db.meta, internal::kNextSequenceKey, {next.data(), next.size()}, 0);
  if (status.ok()) status = AddToCounter(txn, db.meta, internal::kDeliveriesCounter, 1);
  if (status.ok()) {
    status = AddToCounter(txn, db.meta, internal::kDeliveredBytesCounter, record.size);
  }
  if (status.ok() && *outcome == ArchiveOutcome::kStored) {
    status = AddToCounter(txn, db.meta, internal::kMessagesCounter, 1);
    if (status.ok()) status = AddToCounter(txn, db.meta, internal::kRawBytesCounter, record.size);
    if (status.ok()) {
      status = AddToCounter(txn, db.meta, internal::kStoredBytesCounter, new_stored_size);
    }
  }
  if (!status.ok()) return status;
  return txn.Commit(what);
}

// Before taking the write lock: is this delivery archived already, is the message stored?
Status LookAhead(const OpenArchive& archive, const DeliveryRecord& record, bool* delivered,
                 bool* stored) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  const MessageId key_hash =
      index::DeliveryIdempotencyKey(record.id, record.envelope_to, record.mailbox);
  std::string_view value;
  Status found = txn->Get(archive.db.delivery_keys, Bytes(key_hash), &value);
  if (!found.ok() && found.code() != Status::Code::kNotFound) return found;
  *delivered = found.ok();
  found = txn->Get(archive.db.messages, Bytes(record.id), &value);
  if (!found.ok() && found.code() != Status::Code::kNotFound) return found;
  *stored = found.ok();
  return Status::Ok();
}

Status CheckWritable(const OpenArchive& archive) {
  if (archive.options.read_only) {
    return Status::InvalidArgument("archive " + archive.options.path + " is open read-only");
  }
  return Status::Ok();
}

}  // namespace

Result<ArchiveOutcome> Store::Archive(std::string_view message, DeliveryRecord record,
                                      MessageId* id_out) {
  OpenArchive& archive = impl_->archive;
  if (Status writable = CheckWritable(archive); !writable.ok()) return writable;
  if (message.size() > record::kMaxRawSize) {
    return Status::LimitExceeded("message of " + FormatBytes(message.size()) +
                                 " exceeds the archive's limit of " +
                                 FormatBytes(record::kMaxRawSize));
  }
  record.id = Sha256::Of(message);
  record.size = message.size();
  if (record.received_us == 0) record.received_us = NowMicros();
  if (id_out != nullptr) *id_out = record.id;

  bool delivered = false, stored = false;
  Status looked = LookAhead(archive, record, &delivered, &stored);
  if (!looked.ok()) return looked;
  if (delivered) return ArchiveOutcome::kAlreadyArchived;

  // Compress only when the message is new; a second recipient costs one lookup.
  std::optional<Payload> payload;
  if (!stored) payload = Prepare(message, archive.options.compression_level);
  for (int attempt = 0; attempt < 2; ++attempt) {
    WriteResult result = WriteResult::kDone;
    ArchiveOutcome outcome = ArchiveOutcome::kStored;
    Status written = WriteDelivery(archive, record, payload ? &*payload : nullptr,
                                   /*payload_required=*/true, &result, &outcome);
    if (!written.ok()) return written;
    if (result == WriteResult::kDone) return outcome;
    payload = Prepare(message, archive.options.compression_level);  // it vanished meanwhile
  }
  return Status::IOError("message " + ToHex(record.id) + " could not be stored");
}

Result<ArchiveOutcome> Store::AddDelivery(const DeliveryRecord& given) {
  OpenArchive& archive = impl_->archive;
  if (Status writable = CheckWritable(archive); !writable.ok()) return writable;
  DeliveryRecord record = given;
  if (record.received_us == 0) record.received_us = NowMicros();
  WriteResult result = WriteResult::kDone;
  ArchiveOutcome outcome = ArchiveOutcome::kDeduplicated;
  Status written =
      WriteDelivery(archive, record, nullptr, /*payload_required=*/false, &result, &outcome);
  if (!written.ok()) return written;
  return outcome;
}

}  // namespace archiver
