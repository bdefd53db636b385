#pragma once

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "iw/base/clock.h"
#include "iw/kafka/consumer.h"

namespace iw::stage {

/// The consumer lag gauges every consuming service exposes (docs/METRICS.md):
///   ingestwatch_consumer_lag_records{topic,partition}  records behind the service's position
///   ingestwatch_consumer_lag_seconds{topic,partition}  age of the oldest unprocessed record
/// Children appear as partitions are seen.
class ConsumerLagMetrics {
 public:
  /// For a service with one input topic.
  explicit ConsumerLagMetrics(prometheus::Registry& registry);
  /// For a service reading several topics; taken() names them by their index in `topics`.
  ConsumerLagMetrics(prometheus::Registry& registry, std::vector<std::string> topics);

  /// A record was taken from `partition`; `timestamp` is its Kafka timestamp. Cheap: no lookup
  /// by name, no allocation once the partition is known.
  void taken(std::int32_t partition, base::TimePoint timestamp) { taken(0, partition, timestamp); }
  /// The same for the topic `topics[topic]`.
  void taken(std::size_t topic, std::int32_t partition, base::TimePoint timestamp);

  /// Reads the consumer's lag (no broker round trip) and sets the gauges. The seconds are the
  /// age of the last record taken while records remain behind it, 0 when caught up.
  void update(kafka::Consumer& consumer, base::TimePoint now);

 private:
  prometheus::Family<prometheus::Gauge>& records_;
  prometheus::Family<prometheus::Gauge>& seconds_;
  // Empty for one topic, which then matches whatever topic the consumer reports.
  std::vector<std::string> topics_;
  // Kafka timestamp of the last record taken from each partition, by topic index and partition
  // number.
  std::vector<std::vector<std::optional<base::TimePoint>>> last_taken_;
  std::map<kafka::TopicPartition, std::pair<prometheus::Gauge*, prometheus::Gauge*>> gauges_;
};

}  // namespace iw::stage
