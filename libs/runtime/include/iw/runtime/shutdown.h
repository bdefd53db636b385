#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

namespace iw::runtime {

/// Turns SIGTERM and SIGINT into a stop request the run loop can poll or wait on.
///
/// Construct it first thing in main, before any other thread exists: it blocks the two signals
/// in the calling thread (so in every thread created afterwards) and receives them on a thread
/// of its own with sigwait, where it is safe to lock and notify. A second signal while draining
/// exits at once with 128+signo, for an operator who does not want to wait.
class ShutdownSignal {
 public:
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  [[nodiscard]] bool requested() const { return requested_.load(std::memory_order_relaxed); }
  /// The signal that asked to stop, or 0 (also 0 after request() from code).
  [[nodiscard]] int signal_number() const { return signal_.load(std::memory_order_relaxed); }
  /// Asks to stop from code (a fatal error, a test).
  void request();
  /// Sleeps up to `timeout`, returning early (true) once a stop was requested.
  bool wait_for(std::chrono::milliseconds timeout);

 private:
  void watch();

  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread watcher_;
  sigset_t previous_mask_;
};

}  // namespace iw::runtime
