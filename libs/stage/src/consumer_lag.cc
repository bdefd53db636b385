#include "iw/stage/consumer_lag.h"

#include <algorithm>
#include <string>

namespace iw::stage {

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

ConsumerLagMetrics::ConsumerLagMetrics(prometheus::Registry& registry,
                                       std::vector<std::string> topics)
    : ConsumerLagMetrics(registry) {
  topics_ = std::move(topics);
}

void ConsumerLagMetrics::taken(std::size_t topic, std::int32_t partition,
                               base::TimePoint timestamp) {
  if (topic >= last_taken_.size()) last_taken_.resize(topic + 1);
  auto& partitions = last_taken_[topic];
  const auto index = static_cast<std::size_t>(partition);
  if (index >= partitions.size()) partitions.resize(index + 1);
  partitions[index] = timestamp;
}

void ConsumerLagMetrics::update(kafka::Consumer& consumer, base::TimePoint now) {
  const std::vector<kafka::Consumer::PartitionLag> lags = consumer.lag();
  // A partition that moved to another member is no longer this service's lag: its children go
  // (a frozen last value would keep a lag alert firing for ever).
  for (auto it = gauges_.begin(); it != gauges_.end();) {
    const bool assigned = std::any_of(
        lags.begin(), lags.end(), [&](const auto& entry) { return entry.partition == it->first; });
    if (assigned) {
      ++it;
    } else {
      records_.Remove(it->second.first);
      seconds_.Remove(it->second.second);
      it = gauges_.erase(it);
    }
  }
  for (const auto& entry : lags) {
    if (!entry.records) continue;
    auto [it, inserted] = gauges_.try_emplace(entry.partition);
    if (inserted) {
      const prometheus::Labels labels = {{"topic", entry.partition.topic},
                                         {"partition", std::to_string(entry.partition.partition)}};
      it->second = {&records_.Add(labels), &seconds_.Add(labels)};
    }
    it->second.first->Set(static_cast<double>(*entry.records));
    std::size_t topic = 0;
    if (!topics_.empty()) {
      topic = static_cast<std::size_t>(
          std::find(topics_.begin(), topics_.end(), entry.partition.topic) - topics_.begin());
    }
    const auto index = static_cast<std::size_t>(entry.partition.partition);
    const std::optional<base::TimePoint> last =
        topic < last_taken_.size() && index < last_taken_[topic].size() ? last_taken_[topic][index]
                                                                        : std::nullopt;
    const bool behind = *entry.records > 0 && last.has_value();
    const double seconds = behind ? std::chrono::duration<double>(now - *last).count() : 0.0;
    it->second.second->Set(std::max(0.0, seconds));
  }
}

}  // namespace iw::stage
