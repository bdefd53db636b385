#include "iw/alerting/alert_history.h"

#include <algorithm>
#include <iterator>

namespace iw::alerting {
namespace {

Instant instant_of(const AlertEvent& event) {
  return event.status == EventStatus::kFiring ? event.starts_at
                                              : event.ends_at.value_or(event.starts_at);
}

}  // namespace

void AlertHistory::record(const AlertEvent& event) {
  const Instant at = instant_of(event);
  auto& entries = by_fingerprint_[event.fingerprint];
  const Entry entry{event.status, at, event.starts_at};
  // Kept in instant order; a firing and its resolve at the same instant keep their order.
  entries.insert(std::upper_bound(entries.begin(), entries.end(), at, ByInstant{}), entry);
  latest_ = latest_ ? std::max(*latest_, at) : at;
  ++size_;
}

bool AlertHistory::contains(const AlertEvent& event) const {
  const auto it = by_fingerprint_.find(event.fingerprint);
  if (it == by_fingerprint_.end()) return false;
  // The entries are in instant order: only those at this instant are looked at, not a
  // fingerprint's whole past (which grows with every episode).
  const Instant at = instant_of(event);
  const auto [first, last] =
      std::equal_range(it->second.begin(), it->second.end(), at, ByInstant{});
  return std::any_of(first, last, [&](const Entry& entry) { return entry.status == event.status; });
}

std::optional<Instant> AlertHistory::firing_since(std::uint64_t fingerprint, Instant at) const {
  const auto it = by_fingerprint_.find(fingerprint);
  if (it == by_fingerprint_.end()) return std::nullopt;
  // The last transition at or before `at` (in instant order, a firing and its resolve at one
  // instant in the order written) says whether an episode was firing then, and since when.
  const auto after = std::upper_bound(it->second.begin(), it->second.end(), at, ByInstant{});
  if (after == it->second.begin()) return std::nullopt;
  const Entry& last = *std::prev(after);
  if (last.status != EventStatus::kFiring) return std::nullopt;
  return last.starts_at;
}

}  // namespace iw::alerting
