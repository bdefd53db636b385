#include "iw/alerting/alert_history.h"

#include <algorithm>

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
  entries.insert(std::upper_bound(entries.begin(), entries.end(), entry,
                                  [](const Entry& a, const Entry& b) { return a.at < b.at; }),
                 entry);
  latest_ = latest_ ? std::max(*latest_, at) : at;
  ++size_;
}

bool AlertHistory::contains(const AlertEvent& event) const {
  const auto it = by_fingerprint_.find(event.fingerprint);
  if (it == by_fingerprint_.end()) return false;
  const Instant at = instant_of(event);
  return std::any_of(it->second.begin(), it->second.end(), [&](const Entry& entry) {
    return entry.status == event.status && entry.at == at;
  });
}

std::optional<Instant> AlertHistory::firing_since(std::uint64_t fingerprint, Instant at) const {
  const auto it = by_fingerprint_.find(fingerprint);
  if (it == by_fingerprint_.end()) return std::nullopt;
  std::optional<Instant> since;
  for (const Entry& entry : it->second) {
    if (entry.at > at) break;
    if (entry.status == EventStatus::kFiring) {
      since = entry.starts_at;
    } else {
      since.reset();
    }
  }
  return since;
}

}  // namespace iw::alerting
