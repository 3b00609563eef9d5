// Store's single-message queries: ReadMessage, GetInfo, ResolvePrefix, DeliveriesOf.
// Each runs in its own read transaction and copies what it returns out of the map.
#include <cstring>

#include "archiver/store/store.h"
#include "base/compression.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

using internal::OpenArchive;

std::string_view Bytes(const MessageId& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

int HexDigit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

Status NotStored(const MessageId& id) {
  return Status::NotFound("message " + ToHex(id) + " is not in the archive");
}

// The messages value of `id` (valid until `txn` ends); NotStored when there is none,
// other failures annotated with the id.
Status GetStored(const lmdb::Txn& txn, const internal::OpenArchive& archive, const MessageId& id,
                 std::string_view* value) {
  Status found = txn.Get(archive.db.messages, Bytes(id), value);
  if (found.code() == Status::Code::kNotFound) return NotStored(id);
  return internal::AboutMessage(id, found);
}

}  // namespace

namespace internal {

Status AboutMessage(const MessageId& id, const Status& status) {
  return status.Annotated("message " + ToHex(id));
}

Status DecodeStoredMessage(std::string_view value, std::string* out) {
  record::MessageHeader header;
  Status status = record::DecodeMessageHeader(value, &header);
  if (!status.ok()) return status;
  std::string_view payload = value.substr(record::kMessageHeaderSize);
  if (header.codec == record::Codec::kNone) {
    out->assign(payload);
    return Status::Ok();
  }
  out->resize(header.raw_size);  // the recorded size bounds what decompression may write
  return compression::InflateExact(payload, out->data(), header.raw_size);
}

}  // namespace internal

Result<std::string> Store::ReadMessage(const MessageId& id) const {
  const OpenArchive& archive = impl_->archive;
  std::string message;
  {
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
    if (!txn.ok()) return txn.status();
    std::string_view value;
    Status found = GetStored(*txn, archive, id, &value);
    if (!found.ok()) return found;
    Status decoded = internal::DecodeStoredMessage(value, &message);
    if (!decoded.ok()) return internal::AboutMessage(id, decoded);
  }
  if (Sha256::Of(message) != id) {
    return Status::Corruption("message " + ToHex(id) +
                              ": stored bytes do not match its id (SHA-256 mismatch)");
  }
  return message;
}

Result<MessageInfo> Store::GetInfo(const MessageId& id) const {
  const OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  std::string_view value;
  Status found = GetStored(*txn, archive, id, &value);
  if (!found.ok()) return found;
  record::MessageHeader header;
  Status decoded = record::DecodeMessageHeader(value, &header);
  if (!decoded.ok()) return internal::AboutMessage(id, decoded);
  MessageInfo info;
  info.id = id;
  info.raw_size = header.raw_size;
  info.stored_size = value.size();
  info.codec = record::CodecName(header.codec);
  info.format_version = header.version;
  return info;
}

Result<MessageId> Store::ResolvePrefix(std::string_view hex_prefix) const {
  if (!IsHexPrefix(hex_prefix)) {
    return Status::InvalidArgument("'" + std::string(hex_prefix) +
                                   "' is not a message id or a prefix of one (1-64 hex digits)");
  }
  std::string prefix(hex_prefix);
  for (char& c : prefix) c = c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  // The smallest key with this prefix: its bytes, an odd last digit as a high nibble.
  std::string lower_bound;
  for (size_t i = 0; i < prefix.size(); i += 2) {
    int high = HexDigit(prefix[i]);
    int low = i + 1 < prefix.size() ? HexDigit(prefix[i + 1]) : 0;
    lower_bound.push_back(static_cast<char>(high << 4 | low));
  }
  const OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(*txn, archive.db.messages);
  if (!cursor.ok()) return cursor.status();

  std::vector<MessageId> matches;
  MDB_val key = lmdb::ToVal(lower_bound), value;
  int rc = cursor->Get(&key, &value, MDB_SET_RANGE);
  while (rc == 0 && matches.size() < 2) {
    MessageId id{};
    if (key.mv_size != id.size()) break;
    std::memcpy(id.data(), key.mv_data, id.size());
    if (!ToHex(id).starts_with(prefix)) break;
    matches.push_back(id);
    rc = cursor->Get(&key, &value, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "look up message prefix");
  if (matches.empty()) return Status::NotFound("no message id starts with " + prefix);
  if (matches.size() > 1) return Status::Ambiguous("several message ids start with " + prefix);
  return matches.front();
}

Result<std::vector<Delivery>> Store::DeliveriesOf(const MessageId& id) const {
  const OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  std::string_view value;
  Status found = GetStored(*txn, archive, id, &value);
  if (!found.ok()) return found;

  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(*txn, archive.db.idx_message);
  if (!cursor.ok()) return cursor.status();
  std::vector<Delivery> deliveries;
  MDB_val key = lmdb::ToVal(Bytes(id)), delivery_key;
  int rc = cursor->Get(&key, &delivery_key, MDB_SET_KEY);
  for (; rc == 0; rc = cursor->Get(&key, &delivery_key, MDB_NEXT_DUP)) {
    Delivery delivery;
    std::string_view stored;
    if (!record::DecodeDeliveryKey(lmdb::ToView(delivery_key), &delivery.key) ||
        !txn->Get(archive.db.deliveries, lmdb::ToView(delivery_key), &stored).ok()) {
      return Status::Corruption("message " + ToHex(id) + ": index names a missing delivery");
    }
    Status decoded = record::DecodeDelivery(stored, &delivery.record);
    if (!decoded.ok()) return internal::AboutMessage(id, decoded);
    deliveries.push_back(std::move(delivery));
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "list deliveries of " + ToHex(id));
  return deliveries;
}

}  // namespace archiver
