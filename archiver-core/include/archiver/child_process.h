// Child processes for work that must not take its caller down with it: reading hostile
// report mail. Two shapes:
// - RunInChild: a function run in a forked child under a memory and CPU limit and a wall
//   clock deadline, its output (a pipe) and how it ended brought back. The caller waits.
//   Call it from a single-threaded process (the child may do anything after fork, as
//   the only thread of a copy of the caller).
// - SpawnDetached + ReadAnswer: a program started so that the caller never has to reap
//   it (an intermediate child starts it and exits at once), with a small input on its
//   stdin and its stdout brought back through a pipe that the caller may stop reading at
//   any time: a Dovecot delivery waits for the answer only so long, and the program goes
//   on by itself. Between fork and exec only async-signal-safe calls are made, so any
//   process may call it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/status.h"

namespace archiver {

struct ChildLimits {
  std::chrono::milliseconds deadline{30'000};  // then SIGKILL
  uint64_t cpu_seconds = 0;      // RLIMIT_CPU (SIGXCPU, then SIGKILL); 0 = none
};

// Lets this process add at most `extra_bytes` of heap and other private memory to what
// it has now (RLIMIT_DATA; a shared LMDB map does not count): past it, allocations fail.
// Never raises a limit. For a child, once it holds what it trusts (the mail to read).
// Not in AddressSanitizer builds (its shadow memory is counted as data).
void LimitMemoryGrowth(uint64_t extra_bytes);
// Whether LimitMemoryGrowth limits anything in this build.
bool MemoryGrowthLimited();

// The exit code of a child whose work ran out of memory (std::bad_alloc).
constexpr int kOutOfMemoryExit = 71;

struct ChildEnd {
  std::string output;       // what the child wrote to its pipe (at most max_output bytes)
  bool timed_out = false;   // killed at the deadline
  int exit_code = -1;       // when it exited
  int signal = 0;           // when a signal ended it
  // "exit 0", "killed by signal 6 (Aborted)", "out of memory (its memory limit)", "no
  // answer in time: killed (its time limit)".
  std::string Describe() const;
};

// Runs work(fd) in a child (fd: the write end of the output pipe; the child's stdout
// and stderr are /dev/null; it dumps no core and dies with this process) and returns how
// it ended; the child exits with work's return value (std::bad_alloc escaping work is
// kOutOfMemoryExit, any other exception 70). IOError when no child could be started.
Result<ChildEnd> RunInChild(const std::function<int(int output_fd)>& work,
                            const ChildLimits& limits, size_t max_output = 64 * 1024);

// Starts argv[0] (an absolute path) with `argv` and the environment `env` ("NAME=value")
// detached: stdin holds `input` (at most PIPE_BUF, 4 KiB) then end of file, stdout is the pipe
// whose read end is returned (the caller closes it), stderr is /dev/null, no other
// descriptor is inherited, signals are as at a fresh exec, and it is in a session of its
// own. It runs with this process's effective uid and gid as its real, effective and saved
// ids: a caller that is root only underneath (real uid 0, effective the mail uid, as an
// LMTP process) never hands root on. NotFound when argv[0] is not an executable file;
// IOError when it cannot start.
// `fd3`, when not -1, is the program's descriptor 3 (the caller keeps its own).
Result<int> SpawnDetached(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, std::string_view input,
                          int fd3 = -1);

struct ChildAnswer {
  std::string text;
  bool ended = false;  // end of file seen: the program closed its stdout (exited)
};

// Reads `fd` until end of file, `max_bytes`, or `wait` has passed (nullopt: no limit).
ChildAnswer ReadAnswer(int fd, std::optional<std::chrono::milliseconds> wait,
                       size_t max_bytes = 64 * 1024);

}  // namespace archiver
