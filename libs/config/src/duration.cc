#include "iw/config/duration.h"

#include <array>
#include <cstdint>

namespace iw::config {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t millis;
};

// Largest first: parse_duration() requires this order, as Prometheus does, so that "1h30m"
// has exactly one spelling and "30m1h" is rejected rather than silently summed.
constexpr std::array<Unit, 6> kUnits = {{
    {"w", 7 * 24 * 3600 * 1000LL},
    {"d", 24 * 3600 * 1000LL},
    {"h", 3600 * 1000LL},
    {"m", 60 * 1000LL},
    {"s", 1000LL},
    {"ms", 1LL},
}};

constexpr std::string_view kSyntaxHint =
    "use digits followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

base::Result<Duration> invalid(std::string_view reason) {
  return base::fail(base::ErrorCode::kInvalidInput, std::string(reason));
}

// Accumulates digits of a group; false on overflow.
bool read_number(std::string_view text, std::size_t& pos, std::int64_t& number) {
  number = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    if (__builtin_mul_overflow(number, 10, &number) ||
        __builtin_add_overflow(number, text[pos] - '0', &number)) {
      return false;
    }
  }
  return true;
}

}  // namespace

base::Result<Duration> parse_duration(std::string_view text) {
  if (text.size() > 1 && text[0] == '-' && is_digit(text[1])) {
    return invalid("durations cannot be negative");
  }
  if (text.empty() || !is_digit(text[0])) return invalid(kSyntaxHint);

  std::size_t pos = 0;
  std::int64_t number = 0;
  if (!read_number(text, pos, number)) return invalid("out of range");
  if (pos == text.size()) {
    // A bare integer is seconds, so that "timeout: 30" means what most people expect.
    std::int64_t millis = 0;
    if (__builtin_mul_overflow(number, 1000, &millis)) return invalid("out of range");
    return Duration(millis);
  }

  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index into kUnits of the largest unit still allowed
  pos = 0;
  while (pos < text.size()) {
    if (!is_digit(text[pos])) return invalid(kSyntaxHint);
    if (!read_number(text, pos, number)) return invalid("out of range");
    std::string_view rest = text.substr(pos);
    std::size_t unit = kUnits.size();
    // "ms" before "m": the longest unit name that matches wins.
    if (rest.starts_with("ms")) {
      unit = 5;
    } else if (!rest.empty()) {
      for (std::size_t i = 0; i < 5; ++i) {
        if (rest[0] == kUnits[i].name[0]) unit = i;
      }
    }
    if (unit == kUnits.size()) return invalid(kSyntaxHint);
    if (unit < next_unit) {
      return invalid("units must go from largest to smallest, each at most once");
    }
    next_unit = unit + 1;
    pos += kUnits[unit].name.size();
    std::int64_t millis = 0;
    if (__builtin_mul_overflow(number, kUnits[unit].millis, &millis) ||
        __builtin_add_overflow(total, millis, &total)) {
      return invalid("out of range");
    }
  }
  return Duration(total);
}

std::string format_duration(Duration duration) {
  const std::int64_t count = duration.count();
  if (count == 0) return "0s";
  std::string out;
  if (count < 0) out += '-';
  // Unsigned, so that the magnitude of INT64_MIN is representable.
  std::uint64_t millis =
      count < 0 ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
  for (const Unit& unit : kUnits) {
    const auto unit_millis = static_cast<std::uint64_t>(unit.millis);
    if (millis >= unit_millis) {
      out += std::to_string(millis / unit_millis);
      out += unit.name;
      millis %= unit_millis;
    }
  }
  return out;
}

}  // namespace iw::config
