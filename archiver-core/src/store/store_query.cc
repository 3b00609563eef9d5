// Store's single-message queries: ReadMessage, GetInfo, ResolvePrefix, DeliveriesOf.
// Each runs in its own read transaction and copies what it returns out of the map.
#include <cstring>

#include "archiver/store/store.h"
#include "base/compression.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"
#include "store/message_headers.h"
#include "store/message_tails.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
using internal::IdBytes;
namespace {

using internal::OpenArchive;

int HexDigit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

Status NotStored(const MessageId& id) {
  return Status::NotFound("message " + ToHex(id) + " is not in the archive");
}

// The messages value of `id` (valid until `txn` ends); NotStored when there is none,
// other failures annotated with the id.
Status GetStored(const lmdb::Txn& txn, const internal::OpenArchive& archive, const MessageId& id,
                 std::string_view* value) {
  Status found = txn.Get(archive.db.messages, IdBytes(id), value);
  if (found.code() == Status::Code::kNotFound) return NotStored(id);
  return internal::AboutMessage(id, found);
}

}  // namespace

namespace internal {

Status AboutMessage(const MessageId& id, const Status& status) {
  return status.Annotated("message " + ToHex(id));
}

}  // namespace internal

Result<std::string> Store::ReadMessage(const MessageId& id) const {
  const OpenArchive& archive = impl_->archive;
  const internal::PayloadReader reader(archive);
  std::string message;
  {
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
    if (!txn.ok()) return txn.status();
    std::string_view value;
    Status found = GetStored(*txn, archive, id, &value);
    if (!found.ok()) return found;
    lmdb::WillNeedValue(value);  // one read of its pages, not a fault per page
    Status decoded = reader.Decode(*txn, value, &message);
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
  const internal::DeliveryReader reader(archive);
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
  info.stored_size = value.size() + header.tail_size;
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
  std::vector<MessageId> matches;
  Status walked = internal::WalkEntries(
      *txn, archive.db.messages, MDB_SET_RANGE, lower_bound, MDB_NEXT,
      [&](std::string_view key, std::string_view, bool* stop) {
        MessageId id{};
        if (key.size() == id.size()) std::memcpy(id.data(), key.data(), id.size());
        if (key.size() != id.size() || !ToHex(id).starts_with(prefix)) {
          *stop = true;  // past the ids with the prefix
          return Status::Ok();
        }
        matches.push_back(id);
        *stop = matches.size() >= 2;  // two are enough to call it ambiguous
        return Status::Ok();
      },
      "look up message prefix");
  if (!walked.ok()) return walked;
  if (matches.empty()) return Status::NotFound("no message id starts with " + prefix);
  if (matches.size() > 1) return Status::Ambiguous("several message ids start with " + prefix);
  return matches.front();
}

Result<std::vector<Delivery>> Store::DeliveriesOf(const MessageId& id) const {
  const OpenArchive& archive = impl_->archive;
  const internal::DeliveryReader reader(archive);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  std::string_view value;
  Status found = GetStored(*txn, archive, id, &value);
  if (!found.ok()) return found;

  std::vector<Delivery> deliveries;
  Status walked = internal::WalkEntries(
      *txn, archive.db.idx_message, MDB_SET_KEY, IdBytes(id), MDB_NEXT_DUP,
      [&](std::string_view, std::string_view delivery_key, bool*) {
        Delivery delivery;
        std::string_view stored;
        if (!record::DecodeDeliveryKey(delivery_key, &delivery.key) ||
            !txn->Get(archive.db.deliveries, delivery_key, &stored).ok()) {
          return Status::Corruption("message " + ToHex(id) + ": index names a missing delivery");
        }
        Status decoded = reader.Load(*txn, stored, &delivery.record);
        if (!decoded.ok()) return internal::AboutMessage(id, decoded);
        deliveries.push_back(std::move(delivery));
        return Status::Ok();
      },
      "list deliveries of " + ToHex(id));
  if (!walked.ok()) return walked;
  return deliveries;
}

}  // namespace archiver
