// Timing helpers shared by the C++ benchmark drivers (bench/dmarc, bench/commit).
#pragma once

#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

namespace archiver::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// User plus system CPU time of this process so far: less disturbed than wall time by
// whatever else the machine runs.
inline double CpuSeconds() {
  struct rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU time the whole machine has spent busy so far (all CPUs: user, nice, system, irq,
// softirq from /proc/stat; idle, iowait and steal left out). Unlike CpuSeconds it
// includes work done on this process's behalf elsewhere: the journal commits (jbd2),
// writeback workers and I/O completions that an fsync sets off. Everything else the
// machine runs is counted too: compare it between cases of one run on a quiet machine.
// Counted in clock ticks (10 ms): measure stretches of a second or more.
inline double MachineBusySeconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) ||
      cpu != "cpu")
    return 0;
  return static_cast<double>(user + nice + system + irq + softirq) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace archiver::bench
