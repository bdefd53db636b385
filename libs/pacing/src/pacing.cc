#include "iw/pacing/pacing.h"

#include <algorithm>

#include "iw/base/check.h"

namespace iw::pacing {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

RateLimiter::RateLimiter(double per_second, double max_burst) {
  if (per_second > 0) {
    interval_ = duration_cast<nanoseconds>(duration<double>(1.0 / per_second));
    burst_ = duration_cast<nanoseconds>(interval_ * std::max(0.0, max_burst - 1.0));
  }
}

nanoseconds RateLimiter::delay(base::MonotonicTime now) {
  if (interval_ == nanoseconds::zero()) return nanoseconds::zero();
  // A slot left unused for longer than the burst allowance is gone, not saved up.
  const base::MonotonicTime earliest = now - burst_;
  const base::MonotonicTime slot = next_slot_ ? std::max(*next_slot_, earliest) : now;
  next_slot_ = slot + interval_;
  return slot > now ? slot - now : nanoseconds::zero();
}

ReplaySchedule::ReplaySchedule(double speed) : speed_(speed) {
  IW_CHECK(speed > 0, "replay speed must be positive");
}

ReplaySchedule::Slot ReplaySchedule::place(base::TimePoint record_time,
                                           base::MonotonicTime now_monotonic,
                                           base::TimePoint now_wall) {
  if (!anchor_) anchor_ = Anchor{record_time, now_monotonic, now_wall};
  const auto since_first = std::max(nanoseconds::zero(), record_time - anchor_->record_time);
  const auto scaled = duration_cast<nanoseconds>(
      duration<double, std::nano>(static_cast<double>(since_first.count()) / speed_));
  const base::TimePoint new_time = anchor_->wall + scaled;
  return {anchor_->monotonic + scaled, duration_cast<nanoseconds>(new_time - record_time)};
}

void ReplaySchedule::resume(base::TimePoint record_time, base::TimePoint wall,
                            base::MonotonicTime now_monotonic, base::TimePoint now_wall) {
  anchor_ = Anchor{record_time, now_monotonic - (now_wall - wall), wall};
}

}  // namespace iw::pacing
