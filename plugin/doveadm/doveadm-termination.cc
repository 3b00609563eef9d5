// TerminationWatch (doveadm-termination.h).
#include "doveadm/doveadm-termination.h"

#include "doveadm/doveadm-archive-dovecot.h"

namespace archiver::doveadm {
namespace {

constexpr int kSignals[] = {SIGTERM, SIGINT};

void IgnoreSignal(const siginfo_t*, void*) {}

}  // namespace

TerminationWatch::TerminationWatch() : start_(signal_term_counter) {
  for (int signo : kSignals)
    lib_signals_set_handler(signo, LIBSIG_FLAG_RESTART, IgnoreSignal, this);
}

TerminationWatch::~TerminationWatch() {
  for (int signo : kSignals) lib_signals_unset_handler(signo, IgnoreSignal, this);
}

bool TerminationWatch::Received() const { return signal_term_counter != start_; }

}  // namespace archiver::doveadm
