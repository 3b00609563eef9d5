// Timing helpers shared by the C++ benchmark drivers (bench/dmarc, bench/commit).
#pragma once

#include <sys/resource.h>
#include <sys/time.h>

#include <chrono>

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

}  // namespace archiver::bench
