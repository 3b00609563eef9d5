// RunInChild, SpawnDetached, ReadAnswer (child_process.h).
#include "archiver/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>

namespace archiver {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

// Reads what is there; false at end of file (or an error).
bool ReadSome(int fd, std::string* text, size_t max_bytes) {
  char buffer[4096];
  ssize_t got;
  do {
    got = read(fd, buffer, sizeof(buffer));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return got < 0 && errno == EAGAIN;
  const size_t room = max_bytes > text->size() ? max_bytes - text->size() : 0;
  text->append(buffer, std::min(room, static_cast<size_t>(got)));
  return true;
}

// The private memory the process has now (data and stack, as /proc/self/statm counts).
uint64_t DataBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0, shared = 0, text = 0, lib = 0, data = 0;
  if (!(statm >> size >> resident >> shared >> text >> lib >> data)) return 0;
  return data * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void SetLimit(int resource, uint64_t soft, uint64_t hard) {
  struct rlimit current;
  if (getrlimit(resource, &current) != 0) return;
  struct rlimit limit;
  limit.rlim_max = std::min<rlim_t>(current.rlim_max, hard);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, soft);
  (void)setrlimit(resource, &limit);
}

void NullStdio() {
  const int null = open("/dev/null", O_RDWR);
  if (null < 0) return;
  for (int fd = 0; fd <= 2; ++fd) (void)dup2(null, fd);
  if (null > 2) close(null);
}

// `fd` as `target`, inherited across exec. Async-signal-safe.
bool MoveTo(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

// Closes every descriptor from `first` up. Async-signal-safe.
void CloseFrom(int first) {
  if (close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
  // Before Linux 5.9, or refused by a seccomp filter: one by one.
  struct rlimit files;
  const int top = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
                      ? static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20))
                      : 65536;
  for (int fd = first; fd < top; ++fd) (void)close(fd);
}

// `fd` (close-on-exec) moved above the descriptors the child sets up (0 to 3): a caller
// whose stdin or stdout is closed gets new descriptors there, which the child's dup2s
// would overwrite.
constexpr int kFirstFreeFd = 4;
int AboveChildFds(int fd) {
  if (fd < 0 || fd >= kFirstFreeFd) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, kFirstFreeFd);
  close(fd);
  return moved;
}

void WaitFor(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void LimitMemoryGrowth(uint64_t extra_bytes) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory counts as data (terabytes): no limit can be placed on
  // top of it. Sanitizer builds are for tests, never for production.
  (void)extra_bytes;
#else
  const uint64_t allowed = DataBytes() + extra_bytes;
  SetLimit(RLIMIT_DATA, allowed, allowed);
#endif
}

bool MemoryGrowthLimited() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return true;
#endif
}

std::string ChildEnd::Describe() const {
  if (timed_out) return "no answer in time: killed (its time limit)";
  if (exit_code == kOutOfMemoryExit) return "out of memory (its memory limit)";
  if (signal != 0) {
    const char* name = strsignal(signal);
    std::string text = "killed by signal " + std::to_string(signal);
    if (name != nullptr) text += std::string(" (") + name + ")";
    if (signal == SIGXCPU) text += ": its CPU time limit";
    return text;
  }
  return "exit " + std::to_string(exit_code);
}

Result<ChildEnd> RunInChild(const std::function<int(int output_fd)>& work,
                            const ChildLimits& limits, size_t max_output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  const Clock::time_point deadline = Clock::now() + limits.deadline;
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    // Killed with its parent (nothing else would stop a child blocked without using CPU);
    // no core dump of what it read (hostile input, up to its whole memory).
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(70);
    close(pipe_fds[0]);
    NullStdio();
    SetLimit(RLIMIT_CORE, 0, 0);
    if (limits.cpu_seconds != 0)
      SetLimit(RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1);
    int code = 70;
    try {
      code = work(pipe_fds[1]);
    } catch (const std::bad_alloc&) {
      code = kOutOfMemoryExit;
    } catch (...) {
      code = 70;
    }
    _exit(code);
  }
  close(pipe_fds[1]);
  ChildEnd end;
  bool open = true;
  while (open) {
    struct pollfd wait = {pipe_fds[0], POLLIN, 0};
    const int ready = poll(&wait, 1, RemainingMs(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // the deadline
    open = ReadSome(pipe_fds[0], &end.output, max_output);
  }
  close(pipe_fds[0]);
  // Its output is closed: it has ended, or is about to; wait for that until the deadline.
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && RemainingMs(deadline) > 0)
    usleep(2000);
  if (done == 0) {
    kill(pid, SIGKILL);
    WaitFor(pid, &status);
    end.timed_out = true;
    return end;
  }
  if (WIFEXITED(status)) end.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
  return end;
}

namespace {

// The descriptors SpawnDetached hands to the program, closed (those still held) when this
// goes: its stdin pipe, its stdout pipe, /dev/null for stderr, and a copy of fd 3.
struct SpawnFds {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int null = -1;
  int extra = -1;

  SpawnFds() = default;
  SpawnFds(const SpawnFds&) = delete;
  SpawnFds& operator=(const SpawnFds&) = delete;
  ~SpawnFds() {
    for (int fd : {in[0], in[1], out[0], out[1], null, extra})
      if (fd >= 0) close(fd);
  }

  // Makes them all, above the descriptors the program gets (0 to 3). An errno on failure.
  int Open(int fd3) {
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
        (fd3 >= 0 && (extra = fcntl(fd3, F_DUPFD_CLOEXEC, kFirstFreeFd)) < 0))
      return errno;
    for (int* fd : {&in[0], &in[1], &out[0], &out[1], &null}) *fd = AboveChildFds(*fd);
    return in[0] >= 0 && out[0] >= 0 && out[1] >= 0 && null >= 0 ? 0 : EMFILE;
  }

  // Writes `input` (at most PIPE_BUF, which every pipe holds: without blocking) into the
  // program's stdin, which the program reads when it likes, and closes that end.
  bool HandOver(std::string_view input) {
    (void)fcntl(in[1], F_SETFL, O_NONBLOCK);
    const bool written =
        write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size());
    close(in[1]);
    in[1] = -1;
    return written;
  }

  // The read end of the program's stdout, now the caller's to close.
  int TakeAnswer() {
    const int answer = out[0];
    out[0] = -1;
    return answer;
  }
};

// The first child of SpawnDetached: forks the program and exits at once, so that the
// program is nobody's child to reap. Only system calls here (async-signal-safe).
[[noreturn]] void StartDetached(const SpawnFds& fds, char* const* args, char* const* environment) {
  const pid_t program = fork();
  if (program != 0) _exit(program < 0 ? 1 : 0);
  // A caller that took a user's identity only for a while (LMTP delivering as the mail
  // uid with real uid root) must not hand root on: the program gets the effective ids as
  // its real and saved ones too, so that it can never take root back.
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) _exit(126);
  (void)setsid();
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, nullptr);
  if (MoveTo(fds.in[0], 0) && MoveTo(fds.out[1], 1) && MoveTo(fds.null, 2) &&
      (fds.extra < 0 || MoveTo(fds.extra, 3))) {
    CloseFrom(fds.extra < 0 ? 3 : 4);
    execve(args[0], args, environment);
  }
  _exit(127);
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

Result<int> SpawnDetached(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, std::string_view input,
                          int fd3) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return Status::InvalidArgument("SpawnDetached: no absolute program path");
  // As the effective user that will run it (an LMTP process has real uid root).
  if (faccessat(AT_FDCWD, argv[0].c_str(), X_OK, AT_EACCESS) != 0)
    return Status::NotFound(argv[0] + ": " + std::strerror(errno));
  if (input.size() > PIPE_BUF) return Status::InvalidArgument("SpawnDetached: input too long");
  // Everything the children need is made before fork: after it, only system calls.
  const std::vector<char*> args = CStrings(argv);
  const std::vector<char*> environment = CStrings(env);
  SpawnFds fds;
  if (const int error = fds.Open(fd3); error != 0)
    return Status::IOError(std::string("starting ") + argv[0] + ": " + std::strerror(error));
  if (!fds.HandOver(input))
    return Status::IOError(std::string("starting ") + argv[0] + ": cannot hand over its input");
  // No handler of the caller's may run in the children before they reset them.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = fork();
  if (pid == 0) StartDetached(fds, args.data(), environment.data());
  const int error = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(error));
  int status = 0;
  WaitFor(pid, &status);  // the intermediate child, which exits at once
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return Status::IOError(std::string("starting ") + argv[0] + ": fork failed");
  return fds.TakeAnswer();
}

ChildAnswer ReadAnswer(int fd, std::optional<std::chrono::milliseconds> wait, size_t max_bytes) {
  ChildAnswer answer;
  const Clock::time_point deadline = wait ? Clock::now() + *wait : Clock::time_point::max();
  for (;;) {
    struct pollfd ready = {fd, POLLIN, 0};
    const int count = poll(&ready, 1, wait ? RemainingMs(deadline) : -1);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return answer;
    if (!ReadSome(fd, &answer.text, max_bytes)) {
      answer.ended = true;
      return answer;
    }
    if (answer.text.size() >= max_bytes) return answer;
  }
}

}  // namespace archiver
