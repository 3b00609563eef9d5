// Store::Verify: re-reads and re-hashes every stored message (verify_run.cc: in on-disk
// order), checks that every delivery decodes, names a stored message and is filed in every
// index that finds it (or listed for a batch, index_batch.h), and that the statistics
// counters match. Short read transactions (VerifyRun); one message copied out at a time.
#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"
#include "store/content_indexes.h"
#include "store/index_batch.h"
#include "store/index_keys.h"
#include "store/record.h"
#include "store/store_impl.h"
#include "store/verify_run.h"

namespace archiver {
using internal::IdBytes;
namespace {

std::string DescribeKey(const DeliveryKey& key) {
  return std::to_string(key.received_us) + "/" + std::to_string(key.sequence);
}

// Whether `key` → `value` is in `dbi` (a DUPSORT index, or a plain database whose
// value must equal `value`).
Result<bool> HasEntry(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                      std::string_view value, bool duplicates) {
  if (!duplicates) {
    std::string_view stored;
    Status found = txn.Get(dbi, key, &stored);
    if (found.code() == Status::Code::kNotFound) return false;
    if (!found.ok()) return found;
    return stored == value;
  }
  return internal::HasDuplicate(txn, dbi, key, value, "verify indexes");
}

// Reports each index that should find this delivery and does not: a delivery missing
// from an index is invisible to the filters that use it. `listed`: it waits in
// `unindexed` for its batch, so the batched indexes do not have it yet. `content`: the
// content indexes when they are complete (before, a delivery may lack its entries).
Status CheckIndexes(const internal::OpenArchive& archive, const internal::SourceIndex* source_index,
                    const internal::ContentIndexes* content, const lmdb::Txn& txn,
                    const DeliveryRecord& record, std::string_view delivery_key, bool listed,
                    const std::string& described, VerifyReport* report) {
  const internal::Databases& db = archive.db;
  MessageId idempotency = index::DeliveryIdempotencyKey(record);
  if (record.source.empty()) {
    // Filed by an archive that predates the user in the key: its legacy entry counts.
    Result<bool> filed = HasEntry(txn, db.delivery_keys, IdBytes(idempotency), delivery_key, false);
    if (!filed.ok()) return filed.status();
    if (!*filed) {
      idempotency =
          index::LegacyDeliveryIdempotencyKey(record.id, record.envelope_to, record.mailbox);
    }
  }
  struct Expected {
    const char* index;
    MDB_dbi dbi;
    std::string key;
    bool duplicates;
  };
  std::vector<Expected> expected = {
      {internal::kDeliveryKeysDb, db.delivery_keys, std::string(IdBytes(idempotency)), false},
      {internal::kMessageIndexDb, db.idx_message, std::string(IdBytes(record.id)), true}};
  if (!listed) {
    (void)internal::ForEachBatchedEntry(db, content, record,
                                        [&](MDB_dbi dbi, const char* database, std::string key) {
                                          expected.push_back({database, dbi, std::move(key), true});
                                          return Status::Ok();
                                        });
  }
  if (!record.source.empty() && source_index != nullptr)
    expected.push_back({internal::kSourceIndexDb, source_index->idx_source, record.source, true});
  for (const Expected& entry : expected) {
    Result<bool> found = HasEntry(txn, entry.dbi, index::FitKey(entry.key, archive.max_key_size),
                                  delivery_key, entry.duplicates);
    if (!found.ok()) return found.status();
    if (!*found) {
      report->damaged.emplace_back(
          record.id,
          Status::Corruption("delivery " + described + " is missing from index " + entry.index));
    }
  }
  return Status::Ok();
}

// The delivery keys waiting in `unindexed`: a list of whole keys, each naming a
// delivery, none twice.
// Read again in each transaction of the walk (a batch may be filed meanwhile); its
// damage is reported only when `report` is given (the first time).
Status CheckUnindexed(const internal::OpenArchive& archive, const lmdb::Txn& txn,
                      std::unordered_set<std::string>* listed, VerifyReport* report) {
  listed->clear();
  std::vector<record::DeliveryKeyBytes> keys;
  Status read = internal::ReadUnindexed(txn, archive, &keys);
  if (read.code() == Status::Code::kCorruption) {
    if (report != nullptr) report->damaged.emplace_back(MessageId{}, read);
  } else if (!read.ok()) {
    return read;
  }
  for (const record::DeliveryKeyBytes& bytes : keys) {
    const std::string_view key(bytes.data(), bytes.size());
    DeliveryKey delivery_key;
    record::DecodeDeliveryKey(key, &delivery_key);
    std::string_view stored;
    Status found = txn.Get(archive.db.deliveries, key, &stored);
    if (!found.ok() && found.code() != Status::Code::kNotFound) return found;
    const char* problem = !found.ok()                    ? " is listed for indexing but missing"
                          : !listed->emplace(key).second ? " is listed for indexing twice"
                                                         : nullptr;
    if (problem != nullptr && report != nullptr) {
      report->damaged.emplace_back(
          MessageId{}, Status::Corruption("delivery " + DescribeKey(delivery_key) + problem));
    }
  }
  return Status::Ok();
}

// One delivery: its key and record decode, its message is stored, its indexes have it.
Status CheckDelivery(internal::VerifyRun& run, const internal::SourceIndex* source_index,
                     const internal::ContentIndexes* content, const lmdb::Txn& txn,
                     const std::unordered_set<std::string>& listed, std::string_view key,
                     std::string_view value) {
  const internal::OpenArchive& archive = run.archive();
  VerifyReport* report = &run.report();
  ++report->deliveries_checked;
  DeliveryKey delivery_key;
  DeliveryRecord record;
  Status decoded = record::DecodeDelivery(value, &record);
  internal::CountDelivery(key, decoded.ok() ? &record : nullptr, &run.counts());
  if (decoded.ok() && !record::DeliveryHoldsHeaders(value))
    decoded = run.reader().Headers(txn, record.id, &record.headers);
  if (!record::DecodeDeliveryKey(key, &delivery_key)) {
    report->damaged.emplace_back(MessageId{},
                                 Status::Corruption("a deliveries key is not 16 bytes"));
    return Status::Ok();
  }
  if (!decoded.ok()) {
    report->damaged.emplace_back(
        MessageId{},
        Status::Corruption("delivery " + DescribeKey(delivery_key) + ": " + decoded.message()));
    return Status::Ok();
  }
  std::string_view stored;
  Status found = txn.Get(archive.db.messages, IdBytes(record.id), &stored);
  if (found.code() == Status::Code::kNotFound) {
    report->damaged.emplace_back(
        record.id, Status::NotFound("delivery " + DescribeKey(delivery_key) + ": message " +
                                    ToHex(record.id) + " is missing"));
  } else if (!found.ok()) {
    return found;
  }
  return CheckIndexes(archive, source_index, content, txn, record, key,
                      listed.count(std::string(key)) != 0, DescribeKey(delivery_key), report);
}

// `source_index`: null when the archive has no idx_source; `content`, when it has no
// content indexes (or they were not complete when the walk began). In key order (time order,
// which is about the order they were written in). No read-around (the index lookups would
// drag megabytes each): the leaf pages near the one being read are asked for instead.
Status CheckDeliveries(internal::VerifyRun& run, const internal::SourceIndex* source_index,
                       const internal::ContentIndexes* content, uint64_t total) {
  constexpr uint64_t kNear = 256 << 10;                  // asked for around a leaf page
  constexpr uint64_t kTransactionsBetweenReleases = 16;  // ReleaseMapped every so many
  const internal::OpenArchive& archive = run.archive();
  lmdb::ScanAdvice advice(archive.env, lmdb::MapAccess::kLookups);
  run.BeginPhase("deliveries", total);
  std::unordered_set<std::string> listed;
  uint64_t transactions = 0, near_from = UINT64_MAX, near_to = 0;
  return run.WalkInTransactions(
      archive.db.deliveries, "verify deliveries",
      [&](const lmdb::Txn& txn) {
        if (transactions % kTransactionsBetweenReleases == 0) advice.ReleaseMapped();
        if (transactions == 0 && content != nullptr) {  // complete now: stays complete
          Result<bool> complete = internal::ContentIndexesComplete(txn, archive.db.meta);
          if (!complete.ok()) return complete.status();
          if (!*complete) content = nullptr;
        }
        return CheckUnindexed(archive, txn, &listed, transactions++ == 0 ? &run.report() : nullptr);
      },
      [&](const lmdb::Txn& txn, std::string_view key, std::string_view value) {
        const uint64_t offset = advice.OffsetOf(value);
        if (offset != UINT64_MAX && (offset < near_from || offset >= near_to)) {
          near_from = offset / kNear * kNear;
          near_to = near_from + kNear;
          advice.WillNeed(near_from, kNear);
        }
        return CheckDelivery(run, source_index, content, txn, listed, key, value);
      });
}

// The counters `doveadm archive stats` shows must match what the archive holds; a damaged
// one is reported, not an error (`doveadm archive repair` rewrites them).
Status CheckCounters(const internal::OpenArchive& archive, const lmdb::Txn& txn,
                     const internal::ArchiveCounts& counts, VerifyReport* report) {
  for (const internal::CountedValue& actual : internal::CountedValues(counts)) {
    const std::string name(actual.name);
    uint64_t stored = 0;
    Status read = internal::ReadCounter(txn, archive.db.meta, actual.name, &stored);
    if (read.code() == Status::Code::kCorruption) {
      report->damaged.emplace_back(
          MessageId{},
          Status::Corruption("statistics counter '" + name + "' is damaged (" + read.message() +
                             "): it should be " + std::to_string(actual.value)));
    } else if (!read.ok()) {
      return read;
    } else if (stored != actual.value) {
      report->damaged.emplace_back(
          MessageId{},
          Status::Corruption("statistics counter '" + name + "' is " + std::to_string(stored) +
                             " but the archive holds " + std::to_string(actual.value)));
    }
  }
  return Status::Ok();
}

// The counters against the counts the walks made when no write was committed during
// them; else against a recount in one transaction (the walks saw several states).
Status CheckCountersAfterWalks(internal::VerifyRun& run) {
  const internal::OpenArchive& archive = run.archive();
  run.BeginPhase("counters", 0);
  Result<lmdb::Txn> txn = run.Begin();
  if (!txn.ok()) return txn.status();
  if (run.SawOneSnapshot()) return CheckCounters(archive, *txn, run.counts(), &run.report());
  internal::ArchiveCounts counts;
  Status counted = internal::CountArchive(*txn, archive, &counts);
  if (!counted.ok()) return counted;
  return CheckCounters(archive, *txn, counts, &run.report());
}

// What the counters say the archive holds, for progress (0 when unreadable).
void ExpectedTotals(internal::VerifyRun& run, uint64_t* messages, uint64_t* deliveries) {
  *messages = *deliveries = 0;
  Result<lmdb::Txn> txn = run.Begin();
  if (!txn.ok()) return;
  (void)internal::ReadCounter(*txn, run.archive().db.meta, internal::kMessagesCounter, messages);
  (void)internal::ReadCounter(*txn, run.archive().db.meta, internal::kDeliveriesCounter,
                              deliveries);
}

}  // namespace

Result<VerifyReport> Store::Verify(const VerifyOptions& options) const {
  const internal::OpenArchive& archive = impl_->archive;
  // Opened first, so that CheckIndexes can check idx_source and the content indexes.
  Result<const internal::SourceIndex*> source_index = internal::OpenSourceIndex(archive.env, false);
  if (!source_index.ok()) return source_index.status();
  Result<const internal::ContentIndexes*> content =
      internal::OpenContentIndexes(archive.env, false);
  if (!content.ok()) return content.status();
  VerifyReport report;
  internal::VerifyRun run(archive, options, &report);
  uint64_t messages = 0, deliveries = 0;
  ExpectedTotals(run, &messages, &deliveries);
  run.BeginPhase("listing messages", messages);
  Status status = internal::VerifyMessagesInDiskOrder(run);
  if (status.ok() && !report.interrupted)
    status = CheckDeliveries(run, *source_index, *content, deliveries);
  if (status.ok() && !report.interrupted) status = CheckCountersAfterWalks(run);
  if (!status.ok()) return status;
  return report;
}

}  // namespace archiver
