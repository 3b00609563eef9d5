// Child processes for hostile work: what a child says comes back, and a child that
// crashes, hangs, burns CPU or grows without end is stopped and described, never waited
// for past its deadline. A detached program is never this process's to reap.
#include "archiver/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace archiver {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(RunInChildTest, BringsBackOutputAndExitCode) {
  Result<ChildEnd> end = RunInChild(
      [](int fd) {
        const char text[] = "hello\n";
        return write(fd, text, sizeof(text) - 1) == 6 ? 3 : 1;
      },
      ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->output, "hello\n");
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_EQ(end->signal, 0);
  EXPECT_FALSE(end->timed_out);
  EXPECT_EQ(end->Describe(), "exit 3");
}

TEST(RunInChildTest, ACrashIsDescribed) {
  Result<ChildEnd> end = RunInChild([](int) -> int { std::abort(); }, ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->signal, SIGABRT);
  EXPECT_NE(end->Describe().find("signal 6"), std::string::npos) << end->Describe();
}

TEST(RunInChildTest, AnExceptionIsExit70) {
  Result<ChildEnd> end =
      RunInChild([](int) -> int { throw std::runtime_error("boom"); }, ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 70);
}

TEST(RunInChildTest, AHangIsKilledAtTheDeadline) {
  ChildLimits limits;
  limits.deadline = milliseconds(300);
  const Clock::time_point start = Clock::now();
  Result<ChildEnd> end = RunInChild(
      [](int) -> int {
        for (;;) pause();
      },
      limits);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->timed_out);
  EXPECT_GE(took.count(), 300);
  EXPECT_LT(took.count(), 3000);
  // A hang that closed its output is still only waited for until the deadline.
  const Clock::time_point again = Clock::now();
  end = RunInChild(
      [](int fd) -> int {
        close(fd);
        for (;;) pause();
      },
      limits);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->timed_out);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - again).count(), 3000);
}

TEST(RunInChildTest, CpuLimitStopsABusyLoop) {
  ChildLimits limits;
  limits.deadline = milliseconds(20'000);
  limits.cpu_seconds = 1;
  Result<ChildEnd> end = RunInChild(
      [](int) -> int {
        volatile uint64_t spin = 0;
        for (;;) spin = spin + 1;
      },
      limits);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->timed_out);
  EXPECT_TRUE(end->signal == SIGXCPU || end->signal == SIGKILL) << end->Describe();
}

TEST(RunInChildTest, MemoryGrowthIsBounded) {
  if (!MemoryGrowthLimited()) GTEST_SKIP() << "no memory limit in sanitizer builds";
  Result<ChildEnd> end = RunInChild(
      [](int) -> int {
        LimitMemoryGrowth(64ULL << 20);
        std::vector<std::unique_ptr<char[]>> hoard;
        try {
          for (int i = 0; i < 64; ++i) {  // 1 GiB if nothing stopped it
            hoard.emplace_back(new char[16 << 20]);
            std::memset(hoard.back().get(), 1, 16 << 20);
          }
        } catch (const std::bad_alloc&) {
          return 42;
        }
        return 0;
      },
      ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 42) << end->Describe();
}

TEST(RunInChildTest, RunningOutOfMemoryIsDescribed) {
  Result<ChildEnd> end = RunInChild([](int) -> int { throw std::bad_alloc(); }, ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, kOutOfMemoryExit);
  EXPECT_EQ(end->Describe(), "out of memory (its memory limit)");
}

TEST(RunInChildTest, DiesWithItsParentAndDumpsNoCore) {
  Result<ChildEnd> end = RunInChild(
      [](int fd) -> int {
        struct rlimit core;
        getrlimit(RLIMIT_CORE, &core);
        int signal_number = 0;
        prctl(PR_GET_PDEATHSIG, &signal_number, 0, 0, 0);
        const std::string line =
            std::to_string(core.rlim_cur) + " " + std::to_string(signal_number);
        return write(fd, line.data(), line.size()) > 0 ? 0 : 1;
      },
      ChildLimits{});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->output, "0 " + std::to_string(SIGKILL));
}

TEST(SpawnDetachedTest, ProgramReadsInputAndAnswers) {
  Result<int> fd = SpawnDetached({"/bin/sh", "-c", "read line; echo \"got $line $FOO\""},
                                 {"FOO=bar"}, "job\n");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ChildAnswer answer = ReadAnswer(*fd, milliseconds(10'000));
  close(*fd);
  EXPECT_TRUE(answer.ended);
  EXPECT_EQ(answer.text, "got job bar\n");
  // Nothing of it is ours to reap: the program was our child's child.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SpawnDetachedTest, WaitingStopsAtTheWaitWhileTheProgramGoesOn) {
  char dir_template[] = "/tmp/spawn-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string done = std::string(dir_template) + "/done";
  // As the reader does, the program ignores SIGPIPE: its answer may find nobody reading.
  Result<int> fd = SpawnDetached(
      {"/bin/sh", "-c", "trap '' PIPE; sleep 1; echo late; touch " + done},
      {"PATH=/usr/bin:/bin"}, "");
  ASSERT_TRUE(fd.ok());
  const Clock::time_point start = Clock::now();
  ChildAnswer answer = ReadAnswer(*fd, milliseconds(100));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 900);
  EXPECT_FALSE(answer.ended);
  EXPECT_EQ(answer.text, "");
  close(*fd);  // the program's echo then fails; it goes on all the same
  for (int i = 0; i < 100 && access(done.c_str(), F_OK) != 0; ++i) usleep(50'000);
  EXPECT_EQ(access(done.c_str(), F_OK), 0);
  unlink(done.c_str());
  rmdir(dir_template);
}

TEST(SpawnDetachedTest, InheritsNoDescriptors) {
  const int extra = dup(2);
  ASSERT_GE(extra, 3);
  Result<int> fd = SpawnDetached({"/bin/sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"},
                                 {"PATH=/usr/bin:/bin"}, "");
  ASSERT_TRUE(fd.ok());
  ChildAnswer answer = ReadAnswer(*fd, milliseconds(10'000));
  close(*fd);
  close(extra);
  // 0, 1, 2 and the one ls opens to read the directory.
  EXPECT_EQ(answer.text, "0 1 2 3 ");
}

TEST(SpawnDetachedTest, RootUnderneathIsNotHandedOn) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (as an LMTP process has it underneath)";
  // As LMTP delivering for a mail uid: real uid root, effective the user's.
  ASSERT_EQ(setegid(65534), 0);
  ASSERT_EQ(seteuid(65534), 0);
  Result<int> fd = SpawnDetached({"/bin/grep", "-E", "^(Uid|Gid):", "/proc/self/status"}, {}, "");
  const int restored = seteuid(0) | setegid(0);
  ASSERT_EQ(restored, 0);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  ChildAnswer answer = ReadAnswer(*fd, milliseconds(10'000));
  close(*fd);
  // Real, effective, saved and filesystem ids: all the user's, none root's.
  EXPECT_EQ(answer.text, "Uid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n");
}

TEST(SpawnDetachedTest, AMissingProgramIsNotFound) {
  Result<int> fd = SpawnDetached({"/nonexistent/archiver-dmarc-reader"}, {}, "");
  EXPECT_EQ(fd.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(SpawnDetached({"/bin/sh"}, {}, std::string(8192, 'x')).status().code(),
            Status::Code::kInvalidArgument);  // more than a pipe surely holds
  EXPECT_EQ(SpawnDetached({"relative"}, {}, "").status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace archiver
