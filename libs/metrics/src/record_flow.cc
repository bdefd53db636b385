#include "iw/metrics/record_flow.h"

namespace iw::metrics {

RecordFlowMetrics::RecordFlowMetrics(prometheus::Registry& registry,
                                     const std::string& output_topic,
                                     std::span<const std::string_view> reasons)
    : records_in(prometheus::BuildCounter()
                     .Name("ingestwatch_records_in_total")
                     .Help("Records taken from the service's input.")
                     .Register(registry)
                     .Add({})),
      records_out(prometheus::BuildCounter()
                      .Name("ingestwatch_records_out_total")
                      .Help("Records delivered (acknowledged by Kafka), by topic.")
                      .Register(registry)
                      .Add({{"topic", output_topic}})) {
  auto& rejected = prometheus::BuildCounter()
                       .Name("ingestwatch_records_rejected_total")
                       .Help("Input records rejected as unusable, by reason.")
                       .Register(registry);
  auto& dead_lettered = prometheus::BuildCounter()
                            .Name("ingestwatch_records_dead_lettered_total")
                            .Help("Rejected records sent to the dead-letter topic, by reason.")
                            .Register(registry);
  for (std::string_view reason : reasons) {
    rejected_.push_back(&rejected.Add({{"reason", std::string(reason)}}));
    dead_lettered_.push_back(&dead_lettered.Add({{"reason", std::string(reason)}}));
  }
}

prometheus::Histogram& record_latency_histogram(prometheus::Registry& registry) {
  return prometheus::BuildHistogram()
      .Name("ingestwatch_record_latency_seconds")
      .Help("From a record's arrival in the input topic to its outcome being durable downstream.")
      .Register(registry)
      .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                       2.5, 5, 10, 30, 60, 300});
}

}  // namespace iw::metrics
