#include "iw/runtime/consumer_lag.h"

#include <algorithm>
#include <string>

namespace iw::runtime {

ConsumerLagMetrics::ConsumerLagMetrics(prometheus::Registry& registry)
    : records_(prometheus::BuildGauge()
                   .Name("ingestwatch_consumer_lag_records")
                   .Help("Records in the input partition behind the service's position.")
                   .Register(registry)),
      seconds_(prometheus::BuildGauge()
                   .Name("ingestwatch_consumer_lag_seconds")
                   .Help("Age of the oldest unprocessed record of the input partition (0 when "
                         "caught up).")
                   .Register(registry)) {}

void ConsumerLagMetrics::taken(std::int32_t partition, base::TimePoint timestamp) {
  const auto index = static_cast<std::size_t>(partition);
  if (index >= last_taken_.size()) last_taken_.resize(index + 1);
  last_taken_[index] = timestamp;
}

void ConsumerLagMetrics::update(kafka::Consumer& consumer, base::TimePoint now) {
  for (const auto& entry : consumer.lag()) {
    if (!entry.records) continue;
    auto [it, inserted] = gauges_.try_emplace(entry.partition);
    if (inserted) {
      const prometheus::Labels labels = {{"topic", entry.partition.topic},
                                         {"partition", std::to_string(entry.partition.partition)}};
      it->second = {&records_.Add(labels), &seconds_.Add(labels)};
    }
    it->second.first->Set(static_cast<double>(*entry.records));
    const auto index = static_cast<std::size_t>(entry.partition.partition);
    const bool behind = *entry.records > 0 && index < last_taken_.size() && last_taken_[index];
    const double seconds =
        behind ? std::chrono::duration<double>(now - *last_taken_[index]).count() : 0.0;
    it->second.second->Set(std::max(0.0, seconds));
  }
}

}  // namespace iw::runtime
