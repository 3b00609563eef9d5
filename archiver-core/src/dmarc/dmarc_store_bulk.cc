// DmarcStore::Bulk and its transaction (see dmarc_store.h and dmarc_store_bulk.h).
#include "dmarc/dmarc_store_bulk.h"

#include <utility>

namespace archiver {
namespace internal {

DmarcBulkTxn::DmarcBulkTxn(lmdb::ArchiveEnv& archive, const DmarcBulkOptions& options)
    : archive_(archive), options_(options) {}

Result<lmdb::Txn*> DmarcBulkTxn::Join() {
  if (!failed_.ok()) return failed_;
  if (pending()) return &txn_;
  Result<lmdb::Txn> begun = BeginDmarcWrite(archive_);
  if (!begun.ok()) return begun.status();
  txn_ = std::move(begun.value());
  begun_ = std::chrono::steady_clock::now();
  reports_ = bytes_ = 0;
  return &txn_;
}

bool DmarcBulkTxn::Due() const {
  return reports_ >= options_.max_reports || bytes_ >= options_.max_bytes ||
         std::chrono::steady_clock::now() - begun_ >= options_.max_open;
}

Status DmarcBulkTxn::Added(uint64_t bytes) {
  ++reports_;
  bytes_ += bytes;
  return CommitIfDue();
}

Status DmarcBulkTxn::CommitIfDue() {
  if (!failed_.ok()) return failed_;
  if (!pending() || !Due()) return Status::Ok();
  return Commit();
}

Status DmarcBulkTxn::Commit() {
  if (!failed_.ok()) return failed_;
  if (!pending()) return Status::Ok();
  Status committed = txn_.Commit("store DMARC reports");
  if (!committed.ok()) {
    Abort(committed);
    return committed;
  }
  ++commits_;
  return Status::Ok();
}

void DmarcBulkTxn::Abort(const Status& reason) {
  txn_.Abort();
  if (failed_.ok()) failed_ = reason;
}

Status InDmarcWrite(lmdb::ArchiveEnv& archive, DmarcBulkTxn* bulk, std::string_view what,
                    const std::function<Status(lmdb::Txn&)>& body) {
  if (bulk == nullptr) return InDmarcWrite(archive, what, body);
  Result<lmdb::Txn*> txn = bulk->Join();
  if (!txn.ok()) return txn.status();
  Status done = body(**txn);
  // A report refused for space (CheckDmarcSpace) is refused before anything of it is
  // written: what the bulk holds of other reports stays.
  if (done.code() == Status::Code::kLimitExceeded) return done;
  if (!done.ok()) {
    bulk->Abort(done);
    return done;
  }
  return bulk->Added(0);
}

}  // namespace internal

std::unique_ptr<internal::DmarcBulkTxn> DmarcStore::NewBulk(const DmarcBulkOptions& options) {
  if (!env_) return nullptr;
  return std::make_unique<internal::DmarcBulkTxn>(*env_, options);
}

DmarcStore::Bulk::Bulk(DmarcStore& store, DmarcBulkOptions options)
    : store_(store), txn_(store.NewBulk(options)) {
  if (txn_) store_.bulk_ = txn_.get();
}

DmarcStore::Bulk::~Bulk() {
  if (store_.bulk_ == txn_.get()) store_.bulk_ = nullptr;
}

Status DmarcStore::Bulk::Commit() {
  return txn_ ? txn_->Commit() : Status::InvalidArgument("no archive");
}

Status DmarcStore::Bulk::CommitIfDue() {
  return txn_ ? txn_->CommitIfDue() : Status::InvalidArgument("no archive");
}

bool DmarcStore::Bulk::pending() const { return txn_ && txn_->pending(); }

uint64_t DmarcStore::Bulk::commits() const { return txn_ ? txn_->commits() : 0; }

}  // namespace archiver
