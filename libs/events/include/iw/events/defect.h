#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace iw::events {

/// Why a record cannot be used. `reason` is a stable snake_case code from a small set (metric
/// labels, dlq.reason); `message` is for people and names the field and what was wrong.
struct Defect {
  std::string_view reason;
  std::string message;
};

template <typename T>
using DecodeResult = std::expected<T, Defect>;

/// Shorthand for returning a Defect from a function returning DecodeResult<T>.
[[nodiscard]] inline std::unexpected<Defect> defect(std::string_view reason, std::string message) {
  return std::unexpected<Defect>(std::in_place, reason, std::move(message));
}

}  // namespace iw::events
