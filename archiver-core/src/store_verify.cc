// Store::Verify: re-reads and re-hashes every stored message and checks that every
// delivery decodes and names a stored message. One read transaction; one message
// copied out at a time.
#include <cstring>

#include "archiver/store.h"
#include "record.h"
#include "store_impl.h"

namespace archiver {
namespace {

std::string DescribeKey(const DeliveryKey& key) {
  return std::to_string(key.received_us) + "/" + std::to_string(key.sequence);
}

Status CheckMessages(const internal::OpenArchive& archive, const lmdb::Txn& txn,
                     VerifyReport* report) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, archive.db.messages);
  if (!cursor.ok()) return cursor.status();
  std::string message;
  MDB_val key = {}, value = {};
  int rc = cursor->Get(&key, &value, MDB_FIRST);
  for (; rc == 0; rc = cursor->Get(&key, &value, MDB_NEXT)) {
    ++report->messages_checked;
    MessageId id{};
    if (key.mv_size != id.size()) {
      report->damaged.emplace_back(id, Status::Corruption("a messages key is not 32 bytes"));
      continue;
    }
    std::memcpy(id.data(), key.mv_data, id.size());
    Status decoded = internal::DecodeStoredMessage(lmdb::ToView(value), &message);
    if (decoded.ok() && Sha256::Of(message) != id) {
      decoded = Status::Corruption("stored bytes do not match its id (SHA-256 mismatch)");
    }
    if (!decoded.ok()) report->damaged.emplace_back(id, internal::AboutMessage(id, decoded));
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "verify messages");
  return Status::Ok();
}

Status CheckDeliveries(const internal::OpenArchive& archive, const lmdb::Txn& txn,
                       VerifyReport* report) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, archive.db.deliveries);
  if (!cursor.ok()) return cursor.status();
  MDB_val key = {}, value = {};
  int rc = cursor->Get(&key, &value, MDB_FIRST);
  for (; rc == 0; rc = cursor->Get(&key, &value, MDB_NEXT)) {
    ++report->deliveries_checked;
    DeliveryKey delivery_key;
    DeliveryRecord record;
    if (!record::DecodeDeliveryKey(lmdb::ToView(key), &delivery_key)) {
      report->damaged.emplace_back(MessageId{},
                                   Status::Corruption("a deliveries key is not 16 bytes"));
      continue;
    }
    Status decoded = record::DecodeDelivery(lmdb::ToView(value), &record);
    if (!decoded.ok()) {
      report->damaged.emplace_back(
          MessageId{},
          Status::Corruption("delivery " + DescribeKey(delivery_key) + ": " + decoded.message()));
      continue;
    }
    std::string_view stored;
    Status found =
        txn.Get(archive.db.messages,
                {reinterpret_cast<const char*>(record.id.data()), record.id.size()}, &stored);
    if (found.code() == Status::Code::kNotFound) {
      report->damaged.emplace_back(
          record.id, Status::NotFound("delivery " + DescribeKey(delivery_key) + ": message " +
                                      ToHex(record.id) + " is missing"));
    } else if (!found.ok()) {
      return found;
    }
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "verify deliveries");
  return Status::Ok();
}

}  // namespace

Result<VerifyReport> Store::Verify() const {
  const internal::OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  VerifyReport report;
  Status status = CheckMessages(archive, *txn, &report);
  if (status.ok()) status = CheckDeliveries(archive, *txn, &report);
  if (!status.ok()) return status;
  return report;
}

}  // namespace archiver
