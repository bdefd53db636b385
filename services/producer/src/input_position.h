#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace iw::producer {

/// A place in the input, after a number of records: what a checkpoint records.
struct InputPosition {
  /// Records from the start of the input, every one the reader gave (bad ones too).
  std::uint64_t records = 0;
  /// Offset just past the last of them.
  std::uint64_t byte_end = 0;
  /// 1-based line of the last of them; 0 before the first.
  std::uint64_t line = 0;
  /// XXH3-64 of their bytes, chained record after record: a resume checks that the input still
  /// holds the same records before the position (any copy of the file will do).
  std::uint64_t digest = 0;
  friend bool operator==(const InputPosition&, const InputPosition&) = default;
};

/// The position after one more record: `bytes` as the reader gave them, at `byte_offset`, on
/// `line`.
[[nodiscard]] InputPosition advance(const InputPosition& before, std::string_view bytes,
                                    std::uint64_t line, std::uint64_t byte_offset);

/// The highest input position below which every record has a durable outcome: its record or
/// dead letter acknowledged by Kafka, or nothing to send (skipped). Records are told in input
/// order; Kafka's reports come in any order (one partition's before another's), so the position
/// is the end of the longest run of settled records from the start. A record Kafka did not take
/// holds the position before it for good: a resume sends it again.
///
/// Bookings are the DeliveryLedger's sequence numbers, told in order; at most `capacity` can
/// be outstanding at once.
class AcknowledgedInput {
 public:
  explicit AcknowledgedInput(std::size_t capacity);

  /// Starts from `base` (a resume's checkpoint, or a new --loop pass from the start).
  void reset(const InputPosition& base);

  /// Booking `sequence` (the next one) carries the record that ends at `after`.
  void expect(std::uint64_t sequence, const InputPosition& after);
  /// Booking `sequence` was withdrawn before it reached Kafka: the record is settled some other
  /// way (a dead letter booked next, consumed(), or failed()).
  void withdraw(std::uint64_t sequence);
  /// Kafka's report for `sequence`.
  void settle(std::uint64_t sequence, bool delivered);
  /// A record that needs no delivery (skipped, or its dead letter was refused) ends at `after`:
  /// settled as soon as every booking before it is.
  void consumed(const InputPosition& after);

  [[nodiscard]] const InputPosition& acknowledged() const { return acknowledged_; }
  /// Bookings not yet settled.
  [[nodiscard]] std::uint64_t outstanding() const { return next_ - low_; }
  /// A failed record holds the position.
  [[nodiscard]] bool held() const { return held_; }

 private:
  enum class State : std::uint8_t { kPending, kDone, kFailed };
  struct Slot {
    InputPosition after;
    bool has_after = false;
    State state = State::kPending;
  };
  Slot& slot(std::uint64_t sequence) { return slots_[sequence % slots_.size()]; }
  void advance_low();

  std::vector<Slot> slots_;
  std::uint64_t low_ = 0;   // the first booking not settled, or next_
  std::uint64_t next_ = 0;  // the next booking expected
  bool started_ = false;
  bool held_ = false;
  InputPosition acknowledged_;
};

}  // namespace iw::producer
