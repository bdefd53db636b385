#include "delivery_ledger.h"

#include "iw/base/check.h"

namespace iw::producer {

std::uint64_t DeliveryLedger::book(Destination destination) {
  IW_CHECK(outstanding() < kMaxInFlight, "more records in flight than the ledger can time");
  const std::uint64_t sequence = next_sequence_++;
  if (sequence % kTimedEvery == 0) {
    sent_at_[(sequence / kTimedEvery) % sent_at_.size()] = clock_.monotonic_now();
  }
  return destination == Destination::kDeadLetter ? (sequence | kDeadLetterBit) : sequence;
}

DeliveryLedger::Outcome DeliveryLedger::settle(std::uint64_t correlation, bool delivered,
                                               bool possibly_persisted) {
  const Destination destination =
      (correlation & kDeadLetterBit) != 0 ? Destination::kDeadLetter : Destination::kMain;
  const std::uint64_t sequence = correlation & ~kDeadLetterBit;
  if (delivered) {
    ++delivered_[index(destination)];
  } else {
    ++failed_[index(destination)];
    if (possibly_persisted) ++possibly_persisted_;
  }
  if (sequence % kTimedEvery != 0) return {destination, std::nullopt};
  return {destination,
          clock_.monotonic_now() - sent_at_[(sequence / kTimedEvery) % sent_at_.size()]};
}

std::uint64_t DeliveryLedger::outstanding() const {
  return next_sequence_ - delivered_[0] - delivered_[1] - failed_[0] - failed_[1] - cancelled_;
}

}  // namespace iw::producer
