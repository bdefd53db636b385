#pragma once

#include <string>

#include "iw/base/clock.h"

namespace iw::base {

/// Appends `t` as RFC 3339 in UTC with milliseconds: "2025-09-15T10:30:00.000Z". Years 0000
/// to 9999 (what the format can hold).
void append_rfc3339_millis(std::string& out, TimePoint t);

/// Same, as a new string.
[[nodiscard]] std::string format_rfc3339_millis(TimePoint t);

}  // namespace iw::base
