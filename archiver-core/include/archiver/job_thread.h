// JobThread: runs one job at a time on a thread of its own for a single owner, who
// starts a job and later waits for its Status. A Dovecot delivery uses it to let the
// archive commit (which mostly waits for the disk to flush) run while Dovecot saves the
// same message into the mailbox (which waits for its own flush), instead of one after
// the other; the delivery is still acknowledged only after both.
//
// Contract:
// - The owner is one thread. Start and Wait are not to be called concurrently.
// - A job may not use anything its owner uses until Wait has returned. A job that throws
//   ends as an IOError naming the exception; it never takes the process down.
// - Each job gets a new thread, created by Start and joined by Wait, so no thread of ours
//   exists between jobs (nor in a child forked then). It has a small stack (Dovecot
//   processes may run under an address-space limit) and every signal blocked, so signals
//   keep reaching the owner's handlers. When it cannot be created, the job runs inside
//   Start instead: slower, never lost.
// - RunHere runs a job on the owner's thread instead, at once, for Wait to report like
//   any other: for a job that never waits for the disk there is nothing to overlap, and
//   a thread would only add its start, its join and the hand-over of the job's data.
// - The destructor waits for a job not waited for.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "archiver/status.h"

namespace archiver {

class JobThread {
 public:
  static constexpr size_t kDefaultStackSize = 512 * 1024;

  explicit JobThread(size_t stack_size = kDefaultStackSize);
  ~JobThread();
  JobThread(const JobThread&) = delete;
  JobThread& operator=(const JobThread&) = delete;

  // Runs `job` on the thread. A job still running from an earlier Start is waited for
  // first (its status is then lost: call Wait before starting the next).
  void Start(std::function<Status()> job);

  // Runs `job` here and now; Wait then returns its status, as after Start. A job still
  // running from an earlier Start is waited for first.
  void RunHere(std::function<Status()> job);

  // Blocks until the job last started has finished and returns its status; Ok when no
  // job was started since the last Wait.
  Status Wait();

  // True when a job was started and not yet waited for.
  bool pending() const;

  // True when the job last started got a thread of its own (false before any Start,
  // after RunHere, and when the thread could not be created).
  bool threaded() const;

 struct State;  // defined in job_thread.cc

 private:
  std::unique_ptr<State> state_;
};

}  // namespace archiver
