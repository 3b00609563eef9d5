// The archive writer: Store::ArchiveGroup (Store::Archive is a group of one) and a
// source's batch (internal::ArchiveBatch, with the batch's own writes in the same
// transaction), and Store::AddDelivery: one write transaction per call. Hashing and
// compression happen before it begins, because LMDB's write lock is shared by every
// delivering process.
#include <algorithm>
#include <cstring>
#include <optional>

#include "archiver/store/store.h"
#include "archiver/time_format.h"
#include "base/compression.h"
#include "store/content_indexes.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/message_headers.h"
#include "store/message_tails.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
using internal::IdBytes;
namespace {

using internal::OpenArchive;

// A message's stored form, prepared outside the write transaction (compression is the
// slow part, and LMDB's write lock is shared). `raw` is borrowed.
struct PreparedMessage {
  std::string_view raw;
  record::Codec codec = record::Codec::kNone;
  std::string compressed;  // the zlib stream when codec is kZlib
  std::string_view bytes() const {
    return codec == record::Codec::kZlib ? std::string_view(compressed) : raw;
  }
};

// A damaged statistics counter is left as it is (verify reports it, `doveadm archive
// repair` recounts it): it must not stop deliveries from being archived.
Status AddToCounter(lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t delta) {
  uint64_t value = 0;
  Status read = internal::ReadCounter(txn, meta, name, &value);
  if (read.code() == Status::Code::kCorruption) return Status::Ok();
  if (!read.ok()) return read;
  std::array<char, 8> bytes = record::EncodeCounter(value + delta);
  return txn.Put(meta, name, {bytes.data(), bytes.size()}, 0);
}

// Writes the payload as a new messages value and its tail (message_tails.h).
Status PutMessage(lmdb::Txn& txn, const OpenArchive& archive, const MessageId& id,
                  const PreparedMessage& payload, uint64_t* stored_size) {
  return internal::PutPayload(txn, archive, archive.env.OpenedGroup<internal::MessageTailsDb>(), id,
                              payload.codec, payload.raw.size(), payload.bytes(), stored_size);
}

// Whether `record`'s delivery is archived already: its delivery_keys entry, or for a local
// delivery an entry of the key archives used before the user was part of it, when the
// delivery that entry names is this user's (another user's is another delivery).
Status FindDelivered(const lmdb::Txn& txn, const OpenArchive& archive, const DeliveryRecord& record,
                     const MessageId& key_hash, bool* delivered) {
  const internal::Databases& db = archive.db;
  std::string_view existing;
  Status found = txn.Get(db.delivery_keys, IdBytes(key_hash), &existing);
  *delivered = found.ok();
  if (found.ok() || found.code() != Status::Code::kNotFound || !record.source.empty()) {
    return found.code() == Status::Code::kNotFound ? Status::Ok() : found;
  }
  const MessageId legacy =
      index::LegacyDeliveryIdempotencyKey(record.id, record.envelope_to, record.mailbox);
  found = txn.Get(db.delivery_keys, IdBytes(legacy), &existing);
  if (found.code() == Status::Code::kNotFound) return Status::Ok();
  if (!found.ok()) return found;
  std::string_view stored;
  found = txn.Get(db.deliveries, existing, &stored);
  if (found.code() == Status::Code::kNotFound) return Status::Ok();  // verify reports it
  if (!found.ok()) return found;
  DeliveryRecord first;
  if (!record::DecodeDelivery(stored, &first).ok()) return Status::Ok();  // verify reports it
  *delivered = first.user == record.user;
  return Status::Ok();
}

// Compresses `raw` at zlib `level` (0, or no gain: stored as is).
PreparedMessage PrepareMessage(std::string_view raw, int level) {
  PreparedMessage message;
  message.raw = raw;
  if (level > 0 && compression::DeflateAppend(raw, level, &message.compressed)) {
    message.codec = record::Codec::kZlib;
  }
  return message;
}

// What WriteDeliveryIn did with a delivery.
struct DeliveryWritten {
  ArchiveOutcome outcome = ArchiveOutcome::kStored;
  bool need_message = false;  // the message is missing and none was given: nothing written
};

// The message of `record` in `txn`: found (kDeduplicated; record.size from its header), or
// stored from `message` (kStored; *stored_size = the new value's size), or needed.
Result<DeliveryWritten> FindOrStoreMessage(lmdb::Txn& txn, const OpenArchive& archive,
                                           DeliveryRecord& record, const PreparedMessage* message,
                                           uint64_t* stored_size) {
  std::string_view stored;
  Status found = txn.Get(archive.db.messages, IdBytes(record.id), &stored);
  if (found.ok()) {
    record::MessageHeader header;
    Status decoded = record::DecodeMessageHeader(stored, &header);
    if (!decoded.ok()) return internal::AboutMessage(record.id, decoded);
    record.size = header.raw_size;
    return DeliveryWritten{ArchiveOutcome::kDeduplicated};
  }
  if (found.code() != Status::Code::kNotFound) return found;
  if (message == nullptr) return DeliveryWritten{ArchiveOutcome::kStored, true};
  Status put = PutMessage(txn, archive, record.id, *message, stored_size);
  if (!put.ok()) return put;
  return DeliveryWritten{ArchiveOutcome::kStored};
}

// The entries of `record` under `delivery_key`: deliveries, delivery_keys (`key_hash`),
// idx_message and idx_source at once, idx_rcpt / idx_from / idx_user in batches.
Status PutDeliveryEntries(OpenArchive& archive, lmdb::Txn& txn, const DeliveryRecord& record,
                          const MessageId& key_hash, std::string_view delivery_key) {
  const internal::Databases& db = archive.db;
  const std::string what = "archive delivery of " + ToHex(record.id);
  Status status = Status::Ok();
  auto put = [&](MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
    if (!status.ok()) return;
    MDB_val key_val = lmdb::ToVal(index::FitKey(key, archive.max_key_size));
    MDB_val value_val = lmdb::ToVal(value);
    int rc = mdb_put(txn.get(), dbi, &key_val, &value_val, flags);
    if (rc != 0) status = lmdb::ToStatus(rc, what, archive.env.get());
  };
  put(db.deliveries, delivery_key, record::EncodeDelivery(record), MDB_NOOVERWRITE);
  put(db.delivery_keys, IdBytes(key_hash), delivery_key, MDB_NOOVERWRITE);
  put(db.idx_message, IdBytes(record.id), delivery_key, 0);
  if (!record.source.empty()) {
    const auto* index = archive.env.FindGroup<internal::SourceIndex>();
    if (index == nullptr) {  // the caller opens it first (OpenSourceIndex)
      return Status::Internal("the source index is not open");  // a caller's bug
    }
    put(index->idx_source, record.source, delivery_key, 0);
  }
  if (!status.ok()) return status;
  return internal::DeferIndexing(archive, txn, record, delivery_key, what);
}

// The meta values a delivery of `size` bytes changes: the next sequence after `sequence`,
// the delivery counters, and for a new message (kStored) the message counters.
Status CountDelivery(lmdb::Txn& txn, MDB_dbi meta, uint64_t sequence, uint64_t size,
                     ArchiveOutcome outcome, uint64_t stored_size) {
  std::array<char, 8> next = record::EncodeCounter(sequence + 1);
  Status status = txn.Put(meta, internal::kNextSequenceKey, {next.data(), next.size()}, 0);
  if (status.ok()) status = AddToCounter(txn, meta, internal::kDeliveriesCounter, 1);
  if (status.ok()) status = AddToCounter(txn, meta, internal::kDeliveredBytesCounter, size);
  if (!status.ok() || outcome != ArchiveOutcome::kStored) return status;
  status = AddToCounter(txn, meta, internal::kMessagesCounter, 1);
  if (status.ok()) status = AddToCounter(txn, meta, internal::kRawBytesCounter, size);
  if (status.ok()) status = AddToCounter(txn, meta, internal::kStoredBytesCounter, stored_size);
  return status;
}

// In the write transaction `txn`: adds the delivery `record` (record.id names the
// message) unless its idempotency key exists (kAlreadyArchived, nothing written), storing
// the message first when it is missing. When it is missing and `message` is null:
// need_message, and nothing is written. Fills record.size from the stored message.
// idx_source must be open when record.source is set (OpenSourceIndex). Errors leave
// `txn` to be aborted.
Result<DeliveryWritten> WriteDeliveryIn(OpenArchive& archive, lmdb::Txn& txn,
                                        DeliveryRecord& record, const PreparedMessage* message) {
  const MessageId key_hash = index::DeliveryIdempotencyKey(record);
  bool delivered = false;
  Status status = FindDelivered(txn, archive, record, key_hash, &delivered);
  if (!status.ok()) return status;
  if (delivered) return DeliveryWritten{ArchiveOutcome::kAlreadyArchived};
  uint64_t stored_size = 0;
  Result<DeliveryWritten> written = FindOrStoreMessage(txn, archive, record, message, &stored_size);
  if (!written.ok() || written->need_message) return written;
  // The record is of version 3: its message's summary goes to msg_headers (once), and a
  // reader of format 3 must no longer open the archive.
  status = internal::PutMessageHeaders(txn, archive.env.OpenedGroup<internal::MessageHeadersDb>(),
                                       record.id, record.headers, "archive delivery",
                                       written->outcome == ArchiveOutcome::kStored);
  if (status.ok()) status = internal::RaiseFormatVersion(archive, txn);
  if (!status.ok()) return status;

  uint64_t sequence = 0;
  status = internal::ReadCounter(txn, archive.db.meta, internal::kNextSequenceKey, &sequence);
  if (!status.ok()) return status;
  if (sequence == 0) sequence = 1;
  const record::DeliveryKeyBytes key_bytes =
      record::EncodeDeliveryKey({record.received_us, sequence});
  status = PutDeliveryEntries(archive, txn, record, key_hash, {key_bytes.data(), key_bytes.size()});
  if (status.ok()) {
    status =
        CountDelivery(txn, archive.db.meta, sequence, record.size, written->outcome, stored_size);
  }
  if (!status.ok()) return status;
  return written;
}

// Opens (creating them in an older archive) the databases a write may file deliveries in
// besides the archive's own, before its write transaction begins: msg_headers, msg_tails,
// the content indexes, and idx_source when `from_sources`.
Status OpenWriterIndexes(OpenArchive& archive, bool from_sources) {
  Result<const internal::MessageHeadersDb*> headers =
      internal::OpenMessageHeaders(archive.env, true);
  if (!headers.ok()) return headers.status();
  Result<const internal::MessageTailsDb*> tails = internal::OpenMessageTails(archive.env, true);
  if (!tails.ok()) return tails.status();
  Result<const internal::ContentIndexes*> content = internal::OpenContentIndexes(archive.env, true);
  if (!content.ok() || !from_sources) return content.status();
  return internal::OpenSourceIndex(archive.env, true).status();
}

// A delivery of a stored message (AddDelivery) in its own write transaction.
Result<DeliveryWritten> WriteDelivery(OpenArchive& archive, DeliveryRecord& record) {
  if (Status opened = OpenWriterIndexes(archive, !record.source.empty()); !opened.ok())
    return opened;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  Result<DeliveryWritten> written = WriteDeliveryIn(archive, *txn, record, nullptr);
  if (!written.ok() || written->need_message ||
      written->outcome == ArchiveOutcome::kAlreadyArchived) {
    return written;  // the transaction is aborted: nothing was written
  }
  Status committed = txn->Commit("archive delivery of " + ToHex(record.id));
  if (!committed.ok()) return committed;
  return written;
}

// Before taking the write lock: is this delivery archived already, is the message stored?
Status LookAhead(const lmdb::Txn& txn, const OpenArchive& archive, const DeliveryRecord& record,
                 bool* delivered, bool* stored) {
  Status found =
      FindDelivered(txn, archive, record, index::DeliveryIdempotencyKey(record), delivered);
  if (!found.ok()) return found;
  std::string_view value;
  found = txn.Get(archive.db.messages, IdBytes(record.id), &value);
  if (!found.ok() && found.code() != Status::Code::kNotFound) return found;
  *stored = found.ok();
  return Status::Ok();
}

Status CheckWritable(const OpenArchive& archive) { return archive.env.CheckWritable(); }

}  // namespace

Result<ArchiveOutcome> Store::Archive(std::string_view message, DeliveryRecord record,
                                      MessageId* id_out, const MessageId* known_id) {
  GroupDelivery delivery{message, std::move(record)};
  if (known_id != nullptr) {
    delivery.record.id = *known_id;
    delivery.id_known = true;
  }
  Status archived = ArchiveGroup({&delivery, 1});
  // The id is known once the group has hashed the message: in a writable store, within
  // the size limit.
  if (id_out != nullptr && CheckWritable(impl_->archive).ok() &&
      message.size() <= record::kMaxRawSize) {
    *id_out = delivery.record.id;
  }
  if (!archived.ok()) return archived;
  return std::move(delivery.outcome);
}

namespace {

// A message whose stored form is larger than the whole map can never be archived (LMDB
// cannot grow the map by itself): LimitExceeded, which tells the delivery to fail for good,
// not MapFull, which a larger archiver_map_size or a later retry may cure.
Status FitsTheMap(const OpenArchive& archive, const PreparedMessage& message) {
  MDB_envinfo info = {};
  if (mdb_env_info(archive.env.get(), &info) != 0) return Status::Ok();
  const uint64_t stored = record::kMessageHeaderSizeV2 + message.bytes().size();
  if (stored < info.me_mapsize) return Status::Ok();
  return Status::LimitExceeded("message of " + FormatBytes(message.raw.size()) + " (" +
                               FormatBytes(stored) +
                               " stored) is larger than the archive's map of " +
                               FormatBytes(info.me_mapsize) + " (archiver_map_size)");
}

// A delivery of a group on its way into the write transaction.
struct Pending {
  GroupDelivery* delivery;
  bool stored = false;                      // the look-ahead found the message
  std::optional<PreparedMessage> prepared;  // none: stored already
};

// Before the write lock is taken: the size limit, hashing, a look-ahead (in a read
// transaction closed again before compressing, so that it holds back no page reuse) and
// compression of the new messages, once per message of the group. `pending` receives
// the deliveries still to write. A batch (`hook`) checked its sizes itself and fails as a
// whole: its messages get no outcome of their own for a size larger than the map.
Status PrepareGroup(const OpenArchive& archive, std::span<GroupDelivery> deliveries,
                    const internal::BatchHook* hook, std::vector<Pending>* pending) {
  for (GroupDelivery& delivery : deliveries) {
    DeliveryRecord& record = delivery.record;
    if (delivery.message.size() > record::kMaxRawSize) {
      delivery.outcome = Status::LimitExceeded(
          "message of " + FormatBytes(delivery.message.size()) +
          " exceeds the archive's limit of " + FormatBytes(record::kMaxRawSize));
      continue;
    }
    if (record.received_us == 0) record.received_us = NowMicros();
    if (!delivery.id_known) record.id = Sha256::Of(delivery.message);
    record.size = delivery.message.size();
    pending->push_back({&delivery, false, std::nullopt});
  }
  {
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
    if (!txn.ok()) return txn.status();
    std::vector<Pending> undelivered;
    for (Pending& next : *pending) {
      bool delivered = false;
      Status looked = LookAhead(*txn, archive, next.delivery->record, &delivered, &next.stored);
      if (!looked.ok()) return looked;
      if (delivered) {
        next.delivery->outcome = ArchiveOutcome::kAlreadyArchived;
      } else {
        undelivered.push_back(next);
      }
    }
    pending->swap(undelivered);
  }
  for (auto next = pending->begin(); next != pending->end(); ++next) {
    // An earlier delivery of the group that brings the same message stores it.
    const MessageId& id = next->delivery->record.id;
    const bool earlier = std::any_of(pending->begin(), next, [&id](const Pending& other) {
      return other.delivery->record.id == id;
    });
    if (!next->stored && !earlier) {
      next->prepared = PrepareMessage(next->delivery->message, archive.options.compression_level);
      Status fits = hook != nullptr ? Status::Ok() : FitsTheMap(archive, *next->prepared);
      if (!fits.ok()) next->delivery->outcome = fits;
    }
  }
  // What can never fit is not written (its delivery has its own outcome, like one over
  // kMaxRawSize); the rest of the group is.
  for (Pending& next : *pending) {
    for (const Pending& other : *pending) {
      if (other.delivery->record.id == next.delivery->record.id &&
          other.delivery->outcome.status().code() == Status::Code::kLimitExceeded)
        next.delivery->outcome = other.delivery->outcome;
    }
  }
  std::erase_if(*pending, [](const Pending& next) {
    return next.delivery->outcome.status().code() == Status::Code::kLimitExceeded;
  });
  return Status::Ok();
}

// One write transaction for the pending deliveries, committed when it wrote something
// (always with a `hook`, whose writes it carries). Each delivery's outcome is set as it
// is written; an error ends the transaction unwritten.
Status WriteGroup(OpenArchive& archive, std::vector<Pending>& pending,
                  const internal::BatchHook* hook) {
  const bool from_sources = std::any_of(pending.begin(), pending.end(), [](const Pending& next) {
    return !next.delivery->record.source.empty();
  });
  if (Status opened = OpenWriterIndexes(archive, from_sources); !opened.ok()) return opened;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  if (hook != nullptr) {
    if (Status before = hook->before(*txn); !before.ok()) return before;
  }
  bool written = false;
  for (Pending& next : pending) {
    DeliveryRecord& record = next.delivery->record;
    Result<DeliveryWritten> delivery =
        WriteDeliveryIn(archive, *txn, record, next.prepared ? &*next.prepared : nullptr);
    if (delivery.ok() && delivery->need_message) {
      // Not stored after all (deleted meanwhile, or the group's delivery that was to store
      // it was archived already): compress it now, under the write lock (rare).
      next.prepared = PrepareMessage(next.delivery->message, archive.options.compression_level);
      delivery = WriteDeliveryIn(archive, *txn, record, &*next.prepared);
    }
    if (!delivery.ok()) return delivery.status();
    next.delivery->outcome = delivery->outcome;
    written |= delivery->outcome != ArchiveOutcome::kAlreadyArchived;
  }
  if (hook != nullptr) {
    if (Status after = hook->after(*txn); !after.ok()) return after;
    return txn->Commit(hook->what);
  }
  if (!written) return Status::Ok();  // the transaction is aborted: nothing to commit
  return txn->Commit(pending.size() == 1
                         ? "archive delivery of " + ToHex(pending[0].delivery->record.id)
                         : "archive " + std::to_string(pending.size()) + " deliveries");
}

// A retry that finds its delivery archived already may find a commit that another
// process made and has not flushed yet (its meta page is flushed after the write lock is
// released, and that process may crash first): with archiver_fsync = yes, flush the
// archive before the retry is acknowledged as archived. Rare: only retries pay for it.
Status SyncIfFoundArchived(OpenArchive& archive, std::span<GroupDelivery> deliveries) {
  if (!archive.options.sync || !archive.options.meta_sync) return Status::Ok();
  const bool found = std::any_of(deliveries.begin(), deliveries.end(), [](const auto& d) {
    return d.outcome.ok() && *d.outcome == ArchiveOutcome::kAlreadyArchived;
  });
  if (!found) return Status::Ok();
  return lmdb::ToStatus(mdb_env_sync(archive.env.get(), 1), "flush the archive");
}

// The archive writer of both Store::ArchiveGroup and ArchiveBatch (archive_writer.h).
Status ArchiveDeliveries(OpenArchive& archive, std::span<GroupDelivery> deliveries,
                         const internal::BatchHook* hook) {
  for (GroupDelivery& delivery : deliveries) delivery.outcome = Status::IOError("not archived");
  std::vector<Pending> pending;
  Status status = CheckWritable(archive);
  if (status.ok()) status = PrepareGroup(archive, deliveries, hook, &pending);
  // Nothing left to write (every delivery archived already, or none given): the write
  // lock, which every delivering process shares, is not taken. A batch always writes
  // (its commit is durable: no flush for the deliveries found archived either).
  if (status.ok() && (!pending.empty() || hook != nullptr))
    status = WriteGroup(archive, pending, hook);
  if (status.ok() && hook == nullptr) status = SyncIfFoundArchived(archive, deliveries);
  return status;
}

}  // namespace

namespace internal {

Status ArchiveBatch(const std::shared_ptr<lmdb::ArchiveEnv>& env,
                    std::span<GroupDelivery> deliveries, const BatchHook& hook) {
  OpenArchive archive(env);
  return ArchiveDeliveries(archive, deliveries, &hook);
}

}  // namespace internal

Status Store::ArchiveGroup(std::span<GroupDelivery> deliveries) {
  Status status = ArchiveDeliveries(impl_->archive, deliveries, nullptr);
  if (!status.ok()) {
    // Nothing was written (an uncommitted transaction is aborted): every delivery that
    // did not fail on its own fails with the group.
    for (GroupDelivery& delivery : deliveries) {
      if (delivery.outcome.status().code() != Status::Code::kLimitExceeded) {
        delivery.outcome = status;
      }
    }
  }
  return status;
}

Result<ArchiveOutcome> Store::AddDelivery(const DeliveryRecord& given) {
  OpenArchive& archive = impl_->archive;
  if (Status writable = CheckWritable(archive); !writable.ok()) return writable;
  DeliveryRecord record = given;
  if (record.received_us == 0) record.received_us = NowMicros();
  Result<DeliveryWritten> written = WriteDelivery(archive, record);
  if (!written.ok()) return written.status();
  if (written->need_message)
    return Status::NotFound("message " + ToHex(record.id) + " is not in the archive");
  return written->outcome;
}

}  // namespace archiver
