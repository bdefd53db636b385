#include "topic_end.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::dlq {
namespace {

using namespace std::chrono_literals;
using State = TopicEnd::State;
using ::testing::ElementsAre;

const base::MonotonicTime kStart{std::chrono::seconds{100}};

TEST(TopicEndTest, EndsWhenEveryPartitionDeliveredItsLastRecord) {
  TopicEnd end({{0, 0, 2}, {1, 5, 6}}, 2s);
  end.on_assigned(kStart);
  EXPECT_TRUE(end.on_record(0, 0, kStart));
  EXPECT_TRUE(end.on_record(1, 5, kStart));
  EXPECT_EQ(end.state(kStart), State::kReading);
  EXPECT_TRUE(end.on_record(0, 1, kStart));
  EXPECT_EQ(end.state(kStart), State::kReachedEnd);
  EXPECT_TRUE(end.unfinished().empty());
}

TEST(TopicEndTest, EmptyPartitionsAreDoneBeforeReading) {
  EXPECT_EQ(TopicEnd({{0, 0, 0}, {1, 7, 7}}, 2s).state(kStart), State::kReachedEnd);
  TopicEnd one_empty({{0, 0, 0}, {1, 3, 4}}, 2s);
  EXPECT_EQ(one_empty.state(kStart), State::kReading);
  EXPECT_THAT(one_empty.unfinished(), ElementsAre(PartitionRange{1, 3, 4}));
}

TEST(TopicEndTest, RecordsAppendedAfterTheStartAreNotPartOfTheRead) {
  TopicEnd end({{0, 0, 2}, {1, 0, 1}}, 2s);
  EXPECT_FALSE(end.on_record(1, 1, kStart)) << "past the end offset taken at the start";
  EXPECT_FALSE(end.on_record(2, 0, kStart)) << "a partition added since";
  EXPECT_TRUE(end.on_record(0, 0, kStart));
  EXPECT_EQ(end.state(kStart), State::kReading);
  // A record at or past the end means the partition had nothing more before it.
  EXPECT_FALSE(end.on_record(0, 3, kStart));
  EXPECT_EQ(end.state(kStart), State::kReachedEnd);
}

TEST(TopicEndTest, SilenceCountsOnlyOnceThePartitionsAreAssigned) {
  TopicEnd end({{0, 0, 5}}, 2s);
  EXPECT_EQ(end.state(kStart + 1h), State::kReading) << "not assigned yet";
  end.on_assigned(kStart);
  EXPECT_TRUE(end.assigned());
  EXPECT_EQ(end.state(kStart + 1999ms), State::kReading);
  EXPECT_TRUE(end.on_record(0, 3, kStart + 1500ms));
  EXPECT_EQ(end.state(kStart + 3s), State::kReading) << "a record restarts the idle clock";
  EXPECT_EQ(end.state(kStart + 3500ms), State::kIdle);
  // Offset 4 never came (say, a transaction's commit marker): the log says so.
  EXPECT_THAT(end.unfinished(), ElementsAre(PartitionRange{0, 4, 5}));
}

TEST(TopicEndTest, AssignmentIsTakenOnce) {
  TopicEnd end({{0, 0, 5}}, 2s);
  end.on_assigned(kStart);
  end.on_assigned(kStart + 10s);
  EXPECT_EQ(end.state(kStart + 2s), State::kIdle);
}

TEST(TopicEndTest, WithoutEndOffsetsOnlySilenceEndsTheRead) {
  TopicEnd end({}, 2s);
  EXPECT_EQ(end.state(kStart), State::kReading);
  end.on_assigned(kStart);
  EXPECT_TRUE(end.on_record(0, 1'000'000, kStart + 1s));
  EXPECT_TRUE(end.on_record(7, 0, kStart + 1s));
  EXPECT_EQ(end.state(kStart + 2500ms), State::kReading);
  EXPECT_EQ(end.state(kStart + 3s), State::kIdle);
  EXPECT_TRUE(end.unfinished().empty());
}

}  // namespace
}  // namespace iw::dlq
