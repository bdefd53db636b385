#include "iw/events/future_timestamp.h"

#include "iw/base/time_format.h"

namespace iw::events {

std::optional<std::string> future_timestamp_problem(base::TimePoint end, base::TimePoint wall_now,
                                                    std::chrono::milliseconds tolerance) {
  // Compared in milliseconds without adding to `wall_now`, so no tolerance can overflow.
  if (end <= wall_now ||
      std::chrono::duration_cast<std::chrono::milliseconds>(end - wall_now) <= tolerance) {
    return std::nullopt;
  }
  return "event.end " + base::format_rfc3339_millis(end) + " is after the wall clock " +
         base::format_rfc3339_millis(wall_now) + " + tolerance " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(tolerance).count()) + "s";
}

}  // namespace iw::events
