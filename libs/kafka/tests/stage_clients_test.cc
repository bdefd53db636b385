#include "iw/kafka/stage_clients.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/testing/fake_kafka.h"

namespace iw::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::FakeKafka;

// A stage as the services are: its revocation commits the open transaction through the
// producer the same StageClients holds.
class Stage final : public RebalanceListener, public DeliveryHandler {
 public:
  explicit Stage(FakeKafka& kafka) : clients(kafka) {}

  void start() {
    ASSERT_TRUE(clients.start_producer({.transactional_id = "stage"}, *this));
    ASSERT_TRUE(clients.producer().init_transactions(1s));
    ASSERT_TRUE(clients.start_consumer(
        {.group_id = "group", .commit_mode = CommitMode::kTransactional, .listener = this}));
    ASSERT_TRUE(clients.consumer().subscribe({"in"}));
    std::vector<Record> batch;
    ASSERT_TRUE(clients.consumer().poll_batch(batch, 10, 0ms));
  }

  void on_assigned(std::vector<TopicPartitionOffset>& partitions) override {
    calls.push_back("assigned " + std::to_string(partitions.size()));
  }
  void on_revoked(const std::vector<TopicPartition>& partitions) override {
    calls.push_back("revoked " + std::to_string(partitions.size()));
    Producer& producer = clients.producer();
    if (auto status = producer.begin_transaction(); !status) return;
    const std::vector<TopicPartitionOffset> positions = {{"in", 0, 0}};
    (void)producer.send_offsets_to_transaction(positions, *clients.consumer().group_metadata(), 1s);
    (void)producer.commit_transaction(1s);
  }
  void on_delivery(const DeliveryReport&) override {}

  std::vector<std::string> calls;
  StageClients clients;  // last: destroyed first, as a stage declares it
};

class StageClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { kafka_.create_topic("in", 1); }
  FakeKafka kafka_;
};

TEST_F(StageClientsTest, CloseLeavesTheGroupWithTheListenerToldThenTheProducerGoesLast) {
  {
    Stage stage(kafka_);
    stage.start();
    stage.clients.close();
    EXPECT_THAT(stage.calls, ElementsAre("assigned 1", "revoked 1"));
    EXPECT_EQ(kafka_.committed_offset("group", {"in", 0}), 0);  // committed while revoking
  }
  EXPECT_THAT(kafka_.journal(), ElementsAre("transaction committed", "consumer closed",
                                            "consumer destroyed", "producer destroyed"));
}

// An error return: the stage is being destroyed, so leaving the group must not call back into
// it (its revocation would commit through a producer, and members, already gone).
TEST_F(StageClientsTest, TheDestructorLeavesTheGroupWithoutCallingBackThenDestroysTheProducer) {
  std::vector<std::string> calls;
  {
    Stage stage(kafka_);
    stage.start();
    calls = stage.calls;
  }
  EXPECT_THAT(calls, ElementsAre("assigned 1"));
  EXPECT_THAT(kafka_.journal(),
              ElementsAre("consumer closed", "consumer destroyed", "producer destroyed"));
  EXPECT_FALSE(kafka_.committed_offset("group", {"in", 0}));
}

TEST_F(StageClientsTest, ClientsComeFromTheFactory) {
  StageClients clients(kafka_);
  ASSERT_TRUE(clients.start_consumer({.group_id = "group"}));
  EXPECT_EQ(&clients.consumer(), kafka_.last_consumer());
}

}  // namespace
}  // namespace iw::kafka
