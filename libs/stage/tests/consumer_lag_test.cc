#include "iw/stage/consumer_lag.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <chrono>

namespace iw::stage {
namespace {

using namespace std::chrono_literals;

// Answers lag() from a list the test sets; nothing else is used.
class LagOnlyConsumer final : public kafka::Consumer {
 public:
  std::vector<PartitionLag> lags;

  base::Status subscribe(const std::vector<std::string>&) override { return {}; }
  base::Result<std::optional<kafka::Record>> poll(std::chrono::milliseconds) override {
    return std::nullopt;
  }
  base::Status store_offsets(std::span<const kafka::TopicPartitionOffset>) override { return {}; }
  base::Status commit() override { return {}; }
  base::Result<std::vector<kafka::TopicPartitionOffset>> committed(
      std::span<const kafka::TopicPartition>, std::chrono::milliseconds) override {
    return std::vector<kafka::TopicPartitionOffset>{};
  }
  base::Result<std::vector<kafka::TopicPartitionOffset>> offsets_for_times(
      std::span<const kafka::TopicPartition>, base::TimePoint, std::chrono::milliseconds) override {
    return std::vector<kafka::TopicPartitionOffset>{};
  }
  base::Status seek(const kafka::TopicPartitionOffset&, std::chrono::milliseconds) override {
    return {};
  }
  base::Status pause(std::span<const kafka::TopicPartition>) override { return {}; }
  base::Status resume(std::span<const kafka::TopicPartition>) override { return {}; }
  std::vector<kafka::TopicPartition> assignment() override { return {}; }
  std::vector<PartitionLag> lag() override { return lags; }
  std::unique_ptr<kafka::GroupMetadata> group_metadata() override { return nullptr; }
  bool fatal() const override { return false; }
  void close() override {}
};

std::string exposition(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(ConsumerLagMetricsTest, RecordsBehindAndTheAgeOfTheLastRecordTaken) {
  prometheus::Registry registry;
  ConsumerLagMetrics metrics(registry);
  LagOnlyConsumer consumer;
  const base::TimePoint now{std::chrono::seconds{1'800'000'000}};
  consumer.lags = {{{"in", 0}, 12}, {{"in", 1}, 0}, {{"in", 2}, std::nullopt}};
  metrics.taken(0, now - 3s);
  metrics.taken(1, now - 60s);
  metrics.update(consumer, now);
  const std::string text = exposition(registry);
  EXPECT_NE(text.find(R"(ingestwatch_consumer_lag_records{partition="0",topic="in"} 12)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(ingestwatch_consumer_lag_seconds{partition="0",topic="in"} 3)"),
            std::string::npos);
  // Caught up: no lag in seconds, however old its last record.
  EXPECT_NE(text.find(R"(ingestwatch_consumer_lag_seconds{partition="1",topic="in"} 0)"),
            std::string::npos);
  // Unknown lag: no child yet rather than a made-up 0.
  EXPECT_EQ(text.find(R"(partition="2")"), std::string::npos);

  // Partition 0 moves to another member: its gauges go rather than freeze at 12.
  consumer.lags = {{{"in", 1}, 0}};
  metrics.update(consumer, now);
  const std::string after = exposition(registry);
  EXPECT_EQ(after.find(R"(partition="0")"), std::string::npos) << after;
  EXPECT_NE(after.find(R"(ingestwatch_consumer_lag_records{partition="1",topic="in"} 0)"),
            std::string::npos);
}

TEST(ConsumerLagMetricsTest, SeveralTopicsKeepTheirOwnLastRecord) {
  prometheus::Registry registry;
  ConsumerLagMetrics metrics(registry, {"runs", "alerts"});
  LagOnlyConsumer consumer;
  const base::TimePoint now{std::chrono::seconds{1'800'000'000}};
  consumer.lags = {{{"runs", 0}, 5}, {{"alerts", 0}, 2}};
  metrics.taken(0, 0, now - 7s);
  metrics.taken(1, 0, now - 90s);
  metrics.update(consumer, now);
  const std::string text = exposition(registry);
  EXPECT_NE(text.find(R"(ingestwatch_consumer_lag_seconds{partition="0",topic="runs"} 7)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(ingestwatch_consumer_lag_seconds{partition="0",topic="alerts"} 90)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace iw::stage
