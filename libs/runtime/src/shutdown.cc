#include "iw/runtime/shutdown.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "iw/base/check.h"

namespace iw::runtime {
namespace {

// SIGUSR2 is how the destructor wakes the watcher thread when no signal ever came.
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);
  return set;
}

}  // namespace

ShutdownSignal::ShutdownSignal() {
  const sigset_t set = watched_signals();
  IW_CHECK(pthread_sigmask(SIG_BLOCK, &set, &previous_mask_) == 0, "cannot block shutdown signals");
  watcher_ = std::thread([this] { watch(); });
}

ShutdownSignal::~ShutdownSignal() {
  pthread_kill(watcher_.native_handle(), SIGUSR2);
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void ShutdownSignal::watch() {
  const sigset_t set = watched_signals();
  while (true) {
    int signo = 0;
    if (sigwait(&set, &signo) != 0) continue;
    if (signo == SIGUSR2) return;
    if (requested()) _exit(128 + signo);  // second signal: the operator insists
    signal_.store(signo, std::memory_order_relaxed);
    request();
  }
}

void ShutdownSignal::request() {
  {
    std::lock_guard lock(mutex_);
    requested_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

bool ShutdownSignal::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return requested(); });
}

}  // namespace iw::runtime
