#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "iw/alerting/run.h"
#include "iw/base/clock.h"

namespace iw::alerting {

/// How the evaluator's clock moves (BRIEF §4).
enum class ClockMode {
  /// Event time: the low watermark of the input, minus the allowed lateness; wall-clock pace
  /// while no partition has anything to deliver.
  kEventTime,
  /// Wall time minus the allowed lateness, for live deployments.
  kWallClock,
};

struct ClockOptions {
  ClockMode mode = ClockMode::kEventTime;
  Millis allowed_lateness = std::chrono::minutes(5);
  /// How fast event time moves while every partition is idle, in event seconds per wall
  /// second. 1 is the BRIEF's wall-clock pace; tests and demos raise it to see a source go
  /// silent without waiting 75 minutes.
  double idle_speed = 1.0;
  /// How long a partition must stay caught up before it stops holding the clock back, counted
  /// again for every idle partition whenever one of them delivers anew. Kafka reports "caught
  /// up" from the last fetch: when records start flowing again after a quiet spell, the first
  /// fetch may bring one partition's records before the others' have arrived, and without the
  /// grace that one partition would carry the clock past runs still on their way.
  std::chrono::milliseconds idle_grace{0};
  /// How many of a partition's latest records say how far it has come: the sources among them
  /// vote (see EvaluationClock).
  std::size_t source_vote_records = 16;
};

/// The instant up to which the evaluator may decide. Never moves backwards.
///
/// Event time: each input partition reports the latest τ it delivered. A partition that has
/// records to deliver holds the clock at (its latest τ − allowed lateness), the minimum over such
/// partitions; a partition that has caught up (end of partition) stops holding it back. When
/// every partition has caught up, the clock advances at `idle_speed` × wall-clock pace from
/// where it stands. It starts with the first record: with no input at all it has no notion of
/// event time (ClockMode::kWallClock has).
///
/// No source can carry the clock ahead of its peers: a partition's "latest τ" is not the largest
/// end it delivered but the lower median (the ⌈n/2⌉-th smallest) of the latest τ of the n
/// sources among its last `source_vote_records` records, and never beyond the wall clock. A
/// source whose clock runs ahead of the others' on its partition is outvoted: its runs wait in
/// the evaluator until the others' time reaches them, and only its own alerts wait with them.
/// A partition's records keep the order they were written in, so the vote is not disturbed by
/// how fetches interleave partitions. docs/ALERTING.md, "The evaluation clock", has the
/// reasoning and the limits.
class EvaluationClock {
 public:
  explicit EvaluationClock(ClockOptions options);

  /// Partitions the clock waits for. A new partition holds the clock until it delivers a
  /// record or reports that it has caught up.
  void assign(std::int32_t partition);
  void revoke(std::int32_t partition);
  /// A record with end τ was read from `partition`. If the partition had caught up, the
  /// other caught-up partitions start their idle grace again.
  void observe(std::int32_t partition, std::string_view source, Instant end,
               base::MonotonicTime now);
  /// The same for input whose sources do not matter: one voter, so a partition has come as far
  /// as the largest end among its last records.
  void observe(std::int32_t partition, Instant end, base::MonotonicTime now) {
    observe(partition, {}, end, now);
  }
  /// `partition` has nothing more to deliver for now; it holds the clock for `idle_grace`
  /// more, then no longer.
  void caught_up(std::int32_t partition, base::MonotonicTime now);

  /// The instant the evaluator may advance to, given the wall clock; nothing until the input
  /// says where event time stands (no partition assigned yet, or one not heard from).
  [[nodiscard]] std::optional<Instant> at(base::TimePoint wall_now, base::MonotonicTime now);

  /// Starts from `instant` (a restart resumes from its checkpoint).
  void resume_from(Instant instant);

  [[nodiscard]] const ClockOptions& options() const { return options_; }

  /// How far `partition` has come (see the class comment), before the lateness and the wall
  /// clock; nothing before its first record.
  [[nodiscard]] std::optional<Instant> progress(std::int32_t partition);

 private:
  struct PartitionState {
    bool seen = false;  // delivered at least one record
    bool idle = false;  // caught up
    base::MonotonicTime idle_since{};
    // Its last records: the source (hashed) and end of each, oldest first.
    std::deque<std::pair<std::size_t, Instant>> recent;
    // The lower median of `recent`'s sources, counted by vote() when `voted` is false.
    Instant latest{};
    bool voted = true;
  };
  [[nodiscard]] bool settled_idle(const PartitionState& state, base::MonotonicTime now) const;
  void vote(PartitionState& state);
  ClockOptions options_;
  std::map<std::int32_t, PartitionState> partitions_;
  std::vector<std::pair<std::size_t, Instant>> votes_;  // reused by vote()
  bool started_ = false;
  Instant value_{};
  // Where the clock stood when every partition last became idle, and when that was.
  bool idle_anchor_set_ = false;
  Instant idle_anchor_{};
  base::MonotonicTime idle_since_{};
};

}  // namespace iw::alerting
