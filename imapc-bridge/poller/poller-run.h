// One run of `doveadm archive source sync --due` as a child process of the poller
// service: its output relayed line by line into Dovecot's log, its end reported once.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "archiver/status.h"

struct child_wait;
struct child_wait_status;
struct io;
struct istream;
struct timeout;

namespace archiver::poller {

// What one run did, from doveadm's table output and its exit status.
struct RunSummary {
  unsigned sources = 0;        // rows printed: sources synced
  unsigned failed = 0;         // rows whose "failure" column is not empty
  unsigned long long archived = 0;  // sum of the "archived" column
  std::string exit;            // "exit 0", "exit 75", "killed by signal 9"
  bool success = false;        // exited with status 0
  long long elapsed_msecs = 0;
};

// Every argument a run needs: the doveadm binary and the config path it is given
// (as CONFIG_FILE in its environment).
struct RunCommand {
  std::string doveadm_path;
  std::string config_path;
  unsigned timeout_secs;  // the child is killed (SIGKILL) when it runs longer
};

// A running child. Start() forks and execs doveadm with a minimal environment, stdin on
// /dev/null, stdout and stderr on pipes read in this process's ioloop, and
// PR_SET_PDEATHSIG so it never outlives the poller. `done` is called once, from the
// ioloop, after the child was reaped; the SyncRun may be deleted inside it. Deleting a
// running SyncRun kills the child (SIGKILL) and reaps it.
class SyncRun {
 public:
  using DoneCallback = std::function<void(const RunSummary&)>;

  SyncRun(const RunCommand& command, DoneCallback done);
  ~SyncRun();
  SyncRun(const SyncRun&) = delete;
  SyncRun& operator=(const SyncRun&) = delete;

  // IOError when the pipes or the fork fail (nothing is then running).
  Status Start();

 private:
  struct Output {
    int fd = -1;
    struct istream* input = nullptr;
    struct io* io = nullptr;
    bool is_stdout = false;
  };

  static void OnOutput(void* context);
  static void OnExit(const struct child_wait_status* status, void* context);
  static void OnTimeout(void* context);

  void ReadOutput(Output* output, bool drain);
  void HandleLine(const Output& output, const char* line);
  void CloseOutput(Output* output);
  void Finish(int wait_status);

  RunCommand command_;
  DoneCallback done_;
  pid_t pid_ = -1;
  Output stdout_;
  Output stderr_;
  struct child_wait* wait_ = nullptr;
  struct timeout* kill_timeout_ = nullptr;
  std::vector<std::string> columns_;  // doveadm's header row
  RunSummary summary_;
  long long started_msecs_ = 0;
};

}  // namespace archiver::poller
