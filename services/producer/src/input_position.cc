#include "input_position.h"

#include <xxhash.h>

#include "iw/base/check.h"

namespace iw::producer {

InputPosition advance(const InputPosition& before, std::string_view bytes, std::uint64_t line,
                      std::uint64_t byte_offset) {
  return {.records = before.records + 1,
          .byte_end = byte_offset + bytes.size(),
          .line = line,
          .digest = XXH3_64bits_withSeed(bytes.data(), bytes.size(), before.digest)};
}

AcknowledgedInput::AcknowledgedInput(std::size_t capacity) : slots_(capacity) {
  IW_CHECK(capacity > 0, "AcknowledgedInput needs room for one booking");
}

void AcknowledgedInput::reset(const InputPosition& base) {
  IW_CHECK(outstanding() == 0, "reset with bookings outstanding");
  acknowledged_ = base;
  held_ = false;
}

void AcknowledgedInput::expect(std::uint64_t sequence, const InputPosition& after) {
  if (!started_) {
    started_ = true;
    low_ = next_ = sequence;
  }
  IW_CHECK(sequence == next_, "bookings must be told in order");
  IW_CHECK(outstanding() < slots_.size(), "more bookings outstanding than AcknowledgedInput holds");
  slot(sequence) = {.after = after, .has_after = true, .state = State::kPending};
  ++next_;
}

void AcknowledgedInput::withdraw(std::uint64_t sequence) {
  if (sequence < low_ || sequence >= next_) return;
  Slot& s = slot(sequence);
  s.state = State::kDone;
  s.has_after = false;
  advance_low();
}

void AcknowledgedInput::settle(std::uint64_t sequence, bool delivered) {
  if (sequence < low_ || sequence >= next_) return;
  slot(sequence).state = delivered ? State::kDone : State::kFailed;
  advance_low();
}

void AcknowledgedInput::consumed(const InputPosition& after) {
  if (held_) return;
  if (low_ == next_) {
    acknowledged_ = after;
    return;
  }
  Slot& last = slot(next_ - 1);
  last.after = after;
  last.has_after = true;
}

void AcknowledgedInput::advance_low() {
  while (low_ < next_ && !held_) {
    const Slot& s = slot(low_);
    if (s.state == State::kPending) return;
    if (s.state == State::kFailed) {
      held_ = true;
      return;
    }
    if (s.has_after) acknowledged_ = s.after;
    ++low_;
  }
}

}  // namespace iw::producer
