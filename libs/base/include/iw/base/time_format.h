#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"

namespace iw::base {

/// Appends `t` as RFC 3339 in UTC with milliseconds: "2025-09-15T10:30:00.000Z". Years 0000
/// to 9999 (what the format can hold).
void append_rfc3339_millis(std::string& out, TimePoint t);

/// Same, as a new string.
[[nodiscard]] std::string format_rfc3339_millis(TimePoint t);

/// Reads back what append_rfc3339_millis writes: "YYYY-MM-DDTHH:MM:SS[.f]Z" in UTC with at most
/// 3 fraction digits, so that every instant read is exact at millisecond resolution. nullopt
/// for anything else, including impossible dates. Does not allocate.
[[nodiscard]] std::optional<std::chrono::sys_time<std::chrono::milliseconds>> parse_rfc3339_millis(
    std::string_view text);

}  // namespace iw::base
