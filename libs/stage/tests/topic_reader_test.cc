// read_topic() against in-memory Kafka clients: no broker.
#include "iw/stage/topic_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "iw/testing/fake_kafka.h"

namespace iw::stage {
namespace {

using iw::testing::FakeConsumer;
using iw::testing::FakeKafka;
using namespace std::chrono_literals;

const std::string kTopic = "history";

class TopicReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.create_topic(kTopic, 2);
    // Each poll of the fake returns at once; the clock moves as a real poll's wait would.
    kafka_.on_poll = [this](FakeConsumer& consumer) {
      clock_.advance(100ms);
      ++polls_;
      if (on_poll_) on_poll_(consumer);
    };
  }

  base::Result<TopicRead> read(const TopicReadOptions& options = {.topic = kTopic,
                                                                  .group_id = "reader"}) {
    values_.clear();
    return read_topic(
        kafka_, {.bootstrap_servers = "fake:9092"}, options, shutdown_, clock_,
        [this](const kafka::Record& record) { values_.emplace_back(record.value()); });
  }

  // A transaction written by a producer of the topic, committed or left open.
  void write_transaction(const std::string& value, bool commit) {
    Deliveries deliveries;
    auto producer = kafka_.fake_producer({.client = {}, .transactional_id = "writer"}, deliveries);
    ASSERT_TRUE(producer->init_transactions(1s));
    ASSERT_TRUE(producer->begin_transaction());
    ASSERT_TRUE(producer->produce({.topic = kTopic, .partition = 1, .value = value}, 0));
    if (commit) {
      ASSERT_TRUE(producer->commit_transaction(1s));
    }
  }

  struct Deliveries final : kafka::DeliveryHandler {
    void on_delivery(const kafka::DeliveryReport&) override {}
  };

  FakeKafka kafka_;
  base::FakeClock clock_;
  runtime::ShutdownSignal shutdown_;
  std::function<void(FakeConsumer&)> on_poll_;
  int polls_ = 0;
  std::vector<std::string> values_;
};

TEST_F(TopicReaderTest, ReadsEveryPartitionToItsEnd) {
  kafka_.append(kTopic, 0, "a");
  kafka_.append(kTopic, 1, "b");
  kafka_.append(kTopic, 0, "c");
  const auto read = this->read();
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  EXPECT_EQ(read->records, 3U);
  std::ranges::sort(values_);
  EXPECT_EQ(values_, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(kafka_.journal().back(), "consumer destroyed");
  EXPECT_NE(std::ranges::find(kafka_.journal(), "consumer closed"), kafka_.journal().end());
}

TEST_F(TopicReaderTest, AnEmptyTopicEndsAtOnce) {
  const auto read = this->read();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  EXPECT_EQ(read->records, 0U);
  EXPECT_LE(polls_, 2);
}

// Only committed records: an aborted transaction's are skipped. The end is the last stable
// offset when the partitions were assigned: a transaction still open then is not waited for.
TEST_F(TopicReaderTest, ReadsCommittedRecordsUpToTheLastStableOffset) {
  kafka_.append(kTopic, 0, "plain");
  write_transaction("committed", true);
  write_transaction("open", false);
  const auto read = this->read();
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  std::ranges::sort(values_);
  EXPECT_EQ(values_, (std::vector<std::string>{"committed", "plain"}));
}

// The group takes 3 s to assign its partitions (Kafka's group.initial.rebalance.delay.ms):
// nothing ends the read before the assignment, and then it reads to the end offsets.
TEST_F(TopicReaderTest, WaitsForTheAssignmentHoweverLongItTakes) {
  kafka_.append(kTopic, 0, "a");
  kafka_.append(kTopic, 1, "b");
  on_poll_ = [this](FakeConsumer& consumer) {
    const std::vector<kafka::TopicPartition> all = {{kTopic, 0}, {kTopic, 1}};
    if (polls_ <= 30) {
      consumer.revoke(all);  // the subscription's assignment is not there yet
    } else if (consumer.assignment().empty()) {
      consumer.assign(all);
    }
  };
  const auto read = this->read();
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  EXPECT_EQ(read->records, 2U);
  EXPECT_GT(polls_, 30);
  EXPECT_GE(read->assignment_wait, 3s);
}

// Records come slowly (a broker under load): no quiet period ends the read, only the end
// offsets taken at the assignment.
TEST_F(TopicReaderTest, AQuietPeriodDoesNotEndTheRead) {
  for (int i = 0; i < 3; ++i) kafka_.append(kTopic, 0, "r" + std::to_string(i));
  on_poll_ = [this](FakeConsumer& consumer) {
    // One record every 5 s (50 polls).
    const std::vector<kafka::TopicPartition> first = {{kTopic, 0}};
    if (polls_ % 50 == 0) {
      (void)consumer.resume(first);
    } else {
      (void)consumer.pause(first);
    }
  };
  const auto read = this->read();
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  EXPECT_EQ(read->records, 3U);
  EXPECT_GT(polls_, 100);
}

// Records written after the assignment are not waited for.
TEST_F(TopicReaderTest, EndsAtTheEndOffsetsOfTheAssignment) {
  kafka_.append(kTopic, 0, "before");
  kafka_.append(kTopic, 0, "before too");
  on_poll_ = [this](FakeConsumer& consumer) {
    if (!consumer.assignment().empty()) kafka_.append(kTopic, 1, "after");
  };
  const auto read = this->read();
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->end, TopicReadEnd::kAtEnd);
  EXPECT_GE(read->records, 2U);
  EXPECT_LT(polls_, 10);
}

// Never assigned, or never at the end: the read fails, saying where it stood, rather than
// pass a part of the topic off as the whole of it.
TEST_F(TopicReaderTest, FailsWhenNothingIsEverAssigned) {
  on_poll_ = [](FakeConsumer& consumer) { consumer.revoke({{kTopic, 0}, {kTopic, 1}}); };
  const auto read = this->read({.topic = kTopic, .group_id = "reader", .timeout = 5s});
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), base::ErrorCode::kTimeout);
  EXPECT_NE(read.error().message().find("no partition assigned"), std::string::npos);
  EXPECT_EQ(polls_, 50);
}

TEST_F(TopicReaderTest, FailsWhenAPartitionNeverReachesItsEnd) {
  kafka_.append(kTopic, 0, "a");
  kafka_.append(kTopic, 1, "b");
  on_poll_ = [](FakeConsumer& consumer) {
    const std::vector<kafka::TopicPartition> second = {{kTopic, 1}};
    (void)consumer.pause(second);
  };
  const auto read = this->read({.topic = kTopic, .group_id = "reader", .timeout = 5s});
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), base::ErrorCode::kTimeout);
  EXPECT_NE(read.error().message().find("history[1] at 0 of 1"), std::string::npos)
      << read.error().message();
}

TEST_F(TopicReaderTest, EndsAtAShutdown) {
  kafka_.append(kTopic, 0, "a");
  on_poll_ = [this](FakeConsumer&) { shutdown_.request(); };
  const auto read = this->read();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->end, TopicReadEnd::kShutdown);
}

TEST_F(TopicReaderTest, AFatalConsumeErrorIsTheError) {
  on_poll_ = [](FakeConsumer& consumer) {
    consumer.fail_next_poll(base::Error(base::ErrorCode::kFailedPrecondition, "fatal (injected)"));
  };
  const auto read = this->read();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), base::ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace iw::stage
