#include "ledger.h"

#include <gtest/gtest.h>

namespace iw::loki_pusher {
namespace {

constexpr std::int32_t kRuns = 0;
constexpr std::int32_t kAlerts = 1;

stage::InputRef ref(std::int32_t topic, std::int32_t partition, std::int64_t offset) {
  return {.topic = topic, .partition = partition, .offset = offset};
}

TEST(LedgerTest, KeepsEachRecordsMetaUntilItsEntrysOutcomeIsKnown) {
  Ledger ledger;
  ledger.hold(ref(kRuns, 0, 1), {.key = "Zoho", .execution_id = "e", .traceparent = "t"});
  ledger.hold(ref(kAlerts, 0, 1), {.key = std::nullopt, .execution_id = "a", .traceparent = ""});
  EXPECT_EQ(ledger.held(), 2u);

  auto run = ledger.release(ref(kRuns, 0, 1));
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->key, "Zoho");
  EXPECT_EQ(run->execution_id, "e");
  EXPECT_EQ(run->traceparent, "t");
  EXPECT_FALSE(ledger.release(ref(kRuns, 0, 1)).has_value()) << "released once";
  EXPECT_FALSE(ledger.release(ref(kRuns, 0, 2)).has_value()) << "never held";
  // The same partition and offset of the other topic is another record.
  const auto alert = ledger.release(ref(kAlerts, 0, 1));
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->execution_id, "a");
  EXPECT_EQ(ledger.held(), 0u);
}

// A partition rewound (or assigned back) while an entry of it is on its way: the record is read
// again and its second entry batched before the first one's outcome. Each outcome finds the meta.
TEST(LedgerTest, ARecordReadAgainIsHeldUntilBothOfItsEntriesAreSettled) {
  Ledger ledger;
  ledger.hold(ref(kRuns, 3, 7), {.key = "k", .execution_id = "first", .traceparent = ""});
  const std::size_t bytes = ledger.held_bytes();
  ledger.hold(ref(kRuns, 3, 7), {.key = "k", .execution_id = "again", .traceparent = ""});
  EXPECT_EQ(ledger.held(), 2u);
  EXPECT_EQ(ledger.held_bytes(), bytes) << "one meta for both";
  ASSERT_TRUE(ledger.release(ref(kRuns, 3, 7)).has_value());
  const auto second = ledger.release(ref(kRuns, 3, 7));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->execution_id, "first");
  EXPECT_FALSE(ledger.release(ref(kRuns, 3, 7)).has_value());
  EXPECT_EQ(ledger.held_bytes(), 0u);
}

TEST(LedgerTest, HeldBytesFollowWhatIsHeld) {
  Ledger ledger;
  EXPECT_EQ(ledger.held_bytes(), 0u);
  ledger.hold(ref(kRuns, 2, 7),
              {.key = std::string(100, 'k'), .execution_id = "", .traceparent = ""});
  EXPECT_GT(ledger.held_bytes(), 100u);
  EXPECT_EQ(ledger.held(), 1u);
  (void)ledger.release(ref(kRuns, 2, 7));
  EXPECT_EQ(ledger.held_bytes(), 0u);
  EXPECT_EQ(ledger.held(), 0u);
}

// A reference outside stage::pack()'s ranges (an offset past 2^40) is held all the same.
TEST(LedgerTest, ReferencesOutsideThePackableRangeAreHeldToo) {
  Ledger ledger;
  const auto far = ref(kRuns, 0, std::int64_t{1} << 41);
  const auto near = ref(kRuns, 0, 0);
  ledger.hold(far, {.key = "far", .execution_id = "", .traceparent = ""});
  ledger.hold(near, {.key = "near", .execution_id = "", .traceparent = ""});
  EXPECT_EQ(ledger.release(far)->key, "far");
  EXPECT_EQ(ledger.release(near)->key, "near");
}

}  // namespace
}  // namespace iw::loki_pusher
