#include "ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::loki_pusher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr std::int32_t kRuns = 0;
constexpr std::int32_t kAlerts = 1;

loki::EntryRef ref(std::int32_t topic, std::int32_t partition, std::int64_t offset) {
  return {.topic = topic, .partition = partition, .offset = offset};
}

TEST(LedgerTest, PositionsMovePerPartitionOnlyPastRecordsAcceptedOrDeadLettered) {
  Ledger ledger({"runs", "alerts"});
  for (std::int64_t o = 0; o < 6; ++o) {
    ledger.read(ref(kRuns, 0, o));
    ledger.hold(ref(kRuns, 0, o), {.key = "Zoho", .execution_id = "e", .traceparent = ""});
  }
  ledger.read(ref(kAlerts, 0, 40));
  ledger.hold(ref(kAlerts, 0, 40), {});
  EXPECT_EQ(ledger.in_flight(), 7u);

  // The second batch (offsets 3..5) comes back first.
  for (std::int64_t o = 3; o < 6; ++o) ledger.done(ref(kRuns, 0, o));
  EXPECT_THAT(ledger.take_committable(), IsEmpty());
  // The first batch got a 400: 0 and 2 accepted, 1 to be dead-lettered.
  ledger.done(ref(kRuns, 0, 0));
  ledger.done(ref(kRuns, 0, 2));
  auto dead = ledger.release(ref(kRuns, 0, 1));
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->key, "Zoho");
  EXPECT_FALSE(ledger.release(ref(kRuns, 0, 1)).has_value()) << "released once";
  // The alert's batch is accepted meanwhile: its own topic moves on its own.
  ledger.done(ref(kAlerts, 0, 40));
  EXPECT_THAT(ledger.take_committable(),
              UnorderedElementsAre(kafka::TopicPartitionOffset{"runs", 0, 1},
                                   kafka::TopicPartitionOffset{"alerts", 0, 41}));
  // The dead letter is delivered: the whole partition is done.
  ledger.done(ref(kRuns, 0, 1));
  EXPECT_THAT(ledger.take_committable(), ElementsAre(kafka::TopicPartitionOffset{"runs", 0, 6}));
  EXPECT_EQ(ledger.in_flight(), 0u);
}

TEST(LedgerTest, HeldBytesFollowWhatIsHeld) {
  Ledger ledger({"runs"});
  EXPECT_EQ(ledger.held_bytes(), 0u);
  ledger.read(ref(kRuns, 2, 7));
  ledger.hold(ref(kRuns, 2, 7),
              {.key = std::string(100, 'k'), .execution_id = "", .traceparent = ""});
  EXPECT_GT(ledger.held_bytes(), 100u);
  EXPECT_EQ(ledger.held(), 1u);
  (void)ledger.release(ref(kRuns, 2, 7));
  EXPECT_EQ(ledger.held_bytes(), 0u);
  EXPECT_EQ(ledger.held(), 0u);
}

TEST(LedgerTest, ForgottenPartitionsAreNotOwnedAndStoreNothing) {
  Ledger ledger({"runs"});
  ledger.read(ref(kRuns, 0, 0));
  ledger.read(ref(kRuns, 1, 0));
  EXPECT_TRUE(ledger.owns(ref(kRuns, 0, 0)));
  EXPECT_FALSE(ledger.owns(ref(kRuns, 5, 0))) << "never read";
  ledger.forget({"runs", 0});
  EXPECT_FALSE(ledger.owns(ref(kRuns, 0, 0)));
  ledger.done(ref(kRuns, 0, 0));  // a late outcome for a revoked partition
  ledger.done(ref(kRuns, 1, 0));
  EXPECT_THAT(ledger.take_committable(), ElementsAre(kafka::TopicPartitionOffset{"runs", 1, 1}));
}

TEST(LedgerTest, ReferencesPackIntoSixtyFourBits) {
  for (const loki::EntryRef r :
       {ref(0, 0, 0), ref(1, 65535, (std::int64_t{1} << 40) - 1), ref(255, 3, 123456789)}) {
    EXPECT_EQ(Ledger::unpack(Ledger::pack(r)), r);
  }
  EXPECT_NE(Ledger::pack(ref(0, 1, 0)), Ledger::pack(ref(1, 0, 0)));
}

}  // namespace
}  // namespace iw::loki_pusher
