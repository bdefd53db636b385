#include "iw/testing/fake_kafka.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace iw::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kIn = "in";
const std::string kOut = "out";
const std::string kGroup = "group";

// Records what the consumer told it, and what it does from inside the callbacks.
class Listener final : public kafka::RebalanceListener {
 public:
  void on_assigned(std::vector<kafka::TopicPartitionOffset>& partitions) override {
    for (auto& p : partitions) {
      calls.push_back("assigned " + std::to_string(p.partition));
      if (start) p.offset = *start;
    }
  }
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    for (const auto& p : partitions) calls.push_back("revoked " + std::to_string(p.partition));
    if (on_revoke) on_revoke();
  }
  void on_lost(const std::vector<kafka::TopicPartition>& partitions) override {
    for (const auto& p : partitions) calls.push_back("lost " + std::to_string(p.partition));
  }
  std::vector<std::string> calls;
  std::optional<std::int64_t> start;
  std::function<void()> on_revoke;
};

class Deliveries final : public kafka::DeliveryHandler {
 public:
  void on_delivery(const kafka::DeliveryReport& report) override { reports.push_back(report); }
  std::vector<kafka::DeliveryReport> reports;
};

std::vector<std::string> values(const std::vector<kafka::Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.emplace_back(r.value());
  return out;
}

std::vector<std::string> values(const std::vector<FakeKafka::Stored>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.value);
  return out;
}

class FakeKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.create_topic(kIn, 2);
    kafka_.create_topic(kOut, 1);
  }

  std::unique_ptr<FakeConsumer> consumer(
      kafka::CommitMode mode = kafka::CommitMode::kStoredOffsets) {
    auto consumer =
        kafka_.fake_consumer({.group_id = kGroup, .commit_mode = mode, .listener = &listener_});
    EXPECT_TRUE(consumer->subscribe({kIn}));
    return consumer;
  }

  std::unique_ptr<FakeProducer> transactional(const std::string& id = "txn") {
    auto producer = kafka_.fake_producer({.transactional_id = id}, deliveries_);
    EXPECT_TRUE(producer->init_transactions(1s));
    return producer;
  }

  // A transactional consumer that has polled its input, and a producer with a transaction open
  // holding one record, `value`, for kOut.
  std::pair<std::unique_ptr<FakeConsumer>, std::unique_ptr<FakeProducer>> mid_transaction(
      const std::string& value) {
    auto c = consumer(kafka::CommitMode::kTransactional);
    auto p = transactional();
    std::vector<kafka::Record> batch;
    EXPECT_TRUE(c->poll_batch(batch, 10, 0ms));
    EXPECT_TRUE(p->begin_transaction());
    EXPECT_TRUE(p->produce({.topic = kOut, .value = value}, 7));
    return {std::move(c), std::move(p)};
  }

  FakeKafka kafka_;
  Listener listener_;
  Deliveries deliveries_;
};

TEST_F(FakeKafkaTest, TheFirstPollAssignsEveryPartitionThenDeliversInBatches) {
  for (int i = 0; i < 3; ++i) kafka_.append(kIn, 0, "a" + std::to_string(i));
  kafka_.append(kIn, 1, "b0");
  auto c = consumer();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 3, 0ms));
  EXPECT_THAT(listener_.calls, ElementsAre("assigned 0", "assigned 1"));
  EXPECT_EQ(batch.size(), 3U);  // round robin over the partitions, at most `max`
  std::vector<kafka::Record> rest;
  ASSERT_TRUE(c->poll_batch(rest, 10, 0ms));
  EXPECT_EQ(batch.size() + rest.size(), 4U);
  ASSERT_TRUE(c->poll_batch(rest, 10, 0ms));
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(c->assignment().size(), 2U);
}

TEST_F(FakeKafkaTest, AtEndOnceEveryAssignedPartitionIsReadToTheEndOfItsLog) {
  kafka_.append(kIn, 0, "a");
  kafka_.append(kIn, 1, "b");
  auto c = consumer();
  EXPECT_FALSE(c->at_end());  // nothing assigned yet
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 1, 0ms));
  EXPECT_FALSE(c->at_end());
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_TRUE(c->at_end());
  ASSERT_TRUE(c->seek({kIn, 1, 0}, 0ms));
  EXPECT_FALSE(c->at_end());
}

TEST_F(FakeKafkaTest, AssignmentStartsAtTheCommittedOffsetOrWhereTheListenerSays) {
  for (int i = 0; i < 5; ++i) kafka_.append(kIn, 0, std::to_string(i));
  kafka_.commit_offset(kGroup, {kIn, 0}, 3);
  auto c = consumer();
  auto polled = c->poll(0ms);
  ASSERT_TRUE(polled && *polled);
  EXPECT_EQ((**polled).value(), "3");

  FakeKafka other;
  other.create_topic(kIn, 1);
  other.append(kIn, 0, "x");
  other.append(kIn, 0, "y");
  listener_.start = 1;
  auto d = other.fake_consumer({.group_id = kGroup, .listener = &listener_});
  ASSERT_TRUE(d->subscribe({kIn}));
  polled = d->poll(0ms);
  ASSERT_TRUE(polled && *polled);
  EXPECT_EQ((**polled).value(), "y");
}

TEST_F(FakeKafkaTest, StoredOffsetsAreCommittedByCommitOnRevocationAndOnClose) {
  for (int i = 0; i < 4; ++i) kafka_.append(kIn, i % 2, std::to_string(i));
  auto c = consumer();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  const std::vector<kafka::TopicPartitionOffset> stored = {{kIn, 0, 1}, {kIn, 1, 2}};
  ASSERT_TRUE(c->store_offsets(stored));
  EXPECT_FALSE(kafka_.committed_offset(kGroup, {kIn, 0}));  // stored is not committed
  ASSERT_TRUE(c->commit());
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 0}), 1);

  const std::vector<kafka::TopicPartitionOffset> more = {{kIn, 0, 2}};
  ASSERT_TRUE(c->store_offsets(more));
  c->revoke({{kIn, 0}});
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 0}), 2);  // auto-commit on revocation
  const std::vector<kafka::TopicPartitionOffset> revoked = {{kIn, 0, 2}};
  EXPECT_FALSE(c->store_offsets(revoked));  // no longer owned

  const std::vector<kafka::TopicPartitionOffset> last = {{kIn, 1, 2}};
  ASSERT_TRUE(c->store_offsets(last));
  c->close();
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 1}), 2);
  EXPECT_THAT(listener_.calls, ElementsAre("assigned 0", "assigned 1", "revoked 0", "revoked 1"));
}

TEST_F(FakeKafkaTest, LostPartitionsCommitNothingAndSayLost) {
  kafka_.append(kIn, 0, "a");
  auto c = consumer();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  const std::vector<kafka::TopicPartitionOffset> stored = {{kIn, 0, 1}};
  ASSERT_TRUE(c->store_offsets(stored));
  c->lose({{kIn, 0}});
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  c->close();
  EXPECT_FALSE(kafka_.committed_offset(kGroup, {kIn, 0}));
  EXPECT_THAT(listener_.calls, ElementsAre("assigned 0", "assigned 1", "lost 0", "revoked 1"));
}

TEST_F(FakeKafkaTest, PausedPartitionsDeliverNothingUntilResumed) {
  kafka_.append(kIn, 0, "a");
  kafka_.append(kIn, 1, "b");
  auto c = consumer();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 0, 0ms));  // assigns
  const std::vector<kafka::TopicPartition> p0 = {{kIn, 0}};
  ASSERT_TRUE(c->pause(p0));
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("b"));
  ASSERT_TRUE(c->resume(p0));
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("a"));
}

TEST_F(FakeKafkaTest, SeekRewindsAndLagCountsWhatIsLeft) {
  for (int i = 0; i < 3; ++i) kafka_.append(kIn, 0, std::to_string(i));
  auto c = consumer();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_EQ(batch.size(), 3U);
  ASSERT_TRUE(c->seek({kIn, 0, 1}, 1s));
  const auto lag = c->lag();
  ASSERT_EQ(lag.size(), 2U);
  EXPECT_EQ(lag[0].records, 2);
  EXPECT_EQ(lag[1].records, 0);
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("1", "2"));
}

TEST_F(FakeKafkaTest, AFatalPollErrorMakesTheConsumerFatal) {
  auto c = consumer();
  c->fail_next_poll(base::Error(base::ErrorCode::kUnavailable, "broker down"));
  auto polled = c->poll(0ms);
  ASSERT_FALSE(polled);
  EXPECT_FALSE(c->fatal());
  c->fail_next_poll(base::Error(base::ErrorCode::kFailedPrecondition, "fatal"));
  std::vector<kafka::Record> batch;
  EXPECT_EQ(c->poll_batch(batch, 10, 0ms).error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(c->fatal());
}

TEST_F(FakeKafkaTest, ATransactionIsSeenByReadCommittedReadersOnlyOnceCommitted) {
  kafka_.append(kIn, 0, "in");
  auto [c, p] = mid_transaction("out");
  std::vector<kafka::Record> batch;
  EXPECT_TRUE(kafka_.committed_records(kOut).empty());
  EXPECT_EQ(p->poll(0ms), 1);
  ASSERT_EQ(deliveries_.reports.size(), 1U);
  EXPECT_EQ(deliveries_.reports[0].correlation, 7U);
  EXPECT_FALSE(deliveries_.reports[0].error);

  // A read_committed reader stops at the open transaction; read_uncommitted sees it.
  auto reader = kafka_.fake_consumer({.group_id = "reader"});
  ASSERT_TRUE(reader->subscribe({kOut}));
  ASSERT_TRUE(reader->poll_batch(batch, 10, 0ms));
  EXPECT_TRUE(batch.empty());
  auto dirty = kafka_.fake_consumer({.group_id = "dirty", .read_committed = false});
  ASSERT_TRUE(dirty->subscribe({kOut}));
  ASSERT_TRUE(dirty->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("out"));

  const std::vector<kafka::TopicPartitionOffset> positions = {{kIn, 0, 1}};
  ASSERT_TRUE(p->send_offsets_to_transaction(positions, *c->group_metadata(), 1s));
  EXPECT_FALSE(kafka_.committed_offset(kGroup, {kIn, 0}));
  ASSERT_TRUE(p->commit_transaction(1s));
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 0}), 1);
  EXPECT_THAT(values(kafka_.committed_records(kOut)), ElementsAre("out"));
  ASSERT_TRUE(reader->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("out"));
  EXPECT_EQ(p->commits(), 1);
}

TEST_F(FakeKafkaTest, AnAbortedTransactionIsSkippedAndTheConsumerRewindsToTheCommittedOffset) {
  for (int i = 0; i < 3; ++i) kafka_.append(kIn, 0, std::to_string(i));
  kafka_.commit_offset(kGroup, {kIn, 0}, 1);
  auto c = consumer(kafka::CommitMode::kTransactional);
  auto p = transactional();
  std::vector<kafka::Record> batch;
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("1", "2"));
  ASSERT_TRUE(p->begin_transaction());
  ASSERT_TRUE(p->produce({.topic = kOut, .value = "lost"}, 0));
  const std::vector<kafka::TopicPartitionOffset> positions = {{kIn, 0, 3}};
  ASSERT_TRUE(p->send_offsets_to_transaction(positions, *c->group_metadata(), 1s));
  ASSERT_TRUE(p->abort_transaction(1s));
  EXPECT_FALSE(p->in_transaction());
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 0}), 1);  // the offsets went with it

  const std::vector<kafka::TopicPartition> p0 = {{kIn, 0}};
  auto committed = c->committed(p0, 1s);
  ASSERT_TRUE(committed);
  ASSERT_TRUE(c->seek((*committed)[0], 1s));
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("1", "2"));

  ASSERT_TRUE(p->begin_transaction());
  ASSERT_TRUE(p->produce({.topic = kOut, .value = "kept"}, 0));
  ASSERT_TRUE(p->commit_transaction(1s));
  EXPECT_THAT(values(kafka_.committed_records(kOut)), ElementsAre("kept"));
  EXPECT_EQ(kafka_.log(kOut, 0).size(), 2U);  // the aborted record is still in the log
  EXPECT_TRUE(kafka_.log(kOut, 0)[0].aborted);
}

TEST_F(FakeKafkaTest, ARebalanceMidTransactionRunsInsideThePoll) {
  kafka_.append(kIn, 0, "a");
  auto [c, p] = mid_transaction("x");
  std::vector<kafka::Record> batch;
  // The listener commits the open transaction while it still owns the partition.
  listener_.on_revoke = [&] {
    const std::vector<kafka::TopicPartitionOffset> positions = {{kIn, 0, 1}};
    ASSERT_TRUE(p->send_offsets_to_transaction(positions, *c->group_metadata(), 1s));
    ASSERT_TRUE(p->commit_transaction(1s));
  };
  c->revoke({{kIn, 0}});
  EXPECT_EQ(p->commits(), 0);  // not before the next poll
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  listener_.on_revoke = nullptr;
  EXPECT_EQ(p->commits(), 1);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kIn, 0}), 1);
  EXPECT_THAT(c->assignment(), ElementsAre(kafka::TopicPartition{kIn, 1}));
  c->assign({{kIn, 0}});
  ASSERT_TRUE(c->poll_batch(batch, 10, 0ms));
  EXPECT_EQ(c->assignment().size(), 2U);
  EXPECT_EQ(c->positions().at({kIn, 0}), 1);
}

TEST_F(FakeKafkaTest, ANewerInstanceFencesTheOlderOneAndAbortsWhatItLeftOpen) {
  auto old = transactional("same");
  ASSERT_TRUE(old->begin_transaction());
  ASSERT_TRUE(old->produce({.topic = kOut, .value = "old"}, 0));
  auto young = transactional("same");
  EXPECT_TRUE(old->fatal());
  EXPECT_FALSE(young->fatal());
  EXPECT_TRUE(kafka_.log(kOut, 0)[0].aborted);
  const auto produced = old->produce({.topic = kOut, .value = "again"}, 0);
  ASSERT_FALSE(produced);
  EXPECT_EQ(produced.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(produced.error().message(), HasSubstr("fenced"));
  EXPECT_EQ(old->commit_transaction(1s).error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(old->abort_transaction(1s).error().code(), base::ErrorCode::kFailedPrecondition);

  kafka_.fence("same");  // as a test fences a stage's producer
  EXPECT_TRUE(young->fatal());
  EXPECT_EQ(young->begin_transaction().error().code(), base::ErrorCode::kFailedPrecondition);
}

TEST_F(FakeKafkaTest, AFailedDeliveryIsReportedAndFailsItsTransactionsCommit) {
  auto p = transactional();
  ASSERT_TRUE(p->begin_transaction());
  p->fail_next_delivery(base::Error(base::ErrorCode::kTimeout, "message timed out"));
  ASSERT_TRUE(p->produce({.topic = kOut, .value = "x"}, 1));
  ASSERT_TRUE(p->produce({.topic = kOut, .value = "y"}, 2));
  EXPECT_EQ(p->in_flight(), 2U);
  ASSERT_TRUE(p->flush(1s));
  ASSERT_EQ(deliveries_.reports.size(), 2U);
  ASSERT_TRUE(deliveries_.reports[0].error);
  EXPECT_EQ(deliveries_.reports[0].error->code(), base::ErrorCode::kTimeout);
  EXPECT_FALSE(deliveries_.reports[1].error);
  EXPECT_EQ(p->commit_transaction(1s).error().code(), base::ErrorCode::kAborted);
  ASSERT_TRUE(p->abort_transaction(1s));
  EXPECT_TRUE(kafka_.committed_records(kOut).empty());
}

TEST_F(FakeKafkaTest, InjectedProduceAndCommitFailuresHappenOnce) {
  auto p = transactional();
  ASSERT_TRUE(p->begin_transaction());
  p->fail_next_produce(base::Error(base::ErrorCode::kInvalidInput, "too large"));
  EXPECT_EQ(p->produce({.topic = kOut, .value = "x"}, 0).error().code(),
            base::ErrorCode::kInvalidInput);
  ASSERT_TRUE(p->produce({.topic = kOut, .value = "x"}, 0));
  p->fail_next_commit(base::Error(base::ErrorCode::kTimeout, "commit timed out"));
  EXPECT_EQ(p->commit_transaction(1s).error().code(), base::ErrorCode::kTimeout);
  EXPECT_TRUE(p->in_transaction());
  ASSERT_TRUE(p->commit_transaction(1s));
  EXPECT_THAT(values(kafka_.committed_records(kOut)), ElementsAre("x"));
}

TEST_F(FakeKafkaTest, APlainProducerWritesAtOnceAndPurgeFailsWhatIsInFlight) {
  auto p = kafka_.fake_producer({}, deliveries_);
  ASSERT_TRUE(p->produce({.topic = kOut, .key = "k", .value = "v"}, 1));
  EXPECT_THAT(values(kafka_.committed_records(kOut)), ElementsAre("v"));
  EXPECT_EQ(p->begin_transaction().error().code(), base::ErrorCode::kFailedPrecondition);
  p->purge();
  EXPECT_EQ(p->poll(0ms), 1);
  ASSERT_TRUE(deliveries_.reports[0].error);
}

TEST_F(FakeKafkaTest, AdminCreatesMissingTopicsAndCountsPartitions) {
  auto admin = kafka_.fake_admin();
  const std::vector<kafka::TopicSpec> topics = {{.name = kIn, .partitions = 5},
                                                {.name = "new", .partitions = 3}};
  ASSERT_TRUE(admin->create_topics(topics, 1s));
  EXPECT_EQ(admin->partition_count(kIn, 1s), 2);  // left as it was
  EXPECT_EQ(admin->partition_count("new", 1s), 3);
  EXPECT_EQ(admin->partition_count("missing", 1s).error().code(), base::ErrorCode::kNotFound);
  admin->fail_next_create(base::Error(base::ErrorCode::kUnavailable, "no controller"));
  EXPECT_FALSE(admin->create_topics(topics, 1s));
}

TEST_F(FakeKafkaTest, OnPollRunsFirstInEveryPollAndTheFactoryHandsOutTheSameClients) {
  std::vector<std::size_t> assigned_before;
  kafka_.on_poll = [&](FakeConsumer& c) {
    assigned_before.push_back(c.assignment().size());
    kafka_.append(kIn, 0, "appended");
  };
  kafka::ClientFactory& factory = kafka_;
  auto made = factory.consumer({.group_id = kGroup});
  ASSERT_TRUE(made);
  EXPECT_EQ(made->get(), kafka_.last_consumer());
  ASSERT_TRUE((*made)->subscribe({kIn}));
  std::vector<kafka::Record> batch;
  ASSERT_TRUE((*made)->poll_batch(batch, 10, 0ms));
  EXPECT_THAT(values(batch), ElementsAre("appended"));
  ASSERT_TRUE((*made)->poll(0ms));
  EXPECT_THAT(assigned_before, ElementsAre(0U, 2U));  // before the first rebalance ran
  made->reset();
  EXPECT_EQ(kafka_.last_consumer(), nullptr);
}

TEST_F(FakeKafkaTest, TheJournalShowsTheTeardownOrder) {
  {
    auto p = transactional();
    auto c = consumer(kafka::CommitMode::kTransactional);
    c.reset();
  }
  EXPECT_THAT(kafka_.journal(),
              ElementsAre("consumer closed", "consumer destroyed", "producer destroyed"));
}

}  // namespace
}  // namespace iw::testing
