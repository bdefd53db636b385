#include "iw/events/future_timestamp.h"

#include <cstdio>

#include "iw/base/time_format.h"

namespace iw::events {
namespace {

// RFC 3339 of an instant at millisecond resolution, whatever its year: base's formatter goes
// through nanoseconds, which end in 2262, and a typo'd year may lie beyond.
std::string format_millis(std::chrono::sys_time<std::chrono::milliseconds> t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{t - day};
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return text;
}

}  // namespace

std::optional<std::string> future_timestamp_problem(
    std::chrono::sys_time<std::chrono::milliseconds> end, base::TimePoint wall_now,
    std::chrono::milliseconds tolerance) {
  // In milliseconds, whose range spans any year an enriched record can hold (nanoseconds end in
  // 2262), and without adding to the wall clock, so no tolerance can overflow.
  const auto wall = std::chrono::floor<std::chrono::milliseconds>(wall_now);
  if (end <= wall || end - wall <= tolerance) return std::nullopt;
  return "event.end " + format_millis(end) + " is after the wall clock " +
         base::format_rfc3339_millis(wall_now) + " + tolerance " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(tolerance).count()) + "s";
}

}  // namespace iw::events
