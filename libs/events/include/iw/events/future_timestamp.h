#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"

namespace iw::events {

/// dlq.reason of a run that ends beyond the wall clock plus the tolerance (docs/DLQ.md).
inline constexpr std::string_view kFutureTimestamp = "future_timestamp";

/// The default tolerance: far above any clock drift NTP leaves (seconds), below the offsets a
/// connector writing local time as UTC, or a clock set an hour wrong, produces.
inline constexpr std::chrono::milliseconds kDefaultFutureTolerance = std::chrono::minutes(15);

/// Why a run that ends at `end` cannot have happened yet: it ends more than `tolerance` after
/// `wall_now`. Nothing when it is in time. The message names the end, the wall clock and the
/// tolerance, e.g. "event.end 2261-01-01T00:00:00.000Z is after the wall clock
/// 2026-12-06T08:00:00.000Z + tolerance 900s".
[[nodiscard]] std::optional<std::string> future_timestamp_problem(
    std::chrono::sys_time<std::chrono::milliseconds> end, base::TimePoint wall_now,
    std::chrono::milliseconds tolerance);
/// The same for an end read at nanosecond precision (the enricher's), judged to the millisecond.
[[nodiscard]] inline std::optional<std::string> future_timestamp_problem(
    base::TimePoint end, base::TimePoint wall_now, std::chrono::milliseconds tolerance) {
  return future_timestamp_problem(std::chrono::floor<std::chrono::milliseconds>(end), wall_now,
                                  tolerance);
}

}  // namespace iw::events
