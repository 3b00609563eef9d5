// Forks doveadm, relays its output into Dovecot's log and reports how the run ended.
#include "poller-run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "poller-dovecot.h"

namespace archiver::poller {
namespace {

// The largest line relayed whole; a longer one is cut.
constexpr size_t kMaxLineBytes = 64 * 1024;

// Environment variables passed on to doveadm: those Dovecot's import_environment may
// carry that still mean something to a command (master's own variables must not reach
// it: doveadm would take itself for a service process).
constexpr const char* kKeptEnvironment[] = {"TZ", "LD_PRELOAD", "ASAN_OPTIONS",
                                            "CORE_OUTOFMEM", "CORE_ERROR"};

long long NowMsecs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

std::vector<std::string> SplitTabs(const char* line) {
  std::vector<std::string> fields;
  const char* start = line;
  for (const char* p = line;; ++p) {
    if (*p == '\t' || *p == '\0') {
      fields.emplace_back(start, p);
      if (*p == '\0') break;
      start = p + 1;
    }
  }
  return fields;
}

// doveadm's own log lines carry their level ("doveadm(…): Error: …"): keep it.
void LogChildDiagnostic(const char* line) {
  if (std::strstr(line, "Error: ") != nullptr || std::strstr(line, "Fatal: ") != nullptr ||
      std::strstr(line, "Panic: ") != nullptr)
    i_error("doveadm: %s", line);
  else if (std::strstr(line, "Warning: ") != nullptr)
    i_warning("doveadm: %s", line);
  else
    i_info("doveadm: %s", line);
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status))
    return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "wait status " + std::to_string(wait_status);
}

}  // namespace

SyncRun::SyncRun(const RunCommand& command, DoneCallback done)
    : command_(command), done_(std::move(done)) {}

SyncRun::~SyncRun() {
  if (wait_ != nullptr) child_wait_free(&wait_);
  if (kill_timeout_ != nullptr) timeout_remove(&kill_timeout_);
  if (pid_ > 0) {
    (void)kill(pid_, SIGKILL);
    int wait_status;
    while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  CloseOutput(&stdout_);
  CloseOutput(&stderr_);
}

// Over 60 lines: fork and exec in one place, so that everything the child touches is
// visibly built before the fork (after it, only async-signal-safe calls).
Status SyncRun::Start() {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0)
    return Status::IOError(std::string("pipe() failed: ") + std::strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) < 0) {
    Status failed = Status::IOError(std::string("pipe() failed: ") + std::strerror(errno));
    i_close_fd(&out_pipe[0]);
    i_close_fd(&out_pipe[1]);
    return failed;
  }
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  // The config path travels as CONFIG_FILE, as Dovecot's master gives it, not as -c:
  // doveadm then keeps its connection to the config socket open and reads the remote
  // account's settings through it after giving up root (it may not connect again then).
  std::vector<std::string> env_storage = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                          "CONFIG_FILE=" + command_.config_path};
  for (const char* name : kKeptEnvironment) {
    const char* value = getenv(name);
    if (value != nullptr) env_storage.push_back(std::string(name) + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string args[] = {command_.doveadm_path, "-f", "tab", "archive", "source", "sync", "--due"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    Status failed = Status::IOError(std::string("fork() failed: ") + std::strerror(errno));
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) (void)close(fd);
    return failed;
  }
  if (pid == 0) {
    // The child: never outlive the poller (a restarted poller would start a second sync).
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(EX_TEMPFAIL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
        dup2(out_pipe[1], STDOUT_FILENO) < 0 || dup2(err_pipe[1], STDERR_FILENO) < 0)
      _exit(EX_OSERR);
    (void)close_range(3, ~0U, 0);
    execve(argv[0], argv.data(), envp.data());
    _exit(EX_UNAVAILABLE);
  }
  pid_ = pid;
  started_msecs_ = NowMsecs();
  (void)close(out_pipe[1]);
  (void)close(err_pipe[1]);
  wait_ = child_wait_new_with_pid(pid, OnExit, this);
  stdout_.is_stdout = true;
  for (auto [output, fd] : {std::pair{&stdout_, out_pipe[0]}, std::pair{&stderr_, err_pipe[0]}}) {
    output->fd = fd;
    fd_set_nonblock(fd, TRUE);
    output->input = i_stream_create_fd(fd, kMaxLineBytes);
    output->io = io_add(fd, IO_READ, OnOutput, this);
  }
  kill_timeout_ = timeout_add(command_.timeout_secs * 1000U, OnTimeout, this);
  return Status::Ok();
}

void SyncRun::OnOutput(void* context) {
  auto* run = static_cast<SyncRun*>(context);
  try {
    run->ReadOutput(&run->stdout_, false);
    run->ReadOutput(&run->stderr_, false);
  } catch (...) {
    i_error("Relaying doveadm's output failed");
  }
}

void SyncRun::OnTimeout(void* context) {
  auto* run = static_cast<SyncRun*>(context);
  timeout_remove(&run->kill_timeout_);
  i_error("doveadm archive source sync --due still runs after %u s: killing it (pid %ld); "
          "the next sync resumes from the last checkpoint",
          run->command_.timeout_secs, static_cast<long>(run->pid_));
  if (run->pid_ > 0) (void)kill(run->pid_, SIGKILL);
}

void SyncRun::OnExit(const struct child_wait_status* status, void* context) {
  auto* run = static_cast<SyncRun*>(context);
  try {
    run->Finish(status->status);
  } catch (...) {
    i_error("Finishing a doveadm run failed");
  }
}

void SyncRun::ReadOutput(Output* output, bool drain) {
  if (output->input == nullptr) return;
  for (;;) {
    ssize_t ret = i_stream_read(output->input);
    const char* line;
    while ((line = i_stream_next_line(output->input)) != nullptr) HandleLine(*output, line);
    if (ret == -2) {
      // A line longer than the buffer: relay what there is of it.
      size_t size;
      const unsigned char* data = i_stream_get_data(output->input, &size);
      std::string cut(reinterpret_cast<const char*>(data), size);
      i_stream_skip(output->input, size);
      HandleLine(*output, (cut + " (line cut)").c_str());
      continue;
    }
    if (ret < 0) {
      // EOF (or a read error): what is left has no newline.
      size_t size;
      const unsigned char* data = i_stream_get_data(output->input, &size);
      if (size > 0) {
        std::string rest(reinterpret_cast<const char*>(data), size);
        HandleLine(*output, rest.c_str());
      }
      CloseOutput(output);
      return;
    }
    if (ret == 0 || !drain) return;
  }
}

void SyncRun::HandleLine(const Output& output, const char* line) {
  if (!output.is_stdout) {
    LogChildDiagnostic(line);
    return;
  }
  std::vector<std::string> fields = SplitTabs(line);
  if (columns_.empty()) {
    columns_ = std::move(fields);
    return;
  }
  std::string described;
  for (size_t i = 0; i < fields.size() && i < columns_.size(); ++i) {
    const std::string& column = columns_[i];
    if (column == "archived") summary_.archived += std::strtoull(fields[i].c_str(), nullptr, 10);
    if (column == "failure" && !fields[i].empty()) summary_.failed++;
    if (fields[i].empty()) continue;
    if (!described.empty()) described += ", ";
    described += column + "=" + fields[i];
  }
  summary_.sources++;
  i_info("source synced: %s", described.c_str());
}

void SyncRun::CloseOutput(Output* output) {
  if (output->io != nullptr) io_remove(&output->io);
  if (output->input != nullptr) i_stream_destroy(&output->input);
  if (output->fd != -1) i_close_fd(&output->fd);
}

void SyncRun::Finish(int wait_status) {
  pid_ = -1;
  child_wait_free(&wait_);  // its pid is already forgotten: only the struct is left
  ReadOutput(&stdout_, true);
  ReadOutput(&stderr_, true);
  CloseOutput(&stdout_);
  CloseOutput(&stderr_);
  if (kill_timeout_ != nullptr) timeout_remove(&kill_timeout_);
  summary_.exit = DescribeWaitStatus(wait_status);
  summary_.success = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  summary_.elapsed_msecs = NowMsecs() - started_msecs_;
  DoneCallback done = done_;
  done(summary_);
}

}  // namespace archiver::poller
