#pragma once

#include <chrono>
#include <optional>

#include "iw/base/clock.h"

namespace iw::pacing {

/// Spreads sends evenly at a given rate. Pure: it says how long to wait, the caller waits.
/// After a stall (the caller could not keep up) it does not burst to catch up by more than
/// `max_burst` records, so a paused producer resumes at the configured pace.
class RateLimiter {
 public:
  /// `per_second` <= 0 means unlimited (delay() is always zero).
  explicit RateLimiter(double per_second, double max_burst = 1.0);

  /// How long to wait from `now` before sending the next record; books that send.
  [[nodiscard]] std::chrono::nanoseconds delay(base::MonotonicTime now);

 private:
  std::chrono::nanoseconds interval_{0};
  std::chrono::nanoseconds burst_{0};
  std::optional<base::MonotonicTime> next_slot_;
};

/// Replays records at their own pace, as if they were happening now: the first record (by the
/// time its job wrote it) is sent at once and given the current time; each later one is sent
/// when its distance from the first, divided by `speed`, has elapsed, and is given that
/// instant as its new time. Durations inside a record are not scaled. Pure.
class ReplaySchedule {
 public:
  explicit ReplaySchedule(double speed);

  struct Slot {
    base::MonotonicTime send_at;
    /// Add to every timestamp of the record.
    std::chrono::nanoseconds shift;
  };

  /// Places a record written at `record_time`; the first call anchors the schedule at
  /// (`now_monotonic`, `now_wall`). A record older than the anchor is sent at once.
  [[nodiscard]] Slot place(base::TimePoint record_time, base::MonotonicTime now_monotonic,
                           base::TimePoint now_wall);

  /// Forgets the anchor: the next record starts a new replay (for --loop).
  void restart() { anchor_.reset(); }

  /// The first record's time and the time it was given; nothing before the first place().
  struct Anchor {
    base::TimePoint record_time;
    base::MonotonicTime monotonic;
    base::TimePoint wall;
  };
  [[nodiscard]] const std::optional<Anchor>& anchor() const { return anchor_; }

  /// Continues a replay begun earlier whose first record, written at `record_time`, was given
  /// `wall`: every record gets the same new time as in that replay (so the same bytes), and the
  /// ones whose instant has passed meanwhile are sent at once.
  void resume(base::TimePoint record_time, base::TimePoint wall, base::MonotonicTime now_monotonic,
              base::TimePoint now_wall);

 private:
  double speed_;
  std::optional<Anchor> anchor_;
};

}  // namespace iw::pacing
