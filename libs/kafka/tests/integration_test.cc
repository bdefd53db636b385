// Against a real broker started by the CTest fixture `kafka` (scripts/kafka-local).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "iw/kafka/admin.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"
#include "iw/testing/kafka_cluster.h"

namespace iw::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

using iw::testing::random_name;

struct Consumed {
  std::string key;
  std::string value;
  std::int32_t partition;
  std::int64_t offset;
  std::map<std::string, std::string> headers;
};

class CollectingHandler : public DeliveryHandler {
 public:
  void on_delivery(const DeliveryReport& report) override {
    if (report.error) {
      failed.push_back(report.correlation);
    } else {
      delivered.push_back(report.correlation);
    }
  }
  std::vector<std::uint64_t> delivered;
  std::vector<std::uint64_t> failed;
};

class KafkaIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = iw::testing::fixture_bootstrap_servers();
    ASSERT_FALSE(bootstrap_.empty()) << "IW_TEST_KAFKA_BOOTSTRAP_FILE names no broker";
    client_.bootstrap_servers = bootstrap_;
    client_.logger = &logger_;
    auto admin = make_admin(client_);
    ASSERT_TRUE(admin.has_value()) << admin.error().to_string();
    admin_ = std::move(*admin);
  }

  std::string create_topic(std::int32_t partitions) {
    const std::string name = random_name("iwtest");
    const TopicSpec spec{.name = name, .partitions = partitions};
    auto status = admin_->create_topics(std::span(&spec, 1), 30s);
    EXPECT_TRUE(status.has_value()) << status.error().to_string();
    return name;
  }

  std::unique_ptr<Producer> producer(DeliveryHandler& handler,
                                     std::optional<std::string> transactional_id = {}) {
    ProducerOptions options{.client = client_, .transactional_id = std::move(transactional_id)};
    auto made = make_producer(options, handler);
    EXPECT_TRUE(made.has_value()) << made.error().to_string();
    return made ? std::move(*made) : nullptr;
  }

  std::unique_ptr<Consumer> consumer(const std::string& group, const std::string& topic,
                                     CommitMode mode = CommitMode::kStoredOffsets,
                                     bool read_committed = true,
                                     RebalanceListener* listener = nullptr) {
    ConsumerOptions options{.client = client_,
                            .group_id = group,
                            .commit_mode = mode,
                            .read_committed = read_committed,
                            .listener = listener};
    auto made = make_consumer(options);
    EXPECT_TRUE(made.has_value()) << made.error().to_string();
    if (!made) return nullptr;
    EXPECT_TRUE((*made)->subscribe({topic}).has_value());
    return std::move(*made);
  }

  // Produces `values` keyed by their index, waits for every delivery.
  void produce_all(const std::string& topic, const std::vector<std::string>& values) {
    CollectingHandler handler;
    auto p = producer(handler);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string key = "k" + std::to_string(i);
      ASSERT_TRUE(p->produce({.topic = topic, .key = key, .value = values[i]}, i).has_value());
    }
    ASSERT_TRUE(p->flush(30s).has_value());
    ASSERT_EQ(handler.delivered.size(), values.size());
  }

  // Polls until `count` records arrived or `limit` passed; stores nothing.
  static std::vector<Consumed> poll_records(Consumer& c, std::size_t count,
                                            std::chrono::milliseconds limit = 30s) {
    std::vector<Consumed> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto polled = c.poll(200ms);
      if (!polled || !*polled) continue;
      const Record& r = **polled;
      Consumed item{
          std::string(r.key().value_or("")), std::string(r.value()), r.partition(), r.offset(), {}};
      for (std::size_t i = 0; i < r.header_count(); ++i) {
        item.headers[std::string(r.header_at(i).key)] = std::string(r.header_at(i).value);
      }
      out.push_back(std::move(item));
    }
    return out;
  }

  log::MemorySink sink_;
  log::Logger logger_{"kafka-it", sink_};
  std::string bootstrap_;
  ClientOptions client_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(KafkaIntegrationTest, CreatesTopicsIdempotentlyAndReportsTheirShape) {
  const std::string name = random_name("iwtest");
  const std::vector<TopicSpec> specs = {
      {.name = name, .partitions = 3, .config = {{"retention.ms", "3600000"}}}};
  ASSERT_TRUE(admin_->create_topics(specs, 30s).has_value());
  ASSERT_TRUE(admin_->create_topics(specs, 30s).has_value()) << "second create must be a no-op";
  auto count = admin_->partition_count(name, 10s);
  ASSERT_TRUE(count.has_value()) << count.error().to_string();
  EXPECT_EQ(*count, 3);

  const std::vector<TopicSpec> bad = {
      {.name = random_name("iwtest"), .partitions = 1, .config = {{"cleanup.policy", "shred"}}}};
  auto rejected = admin_->create_topics(bad, 30s);
  ASSERT_FALSE(rejected.has_value());
  EXPECT_THAT(rejected.error().message(), ::testing::HasSubstr(bad[0].name));
}

TEST_F(KafkaIntegrationTest, ProducedRecordsComeBackWithKeyHeadersAndOrder) {
  const std::string topic = create_topic(1);
  CollectingHandler handler;
  auto p = producer(handler);
  const std::vector<HeaderView> headers = {{"execution_id", "run-1"},
                                           {"traceparent", "00-abc-def-01"}};
  for (std::uint64_t i = 0; i < 20; ++i) {
    const std::string value = "{\"n\":" + std::to_string(i) + "}";
    ASSERT_TRUE(
        p->produce({.topic = topic, .key = "PowerBI", .value = value, .headers = headers}, i + 100)
            .has_value());
  }
  ASSERT_TRUE(p->flush(30s).has_value());
  EXPECT_EQ(p->in_flight(), 0u);
  ASSERT_EQ(handler.delivered.size(), 20u);
  EXPECT_EQ(handler.delivered.front(), 100u) << "correlation ids come back in delivery reports";
  EXPECT_TRUE(handler.failed.empty());

  auto c = consumer(random_name("group"), topic);
  const auto records = poll_records(*c, 20);
  ASSERT_EQ(records.size(), 20u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].key, "PowerBI");
    EXPECT_EQ(records[i].value, "{\"n\":" + std::to_string(i) + "}");
    EXPECT_EQ(records[i].offset, static_cast<std::int64_t>(i));
    EXPECT_EQ(records[i].headers.at("execution_id"), "run-1");
    EXPECT_EQ(records[i].headers.at("traceparent"), "00-abc-def-01");
  }
}

class RecordingListener : public RebalanceListener {
 public:
  void on_assigned(std::vector<TopicPartitionOffset>& partitions) override {
    for (const auto& p : partitions) owned.insert(p.partition);
  }
  void on_revoked(const std::vector<TopicPartition>& partitions) override {
    for (const auto& p : partitions) owned.erase(p.partition);
  }
  std::set<std::int32_t> owned;
};

TEST_F(KafkaIntegrationTest, TwoGroupMembersSharePartitionsWithoutOverlap) {
  const std::string topic = create_topic(4);
  const std::string group = random_name("group");
  RecordingListener first_listener;
  RecordingListener second_listener;
  auto first = consumer(group, topic, CommitMode::kStoredOffsets, true, &first_listener);
  // Let the first member take everything before the second joins, so the cooperative
  // protocol has to move partitions between live members.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (first_listener.owned.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    (void)first->poll(100ms);
  }
  ASSERT_EQ(first_listener.owned.size(), 4u);

  auto second = consumer(group, topic, CommitMode::kStoredOffsets, true, &second_listener);
  while ((second_listener.owned.empty() ||
          first_listener.owned.size() + second_listener.owned.size() != 4) &&
         std::chrono::steady_clock::now() < deadline) {
    (void)first->poll(100ms);
    (void)second->poll(100ms);
  }
  ASSERT_FALSE(first_listener.owned.empty());
  ASSERT_FALSE(second_listener.owned.empty());
  std::set<std::int32_t> all = first_listener.owned;
  for (auto p : second_listener.owned)
    EXPECT_TRUE(all.insert(p).second) << "partition " << p << " owned twice";
  EXPECT_THAT(all, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(first->assignment().size(), first_listener.owned.size());

  // Records on every partition are split between the two members, none twice.
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back("v" + std::to_string(i));
  produce_all(topic, values);
  std::vector<std::string> seen;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < values.size() && std::chrono::steady_clock::now() < until) {
    for (Consumer* c : {first.get(), second.get()}) {
      auto polled = c->poll(50ms);
      if (polled && *polled) seen.emplace_back((**polled).value());
    }
  }
  EXPECT_THAT(seen, UnorderedElementsAreArray(values));
}

TEST_F(KafkaIntegrationTest, BatchPollReturnsRecordsInOrderWithTheirHeaders) {
  const std::string topic = create_topic(1);
  CollectingHandler handler;
  auto p = producer(handler);
  const std::vector<HeaderView> headers = {{"execution_id", "run-7"}};
  for (std::uint64_t i = 0; i < 50; ++i) {
    const std::string value = "v" + std::to_string(i);
    ASSERT_TRUE(p->produce({.topic = topic, .key = "k", .value = value, .headers = headers}, i)
                    .has_value());
  }
  ASSERT_TRUE(p->flush(30s).has_value());

  auto c = consumer(random_name("group"), topic);
  std::vector<Record> batch;
  std::vector<std::string> values;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (values.size() < 50 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(c->poll_batch(batch, 16, 200ms).has_value());
    EXPECT_LE(batch.size(), 16u);
    for (const Record& r : batch) {
      EXPECT_EQ(r.offset(), static_cast<std::int64_t>(values.size()));
      EXPECT_EQ(r.header("execution_id"), "run-7");
      values.emplace_back(r.value());
    }
  }
  ASSERT_EQ(values.size(), 50u);
  EXPECT_EQ(values.back(), "v49");
  ASSERT_TRUE(c->poll_batch(batch, 16, 200ms).has_value());
  EXPECT_TRUE(batch.empty()) << "nothing more to read";
}

// Stores each batch's positions, and commits them when partitions are revoked, as a service
// does; the next owner must then start exactly after them.
class CommittingListener : public RebalanceListener {
 public:
  void on_assigned(std::vector<TopicPartitionOffset>&) override {}
  void on_revoked(const std::vector<TopicPartition>&) override {
    if (consumer != nullptr) {
      EXPECT_TRUE(consumer->commit().has_value());
    }
  }
  Consumer* consumer = nullptr;
};

TEST_F(KafkaIntegrationTest, BatchPollingMembersHandPartitionsOverWithoutLossOrRepeat) {
  const std::string topic = create_topic(4);
  std::vector<std::string> values;
  for (int i = 0; i < 2000; ++i) values.push_back("v" + std::to_string(i));
  produce_all(topic, values);
  const std::string group = random_name("group");
  CommittingListener first_listener;
  CommittingListener second_listener;
  std::vector<std::string> seen;
  std::vector<Record> batch;
  const auto take = [&](Consumer& c) {
    ASSERT_TRUE(c.poll_batch(batch, 20, 50ms).has_value());
    std::map<std::int32_t, std::int64_t> next;
    for (const Record& r : batch) {
      seen.emplace_back(r.value());
      next[r.partition()] = r.offset() + 1;
    }
    std::vector<TopicPartitionOffset> positions;
    for (const auto& [partition, offset] : next) positions.push_back({topic, partition, offset});
    if (!positions.empty()) {
      ASSERT_TRUE(c.store_offsets(positions).has_value());
    }
  };

  auto first = consumer(group, topic, CommitMode::kStoredOffsets, true, &first_listener);
  first_listener.consumer = first.get();
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (seen.size() < 300 && std::chrono::steady_clock::now() < deadline) take(*first);
  ASSERT_GE(seen.size(), 300u);
  // The second member joins while the first is in the middle of the topic: partitions move
  // between batch calls of a member that holds records it has not committed yet.
  auto second = consumer(group, topic, CommitMode::kStoredOffsets, true, &second_listener);
  second_listener.consumer = second.get();
  while (seen.size() < values.size() && std::chrono::steady_clock::now() < deadline) {
    take(*first);
    take(*second);
  }
  EXPECT_FALSE(second->assignment().empty()) << "no partition moved";
  EXPECT_THAT(seen, UnorderedElementsAreArray(values));
  batch.clear();  // records go before their consumer
}

// librdkafka 2.0 stops fetching once its queue is full and, left alone, fetches again only at
// its broker thread's next wake-up, up to a second later. The consumer wakes the fetcher each time
// the queue, seen full, has drained to half (PrefetchWatch): 2 MB through a 64 KiB queue fill it
// ~30 times. Here, on a lone consumer of one partition, the broker thread happens to wake soon
// enough anyway (the 2 MB take ~1.2 s with or without the request); in the pusher it did not: 8 MiB
// of prefetch moved ~15 000 lines/s without it, ~130 000 with it
// (bench/results/2026-12-06-loki-pusher-wakeup.md). This checks the wake-ups are asked for, with
// librdkafka's own queue length and limits.
TEST_F(KafkaIntegrationTest, AFullPrefetchQueueIsRefilledByWakingTheFetcher) {
  const std::string topic = create_topic(1);
  std::vector<std::string> values;
  for (int i = 0; i < 400; ++i) values.push_back(std::to_string(i) + std::string(5000, 'x'));
  // A record batch a record: a fetch brings ~64 KiB, not one large batch (KIP-74).
  client_.properties["batch.size"] = "6000";
  produce_all(topic, values);
  client_.properties.erase("batch.size");
  logger_.set_level(log::Level::kDebug);
  ConsumerOptions options{.client = client_, .group_id = random_name("group")};
  options.client.properties["queued.max.messages.kbytes"] = "64";
  options.client.properties["fetch.message.max.bytes"] = "65536";
  auto made = make_consumer(options);
  ASSERT_TRUE(made.has_value()) << made.error().to_string();
  Consumer& c = **made;
  ASSERT_TRUE(c.subscribe({topic}).has_value());
  std::vector<Record> batch;
  std::size_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (read < values.size() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(c.poll_batch(batch, 16, 100ms).has_value());
    read += batch.size();
  }
  batch.clear();
  ASSERT_EQ(read, values.size());
  std::size_t woken = 0;
  for (const std::string& line : sink_.lines()) {
    if (line.find("kafka fetcher woken") != std::string::npos) ++woken;
  }
  EXPECT_GE(woken, 10u);
}

TEST_F(KafkaIntegrationTest, OnlyStoredOffsetsAreCommitted) {
  const std::string topic = create_topic(1);
  produce_all(topic, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  const std::string group = random_name("group");
  {
    auto c = consumer(group, topic);
    const auto records = poll_records(*c, 10);
    ASSERT_EQ(records.size(), 10u);
    // All ten were read, but only the first five are "durable downstream".
    const TopicPartitionOffset position{topic, 0, 5};
    ASSERT_TRUE(c->store_offsets(std::span(&position, 1)).has_value());
    ASSERT_TRUE(c->commit().has_value());
    const TopicPartition tp{topic, 0};
    auto committed = c->committed(std::span(&tp, 1), 10s);
    ASSERT_TRUE(committed.has_value()) << committed.error().to_string();
    EXPECT_EQ(committed->at(0).offset, 5);
    c->close();
  }
  auto again = consumer(group, topic);
  const auto rest = poll_records(*again, 5);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest.front().offset, 5);
  EXPECT_EQ(rest.front().value, "5");
}

TEST_F(KafkaIntegrationTest, LagCountsRecordsBehindThePosition) {
  const std::string topic = create_topic(1);
  produce_all(topic, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  auto c = consumer(random_name("group"), topic);
  ASSERT_EQ(poll_records(*c, 4).size(), 4u);
  const auto lag = c->lag();
  ASSERT_EQ(lag.size(), 1u);
  EXPECT_EQ(lag[0].partition, (TopicPartition{topic, 0}));
  ASSERT_TRUE(lag[0].records.has_value());
  EXPECT_EQ(*lag[0].records, 6);
}

TEST_F(KafkaIntegrationTest, PausedPartitionsDeliverNothingUntilResumed) {
  const std::string topic = create_topic(1);
  produce_all(topic, {"a", "b"});
  auto c = consumer(random_name("group"), topic);
  ASSERT_EQ(poll_records(*c, 2).size(), 2u);
  const TopicPartition tp{topic, 0};
  ASSERT_TRUE(c->pause(std::span(&tp, 1)).has_value());
  produce_all(topic, {"c", "d"});
  EXPECT_TRUE(poll_records(*c, 1, 2s).empty()) << "a paused partition delivered records";
  ASSERT_TRUE(c->resume(std::span(&tp, 1)).has_value());
  const auto rest = poll_records(*c, 2);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].value, "c");
}

TEST_F(KafkaIntegrationTest, NothingStoredMeansNothingCommittedEvenOnClose) {
  const std::string topic = create_topic(1);
  produce_all(topic, {"a", "b", "c"});
  const std::string group = random_name("group");
  {
    auto c = consumer(group, topic);
    ASSERT_EQ(poll_records(*c, 3).size(), 3u);
    c->close();  // kStoredOffsets commits on close — but nothing was stored
  }
  auto again = consumer(group, topic);
  const auto all = poll_records(*again, 3);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().offset, 0);
}

TEST_F(KafkaIntegrationTest, TransactionCommitsOutputAndInputOffsetsTogether) {
  const std::string input = create_topic(1);
  const std::string output = create_topic(1);
  produce_all(input, {"r0", "r1", "r2", "r3", "r4"});
  const std::string group = random_name("group");

  auto source = consumer(group, input, CommitMode::kTransactional);
  const auto records = poll_records(*source, 5);
  ASSERT_EQ(records.size(), 5u);

  CollectingHandler handler;
  auto txn = producer(handler, random_name("txn"));
  ASSERT_TRUE(txn->init_transactions(30s).has_value());
  ASSERT_TRUE(txn->begin_transaction().has_value());
  for (const auto& r : records) {
    const std::string value = r.value + "-enriched";
    ASSERT_TRUE(txn->produce({.topic = output, .key = r.key, .value = value}, 0).has_value());
  }
  const TopicPartitionOffset position{input, 0, records.back().offset + 1};
  auto metadata = source->group_metadata();
  auto sent = txn->send_offsets_to_transaction(std::span(&position, 1), *metadata, 30s);
  ASSERT_TRUE(sent.has_value()) << sent.error().to_string();
  auto committed = txn->commit_transaction(30s);
  ASSERT_TRUE(committed.has_value()) << committed.error().to_string();
  // Each record is reported (the commit's flush served the reports), none failed.
  EXPECT_EQ(handler.delivered.size(), 5u);
  EXPECT_TRUE(handler.failed.empty());
  EXPECT_EQ(txn->in_flight(), 0u);

  const TopicPartition tp{input, 0};
  auto offsets = source->committed(std::span(&tp, 1), 10s);
  ASSERT_TRUE(offsets.has_value());
  EXPECT_EQ(offsets->at(0).offset, 5);

  auto reader = consumer(random_name("group"), output);
  const auto out = poll_records(*reader, 5);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out.front().value, "r0-enriched");
}

TEST_F(KafkaIntegrationTest, AbortedTransactionIsInvisibleToReadCommitted) {
  const std::string topic = create_topic(1);
  CollectingHandler handler;
  auto txn = producer(handler, random_name("txn"));
  ASSERT_TRUE(txn->init_transactions(30s).has_value());

  ASSERT_TRUE(txn->begin_transaction().has_value());
  for (const char* value : {"aborted-1", "aborted-2", "aborted-3"}) {
    ASSERT_TRUE(txn->produce({.topic = topic, .value = value}, 0).has_value());
  }
  ASSERT_TRUE(txn->flush(30s).has_value());
  ASSERT_TRUE(txn->abort_transaction(30s).has_value());

  ASSERT_TRUE(txn->begin_transaction().has_value());
  ASSERT_TRUE(txn->produce({.topic = topic, .value = "committed"}, 0).has_value());
  ASSERT_TRUE(txn->commit_transaction(30s).has_value());

  auto committed_reader = consumer(random_name("group"), topic);
  const auto visible = poll_records(*committed_reader, 4, 5s);
  ASSERT_EQ(visible.size(), 1u);
  EXPECT_EQ(visible[0].value, "committed");

  // The aborted records are in the log: an uncommitted reader sees them, proving the test
  // would catch a read_committed consumer that leaked them.
  auto uncommitted_reader =
      consumer(random_name("group"), topic, CommitMode::kStoredOffsets, false);
  const auto everything = poll_records(*uncommitted_reader, 4);
  ASSERT_EQ(everything.size(), 4u);
  EXPECT_EQ(everything[0].value, "aborted-1");
}

// What stage::read_topic relies on to read a topic to its end: the end offset a read_committed
// consumer is told, and a position that passes commit and abort markers and aborted records.
// The alert history ends this way whenever the evaluator rolled a transaction back.
TEST_F(KafkaIntegrationTest, APositionReachesTheEndOffsetPastAbortedRecordsAndMarkers) {
  const std::string topic = create_topic(2);
  CollectingHandler handler;
  auto txn = producer(handler, random_name("txn"));
  ASSERT_TRUE(txn->init_transactions(30s).has_value());
  ASSERT_TRUE(txn->begin_transaction().has_value());
  ASSERT_TRUE(txn->produce({.topic = topic, .partition = 0, .value = "committed"}, 0).has_value());
  ASSERT_TRUE(txn->commit_transaction(30s).has_value());
  ASSERT_TRUE(txn->begin_transaction().has_value());
  ASSERT_TRUE(txn->produce({.topic = topic, .partition = 0, .value = "aborted"}, 0).has_value());
  ASSERT_TRUE(txn->flush(30s).has_value());
  ASSERT_TRUE(txn->abort_transaction(30s).has_value());

  auto reader = consumer(random_name("group"), topic, CommitMode::kManual);
  const std::vector<TopicPartition> partitions = {{topic, 0}, {topic, 1}};
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (reader->assignment().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    (void)reader->poll(100ms);
  }
  auto ends = reader->watermarks(partitions, 10s);
  ASSERT_TRUE(ends.has_value()) << ends.error().to_string();
  // committed, its marker, aborted, its marker: 4 offsets; partition 1 is empty.
  EXPECT_EQ((*ends)[0].high, 4);
  EXPECT_EQ((*ends)[1].high, (*ends)[1].low);
  std::vector<std::string> values;
  std::optional<std::int64_t> position;
  while (std::chrono::steady_clock::now() < deadline) {
    auto polled = reader->poll(100ms);
    if (polled && *polled) values.emplace_back((**polled).value());
    position = reader->positions_of(partitions)[0];
    if (position && *position >= (*ends)[0].high) break;
  }
  EXPECT_EQ(values, std::vector<std::string>{"committed"});
  ASSERT_TRUE(position.has_value());
  EXPECT_EQ(*position, 4);

  // A transaction left open: a read_committed reader is told the last stable offset, before it.
  ASSERT_TRUE(txn->begin_transaction().has_value());
  ASSERT_TRUE(txn->produce({.topic = topic, .partition = 0, .value = "open"}, 0).has_value());
  ASSERT_TRUE(txn->flush(30s).has_value());
  auto open = reader->watermarks(partitions, 10s);
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ((*open)[0].high, 4);
  ASSERT_TRUE(txn->abort_transaction(30s).has_value());
}

// A fenced producer learns of the fence from the broker; from then on every call fails, and
// each failure must say why (librdkafka alone answers a generic "Local: Fatal error").
TEST_F(KafkaIntegrationTest, AFencedProducerNamesTheFenceInEveryLaterError) {
  const std::string topic = create_topic(1);
  const std::string id = random_name("txn");
  CollectingHandler old_handler;
  auto old_instance = producer(old_handler, id);
  ASSERT_TRUE(old_instance->init_transactions(30s).has_value());
  ASSERT_TRUE(old_instance->begin_transaction().has_value());
  ASSERT_TRUE(old_instance->produce({.topic = topic, .value = "before"}, 0).has_value());
  ASSERT_TRUE(old_instance->flush(30s).has_value());

  CollectingHandler new_handler;
  auto new_instance = producer(new_handler, id);
  ASSERT_TRUE(new_instance->init_transactions(30s).has_value());

  // Never polled: librdkafka's broker thread meets the fence, and its error event stays
  // queued, so the produce's own answer is all the caller has to go on.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  base::Status produced;
  while (std::chrono::steady_clock::now() < deadline) {
    produced = old_instance->produce({.topic = topic, .value = "after"}, 1);
    if (!produced) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(produced.has_value()) << "the old instance was never fenced";
  EXPECT_TRUE(old_instance->fatal());
  const auto names_the_fence = ::testing::ContainsRegex("[Ff]enced");
  EXPECT_EQ(produced.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(produced.error().message(), names_the_fence);
  const auto committed = old_instance->commit_transaction(10s);
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(committed.error().message(), names_the_fence);
  EXPECT_THAT(old_instance->fatal_reason(), names_the_fence);
}

// An abort purges what the transaction still holds: each such record is reported failed.
TEST_F(KafkaIntegrationTest, ATransactionalProducerReportsWhatAnAbortPurged) {
  const std::string topic = create_topic(1);
  CollectingHandler handler;
  auto txn = producer(handler, random_name("txn"));
  ASSERT_TRUE(txn->init_transactions(30s).has_value());
  ASSERT_TRUE(txn->begin_transaction().has_value());
  for (std::uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(txn->produce({.topic = topic, .value = "x"}, i).has_value());
  }
  EXPECT_EQ(txn->in_flight(), 3u);
  ASSERT_TRUE(txn->abort_transaction(30s).has_value());
  EXPECT_EQ(txn->in_flight(), 0u);
  // Those still queued when the abort came (all of them, unless the broker already had some:
  // those are not reported) are reported failed.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (handler.failed.empty() && std::chrono::steady_clock::now() < deadline) txn->poll(100ms);
  txn->poll(200ms);
  EXPECT_TRUE(handler.delivered.empty());
  EXPECT_GE(handler.failed.size(), 1u);
  EXPECT_LE(handler.failed.size(), 3u);
  EXPECT_EQ(txn->in_flight(), 0u);
}

TEST_F(KafkaIntegrationTest, ProducingToAMissingPartitionFailsDelivery) {
  const std::string topic = create_topic(1);
  CollectingHandler handler;
  auto p = producer(handler);
  auto status = p->produce({.topic = topic, .partition = 7, .value = "x"}, 1);
  if (status.has_value()) {
    (void)p->flush(30s);
    EXPECT_EQ(handler.failed.size(), 1u);
  } else {
    EXPECT_EQ(status.error().code(), base::ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace iw::kafka
