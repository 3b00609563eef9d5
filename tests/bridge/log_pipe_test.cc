// WaitForPipeDrained (imapc-bridge/poller/log-pipe.h): the poller's wait for Dovecot's log
// process before its first line.
#include "log-pipe.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace archiver::poller {
namespace {

using Clock = std::chrono::steady_clock;

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe(fds_), 0); }
  ~Pipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }

 private:
  int fds_[2] = {-1, -1};
};

long MsecsSince(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

TEST(LogPipeTest, EmptyPipeReturnsAtOnce) {
  Pipe pipe;
  const Clock::time_point start = Clock::now();
  EXPECT_TRUE(WaitForPipeDrained(pipe.write_end(), 5000));
  EXPECT_LT(MsecsSince(start), 1000);
}

TEST(LogPipeTest, NotAPipeIsNothingToWaitFor) {
  const int null = open("/dev/null", O_WRONLY);
  ASSERT_GE(null, 0);
  const Clock::time_point start = Clock::now();
  EXPECT_TRUE(WaitForPipeDrained(null, 5000));
  EXPECT_LT(MsecsSince(start), 1000);
  close(null);
  EXPECT_TRUE(WaitForPipeDrained(-1, 5000));  // fstat fails: nothing to wait for either
}

TEST(LogPipeTest, WaitsUntilTheReaderHasReadEverything) {
  Pipe pipe;
  // What the master writes first: a handshake the log process has not read yet.
  ASSERT_EQ(write(pipe.write_end(), "handshake", 9), 9);
  const Clock::time_point start = Clock::now();
  std::thread reader([&pipe] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    char buffer[16];
    EXPECT_EQ(read(pipe.read_end(), buffer, sizeof buffer), 9);
  });
  const bool drained = WaitForPipeDrained(pipe.write_end(), 5000);
  const long waited = MsecsSince(start);
  reader.join();
  EXPECT_TRUE(drained);
  EXPECT_GE(waited, 140);  // not before the reader read
  EXPECT_LT(waited, 4000);  // and not until the limit
}

TEST(LogPipeTest, GivesUpAfterTheLimit) {
  Pipe pipe;
  ASSERT_EQ(write(pipe.write_end(), "x", 1), 1);
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(WaitForPipeDrained(pipe.write_end(), 60));
  EXPECT_GE(MsecsSince(start), 55);
}

}  // namespace
}  // namespace archiver::poller
