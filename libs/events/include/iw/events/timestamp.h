#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/events/defect.h"

namespace date {
class time_zone;
}  // namespace date

namespace iw::events {

/// How timestamps without an offset ("2025-09-15 10:30:00.000", as the connector jobs write
/// them) are read: in UTC, at a fixed offset, or in an IANA zone with its daylight-saving rules.
class TimeZone {
 public:
  /// "UTC", a fixed offset "+02:00" / "-0530", or an IANA name "Europe/Paris" (from the
  /// system's tzdata). Start-up only: looking a zone up reads files.
  [[nodiscard]] static base::Result<TimeZone> from_name(std::string_view name);
  [[nodiscard]] static TimeZone utc() { return TimeZone("UTC", std::chrono::minutes{0}, nullptr); }

  [[nodiscard]] const std::string& name() const { return name_; }

  /// The instant a wall-clock reading in this zone denotes. In a daylight-saving overlap the
  /// earlier instant is taken; a reading inside a gap is moved forward by the gap, as clocks
  /// do.
  [[nodiscard]] base::TimePoint resolve(
      std::chrono::local_time<std::chrono::nanoseconds> local) const;

 private:
  TimeZone(std::string name, std::optional<std::chrono::minutes> fixed, const date::time_zone* zone)
      : name_(std::move(name)), fixed_offset_(fixed), zone_(zone) {}

  std::string name_;
  std::optional<std::chrono::minutes> fixed_offset_;
  const date::time_zone* zone_ = nullptr;
};

/// Parses ISO 8601 / RFC 3339 date-times as ingestion jobs write them:
///   2025-09-15 10:30:00.000      naive, read in `zone`
///   2025-09-15T10:30:00Z         UTC
///   2025-09-15T10:30:00.154133+02:00, ...+0200, ...+02
/// `T` or a space between date and time; seconds optional; any number of fraction digits
/// (kept to the nanosecond). Anything else, an impossible date, or a year outside 1678-2261
/// (what a nanosecond TimePoint holds) is an `invalid_timestamp` defect whose message quotes
/// the text.
[[nodiscard]] DecodeResult<base::TimePoint> parse_timestamp(std::string_view text,
                                                            const TimeZone& zone);

}  // namespace iw::events
