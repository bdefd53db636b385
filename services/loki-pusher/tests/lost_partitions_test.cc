// ingest-loki-pusher through the fault the fault suite (make chaos) struck it with: the log store
// down while the broker crashes for longer than the group's session timeout, so the pusher's
// partitions are lost (not revoked: nothing may be committed for them) and assigned back, and
// what it had read is read again. The alert stream's shape: small partitions (3), few events, a
// broker of the test's own (it is crashed). Deterministic: the crash outlasts the session, and
// the test waits for the pusher to say its partitions were lost before the store comes back.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"
#include "iw/log/logger.h"
#include "iw/testing/child_process.h"
#include "iw/testing/kafka_cluster.h"
#include "iw/testing/loki_receiver.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::LokiReceiver;
using iw::testing::random_name;
using iw::testing::TempDir;

constexpr int kPartitions = 3;
constexpr int kSources = 6;

// Alert event n, keyed by its source as the evaluator keys them; 10 s apart in event time, so
// no entry is ever behind its stream by Loki's hour, whatever is read again.
std::string alert_event(int n) {
  const int seconds = n * 10;
  char starts_at[32];
  std::snprintf(starts_at, sizeof starts_at, "2025-09-21T08:%02d:%02d.000Z", seconds / 60 % 60,
                seconds % 60);
  return R"({"status":"firing","labels":{"alertname":"IngestionFailureDetected","objet":"o)" +
         std::to_string(n) + R"(","severity":"critical","source":"S)" +
         std::to_string(n % kSources) + R"("},"annotations":{"summary":"s"},"startsAt":")" +
         starts_at + R"(","endsAt":"0001-01-01T00:00:00.000Z","value":1,"fingerprint":"f)" +
         std::to_string(n) + R"("})";
}

class LostPartitionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(broker_.bootstrap().empty());
    client_.bootstrap_servers = broker_.bootstrap();
    client_.logger = &logger_;
    ASSERT_TRUE(
        iw::testing::create_topics(client_, {{.name = runs_topic_, .partitions = kPartitions},
                                             {.name = alerts_topic_, .partitions = kPartitions},
                                             {.name = dlq_topic_, .partitions = 1}}));
    auto receiver = LokiReceiver::start();
    ASSERT_TRUE(receiver.has_value());
    receiver_ = std::move(*receiver);
  }

  // Events [from, to), each on its source's partition, as the evaluator writes them.
  void produce(int from, int to) {
    iw::testing::CountingDeliveries deliveries;
    auto producer = kafka::make_producer({.client = client_}, deliveries);
    ASSERT_TRUE(producer.has_value());
    for (int n = from; n < to; ++n) {
      const std::string value = alert_event(n);
      const std::string key = "S" + std::to_string(n % kSources);
      ASSERT_TRUE((*producer)
                      ->produce({.topic = alerts_topic_, .key = key, .value = value}, 0)
                      .has_value());
    }
    ASSERT_TRUE((*producer)->flush(60s).has_value());
    ASSERT_EQ(deliveries.failed, 0);
  }

  std::unique_ptr<ChildProcess> pusher() {
    const std::string config = "loki_pusher:\n  runs_topic: " + runs_topic_ +
                               "\n  alerts_topic: " + alerts_topic_ +
                               "\n  dlq_topic: " + dlq_topic_ + "\n  group_id: " + group_ +
                               "\n  backoff:\n    min: 50ms\n    max: 1s\n"
                               "  batch:\n    max_wait: 100ms\n"
                               "  ready_probe_interval: 200ms\n"
                               "kafka:\n  properties:\n    session.timeout.ms: 6000\n"
                               "    heartbeat.interval.ms: 1000\n";
    auto child = std::make_unique<ChildProcess>(
        temp_.path(),
        std::vector<std::string>{IW_LOKI_PUSHER_PATH, "--config",
                                 temp_.write("pusher.yaml", config).string()},
        std::vector<std::string>{
            "IW_HTTP_LISTEN=127.0.0.1:0", "IW_KAFKA_BOOTSTRAP_SERVERS=" + broker_.bootstrap(),
            "IW_LOKI_PUSHER_URL=http://127.0.0.1:" + std::to_string(receiver_->port())});
    EXPECT_TRUE(child->wait_for_port().has_value()) << child->out() << child->err();
    return child;
  }

  // How often each event's line is stored.
  std::map<std::string, int> stored() const {
    std::map<std::string, int> lines;
    for (const auto& entry : receiver_->entries()) ++lines[entry.line];
    return lines;
  }

  bool wait_stored(int events, std::chrono::seconds limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (stored().size() >= static_cast<std::size_t>(events)) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // The group's committed position on each alert partition.
  std::vector<kafka::TopicPartitionOffset> committed() {
    auto consumer = kafka::make_consumer({.client = client_, .group_id = group_});
    EXPECT_TRUE(consumer.has_value());
    if (!consumer) return {};
    std::vector<kafka::TopicPartition> parts;
    for (int p = 0; p < kPartitions; ++p) parts.push_back({alerts_topic_, p});
    auto positions = (*consumer)->committed(parts, 20s);
    EXPECT_TRUE(positions.has_value());
    (*consumer)->close();
    return positions ? *positions : std::vector<kafka::TopicPartitionOffset>{};
  }

  // Every alert record below the group's committed position is in the store: offsets never
  // moved past an event the store had not taken (there are no dead letters in this test).
  void expect_committed_only_what_is_stored(int produced) {
    const auto lines = stored();
    const auto records = iw::testing::read_topic(broker_.bootstrap(), alerts_topic_,
                                                 static_cast<std::size_t>(produced), 30s, 1s);
    EXPECT_EQ(records.size(), static_cast<std::size_t>(produced));
    for (const auto& position : committed()) {
      if (position.offset < 0) continue;  // nothing committed yet
      for (const auto& record : records) {
        if (record.partition != position.partition || record.offset >= position.offset) continue;
        EXPECT_TRUE(lines.contains(record.value))
            << "offset " << position.offset << " committed on partition " << position.partition
            << " past offset " << record.offset << ", which the store does not hold";
      }
    }
  }

  iw::testing::OwnBroker broker_;
  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  kafka::ClientOptions client_;
  TempDir temp_;
  std::unique_ptr<LokiReceiver> receiver_;
  std::string runs_topic_ = random_name("enriched");
  std::string alerts_topic_ = random_name("alerts");
  std::string dlq_topic_ = random_name("dlq");
  std::string group_ = random_name("pusher");
};

TEST_F(LostPartitionsTest, BrokerCrashPastTheSessionWhileTheStoreIsDownLosesNoAlertEvent) {
  auto p = pusher();
  produce(0, 30);
  ASSERT_TRUE(wait_stored(30, 60s)) << p->out();
  std::this_thread::sleep_for(2s);  // the auto-commit (1 s) of what is stored
  expect_committed_only_what_is_stored(30);

  // The store goes down; events keep coming and are read, batched and retried.
  receiver_->go_down();
  produce(30, 60);
  ASSERT_TRUE(p->wait_for_output("loki push failed", 30s)) << p->out();

  // The broker is gone for longer than the session timeout (6 s): librdkafka declares the
  // assignment lost. Back on its data, the group assigns the partitions again and the pusher
  // reads from the committed positions, behind what it holds.
  broker_.crash();
  std::this_thread::sleep_for(10s);
  broker_.restart();
  ASSERT_TRUE(p->wait_for_output("\"msg\":\"partitions lost\"", 60s)) << p->out();
  produce(60, 90);
  std::this_thread::sleep_for(3s);  // read again, batched behind the batches being retried
  expect_committed_only_what_is_stored(90);

  ASSERT_TRUE(receiver_->come_back());
  ASSERT_TRUE(wait_stored(90, 90s)) << "stored " << stored().size() << " of 90" << p->out();
  const auto lines = stored();
  for (int n = 0; n < 90; ++n) {
    EXPECT_TRUE(lines.contains(alert_event(n))) << "event " << n << " lost";
  }
  EXPECT_EQ(lines.size(), 90u) << "a line that is no event of the test";

  // A clean stop commits the end of every partition: all 90 are done.
  p->signal(SIGTERM);
  EXPECT_EQ(p->wait(), 0) << p->err();
  std::int64_t committed_total = 0;
  for (const auto& position : committed())
    committed_total += std::max<std::int64_t>(0, position.offset);
  EXPECT_EQ(committed_total, 90);
  expect_committed_only_what_is_stored(90);
  const auto dead = iw::testing::read_topic(broker_.bootstrap(), dlq_topic_, 0, 15s, 5s);
  EXPECT_TRUE(dead.empty()) << dead.size() << " dead letters, none expected";
}

}  // namespace
}  // namespace iw::loki_pusher
