#include "iw/otlp/sampler.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace iw::otlp {
namespace {

constexpr double kTwoTo64 = 18446744073709551616.0;

// The last 16 hex digits of a trace id as a number; nullopt when they are not hex.
std::optional<std::uint64_t> low_64_bits(std::string_view trace_id_hex) {
  if (trace_id_hex.size() < 16) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : trace_id_hex.substr(trace_id_hex.size() - 16)) {
    std::uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<std::uint64_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    value = value << 4 | digit;
  }
  return value;
}

}  // namespace

Sampler::Sampler(double ratio)
    : ratio_(std::isnan(ratio) ? 0.0 : std::clamp(ratio, 0.0, 1.0)),
      // ratio_ * 2^64 is below 2^64 for every ratio_ < 1 a double can hold except those that
      // round up to it, which then sample everything but the very last id: the cap keeps the
      // conversion defined.
      threshold_(ratio_ >= 1.0                   ? 0
                 : ratio_ * kTwoTo64 >= kTwoTo64 ? UINT64_MAX
                                                 : static_cast<std::uint64_t>(ratio_ * kTwoTo64)) {}

bool Sampler::sample_new_trace(std::string_view trace_id_hex) const {
  if (ratio_ >= 1.0) return true;
  const auto low = low_64_bits(trace_id_hex);
  return low.has_value() && *low < threshold_;
}

double Sampler::ratio() const { return ratio_; }

}  // namespace iw::otlp
