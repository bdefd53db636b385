#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "iw/alerting/rule.h"
#include "iw/alerting/run.h"
#include "iw/base/clock.h"

namespace iw::alerting {

/// How long after the first run of a replay that starts mid-input the windows can be trusted:
/// the longest window of `rules` plus the allowed lateness.
[[nodiscard]] Millis warm_up_of(const std::vector<Rule>& rules, Millis allowed_lateness);

/// Where the replay of one input partition starts.
struct ReplayStart {
  enum class From : std::uint8_t { kBeginning, kOffset, kEnd };
  From from = From::kBeginning;
  std::int64_t offset = 0;  // kOffset's
  friend bool operator==(const ReplayStart&, const ReplayStart&) = default;
};

/// How a restart or a rebalance rebuilds the windows: where each assigned input partition is
/// replayed from (docs/ALERTING.md, "Restarts and rebalances").
struct Replay {
  /// Why a replay is not of the whole input, so warms up first.
  enum class Partial : std::uint8_t {
    kNo,         ///< the whole input: no warm-up
    kLookback,   ///< it starts at the lookback instant, mid-input
    kRetention,  ///< it starts at the first record Kafka still holds, and older ones were deleted
  };
  /// One per partition, in the order the partitions were given.
  std::vector<ReplayStart> starts;
  Partial partial = Partial::kNo;

  /// Every partition is replayed from its very first record (offset 0): the windows are whole
  /// from the first run on, so there is no warm-up (AlertEmission::start_replay).
  [[nodiscard]] bool whole_input() const { return partial == Partial::kNo; }
};

/// "whole input", "lookback" or "retention", for logs.
[[nodiscard]] std::string_view partial_name(Replay::Partial partial);

/// The instant from which records are replayed, which the caller looks up in each partition
/// (Kafka's offsets-for-times): `now` − (`lookback` + `warm_up`). Nothing when `lookback` is 0:
/// every partition is replayed from its beginning (replay_from_beginning).
[[nodiscard]] std::optional<base::TimePoint> replay_lookup(Millis lookback, Millis warm_up,
                                                           base::TimePoint now);

/// Every partition from its beginning, given the first offset each still holds (Kafka's
/// offsets-for-times at the epoch; nothing for an empty partition). The whole input when every
/// one is 0 or empty; when retention (or a deletion) removed a partition's first records, what
/// is left is not the whole history: the windows of its first runs would be partial, so the
/// replay warms up (Partial::kRetention), as one that starts mid-input does.
[[nodiscard]] Replay replay_from_beginning(std::span<const std::optional<std::int64_t>> first);

/// From what the lookup found in each partition: the first offset produced at or after
/// replay_lookup()'s instant, or nothing when no record is that recent (the partition then has
/// nothing to replay and starts at its end). A lookback that reaches offset 0 of every
/// partition replays the whole input all the same.
[[nodiscard]] Replay replay_from_lookup(std::span<const std::optional<std::int64_t>> found);

}  // namespace iw::alerting
