#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "iw/base/error.h"

namespace iw::config {

/// Durations are kept at millisecond resolution, the finest unit the config syntax has.
using Duration = std::chrono::milliseconds;

/// Parses a Prometheus-style duration: one or more `<digits><unit>` groups with units
/// `ms`, `s`, `m`, `h`, `d` (24h), `w` (7d), largest unit first and each unit at most once,
/// e.g. "250ms", "15s", "1h30m", "2d". A bare integer means seconds ("30" == "30s").
/// Errors are kInvalidInput; the message is the reason only (the caller adds the text and
/// where it came from), e.g. "durations cannot be negative".
[[nodiscard]] base::Result<Duration> parse_duration(std::string_view text);

/// The shortest text parse_duration() maps back to `duration`, e.g. 5400000ms -> "1h30m";
/// zero is "0s".
[[nodiscard]] std::string format_duration(Duration duration);

}  // namespace iw::config
