#pragma once

#include <cstddef>

namespace iw::testing {

/// Counts calls to the global operator new of this test binary between start and stop.
void start_counting_allocations();
/// Stops counting and returns the number of allocations since start.
std::size_t stop_counting_allocations();

}  // namespace iw::testing
