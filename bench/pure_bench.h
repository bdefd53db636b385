#pragma once

// What the benchmarks of pure code on run records share (events_bench, evaluator_throughput).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstddef>
#include <string_view>

#include "iw/events/enricher.h"

namespace iw::bench {

/// Where the benchmarks' raw records say they come from, when they are enriched.
inline const events::RecordOrigin kOrigin{.topic = "ingestion-logs",
                                          .partition = 0,
                                          .execution_id = "bench",
                                          .processed_at = base::TimePoint{}};

// The floor a field-by-field reader is compared with: simdjson On-Demand over one record, every
// top-level key unescaped and every value read by type.

/// Walks the JSON object at `data` (`size` bytes, `capacity` readable); returns a sum of what it
/// read (numbers, string lengths) so that nothing is optimised away, or false on a parse error.
inline bool walk_every_field(simdjson::ondemand::parser& parser, const char* data, std::size_t size,
                             std::size_t capacity, double& sum) {
  simdjson::ondemand::document doc;
  if (parser.iterate(data, size, capacity).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
  for (auto field : object) {
    std::string_view key;
    benchmark::DoNotOptimize(field.unescaped_key().get(key));
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) break;
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) break;
    if (type == simdjson::ondemand::json_type::number) {
      double number = 0;
      if (value.get_double().get(number) == simdjson::SUCCESS) sum += number;
    } else if (type == simdjson::ondemand::json_type::string) {
      std::string_view text;
      if (value.get_string().get(text) == simdjson::SUCCESS)
        sum += static_cast<double>(text.size());
    }
  }
  return true;
}

}  // namespace iw::bench
