#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace iw::base {

/// Wall-clock instants, as carried in records and metrics.
using TimePoint = std::chrono::system_clock::time_point;
/// Monotonic instants, for measuring intervals and timeouts.
using MonotonicTime = std::chrono::steady_clock::time_point;

/// The source of time for everything that decides by time, so tests can drive it.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const = 0;
  [[nodiscard]] virtual MonotonicTime monotonic_now() const = 0;
};

/// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override { return std::chrono::system_clock::now(); }
  [[nodiscard]] MonotonicTime monotonic_now() const override {
    return std::chrono::steady_clock::now();
  }
  /// A process-wide instance; SystemClock has no state.
  static const SystemClock& instance();
};

/// A clock that moves only when told to. Both readings advance together. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{std::chrono::seconds{1'700'000'000}})
      : wall_ns_(start.time_since_epoch().count()) {}

  [[nodiscard]] TimePoint now() const override {
    return TimePoint{TimePoint::duration{wall_ns_.load()}};
  }
  [[nodiscard]] MonotonicTime monotonic_now() const override {
    return MonotonicTime{std::chrono::duration_cast<MonotonicTime::duration>(
        std::chrono::nanoseconds{elapsed_ns_.load()})};
  }

  void advance(std::chrono::nanoseconds by) {
    wall_ns_ += std::chrono::duration_cast<TimePoint::duration>(by).count();
    elapsed_ns_ += by.count();
  }
  /// Moves wall time only (like an NTP step); monotonic time is unaffected.
  void set_wall(TimePoint to) { wall_ns_ = to.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> wall_ns_;
  std::atomic<std::int64_t> elapsed_ns_{0};
};

}  // namespace iw::base
