#include "producer_metrics.h"

#include "iw/base/check.h"

namespace iw::producer {

std::size_t reason_index(std::string_view reason) {
  for (std::size_t i = 0; i < kRejectReasons.size(); ++i) {
    if (kRejectReasons[i] == reason) return i;
  }
  IW_CHECK(false, "reject reason missing from kRejectReasons");
  return 0;
}

ProducerMetrics::ProducerMetrics(prometheus::Registry& registry, const std::string& topic,
                                 const std::string& dlq_topic)
    : flow(registry, topic, kRejectReasons),
      bytes_out(prometheus::BuildCounter()
                    .Name("ingestwatch_bytes_out_total")
                    .Help("Value bytes of records delivered, by topic.")
                    .Register(registry)
                    .Add({{"topic", topic}})),
      delivery_failures(prometheus::BuildCounter()
                            .Name("ingestwatch_delivery_failures_total")
                            .Help("Records Kafka did not accept after retries, by topic.")
                            .Register(registry)),
      main_failures(delivery_failures.Add({{"topic", topic}})),
      dlq_failures(delivery_failures.Add({{"topic", dlq_topic}})),
      delivery_latency(
          prometheus::BuildHistogram()
              .Name("ingestwatch_delivery_latency_seconds")
              .Help("Time from handing a record to Kafka to its acknowledgement.")
              .Register(registry)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      in_flight(prometheus::BuildGauge()
                    .Name("ingestwatch_records_in_flight")
                    .Help("Records handed to Kafka and not yet acknowledged or failed.")
                    .Register(registry)
                    .Add({})) {}

}  // namespace iw::producer
