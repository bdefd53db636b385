#pragma once

#include <cstdint>
#include <optional>

namespace iw::stage {

/// One input record of a stage: the index of its topic in StageOptions::input_topics, its
/// partition and its offset.
struct InputRef {
  std::int32_t topic = 0;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  friend auto operator<=>(const InputRef&, const InputRef&) = default;
};

/// An InputRef in 64 bits, for producer correlations and hash keys: topic index < 2^8,
/// partition < 2^16, offset < 2^40 (a trillion records in one partition). nullopt for one
/// outside those ranges; such a record is processed all the same, its outcome tracked without
/// a correlation.
[[nodiscard]] std::optional<std::uint64_t> pack(const InputRef& ref);
/// The InputRef of a value pack() made.
[[nodiscard]] InputRef unpack(std::uint64_t packed);

}  // namespace iw::stage
