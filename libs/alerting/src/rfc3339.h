#pragma once

// Reading back the RFC 3339 instants that base::append_rfc3339_millis writes (enriched records,
// alert events). Private to the library.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "iw/alerting/run.h"

namespace iw::alerting::detail {

/// "YYYY-MM-DDTHH:MM:SS[.f]Z" in UTC with at most 3 fraction digits, so that every instant read
/// is exact at millisecond resolution. nullopt for anything else, including impossible dates.
/// Does not allocate.
[[nodiscard]] inline std::optional<Instant> parse_rfc3339_millis(std::string_view text) {
  auto digits = [text](std::size_t pos, std::size_t count, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || text.size() < 20 || text[4] != '-' || !digits(5, 2, month) ||
      text[7] != '-' || !digits(8, 2, day) || text[10] != 'T' || !digits(11, 2, hour) ||
      text[13] != ':' || !digits(14, 2, minute) || text[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (text[pos] == '.') {
    ++pos;
    int scale = 100;
    const std::size_t first = pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, scale /= 10) {
      if (scale == 0) return std::nullopt;  // finer than a millisecond
      millis += (text[pos] - '0') * scale;
    }
    if (pos == first) return std::nullopt;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return Instant{std::chrono::sys_days{date}} + std::chrono::hours{hour} +
         std::chrono::minutes{minute} + std::chrono::seconds{second} + Millis{millis};
}

}  // namespace iw::alerting::detail
