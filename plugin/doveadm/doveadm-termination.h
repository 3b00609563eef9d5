// TerminationWatch: lets a long doveadm command (verify, reindex, migrate, export) notice
// SIGTERM or SIGINT between two of its steps and stop cleanly, instead of being killed in
// the middle of a write or leaving the caller without a word.
#pragma once

namespace archiver::doveadm {

// While alive, a termination signal (SIGTERM, SIGINT) is noticed: Received() turns true.
// doveadm's own handlers run only from its I/O loop, which does not run during a command;
// lib-signals counts every such signal as it arrives (signal_term_counter), and the
// handlers set here make sure that it is caught, not fatal.
class TerminationWatch {
 public:
  TerminationWatch();
  ~TerminationWatch();
  TerminationWatch(const TerminationWatch&) = delete;
  TerminationWatch& operator=(const TerminationWatch&) = delete;
  bool Received() const;

 private:
  const unsigned int start_;
};

}  // namespace archiver::doveadm
