#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iw::metrics {

/// The pipeline counters every service that moves records shares (docs/METRICS.md), declared in
/// one place so their names and help texts are the same in every service:
///   ingestwatch_records_in_total
///   ingestwatch_records_out_total{topic}
///   ingestwatch_records_rejected_total{reason}
///   ingestwatch_records_dead_lettered_total{reason}
/// A child for every reason is created up front, so counting never looks a label up.
class RecordFlowMetrics {
 public:
  RecordFlowMetrics(prometheus::Registry& registry, const std::string& output_topic,
                    std::span<const std::string_view> reasons);

  prometheus::Counter& records_in;
  prometheus::Counter& records_out;
  /// By the reason's position in the `reasons` given to the constructor.
  [[nodiscard]] prometheus::Counter& rejected(std::size_t reason) { return *rejected_[reason]; }
  [[nodiscard]] prometheus::Counter& dead_lettered(std::size_t reason) {
    return *dead_lettered_[reason];
  }

 private:
  std::vector<prometheus::Counter*> rejected_;
  std::vector<prometheus::Counter*> dead_lettered_;
};

/// ingestwatch_record_latency_seconds: from a record's arrival in the service's input topic (its
/// Kafka timestamp) to its outcome being durable downstream; one histogram shared by the
/// consuming services (docs/METRICS.md), so one dashboard query covers them.
[[nodiscard]] prometheus::Histogram& record_latency_histogram(prometheus::Registry& registry);

}  // namespace iw::metrics
