// Bounded waits (StoreOptions::write_wait_ms): a writer whose write lock is held by a
// process that stopped inside its write transaction gives up in bounded time instead of
// waiting forever, and the gate of a finished transaction never holds anyone.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "archiver/store/store.h"
#include "lmdb/lmdb_handles.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

Result<std::shared_ptr<Store>> OpenStore(const std::string& path, uint64_t wait_ms) {
  StoreOptions options;
  options.path = path;
  options.map_size = 64 << 20;
  options.write_wait_ms = wait_ms;
  return Store::Open(options);
}

// A child process that begins a write transaction the way every writer of ours does (the
// gate, then LMDB's write lock), tells the parent, and then holds it: a doveadm stopped
// in the middle of a batch. With `finish`, it ends its transactions (one committed, one
// aborted) before it tells the parent, and then just stays alive.
class Holder {
 public:
  explicit Holder(const std::string& path, bool finish = false) {
    int ready[2];
    EXPECT_EQ(pipe(ready), 0);
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      _exit(Hold(path, finish, ready[1]));
    }
    close(ready[1]);
    char byte = 0;
    EXPECT_EQ(read(ready[0], &byte, 1), 1) << "the holder did not start its transaction";
    close(ready[0]);
  }
  ~Holder() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  static int Hold(const std::string& path, bool finish, int ready) {
    Result<lmdb::Env> env = lmdb::Env::Create();
    if (!env.ok() || mdb_env_set_maxdbs(env->get(), 32) != 0 ||
        mdb_env_open(env->get(), path.c_str(), MDB_NOTLS, 0600) != 0)
      return 2;
    lmdb::EnvContext context;
    context.write_wait = std::chrono::milliseconds(5000);
    lmdb::SetEnvContext(env->get(), &context);
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(env->get(), true);
    if (!txn.ok()) return 3;
    if (finish) {
      if (!txn->Commit("test").ok()) return 4;
      txn = lmdb::Txn::Begin(env->get(), true);
      if (!txn.ok()) return 3;
      txn->Abort();
    }
    if (write(ready, "x", 1) != 1) return 5;
    pause();  // holds the transaction until killed
    return 0;
  }
  pid_t pid_ = -1;
};

TEST(StoreWriteWaitTest, WriterGivesUpWhenAnotherProcessHoldsTheWriteLock) {
  TempDir dir;
  Result<std::shared_ptr<Store>> store = OpenStore(dir.path(), 300);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Holder holder(dir.path());

  const auto start = Clock::now();
  Result<ArchiveOutcome> outcome = (*store)->Archive("blocked", testing::LocalDelivery("a@b.c"));
  const auto waited = Clock::now() - start;
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kIOError);
  EXPECT_NE(outcome.status().message().find("another process has been writing the archive for "
                                            "over 0.300 s"),
            std::string::npos)
      << outcome.status().message();
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::seconds(3));
}

TEST(StoreWriteWaitTest, WriterGoesOnOnceTheHolderIsGone) {
  TempDir dir;
  Result<std::shared_ptr<Store>> store = OpenStore(dir.path(), 5000);
  ASSERT_TRUE(store.ok());
  { Holder holder(dir.path()); }  // killed inside its transaction: both locks are freed
  EXPECT_TRUE((*store)->Archive("after", testing::LocalDelivery("a@b.c")).ok());
}

TEST(StoreWriteWaitTest, FinishedTransactionsOfALiveProcessHoldNoOne) {
  TempDir dir;
  Result<std::shared_ptr<Store>> store = OpenStore(dir.path(), 2000);
  ASSERT_TRUE(store.ok());
  Holder holder(dir.path(), /*finish=*/true);  // committed and aborted, still running
  const auto start = Clock::now();
  EXPECT_TRUE((*store)->Archive("free", testing::LocalDelivery("a@b.c")).ok());
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace archiver
