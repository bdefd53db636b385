#include "delivery_ledger.h"

#include "iw/base/check.h"

namespace iw::producer {

std::uint64_t DeliveryLedger::book(Destination destination) {
  IW_CHECK(outstanding() < kMaxInFlight, "more records in flight than the ledger can time");
  const std::uint64_t sequence = next_sequence_++;
  if (sequence % kTimedEvery == 0) {
    sent_at_[(sequence / kTimedEvery) % sent_at_.size()] = clock_.monotonic_now();
  }
  if (input_) {
    input_->expect(sequence, reading_);
    ++reading_booked_;
  }
  return destination == Destination::kDeadLetter ? (sequence | kDeadLetterBit) : sequence;
}

void DeliveryLedger::cancel() {
  ++cancelled_;
  if (!input_) return;
  input_->withdraw(next_sequence_ - 1);
  ++reading_withdrawn_;
}

void DeliveryLedger::refuse() {
  ++cancelled_;
  if (input_) input_->settle(next_sequence_ - 1, false);
}

void DeliveryLedger::track_input(const InputPosition& base) {
  if (!input_) input_.emplace(kMaxInFlight);
  input_->reset(base);
}

void DeliveryLedger::reading(const InputPosition& after) {
  reading_ = after;
  reading_booked_ = 0;
  reading_withdrawn_ = 0;
}

void DeliveryLedger::read_done() {
  if (input_ && reading_booked_ == reading_withdrawn_) input_->consumed(reading_);
}

std::uint64_t DeliveryLedger::input_backlog() const { return input_ ? input_->outstanding() : 0; }

std::optional<InputPosition> DeliveryLedger::acknowledged() const {
  if (!input_) return std::nullopt;
  return input_->acknowledged();
}

DeliveryLedger::Outcome DeliveryLedger::settle(std::uint64_t correlation, bool delivered,
                                               bool possibly_persisted) {
  const Destination destination =
      (correlation & kDeadLetterBit) != 0 ? Destination::kDeadLetter : Destination::kMain;
  const std::uint64_t sequence = correlation & ~kDeadLetterBit;
  if (input_) input_->settle(sequence, delivered);
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
