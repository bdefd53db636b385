#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/alerting/run.h"
#include "iw/config/config.h"

namespace iw::alerting {

/// What a rule measures over its window. docs/ALERTING.md has the YAML vocabulary.
enum class RuleKind {
  kFailedRuns,    // the number of FAILED runs
  kFailureRatio,  // FAILED / all runs, when the window holds at least `min_runs`
  kNoRuns,        // true when the window holds no run (value: seconds since the last run)
  kPercentile,    // nearest-rank quantile of a run field
};

enum class Comparison { kGreater, kGreaterOrEqual, kLess, kLessOrEqual };

/// The labels an alert is kept apart by, beyond the rule's own.
enum class GroupBy { kSource, kSourceObjet };

/// The run field a percentile rule reads.
enum class RunField { kDurationSeconds, kCpuSeconds, kMemoryBytes };

using Labels = std::vector<std::pair<std::string, std::string>>;

/// One alerting rule, in Prometheus's vocabulary plus what an in-stream rule needs to say.
struct Rule {
  std::string alert;  // alertname
  RuleKind kind = RuleKind::kFailedRuns;
  GroupBy group_by = GroupBy::kSource;
  /// Half-open: the window at t holds the runs with τ in (t − window, t].
  Millis window{0};
  Comparison comparison = Comparison::kGreater;
  double threshold = 0;
  /// kFailureRatio: fewer runs than this in the window and the condition is false.
  std::int64_t min_runs = 0;
  /// kPercentile: which field and which quantile (nearest rank, ⌈q·n⌉-th smallest).
  RunField field = RunField::kDurationSeconds;
  double quantile = 0.95;
  Millis for_duration{0};
  Millis keep_firing_for{0};
  /// Static labels, `severity` among them, sorted by name.
  Labels labels;
  /// Templates: `{{ $labels.<name> }}` and `{{ $value }}`, rendered when the alert changes.
  Labels annotations;
};

/// Reads a rules file (YAML; see docs/ALERTING.md). Every problem is reported, each with the
/// file, line, column and key path.
[[nodiscard]] std::expected<std::vector<Rule>, std::vector<config::Diagnostic>> parse_rules(
    std::string_view yaml, std::string_view name_for_messages);

/// The six rules of BRIEF §4 with their default settings: `rules/ingestion-rules.yml`,
/// compiled in so the service runs without it.
[[nodiscard]] std::string_view default_rules_yaml();

/// The longest window of `rules` (how much input a restart must replay).
[[nodiscard]] Millis longest_window(const std::vector<Rule>& rules);

[[nodiscard]] std::string_view kind_name(RuleKind kind);

}  // namespace iw::alerting
