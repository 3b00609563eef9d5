// The open-on-first-use protocol of database groups added after an archive's creation.
#include "lmdb/lazy_databases.h"

namespace archiver::internal {

Status OpenOnFirstUse(OpenArchive& archive, std::mutex& mutex, std::atomic<bool>& open, bool write,
                      bool* present, std::string_view what,
                      const std::function<Status(lmdb::Txn& txn, bool create)>& open_all,
                      const std::function<void()>& publish) {
  *present = true;
  if (open.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lock(mutex);
  if (open.load(std::memory_order_relaxed)) return Status::Ok();
  for (bool create : {false, true}) {
    if (create && !write) {
      *present = false;
      return Status::Ok();
    }
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), create);
    if (!txn.ok()) return txn.status();
    Status opened = open_all(*txn, create);
    if (opened.ok()) {
      opened = txn->Commit(std::string(create ? "create the " : "open the ") + std::string(what) +
                           " of " + archive.options.path);
    }
    if (opened.ok()) {
      publish();
      open.store(true, std::memory_order_release);
      return Status::Ok();
    }
    if (opened.code() != Status::Code::kNotFound || create) return opened;
  }
  return Status::Ok();  // not reached: the create pass returns
}

}  // namespace archiver::internal
