#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "iw/metrics/record_flow.h"

namespace iw::producer {

/// Every reason a record can be rejected for, known up front so each metric child is created
/// once at start-up and never looked up per record.
inline constexpr std::array<std::string_view, 9> kRejectReasons = {
    "oversized_record", "truncated_record", "unexpected_content", "invalid_json",   "not_an_object",
    "missing_source",   "invalid_source",   "invalid_timestamp",  "kafka_rejected",
};

/// The index of `reason` in kRejectReasons; a reason missing from it is a bug (IW_CHECK).
[[nodiscard]] std::size_t reason_index(std::string_view reason);

/// The producer's metrics (docs/PRODUCER.md, "Metrics").
struct ProducerMetrics {
  ProducerMetrics(prometheus::Registry& registry, const std::string& topic,
                  const std::string& dlq_topic);

  metrics::RecordFlowMetrics flow;
  prometheus::Counter& bytes_out;
  prometheus::Family<prometheus::Counter>& delivery_failures;
  prometheus::Counter& main_failures;
  prometheus::Counter& dlq_failures;
  prometheus::Histogram& delivery_latency;
  prometheus::Gauge& in_flight;
};

}  // namespace iw::producer
