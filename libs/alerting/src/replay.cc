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

Replay replay_from_beginning(std::size_t partitions) {
  return {.starts = std::vector<ReplayStart>(partitions, {.from = ReplayStart::From::kBeginning}),
          .whole_input = true};
}

Replay replay_from_lookup(std::span<const std::optional<std::int64_t>> found) {
  Replay replay;
  for (const auto& offset : found) {
    replay.starts.push_back(offset
                                ? ReplayStart{.from = ReplayStart::From::kOffset, .offset = *offset}
                                : ReplayStart{.from = ReplayStart::From::kEnd});
  }
  replay.whole_input =
      std::all_of(found.begin(), found.end(), [](const auto& offset) { return offset == 0; });
  return replay;
}

}  // namespace iw::alerting
