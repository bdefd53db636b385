#include "iw/alerting/evaluation_clock.h"

#include <algorithm>
#include <functional>

namespace iw::alerting {

EvaluationClock::EvaluationClock(ClockOptions options) : options_(options) {}

void EvaluationClock::assign(std::int32_t partition) { partitions_[partition] = {}; }

void EvaluationClock::revoke(std::int32_t partition) { partitions_.erase(partition); }

void EvaluationClock::observe(std::int32_t partition, std::string_view source, Instant end,
                              base::MonotonicTime now) {
  PartitionState& state = partitions_[partition];
  if (state.idle) {
    // Input flows again: the others' "caught up" may predate records now on their way.
    for (auto& [other, other_state] : partitions_) {
      if (other != partition && other_state.idle) other_state.idle_since = now;
    }
  }
  state.recent.emplace_back(std::hash<std::string_view>{}(source), end);
  while (state.recent.size() > std::max<std::size_t>(options_.source_vote_records, 1)) {
    state.recent.pop_front();
  }
  state.voted = false;  // counted again by at(), once per poll rather than once per record
  state.seen = true;
  state.idle = false;
  idle_anchor_set_ = false;
}

void EvaluationClock::vote(PartitionState& state) {
  if (state.voted || state.recent.empty()) return;
  state.voted = true;
  // Each source's latest end among the partition's last records, then the lower median of
  // those: with two sources the one behind, with three the middle one.
  votes_.assign(state.recent.begin(), state.recent.end());
  std::sort(votes_.begin(), votes_.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  votes_.erase(std::unique(votes_.begin(), votes_.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               votes_.end());
  const auto median = votes_.begin() + static_cast<std::ptrdiff_t>((votes_.size() - 1) / 2);
  std::nth_element(votes_.begin(), median, votes_.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  state.latest = median->second;
}

std::optional<Instant> EvaluationClock::progress(std::int32_t partition) {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end() || !it->second.seen) return std::nullopt;
  vote(it->second);
  return it->second.latest;
}

void EvaluationClock::caught_up(std::int32_t partition, base::MonotonicTime now) {
  PartitionState& state = partitions_[partition];
  if (state.idle) return;  // the grace counts from when it first caught up
  state.idle = true;
  state.idle_since = now;
}

bool EvaluationClock::settled_idle(const PartitionState& state, base::MonotonicTime now) const {
  return state.idle && now - state.idle_since >= options_.idle_grace;
}

void EvaluationClock::resume_from(Instant instant) {
  value_ = instant;
  started_ = true;
  idle_anchor_set_ = false;
}

std::optional<Instant> EvaluationClock::at(base::TimePoint wall_now, base::MonotonicTime now) {
  const auto current = [this]() -> std::optional<Instant> {
    if (!started_) return std::nullopt;
    return value_;
  };
  const auto wall = std::chrono::floor<Millis>(wall_now) - options_.allowed_lateness;
  if (options_.mode == ClockMode::kWallClock) {
    value_ = started_ ? std::max(value_, Instant(wall)) : Instant(wall);
    started_ = true;
    return value_;
  }

  if (partitions_.empty()) return current();
  // No partition counts beyond the wall clock (a run within the future tolerance).
  const Instant wall_cap{std::chrono::floor<Millis>(wall_now)};
  bool busy = false;
  bool seen_any = false;
  Instant watermark = Instant::max();
  Instant latest_idle = Instant::min();
  for (auto& [partition, state] : partitions_) {
    vote(state);
    const bool idle = settled_idle(state, now);
    // Assigned but neither read from nor known to be empty: it may hold anything, so the
    // clock waits for it.
    if (!state.seen && !idle) return current();
    if (!state.seen) continue;
    seen_any = true;
    const Instant bound = std::min(state.latest, wall_cap) - options_.allowed_lateness;
    if (idle) {
      latest_idle = std::max(latest_idle, bound);
    } else {
      busy = true;
      watermark = std::min(watermark, bound);
    }
  }

  // Nothing read yet: where event time stands is unknown until the first record. (Starting
  // from the wall clock would make every record of a replay that begins later "late".)
  if (!seen_any && !started_) return std::nullopt;
  Instant candidate;
  if (busy) {
    candidate = watermark;
    idle_anchor_set_ = false;
  } else {
    // Nothing to deliver anywhere: every run so far is in, so the clock goes on from the
    // furthest point the input reached, at wall-clock pace (scaled by idle_speed).
    if (!idle_anchor_set_) {
      Instant anchor = seen_any ? latest_idle : value_;
      if (started_) anchor = std::max(anchor, value_);
      idle_anchor_ = anchor;
      idle_since_ = now;
      idle_anchor_set_ = true;
    }
    const std::chrono::duration<double, std::milli> idle = now - idle_since_;
    candidate =
        idle_anchor_ + Millis(static_cast<std::int64_t>(idle.count() * options_.idle_speed));
  }
  value_ = started_ ? std::max(value_, candidate) : candidate;
  started_ = true;
  return value_;
}

}  // namespace iw::alerting
