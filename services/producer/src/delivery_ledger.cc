#include "delivery_ledger.h"

#include "iw/base/check.h"

namespace iw::producer {

std::uint64_t DeliveryLedger::book(Destination destination, base::MonotonicTime now) {
  IW_CHECK(outstanding() < kMaxInFlight, "more records in flight than the ledger can time");
  const std::uint64_t sequence = next_sequence_++;
  sent_at_[sequence % kMaxInFlight] = now;
  return destination == Destination::kDeadLetter ? (sequence | kDeadLetterBit) : sequence;
}

DeliveryLedger::Outcome DeliveryLedger::settle(std::uint64_t correlation, bool delivered,
                                               bool possibly_persisted, base::MonotonicTime now) {
  const Destination destination =
      (correlation & kDeadLetterBit) != 0 ? Destination::kDeadLetter : Destination::kMain;
  const std::uint64_t sequence = correlation & ~kDeadLetterBit;
  if (delivered) {
    ++delivered_[index(destination)];
  } else {
    ++failed_[index(destination)];
    if (possibly_persisted) ++possibly_persisted_;
  }
  return {destination, now - sent_at_[sequence % kMaxInFlight]};
}

std::uint64_t DeliveryLedger::outstanding() const {
  return next_sequence_ - delivered_[0] - delivered_[1] - failed_[0] - failed_[1] - cancelled_;
}

}  // namespace iw::producer
