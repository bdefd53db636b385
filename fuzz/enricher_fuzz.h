#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

/// libFuzzer's entry point: enriches `data` as a raw run record, aborts if a property breaks.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace iw::events::fuzz {

/// "accepted", or the defect reason of the last input; for the replay driver's summary.
[[nodiscard]] std::string_view last_outcome();

}  // namespace iw::events::fuzz
