// VerifyRun: the frame of a Store::Verify run: its options (stop, progress), its report,
// the counts it accumulates, and walks of a database in short read transactions that
// resume after the last key they visited.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/lmdb_handles.h"
#include "store/message_headers.h"
#include "store/message_tails.h"
#include "store/store_impl.h"

namespace archiver::internal {

class VerifyRun {
 public:
  VerifyRun(const OpenArchive& archive, const VerifyOptions& options, VerifyReport* report)
      : archive_(archive),
        options_(options),
        report_(report),
        reader_(archive),
        payloads_(archive) {}

  const OpenArchive& archive() const { return archive_; }
  const DeliveryReader& reader() const { return reader_; }
  const PayloadReader& payloads() const { return payloads_; }
  const VerifyOptions& options() const { return options_; }
  VerifyReport& report() { return *report_; }
  ArchiveCounts& counts() { return counts_; }

  // Begins a phase of `total` entries (0: unknown) and reports it.
  void BeginPhase(const char* phase, uint64_t total);
  // Before each entry of the phase: false once options.stop says so (the report is then
  // marked interrupted); reports progress when it is due.
  bool Continue(uint64_t done);
  // A read transaction; notes the snapshots it sees (SawOneSnapshot).
  Result<lmdb::Txn> Begin();
  // Whether every transaction Begin gave saw the same snapshot (no write committed in
  // between): then counts() describe one state of the archive.
  bool SawOneSnapshot() const { return snapshots_ <= 1; }
  // Whether the current transaction has served its share (entries or time).
  bool TransactionDone(uint64_t entries, std::chrono::steady_clock::time_point began) const;

  // Visits every entry of `dbi` in key order, in read transactions of a bounded number of
  // entries: `on_begin(txn)` for each new transaction, `visit(txn, key, value)` per entry.
  // The walk resumes after the last key visited (entries added before it meanwhile are
  // not seen). Ok when interrupted (report().interrupted tells).
  using TxnVisitor =
      std::function<Status(const lmdb::Txn& txn, std::string_view key, std::string_view value)>;
  Status WalkInTransactions(MDB_dbi dbi, std::string_view what,
                            const std::function<Status(const lmdb::Txn&)>& on_begin,
                            const TxnVisitor& visit);

 private:
  void Report(uint64_t done);

  const OpenArchive& archive_;
  const VerifyOptions& options_;
  VerifyReport* report_;
  const DeliveryReader reader_;
  const PayloadReader payloads_;
  ArchiveCounts counts_;
  const char* phase_ = "";
  uint64_t total_ = 0;
  std::chrono::steady_clock::time_point last_progress_{};
  size_t last_snapshot_ = 0;
  int snapshots_ = 0;  // distinct snapshots seen, in order
};

// The message pass: lists the stored messages (their offsets in the map, reading no
// message), then re-reads and re-hashes them in on-disk order with read-ahead: those
// without a tail by offset, then those with one in the order their tails were written. Damage goes
// to the report; messages removed meanwhile are skipped.
Status VerifyMessagesInDiskOrder(VerifyRun& run);

}  // namespace archiver::internal
