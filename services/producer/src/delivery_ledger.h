#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "input_position.h"
#include "iw/base/clock.h"

namespace iw::producer {

/// Exact accounting of what happened to every record handed to Kafka, fed by delivery
/// reports. Each produced record gets a correlation id that says whether it went to the main
/// topic or the dead-letter topic and where its send time is kept, so no lookup table grows
/// with the number of records in flight. Latency is timed on one record in kTimedEvery: a
/// histogram needs a sample, not a clock read per record on the hot path.
class DeliveryLedger {
 public:
  static constexpr std::uint64_t kTimedEvery = 16;

  explicit DeliveryLedger(const base::Clock& clock) : clock_(clock) {}

  /// More records than this in flight at once would reuse a send-time slot; the producer waits
  /// for reports before that can happen.
  static constexpr std::size_t kMaxInFlight = std::size_t{1} << 18;

  enum class Destination { kMain, kDeadLetter };

  /// Books a record about to be produced; returns its correlation id.
  [[nodiscard]] std::uint64_t book(Destination destination);

  struct Outcome {
    Destination destination;
    /// Time from produce() to the delivery report, for the records that are timed.
    std::optional<std::chrono::nanoseconds> latency;
  };
  /// Settles a booked record; returns where it went and, if timed, how long it took.
  Outcome settle(std::uint64_t correlation, bool delivered, bool possibly_persisted);

  /// Withdraws the last booking, whose record produce() refused outright: it never reached
  /// Kafka and will get no delivery report; the record is settled another way (a dead letter
  /// booked next, or dropped).
  void cancel();
  /// The last booking was refused and will get no report: it counts as failed for the input
  /// position (a resume sends its record again). Not counted in failed(): the caller counts it.
  void refuse();

  /// Tracks the input position every record before which has a durable outcome, for the
  /// checkpoint, starting from `base`. Then each record is bracketed by reading() and
  /// read_done(): the bookings made in between carry it.
  void track_input(const InputPosition& base);
  /// The next record handled ends at `after`.
  void reading(const InputPosition& after);
  /// The record told by reading() is handled: one that booked nothing (skipped, or its bookings
  /// withdrawn) is settled as soon as every record before it is.
  void read_done();
  /// The tracked position; nothing unless track_input() was called.
  [[nodiscard]] std::optional<InputPosition> acknowledged() const;
  /// Bookings from the oldest one the tracked position waits for to the newest: more than
  /// outstanding() when one partition's reports lag behind the others'. The position can hold
  /// kMaxInFlight; 0 unless track_input() was called.
  [[nodiscard]] std::uint64_t input_backlog() const;

  [[nodiscard]] std::uint64_t delivered(Destination d) const { return delivered_[index(d)]; }
  [[nodiscard]] std::uint64_t failed(Destination d) const { return failed_[index(d)]; }
  /// Failed records the broker may have written anyway (timed out in flight).
  [[nodiscard]] std::uint64_t possibly_persisted() const { return possibly_persisted_; }
  [[nodiscard]] std::uint64_t booked() const { return next_sequence_; }
  [[nodiscard]] std::uint64_t outstanding() const;

 private:
  static constexpr std::uint64_t kDeadLetterBit = std::uint64_t{1} << 63;
  static std::size_t index(Destination d) { return d == Destination::kMain ? 0 : 1; }

  const base::Clock& clock_;
  // Send times of timed records, by sequence / kTimedEvery.
  std::vector<base::MonotonicTime> sent_at_ =
      std::vector<base::MonotonicTime>(kMaxInFlight / kTimedEvery);
  std::uint64_t next_sequence_ = 0;
  std::array<std::uint64_t, 2> delivered_{};
  std::array<std::uint64_t, 2> failed_{};
  std::uint64_t possibly_persisted_ = 0;
  std::uint64_t cancelled_ = 0;
  // The input position (track_input), and the record being handled.
  std::optional<AcknowledgedInput> input_;
  InputPosition reading_;
  std::uint64_t reading_booked_ = 0;
  std::uint64_t reading_withdrawn_ = 0;
};

}  // namespace iw::producer
