// Several processes delivering into one archive at once, as LMTP processes do, a map
// grown by another process while this one has the archive open, and a repeated delivery
// that does not wait for another process's write.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "archiver/store/store.h"
#include "test_util.h"

namespace archiver {
namespace {

constexpr int kChildren = 4;
constexpr int kPerChild = 200;

std::string ChildMessage(int child, int i) {
  // Even-numbered messages are the same in every child (one message, several recipients).
  if (i % 2 == 0) return testing::MakeMessage("a@b", "all@x", "shared " + std::to_string(i), "s");
  return testing::MakeMessage("a@b", "one@x",
                              "own " + std::to_string(child) + "/" + std::to_string(i),
                              std::string(static_cast<size_t>(i) * 50, 'o'));
}

// Runs in a forked child: opens its own Store (never the parent's) and archives its share.
int ChildMain(const std::string& path, int child) {
  Result<std::shared_ptr<Store>> store = Store::Open({.path = path, .sync = false});
  if (!store.ok()) return 10;
  for (int i = 0; i < kPerChild; ++i) {
    DeliveryRecord record;
    record.envelope_to = "user" + std::to_string(child) + "@x";
    record.mailbox = "INBOX";
    Result<ArchiveOutcome> outcome = (*store)->Archive(ChildMessage(child, i), record);
    if (!outcome.ok() || *outcome == ArchiveOutcome::kAlreadyArchived) return 20;
    if (i % 2 == 1 && *outcome != ArchiveOutcome::kStored) return 30;
  }
  return 0;
}

std::vector<pid_t> Fork(int count, const std::function<int(int)>& body) {
  std::vector<pid_t> children;
  for (int child = 0; child < count; ++child) {
    pid_t pid = fork();
    if (pid == 0) _exit(body(child));  // _exit: no destructors of the parent's objects
    children.push_back(pid);
  }
  return children;
}

void ExpectExitedCleanly(const std::vector<pid_t>& children) {
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << pid;
  }
}

TEST(StoreConcurrencyTest, ProcessesArchivingAtOnce) {
  testing::TempDir dir;
  const std::string path = dir.Sub("shared");
  std::vector<pid_t> children = Fork(kChildren, [&](int child) { return ChildMain(path, child); });
  ExpectExitedCleanly(children);

  Result<std::shared_ptr<Store>> store = Store::Open({.path = path});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<StoreStats> stats = (*store)->GetStats();
  ASSERT_TRUE(stats.ok());
  const uint64_t distinct = kPerChild / 2 + kChildren * kPerChild / 2;
  EXPECT_EQ(stats->messages, distinct);
  EXPECT_EQ(stats->deliveries, static_cast<uint64_t>(kChildren * kPerChild));
  uint64_t listed = 0;
  ASSERT_TRUE((*store)->ListDeliveries({}, [&](const Delivery&) { return ++listed > 0; }).ok());
  EXPECT_EQ(listed, static_cast<uint64_t>(kChildren * kPerChild));
  Result<std::vector<Delivery>> shared = (*store)->DeliveriesOf(Sha256::Of(ChildMessage(0, 0)));
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->size(), static_cast<size_t>(kChildren));
  Result<VerifyReport> report = (*store)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->messages_checked, distinct);
  EXPECT_EQ(report->deliveries_checked, static_cast<uint64_t>(kChildren * kPerChild));
  EXPECT_TRUE(report->damaged.empty());
}

TEST(StoreConcurrencyTest, MapGrownByAnotherProcessIsAdopted) {
  testing::TempDir dir;
  const std::string path = dir.Sub("growing");
  Result<std::shared_ptr<Store>> small =
      Store::Open({.path = path, .map_size = 2 << 20, .sync = false});
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE((*small)->Archive("before", DeliveryRecord{}).ok());

  const std::string big = testing::RandomBytes(8 << 20, 6);
  // The child opens its own environment with a larger map and fills it past ours.
  ExpectExitedCleanly(Fork(1, [&](int) {
    Result<std::shared_ptr<Store>> large =
        Store::Open({.path = path, .map_size = 64 << 20, .sync = false});
    if (!large.ok()) return 1;
    return (*large)->Archive(big, DeliveryRecord{}).ok() ? 0 : 2;
  }));

  Result<std::string> read = (*small)->ReadMessage(Sha256::Of(big));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(*read == big);
  EXPECT_GE((*small)->GetStats()->map_size, 64u << 20);
  EXPECT_TRUE((*small)->Archive("after", DeliveryRecord{}).ok());
}

TEST(StoreConcurrencyTest, RepeatedDeliveryDoesNotWaitForTheWriteLock) {
  testing::TempDir dir;
  const std::string path = dir.Sub("locked");
  Result<std::shared_ptr<Store>> store = Store::Open({.path = path, .sync = false});
  ASSERT_TRUE(store.ok());
  const DeliveryRecord record = testing::LocalDelivery("bob@b.com");
  Result<ArchiveOutcome> first = (*store)->Archive("archived", record);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(*first, ArchiveOutcome::kStored);

  // A child holds LMDB's write lock for 3 s, as a slow delivery in another process would.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  std::vector<pid_t> holder = Fork(1, [&](int) {
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
        mdb_env_open(env, path.c_str(), 0, 0600) != 0 ||
        mdb_txn_begin(env, nullptr, 0, &txn) != 0)
      return 1;
    if (write(ready[1], "x", 1) != 1) return 2;
    sleep(3);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
  });
  close(ready[1]);  // a child that fails before its write ends the read with end of file
  char byte = 0;
  const ssize_t got = read(ready[0], &byte, 1);
  close(ready[0]);
  if (got != 1) ExpectExitedCleanly(holder);  // reports the child's exit status
  ASSERT_EQ(got, 1) << "the child did not take the write lock";

  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  Clock::time_point start = Clock::now();
  Result<ArchiveOutcome> repeated = (*store)->Archive("archived", record);
  std::vector<GroupDelivery> group = {{"archived", record}};
  Status grouped = (*store)->ArchiveGroup(group);
  EXPECT_LT(seconds_since(start), 1.5) << "a repeated delivery waited for the write lock";
  ASSERT_TRUE(repeated.ok() && grouped.ok() && group[0].outcome.ok());
  EXPECT_EQ(*repeated, ArchiveOutcome::kAlreadyArchived);
  EXPECT_EQ(*group[0].outcome, ArchiveOutcome::kAlreadyArchived);
  // The control: a new delivery does wait for it.
  start = Clock::now();
  Result<ArchiveOutcome> fresh = (*store)->Archive("new", record);
  EXPECT_GT(seconds_since(start), 0.5) << "the child did not hold the write lock";
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(*fresh, ArchiveOutcome::kStored);
  ExpectExitedCleanly(holder);
}

}  // namespace
}  // namespace archiver
