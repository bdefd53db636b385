#include "rule_reference.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace iw::loggen::testing {
namespace {

constexpr std::int64_t kMinute = 60'000;

using Window = std::vector<const RuleRun*>;
using Condition = std::function<bool(const Window&)>;

// Nearest rank: the ⌈0.95·n⌉-th smallest value, with the rank computed in integers.
double p95(const Window& window, double (*value)(const RuleRun&)) {
  std::vector<double> values;
  for (const RuleRun* run : window) values.push_back(value(*run));
  std::sort(values.begin(), values.end());
  const std::size_t rank = (95 * values.size() + 99) / 100;
  return values[rank - 1];
}

void scan(const std::vector<const RuleRun*>& runs, std::int64_t window_ms,
          const Condition& condition, RuleAlert prototype, std::vector<RuleAlert>& out) {
  std::set<std::int64_t> instants;
  for (const RuleRun* run : runs) {
    instants.insert(run->tau_ms);
    instants.insert(run->tau_ms + window_ms);
  }
  bool active = false;
  for (const std::int64_t t : instants) {
    Window window;
    for (const RuleRun* run : runs) {
      if (run->tau_ms > t - window_ms && run->tau_ms <= t) window.push_back(run);
    }
    const bool holds = condition(window);
    if (holds && !active) {
      prototype.starts_ms = t;
      active = true;
    } else if (!holds && active) {
      prototype.resolved_ms = t;
      out.push_back(prototype);
      prototype.resolved_ms.reset();
      active = false;
    }
  }
  if (active) out.push_back(prototype);
}

}  // namespace

std::vector<RuleAlert> evaluate_rules(std::span<const RuleRun> runs) {
  std::map<std::string, std::vector<const RuleRun*>> by_source;
  std::map<std::pair<std::string, std::string>, std::vector<const RuleRun*>> by_objet;
  for (const RuleRun& run : runs) {
    by_source[run.source].push_back(&run);
    by_objet[{run.source, run.objet}].push_back(&run);
  }
  const auto failed = [](const Window& w) {
    return static_cast<std::size_t>(
        std::count_if(w.begin(), w.end(), [](const RuleRun* r) { return r->failed; }));
  };

  std::vector<RuleAlert> out;
  for (const auto& [key, list] : by_objet) {
    const RuleAlert base{.source = key.first, .key_name = "objet", .key_value = key.second};
    auto proto = base;
    proto.alertname = "IngestionFailureDetected";
    scan(
        list, 5 * kMinute, [&](const Window& w) { return failed(w) >= 1; }, proto, out);
    proto.alertname = "IngestionObjectErrorBurst";
    scan(
        list, 10 * kMinute, [&](const Window& w) { return failed(w) > 3; }, proto, out);
  }
  for (const auto& [source, list] : by_source) {
    RuleAlert proto{.source = source};
    proto.alertname = "IngestionHighFailureRate";
    // FAILED / all > 2 %, in integers so that exactly 2 % is not above it.
    scan(
        list, 15 * kMinute,
        [&](const Window& w) { return w.size() >= 10 && failed(w) * 100 > 2 * w.size(); }, proto,
        out);
    proto.alertname = "IngestionSourceSilent";
    scan(
        list, 75 * kMinute, [](const Window& w) { return w.empty(); }, proto, out);
    proto.alertname = "IngestionLatencyP95Degraded";
    scan(
        list, 60 * kMinute,
        [](const Window& w) {
          return !w.empty() && p95(w, [](const RuleRun& r) { return r.duration_s; }) > 60.0;
        },
        proto, out);
    proto.alertname = "IngestionResourceOveruse";
    proto.key_name = "resource";
    proto.key_value = "memory";
    scan(
        list, 60 * kMinute,
        [](const Window& w) {
          return !w.empty() && p95(w, [](const RuleRun& r) {
                                 return static_cast<double>(r.memory_bytes);
                               }) > 150.0 * 1024 * 1024;
        },
        proto, out);
    proto.key_value = "cpu";
    scan(
        list, 60 * kMinute,
        [](const Window& w) {
          return !w.empty() && p95(w, [](const RuleRun& r) { return r.cpu_s; }) > 60.0;
        },
        proto, out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace iw::loggen::testing
