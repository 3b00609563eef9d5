// The statistics counters in `meta` recounted from what the archive holds: by verify, to
// compare, and by Store::RepairCounters, to rewrite them (store-format.md, "meta").
#include <array>
#include <vector>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace internal {

void CountMessage(std::string_view value, ArchiveCounts* counts) {
  ++counts->messages;
  counts->stored_bytes += value.size();
  record::MessageHeader header;
  if (!record::DecodeMessageHeader(value, &header).ok()) return;
  counts->raw_bytes += header.raw_size;
  counts->stored_bytes += header.tail_size;  // its msg_tails entries (message_tails.h)
}

void CountDelivery(std::string_view key, const DeliveryRecord* record, ArchiveCounts* counts) {
  ++counts->deliveries;
  DeliveryKey delivery_key;
  if (record::DecodeDeliveryKey(key, &delivery_key) &&
      delivery_key.sequence >= counts->next_sequence)
    counts->next_sequence = delivery_key.sequence + 1;
  if (record != nullptr) counts->delivered_bytes += record->size;
}

Status CountArchive(const lmdb::Txn& txn, const OpenArchive& archive, ArchiveCounts* counts) {
  *counts = ArchiveCounts{};
  Status counted = WalkEntries(
      txn, archive.db.messages, MDB_FIRST, {}, MDB_NEXT,
      [&](std::string_view, std::string_view value, bool*) {
        CountMessage(value, counts);
        return Status::Ok();
      },
      "count messages");
  if (!counted.ok()) return counted;
  return WalkEntries(
      txn, archive.db.deliveries, MDB_FIRST, {}, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool*) {
        DeliveryRecord record;
        const bool decoded =
            record::DecodeDelivery(value, &record, record::TraceDecoding::kSkip).ok();
        CountDelivery(key, decoded ? &record : nullptr, counts);
        return Status::Ok();
      },
      "count deliveries");
}

std::vector<CountedValue> CountedValues(const ArchiveCounts& counts) {
  return {{kMessagesCounter, counts.messages},
          {kDeliveriesCounter, counts.deliveries},
          {kRawBytesCounter, counts.raw_bytes},
          {kStoredBytesCounter, counts.stored_bytes},
          {kDeliveredBytesCounter, counts.delivered_bytes}};
}

}  // namespace internal

Result<std::vector<CounterRepair>> Store::RepairCounters() {
  internal::OpenArchive& archive = impl_->archive;
  if (archive.options.read_only) {
    return Status::InvalidArgument("archive " + archive.options.path + " is open read-only");
  }
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), true);
  if (!txn.ok()) return txn.status();
  internal::ArchiveCounts counts;
  Status counted = internal::CountArchive(*txn, archive, &counts);
  if (!counted.ok()) return counted;
  std::vector<internal::CountedValue> values = internal::CountedValues(counts);
  // The next delivery sequence is not a statistic, but it is repaired the same way; it is
  // never lowered (a sequence must not be given out twice).
  uint64_t next_sequence = 0;
  Status read =
      internal::ReadCounter(*txn, archive.db.meta, internal::kNextSequenceKey, &next_sequence);
  if (read.ok() && next_sequence > counts.next_sequence) counts.next_sequence = next_sequence;
  values.push_back({internal::kNextSequenceKey, counts.next_sequence});
  std::vector<CounterRepair> repairs;
  bool changed = false;
  for (const internal::CountedValue& counted_value : values) {
    CounterRepair repair;
    repair.name = std::string(counted_value.name);
    repair.after = counted_value.value;
    Status stored =
        internal::ReadCounter(*txn, archive.db.meta, counted_value.name, &repair.before);
    if (stored.code() == Status::Code::kCorruption)
      repair.was_damaged = true;
    else if (!stored.ok())
      return stored;
    if (repair.was_damaged || repair.before != repair.after) {
      std::array<char, 8> bytes = record::EncodeCounter(repair.after);
      Status put = txn->Put(archive.db.meta, counted_value.name, {bytes.data(), bytes.size()}, 0);
      if (!put.ok()) return put;
      changed = true;
    }
    repairs.push_back(std::move(repair));
  }
  if (changed) {
    Status committed = txn->Commit("repair the statistics counters");
    if (!committed.ok()) return committed;
  }
  return repairs;
}

}  // namespace archiver
