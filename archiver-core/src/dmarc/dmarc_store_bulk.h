// The write transaction behind DmarcStore::Bulk: opened by the first write that joins,
// committed when a DmarcBulkOptions threshold is reached or on demand, aborted for good
// by a failure (see dmarc_store.h). And the one entry through which DmarcStore's small
// writes either join it or run in a transaction of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_store_db.h"

namespace archiver::internal {

class DmarcBulkTxn {
 public:
  DmarcBulkTxn(lmdb::ArchiveEnv& archive, const DmarcBulkOptions& options);
  DmarcBulkTxn(const DmarcBulkTxn&) = delete;
  DmarcBulkTxn& operator=(const DmarcBulkTxn&) = delete;

  // The open transaction, begun when none is: valid until Commit, Abort or a commit
  // made by Added / CommitIfDue. The failure that aborted this bulk, if one did.
  Result<lmdb::Txn*> Join();
  // The open transaction, or null: for reads that must see the pending writes.
  lmdb::Txn* open() { return pending() ? &txn_ : nullptr; }

  // One report (failure report, ledger error) written into the open transaction, with
  // `bytes` of encoded records; commits when a threshold is reached.
  Status Added(uint64_t bytes);
  Status CommitIfDue();
  Status Commit();
  // Aborts what is pending; every later call fails with `reason`.
  void Abort(const Status& reason);

  bool pending() const { return txn_.get() != nullptr; }
  uint64_t commits() const { return commits_; }

 private:
  bool Due() const;

  lmdb::ArchiveEnv& archive_;
  DmarcBulkOptions options_;
  lmdb::Txn txn_;
  std::chrono::steady_clock::time_point begun_;
  uint64_t reports_ = 0;
  uint64_t bytes_ = 0;
  uint64_t commits_ = 0;
  Status failed_;
};

// Runs `body` in `bulk`'s transaction when there is a bulk (as one report; a failure of
// `body` aborts the bulk), otherwise in a write transaction of its own committed when
// `body` returns Ok.
Status InDmarcWrite(lmdb::ArchiveEnv& archive, DmarcBulkTxn* bulk, std::string_view what,
                    const std::function<Status(lmdb::Txn&)>& body);

}  // namespace archiver::internal
