#pragma once

// The records the benchmarks generate (iw::loggen), kept in one place so that every program
// that says it sends what bench/pipeline_bench.py sends does.

#include <cstddef>

#include "iw/loggen/generator.h"

namespace iw::bench {

/// The options with the start moved for the last run to end 2 minutes before now, so that no
/// run is from the future (ingest-enricher dead-letters a run ending after its clock plus
/// future_tolerance), whatever the day and the number of runs. Records come out in end-time
/// order: the last one's end, from a first pass of a generator, says how far to move the start;
/// moving the start moves every time alike.
[[nodiscard]] iw::loggen::GeneratorOptions ending_recently(iw::loggen::GeneratorOptions options);

/// Options for `runs` realistic runs as bench/pipeline_bench.py sends them (seed 23, ~500-byte
/// raw records, one-minute cycles), ending recently.
[[nodiscard]] iw::loggen::GeneratorOptions recent_minute_cycles(std::size_t runs);

}  // namespace iw::bench
