// A retry that finds its delivery archived already is made durable before it is reported
// archived (issue 15, item 6): the commit it found may be another process's whose meta
// page is not flushed yet. Observed by counting the flushes LMDB makes: this file defines
// fdatasync for the whole test binary (the executable's definition comes before libc's
// for liblmdb too) and passes every call on.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>

#include "archiver/store/store.h"
#include "test_util.h"

namespace {
std::atomic<unsigned> flushes{0};
}  // namespace

extern "C" int fdatasync(int fd) {
  using Fdatasync = int (*)(int);
  static const Fdatasync real = reinterpret_cast<Fdatasync>(dlsym(RTLD_NEXT, "fdatasync"));
  ++flushes;
  return real(fd);
}

namespace archiver {
namespace {

std::shared_ptr<Store> Open(const std::string& path, bool sync, bool meta_sync) {
  StoreOptions options;
  options.path = path;
  options.sync = sync;
  options.meta_sync = meta_sync;
  Result<std::shared_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

TEST(StoreRetryFlushTest, ARetryFoundArchivedIsFlushedWithFsyncYes) {
  testing::TempDir dir;
  std::shared_ptr<Store> store = Open(dir.Sub("archive"), true, true);
  ASSERT_NE(store, nullptr);
  const std::string message = "From: a@b\r\nSubject: retry\r\n\r\nbody\r\n";
  const DeliveryRecord record = testing::LocalDelivery("bob@example.com", "INBOX");
  const unsigned before_first = flushes.load();
  ASSERT_EQ(*store->Archive(message, record), ArchiveOutcome::kStored);
  // The probe sees LMDB's flushes at all: a durable commit makes some.
  ASSERT_GT(flushes.load(), before_first);
  const unsigned before_retry = flushes.load();
  ASSERT_EQ(*store->Archive(message, record), ArchiveOutcome::kAlreadyArchived);
  EXPECT_GT(flushes.load(), before_retry) << "the retry was acknowledged without a flush";
}

TEST(StoreRetryFlushTest, NoFlushWhenTheAdminChoseLessDurability) {
  for (const auto& [sync, meta_sync] : {std::pair{false, false}, std::pair{true, false}}) {
    testing::TempDir dir;
    std::shared_ptr<Store> store = Open(dir.Sub("archive"), sync, meta_sync);
    ASSERT_NE(store, nullptr);
    const std::string message = "From: a@b\r\nSubject: retry\r\n\r\nbody\r\n";
    const DeliveryRecord record = testing::LocalDelivery("bob@example.com", "INBOX");
    ASSERT_EQ(*store->Archive(message, record), ArchiveOutcome::kStored);
    const unsigned before_retry = flushes.load();
    ASSERT_EQ(*store->Archive(message, record), ArchiveOutcome::kAlreadyArchived);
    EXPECT_EQ(flushes.load(), before_retry) << "sync " << sync << " meta_sync " << meta_sync;
  }
}

}  // namespace
}  // namespace archiver
