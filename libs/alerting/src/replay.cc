#include "iw/alerting/replay.h"

#include <algorithm>

namespace iw::alerting {

Millis warm_up_of(const std::vector<Rule>& rules, Millis allowed_lateness) {
  return longest_window(rules) + allowed_lateness;
}

std::optional<base::TimePoint> replay_lookup(Millis lookback, Millis warm_up, base::TimePoint now) {
  if (lookback.count() == 0) return std::nullopt;
  return now - (lookback + warm_up);
}

std::string_view partial_name(Replay::Partial partial) {
  switch (partial) {
    case Replay::Partial::kNo:
      break;
    case Replay::Partial::kLookback:
      return "lookback";
    case Replay::Partial::kRetention:
      return "retention";
  }
  return "whole input";
}

Replay replay_from_beginning(std::span<const std::optional<std::int64_t>> first) {
  const bool whole =
      std::all_of(first.begin(), first.end(), [](const auto& offset) { return offset <= 0; });
  return {.starts = std::vector<ReplayStart>(first.size(), {.from = ReplayStart::From::kBeginning}),
          .partial = whole ? Replay::Partial::kNo : Replay::Partial::kRetention};
}

Replay replay_from_lookup(std::span<const std::optional<std::int64_t>> found) {
  Replay replay;
  for (const auto& offset : found) {
    replay.starts.push_back(offset
                                ? ReplayStart{.from = ReplayStart::From::kOffset, .offset = *offset}
                                : ReplayStart{.from = ReplayStart::From::kEnd});
  }
  const bool whole =
      std::all_of(found.begin(), found.end(), [](const auto& offset) { return offset == 0; });
  replay.partial = whole ? Replay::Partial::kNo : Replay::Partial::kLookback;
  return replay;
}

}  // namespace iw::alerting
