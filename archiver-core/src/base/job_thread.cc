// JobThread: each job gets a pthread of its own (not std::thread, whose stack size cannot
// be chosen), created by Start and joined by Wait. Between jobs no thread exists: a
// Dovecot mail process switches its uid and gids around every delivery, and with a
// second thread alive each of those calls would have to stop it with a signal (glibc's
// setxid broadcast), which costs more than creating a thread per job.
#include "archiver/job_thread.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace archiver {

struct JobThread::State {
  size_t stack_size = 0;
  std::function<Status()> job;
  Status result;
  bool pending = false;   // started, not yet waited for
  bool joinable = false;  // a thread runs (or ran) the pending job
  bool last_threaded = false;  // the job last started got a thread
  pthread_t thread{};
};

namespace {

Status RunGuarded(std::function<Status()>& job) {
  Status result = Guarded(job, "background job failed: ");
  job = nullptr;  // what the job holds is released before its owner hears of the result
  return result;
}

void* ThreadMain(void* argument) {
  auto* state = static_cast<JobThread::State*>(argument);
  state->result = RunGuarded(state->job);
  return nullptr;
}

// Creates the thread with every signal blocked (it inherits the creator's mask, which
// is restored at once) and the given stack size. False when it cannot.
bool CreateThread(JobThread::State* state) {
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return false;
  bool ok = pthread_attr_setstacksize(&attributes, state->stack_size) == 0;
  sigset_t all, previous;
  sigfillset(&all);
  if (ok) ok = pthread_sigmask(SIG_SETMASK, &all, &previous) == 0;
  if (ok) {
    ok = pthread_create(&state->thread, &attributes, ThreadMain, state) == 0;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  pthread_attr_destroy(&attributes);
  return ok;
}

}  // namespace

JobThread::JobThread(size_t stack_size) : state_(std::make_unique<State>()) {
  state_->stack_size = stack_size;
}

JobThread::~JobThread() { (void)Wait(); }

void JobThread::Start(std::function<Status()> job) {
  if (state_->pending) (void)Wait();
  State& state = *state_;
  state.job = std::move(job);
  state.pending = true;
  state.joinable = CreateThread(&state);
  state.last_threaded = state.joinable;
  if (!state.joinable) state.result = RunGuarded(state.job);
}

void JobThread::RunHere(std::function<Status()> job) {
  if (state_->pending) (void)Wait();
  State& state = *state_;
  state.pending = true;
  state.last_threaded = false;
  state.result = RunGuarded(job);
}

Status JobThread::Wait() {
  State& state = *state_;
  if (!state.pending) return Status::Ok();
  state.pending = false;
  if (state.joinable) {
    pthread_join(state.thread, nullptr);
    state.joinable = false;
  }
  Status result = std::move(state.result);
  state.result = Status::Ok();
  return result;
}

bool JobThread::pending() const { return state_->pending; }

bool JobThread::threaded() const { return state_->last_threaded; }

}  // namespace archiver
