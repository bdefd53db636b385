#include "iw/cardinality/budget.h"

#include <algorithm>

namespace iw::cardinality {

namespace {

std::chrono::nanoseconds scan_interval(const BudgetOptions& options) {
  return std::max<std::chrono::nanoseconds>(options.idle_after / 8, std::chrono::seconds{1});
}

}  // namespace

Budget::Budget(BudgetOptions options, const base::Clock& clock)
    : options_(options),
      clock_(clock),
      next_scan_(clock.monotonic_now() + scan_interval(options)) {}

Budget::Admission Budget::admit(std::string_view value) {
  return admit(value, clock_.monotonic_now());
}

Budget::Admission Budget::admit(std::string_view value, base::MonotonicTime now) {
  if (auto it = last_seen_.find(value); it != last_seen_.end()) {
    it->second = now;
    return {.label = it->first, .folded = false, .first_fold = false};
  }
  if (options_.max_tracked == 0 || last_seen_.size() < options_.max_tracked) {
    auto [it, inserted] = last_seen_.emplace(std::string(value), now);
    return {.label = it->first, .folded = false, .first_fold = false};
  }
  return {.label = kOther, .folded = true, .first_fold = folded_++ == 0};
}

std::vector<std::string> Budget::evict_idle(bool force) {
  std::vector<std::string> gone;
  if (options_.idle_after.count() <= 0) return gone;
  const base::MonotonicTime now = clock_.monotonic_now();
  if (!force && now < next_scan_) return gone;
  next_scan_ = now + scan_interval(options_);
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {
    if (now - it->second >= options_.idle_after) {
      gone.push_back(it->first);
      it = last_seen_.erase(it);
    } else {
      ++it;
    }
  }
  evicted_ += gone.size();
  return gone;
}

bool Budget::tracks(std::string_view value) const { return last_seen_.contains(value); }

}  // namespace iw::cardinality
