#include "alert_metrics.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <string_view>

namespace iw::alert_evaluator {
namespace {

constexpr std::array<std::string_view, 1> kKinds = {"source"};

const std::string* source_of(const alerting::Labels& labels) {
  for (const auto& [name, value] : labels) {
    if (name == "source") return &value;
  }
  return nullptr;
}

}  // namespace

AlertMetrics::AlertMetrics(prometheus::Registry& registry, const std::vector<alerting::Rule>& rules,
                           AlertMetricsOptions options, const base::Clock& clock,
                           const log::Logger& logger)
    : evaluation_seconds(
          prometheus::BuildHistogram()
              .Name("ingestwatch_alert_evaluation_seconds")
              .Help("Wall time to evaluate the rules up to a new clock instant.")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.00001, 0.0001, 0.001, 0.01, 0.1, 1,
                                                               10})),
      clock_seconds(prometheus::BuildGauge()
                        .Name("ingestwatch_alert_clock_timestamp_seconds")
                        .Help("The evaluation clock: every instant up to it has been evaluated "
                              "(event time, Unix seconds).")
                        .Register(registry)
                        .Add({})),
      late_runs(prometheus::BuildCounter()
                    .Name("ingestwatch_alert_late_runs_total")
                    .Help("Runs that arrived after the clock had passed their end, counted and "
                          "logged, not evaluated.")
                    .Register(registry)
                    .Add({})),
      duplicate_runs(prometheus::BuildCounter()
                         .Name("ingestwatch_duplicate_records_total")
                         .Help("Records dropped as copies of one already counted (the same "
                               "event.id, e.g. a producer's resend).")
                         .Register(registry)
                         .Add({})),
      keys(prometheus::BuildGauge()
               .Name("ingestwatch_alert_keys")
               .Help("Keys (source, or source and objet) the evaluator holds state for.")
               .Register(registry)
               .Add({})),
      alerts_(prometheus::BuildGauge()
                  .Name("ingestwatch_alerts")
                  .Help("Active alerts of the in-stream rules, as Prometheus's ALERTS: 1 per "
                        "pending or firing alert, by its labels and alertstate.")
                  .Register(registry)),
      transitions_(prometheus::BuildCounter()
                       .Name("ingestwatch_alert_transitions_total")
                       .Help("Alert state changes, by alertname and the state entered.")
                       .Register(registry)),
      firing_durations_(
          prometheus::BuildHistogram()
              .Name("ingestwatch_alert_firing_duration_seconds")
              .Help("Event time from an alert's startsAt to its resolve, observed at each "
                    "resolve, by alertname and source: the time to recover (MTTR = sum / "
                    "count).")
              .Register(registry)),
      cardinality_(registry, kKinds),
      sources_({.max_tracked = options.max_sources, .idle_after = options.idle_timeout}, clock),
      logger_(logger) {
  // Every child up front, so a rate() over them starts from zero.
  for (const alerting::Rule& rule : rules) {
    for (const auto state : {alerting::AlertState::kPending, alerting::AlertState::kFiring,
                             alerting::AlertState::kInactive}) {
      auto& counter = transitions_.Add(
          {{"alertname", rule.alert}, {"to", std::string(alerting::state_name(state))}});
      transition_counters_[{rule.alert, state}] = &counter;
    }
  }
}

cardinality::Budget::Admission AlertMetrics::admit(const alerting::Labels& labels) {
  const std::string* source = source_of(labels);
  if (source == nullptr) return {.label = {}, .folded = false, .first_fold = false};
  const cardinality::Budget::Admission admission = sources_.admit(*source);
  if (admission.first_fold) {
    logger_.warn("cardinality budget full: alerts of further sources are shown under _other",
                 {{"kind", "source"},
                  {"budget", static_cast<std::int64_t>(sources_.options().max_tracked)},
                  {"first_folded", *source}});
  }
  return admission;
}

void AlertMetrics::count_transition(const alerting::Transition& transition) {
  const auto it = transition_counters_.find({transition.alert.rule->alert, transition.to});
  if (it != transition_counters_.end()) it->second->Increment();
  const cardinality::Budget::Admission source = admit(*transition.alert.labels);
  if (source.folded) cardinality_.kind(0).folded->Increment();
  if (transition.from != alerting::AlertState::kFiring) return;
  // From a minute to three days: failures are fixed within the hour, silent sources in days.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200};
  auto key = std::make_pair(transition.alert.rule->alert, std::string(source.label));
  auto child = firing_children_.find(key);
  if (child == firing_children_.end()) {
    prometheus::Labels labels = {{"alertname", key.first}};
    if (!key.second.empty()) labels.emplace("source", key.second);
    child =
        firing_children_.emplace(std::move(key), &firing_durations_.Add(labels, kBuckets)).first;
  }
  const std::chrono::duration<double> fired = transition.at - transition.fired_at;
  child->second->Observe(fired.count());
}

void AlertMetrics::update_active(const alerting::Evaluator& evaluator) {
  // An alert of a folded source is counted under source="_other" with its rule's name, state and
  // severity only: its other key labels (objet, resource) would bring the cardinality back.
  std::map<prometheus::Labels, double> now_active;
  evaluator.for_each_active([&](const alerting::ActiveAlert& active) {
    const cardinality::Budget::Admission source = admit(*active.alert.labels);
    prometheus::Labels labels;
    if (source.folded) {
      for (const auto& [name, value] : *active.alert.labels) {
        if (name == "alertname" || name == "severity") labels.emplace(name, value);
      }
      labels.emplace("source", std::string(cardinality::kOther));
    } else {
      labels = prometheus::Labels(active.alert.labels->begin(), active.alert.labels->end());
    }
    labels["alertstate"] = std::string(alerting::state_name(active.state));
    now_active[labels] += 1;
  });
  for (const auto& [labels, count] : now_active) {
    auto it = active_.find(labels);
    if (it == active_.end()) it = active_.emplace(labels, &alerts_.Add(labels)).first;
    it->second->Set(count);
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (now_active.contains(it->first)) {
      ++it;
    } else {
      alerts_.Remove(it->second);
      it = active_.erase(it);
    }
  }
  // A source with an active alert was admitted just now, so only sources without one go.
  const std::vector<std::string> gone = sources_.evict_idle();
  for (auto it = firing_children_.begin(); it != firing_children_.end() && !gone.empty();) {
    if (std::ranges::find(gone, it->first.second) != gone.end()) {
      firing_durations_.Remove(it->second);
      it = firing_children_.erase(it);
    } else {
      ++it;
    }
  }
  cardinality_.kind(0).evicted->Increment(static_cast<double>(gone.size()));
  cardinality_.kind(0).tracked->Set(static_cast<double>(sources_.tracked()));
}

}  // namespace iw::alert_evaluator
