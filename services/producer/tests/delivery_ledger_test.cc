#include "delivery_ledger.h"

#include <gtest/gtest.h>

namespace iw::producer {
namespace {

using namespace std::chrono_literals;
using Destination = DeliveryLedger::Destination;

TEST(DeliveryLedgerTest, CountsEveryOutcomeByDestination) {
  base::FakeClock clock;
  DeliveryLedger ledger(clock);
  const auto a = ledger.book(Destination::kMain);
  const auto b = ledger.book(Destination::kMain);
  const auto c = ledger.book(Destination::kDeadLetter);
  const auto d = ledger.book(Destination::kMain);
  EXPECT_EQ(ledger.outstanding(), 4u);

  EXPECT_EQ(ledger.settle(a, true, false).destination, Destination::kMain);
  EXPECT_EQ(ledger.settle(c, true, false).destination, Destination::kDeadLetter);
  ledger.settle(b, false, true);
  ledger.settle(d, false, false);

  EXPECT_EQ(ledger.delivered(Destination::kMain), 1u);
  EXPECT_EQ(ledger.delivered(Destination::kDeadLetter), 1u);
  EXPECT_EQ(ledger.failed(Destination::kMain), 2u);
  EXPECT_EQ(ledger.possibly_persisted(), 1u);
  EXPECT_EQ(ledger.outstanding(), 0u);
}

TEST(DeliveryLedgerTest, CancelledBookingsAreNotOutstanding) {
  base::FakeClock clock;
  DeliveryLedger ledger(clock);
  (void)ledger.book(Destination::kMain);
  ledger.cancel();
  EXPECT_EQ(ledger.outstanding(), 0u);
  EXPECT_EQ(ledger.booked(), 1u);
}

TEST(DeliveryLedgerTest, TimesOneRecordInKTimedEvery) {
  base::FakeClock clock;
  DeliveryLedger ledger(clock);
  std::vector<std::uint64_t> ids;
  for (std::uint64_t i = 0; i < 2 * DeliveryLedger::kTimedEvery; ++i) {
    ids.push_back(ledger.book(Destination::kMain));
    clock.advance(1ms);
  }
  clock.advance(100ms);
  int timed = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto outcome = ledger.settle(ids[i], true, false);
    if (!outcome.latency) continue;
    ++timed;
    // Booked at i ms, settled at 2 * kTimedEvery + 100 ms.
    EXPECT_EQ(*outcome.latency,
              std::chrono::milliseconds(2 * DeliveryLedger::kTimedEvery + 100 - i));
  }
  EXPECT_EQ(timed, 2);
}

}  // namespace
}  // namespace iw::producer
