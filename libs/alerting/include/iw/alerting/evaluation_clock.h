#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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
  /// How many records a source stays among the sources that vote on the input's front after
  /// its last one, at least: the span is this or 4 records per source known, whichever is
  /// larger, so a source reporting once per round of its peers keeps its vote.
  std::uint64_t source_vote_records = 256;
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
/// No source can carry the clock ahead of its peers: a partition's latest τ counts only up to
/// the input's front, the lower median (the ⌈n/2⌉-th smallest) of the latest τ of the n sources
/// that reported recently (within `source_vote_records` records), and never beyond the wall
/// clock. A source whose clock runs ahead of the others' is outvoted: its runs wait in the
/// evaluator until the others' time reaches them, and only its own alerts wait with them.
/// docs/ALERTING.md, "The evaluation clock", has the reasoning.
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
  /// The same for input whose source does not matter (one voter: the front is its latest τ).
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

  /// The input's front (see the class comment) capped at `wall_now`; nothing before the first
  /// record.
  [[nodiscard]] std::optional<Instant> front(base::TimePoint wall_now);

 private:
  struct PartitionState {
    bool seen = false;  // delivered at least one record
    bool idle = false;  // caught up
    base::MonotonicTime idle_since{};
    Instant latest{};
  };
  struct SourceState {
    Instant latest{};
    std::uint64_t last_record = 0;  // the record count when it last reported
  };
  // Heterogeneous lookup, so finding a source by string_view allocates nothing.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  [[nodiscard]] bool settled_idle(const PartitionState& state, base::MonotonicTime now) const;
  ClockOptions options_;
  std::map<std::int32_t, PartitionState> partitions_;
  std::unordered_map<std::string, SourceState, StringHash, std::equal_to<>> sources_;
  std::uint64_t records_ = 0;
  std::vector<Instant> votes_;  // reused by front()
  bool started_ = false;
  Instant value_{};
  // Where the clock stood when every partition last became idle, and when that was.
  bool idle_anchor_set_ = false;
  Instant idle_anchor_{};
  base::MonotonicTime idle_since_{};
};

}  // namespace iw::alerting
