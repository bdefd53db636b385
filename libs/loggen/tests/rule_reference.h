#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace iw::loggen::testing {

/// A run as the rules see it: τ is its end, in milliseconds since the epoch.
struct RuleRun {
  std::string source;
  std::string objet;
  bool failed = false;
  std::int64_t tau_ms = 0;
  double duration_s = 0;
  double cpu_s = 0;
  std::int64_t memory_bytes = 0;
};

/// One alert episode: the instant its condition became true and, if it ever did, stopped.
struct RuleAlert {
  std::string alertname;
  std::string source;
  std::string key_name;  // "objet", "resource", or empty for rules keyed by source alone
  std::string key_value;
  std::int64_t starts_ms = 0;
  std::optional<std::int64_t> resolved_ms;  // nothing: still true forever without new input

  friend auto operator<=>(const RuleAlert&, const RuleAlert&) = default;
};

/// A deliberately naive, exact evaluation of BRIEF §4's six rules with their default
/// thresholds, used to check the hand-computed expectations of the scenarios. Each condition
/// depends only on the runs with τ in (t − W, t], so it can only change at some τ or τ + W;
/// evaluating it there gives every transition instant exactly. Sources are known from their
/// first run.
std::vector<RuleAlert> evaluate_rules(std::span<const RuleRun> runs);

}  // namespace iw::loggen::testing
