#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/string_hash.h"

namespace iw::cardinality {

/// The label value every value over budget is folded into.
inline constexpr std::string_view kOther = "_other";

struct BudgetOptions {
  /// Values that get a series of their own at once; 0: no limit.
  std::size_t max_tracked = 1000;
  /// A tracked value unseen this long is forgotten (its series are removed by the caller, and
  /// its place goes to the next new value); 0: never.
  std::chrono::nanoseconds idle_after{0};
};

/// Decides, for one label (a source, a source's objet), which values a metric may label a series
/// with, so a flood of distinct values cannot grow /metrics without bound. The first
/// `max_tracked` values seen are tracked; any other is folded into `kOther` until a place frees
/// up. A tracked value unseen for `idle_after` (monotonic time of the injected clock) is evicted
/// by evict_idle(), which the caller runs where no series of it is in use, and which says which
/// values to remove. Pure: no I/O, no metrics; not thread-safe.
class Budget {
 public:
  Budget(BudgetOptions options, const base::Clock& clock);

  struct Admission {
    /// The value to label the series with: the value itself, or kOther. Valid until the next
    /// call that changes the budget.
    std::string_view label;
    /// Over budget: counted as kOther.
    bool folded = false;
    /// This is the first value ever folded by this budget (log it, once).
    bool first_fold = false;
  };

  /// Marks `value` seen now and says how to label it. Beyond the budget a value is folded,
  /// however often it comes back, until an eviction frees a place and it is seen again.
  [[nodiscard]] Admission admit(std::string_view value);
  /// The same with "now" read by the caller (monotonic time of the same clock), who may read it
  /// once for many admissions: idleness is measured in minutes or hours, a clock reading per
  /// record was a measurable share of the enricher's work.
  [[nodiscard]] Admission admit(std::string_view value, base::MonotonicTime now);

  /// The tracked values unseen for `idle_after`, removed from the budget (empty when eviction is
  /// off). Scans at most once per `idle_after / 8` (at least a second), so it can be called on
  /// every commit; `force` scans now.
  [[nodiscard]] std::vector<std::string> evict_idle(bool force = false);

  [[nodiscard]] bool tracks(std::string_view value) const;
  [[nodiscard]] std::size_t tracked() const { return last_seen_.size(); }
  /// Admissions folded so far (a value folded three times counts three).
  [[nodiscard]] std::uint64_t folded() const { return folded_; }
  /// Values evicted so far.
  [[nodiscard]] std::uint64_t evicted() const { return evicted_; }
  [[nodiscard]] const BudgetOptions& options() const { return options_; }

 private:
  BudgetOptions options_;
  const base::Clock& clock_;
  base::StringMap<base::MonotonicTime> last_seen_;
  base::MonotonicTime next_scan_;
  std::uint64_t folded_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace iw::cardinality
