// archiver-poller: a Dovecot service that keeps remote IMAP sources in sync while Dovecot
// runs. Every archiver_sources_poll_interval it runs `doveadm archive source sync --due`
// (one run at a time; the sources' own intervals, pauses and error backoff decide what is
// due) and logs what the run did. Started and restarted by Dovecot's master process. When
// the configuration can have no sources (no server-wide archiver_path) it says so once
// and stays idle.
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "log-pipe.h"
#include "poller-dovecot.h"
#include "poller-run.h"
#include "poller-settings.h"

#ifndef ARCHIVER_DOVEADM_PATH
#error "ARCHIVER_DOVEADM_PATH must name the doveadm binary"
#endif

namespace archiver::poller {
namespace {

// A run still going after this long is killed; the next one resumes from the checkpoints.
constexpr unsigned kRunTimeoutSecs = 30 * 60;

struct Poller {
  PollerSettings settings;
  RunCommand command;
  std::unique_ptr<SyncRun> run;
  struct timeout* tick = nullptr;
  struct timeout* first_tick = nullptr;
  bool warned_busy = false;
};

Poller* poller = nullptr;

void RunDone(const RunSummary& summary) {
  // Nothing due and nothing wrong is the common case: it stays out of the log.
  if (summary.sources > 0 || !summary.success) {
    i_info("sync --due: %u source(s) synced, %llu message(s) archived, %u failed (%s, %lld ms)",
           summary.sources, summary.archived, summary.failed, summary.exit.c_str(),
           summary.elapsed_msecs);
  }
  poller->run.reset();
  poller->warned_busy = false;
}

void Tick(void*) {
  try {
    if (poller->first_tick != nullptr) timeout_remove(&poller->first_tick);
    if (poller->run != nullptr) {
      if (!poller->warned_busy)
        i_info("The previous sync --due is still running: this interval is skipped");
      poller->warned_busy = true;
      return;
    }
    auto run = std::make_unique<SyncRun>(poller->command, RunDone);
    if (Status started = run->Start(); !started.ok()) {
      i_error("Cannot run %s: %s", poller->command.doveadm_path.c_str(), started.message().c_str());
      return;
    }
    poller->run = std::move(run);
  } catch (...) {
    i_error("Starting a sync --due failed");
  }
}

// Before the first log line: see log-pipe.h. Only when logging through Dovecot's log
// service (the master sets LOG_SERVICE; stderr is then the service's log pipe).
constexpr unsigned kLogWaitMsecs = 5000;

// The service has no listeners: a connection here is a configuration mistake.
void ClientConnected(struct master_service_connection* connection) {
  i_error("archiver-poller takes no connections (remove the listener from its service block; "
          "fd %d closed)", connection->fd);
}

}  // namespace
}  // namespace archiver::poller

int main(int argc, char* argv[]) {
  using namespace archiver::poller;
  const enum master_service_flags flags = static_cast<enum master_service_flags>(
      MASTER_SERVICE_FLAG_DONT_SEND_STATS | MASTER_SERVICE_FLAG_UPDATE_PROCTITLE |
      MASTER_SERVICE_FLAG_NO_SSL_INIT);
  master_service = master_service_init("archiver-poller", flags, &argc, &argv, "");
  if (master_getopt(master_service) > 0) return FATAL_DEFAULT;

  Poller state;
  poller = &state;
  archiver::Status settings = ReadPollerSettings(master_service, &state.settings);
  if (std::getenv("LOG_SERVICE") != nullptr) WaitForPipeDrained(STDERR_FILENO, kLogWaitMsecs);
  master_service_init_log(master_service);
  if (!settings.ok()) i_fatal("%s", settings.message().c_str());
  restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, nullptr);
  restrict_access_allow_coredumps(TRUE);

  state.command.doveadm_path = ARCHIVER_DOVEADM_PATH;
  state.command.config_path = master_service_get_config_path(master_service);
  state.command.timeout_secs = kRunTimeoutSecs;
  child_wait_init();
  master_service_init_finish(master_service);

  const std::string disabled = SourcesDisabledReason(state.settings);
  if (!disabled.empty()) {
    // Idle, not exiting: the master would restart an exited service in a loop. One line,
    // once, and no timer, so a server without sources has a quiet log.
    i_info("No server-wide archiver_path (%s): remote sources disabled, nothing to poll",
           disabled.c_str());
  } else {
    i_info("Polling remote sources every %u s (%s archive source sync --due)",
           state.settings.poll_interval_secs, state.command.doveadm_path.c_str());
    state.first_tick = timeout_add_short(0, Tick, nullptr);
    state.tick = timeout_add(state.settings.poll_interval_secs * 1000U, Tick, nullptr);
  }
  master_service_run(master_service, ClientConnected);

  if (state.tick != nullptr) timeout_remove(&state.tick);
  if (state.first_tick != nullptr) timeout_remove(&state.first_tick);
  state.run.reset();
  child_wait_deinit();
  poller = nullptr;
  master_service_deinit(&master_service);
  return 0;
}
