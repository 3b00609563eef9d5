// JobThread: jobs run on another thread with signals blocked, overlap with the owner,
// report their status (exceptions included), and run inline when no thread can exist.
#include "archiver/job_thread.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace archiver {
namespace {

TEST(JobThreadTest, RunsTheJobOnAnotherThreadAndReturnsItsStatus) {
  JobThread jobs;
  EXPECT_FALSE(jobs.pending());
  EXPECT_TRUE(jobs.Wait().ok());  // nothing started

  const pthread_t owner = pthread_self();
  bool other_thread = false;
  jobs.Start([&] {
    other_thread = pthread_equal(pthread_self(), owner) == 0;
    return Status::Corruption("from the job");
  });
  EXPECT_TRUE(jobs.pending());
  Status status = jobs.Wait();
  EXPECT_FALSE(jobs.pending());
  EXPECT_TRUE(jobs.threaded());
  EXPECT_TRUE(other_thread);
  EXPECT_EQ(status.code(), Status::Code::kCorruption);
  EXPECT_EQ(status.message(), "from the job");
  EXPECT_TRUE(jobs.Wait().ok());  // its status is handed out once
}

TEST(JobThreadTest, TheJobRunsWhileTheOwnerWorks) {
  JobThread jobs;
  std::atomic<bool> owner_done{false};
  std::atomic<bool> job_saw_owner_done{false};
  // The job waits for the owner's signal: were it run inline, Start would never return
  // before the owner set the flag, and the job would give up after its deadline.
  jobs.Start([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!owner_done.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    job_saw_owner_done = owner_done.load();
    return Status::Ok();
  });
  owner_done = true;
  EXPECT_TRUE(jobs.Wait().ok());
  EXPECT_TRUE(job_saw_owner_done.load());
}

TEST(JobThreadTest, SignalsAreBlockedInTheThreadAndNotInTheOwner) {
  sigset_t before;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &before), 0);
  JobThread jobs;
  bool term_blocked = false, int_blocked = false;
  jobs.Start([&] {
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    term_blocked = sigismember(&mask, SIGTERM) == 1;
    int_blocked = sigismember(&mask, SIGINT) == 1;
    return Status::Ok();
  });
  ASSERT_TRUE(jobs.Wait().ok());
  EXPECT_TRUE(term_blocked);
  EXPECT_TRUE(int_blocked);
  sigset_t after;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &after), 0);
  EXPECT_EQ(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
  EXPECT_EQ(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
}

TEST(JobThreadTest, AnExceptionBecomesAStatusAndTheThreadGoesOn) {
  JobThread jobs;
  jobs.Start([]() -> Status { throw std::runtime_error("disk on fire"); });
  Status status = jobs.Wait();
  EXPECT_EQ(status.code(), Status::Code::kInternal);
  EXPECT_NE(status.message().find("disk on fire"), std::string::npos);
  jobs.Start([] { return Status::Ok(); });
  EXPECT_TRUE(jobs.Wait().ok());
}

// The threads of this process, from /proc/self/task.
int ThreadCount() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++count;
  }
  return count;
}

// The thread count once it is `expected`, or after a second. pthread_join returns when
// the thread has exited, a moment before the kernel removes it from /proc/self/task.
int ThreadCountSettledAt(int expected) {
  int count = ThreadCount();
  for (int i = 0; i < 1000 && count != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    count = ThreadCount();
  }
  return count;
}

TEST(JobThreadTest, NoThreadOutlivesItsJob) {
  // Between jobs the owner is single-threaded again (Dovecot's uid switches would
  // otherwise have to stop our thread each time).
  // The test binary's own thread count: an earlier test's joined thread may still be
  // listed for a moment.
  const int before = ThreadCountSettledAt(1);
  JobThread jobs;
  uint64_t sum = 0;
  int during = 0;
  for (int i = 0; i < 200; ++i) {
    jobs.Start([&, i] {
      if (i == 0) during = ThreadCount();
      sum += static_cast<uint64_t>(i);
      return Status::Ok();
    });
    ASSERT_TRUE(jobs.Wait().ok());
    ASSERT_EQ(ThreadCountSettledAt(before), before) << "after job " << i;
  }
  EXPECT_EQ(during, before + 1);
  EXPECT_EQ(sum, 199u * 200u / 2u);
}

TEST(JobThreadTest, StartingAgainWaitsForTheRunningJob) {
  JobThread jobs;
  std::atomic<int> finished{0};
  jobs.Start([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = 1;
    return Status::Ok();
  });
  int seen_by_second = -1;
  jobs.Start([&] {
    seen_by_second = finished.load();
    return Status::Ok();
  });
  EXPECT_TRUE(jobs.Wait().ok());
  EXPECT_EQ(seen_by_second, 1);
}

TEST(JobThreadTest, TheDestructorFinishesAJobNotWaitedFor) {
  std::atomic<bool> ran{false};
  {
    JobThread jobs;
    jobs.Start([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ran = true;
      return Status::Ok();
    });
  }
  EXPECT_TRUE(ran.load());
}

TEST(JobThreadTest, WithoutAThreadTheJobRunsInline) {
  // A stack no process can map: pthread_create fails, so the job runs inside Start.
  JobThread jobs(SIZE_MAX / 2);
  const pthread_t owner = pthread_self();
  bool on_owner = false;
  jobs.Start([&] {
    on_owner = pthread_equal(pthread_self(), owner) != 0;
    return Status::NotFound("inline");
  });
  EXPECT_TRUE(on_owner);
  EXPECT_FALSE(jobs.threaded());
  EXPECT_EQ(jobs.Wait().code(), Status::Code::kNotFound);
}

TEST(JobThreadTest, RunHereRunsTheJobOnTheOwnerAndWaitReportsIt) {
  JobThread jobs;
  const pthread_t owner = pthread_self();
  bool on_owner = false;
  jobs.RunHere([&] {
    on_owner = pthread_equal(pthread_self(), owner) != 0;
    return Status::NotFound("here");
  });
  EXPECT_TRUE(on_owner);
  EXPECT_TRUE(jobs.pending());
  EXPECT_FALSE(jobs.threaded());
  EXPECT_EQ(jobs.Wait().code(), Status::Code::kNotFound);
  EXPECT_TRUE(jobs.Wait().ok());  // its status is handed out once

  jobs.Start([] { return Status::Ok(); });  // a thread again for the next job
  EXPECT_TRUE(jobs.Wait().ok());
  EXPECT_TRUE(jobs.threaded());
  jobs.RunHere([]() -> Status { throw std::runtime_error("thrown here"); });
  EXPECT_EQ(jobs.Wait().code(), Status::Code::kInternal);  // as on the thread
}

}  // namespace
}  // namespace archiver
