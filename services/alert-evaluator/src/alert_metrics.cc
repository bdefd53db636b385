#include "alert_metrics.h"

#include <chrono>
#include <set>

namespace iw::alert_evaluator {

AlertMetrics::AlertMetrics(prometheus::Registry& registry, const std::vector<alerting::Rule>& rules)
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
              .Register(registry)) {
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

void AlertMetrics::count_transition(const alerting::Transition& transition) {
  const auto it = transition_counters_.find({transition.alert.rule->alert, transition.to});
  if (it != transition_counters_.end()) it->second->Increment();
  if (transition.from != alerting::AlertState::kFiring) return;
  // From a minute to three days: failures are fixed within the hour, silent sources in days.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200};
  prometheus::Labels labels = {{"alertname", transition.alert.rule->alert}};
  for (const auto& [name, value] : *transition.alert.labels) {
    if (name == "source") labels.emplace("source", value);
  }
  const std::chrono::duration<double> fired = transition.at - transition.fired_at;
  firing_durations_.Add(labels, kBuckets).Observe(fired.count());
}

void AlertMetrics::update_active(const alerting::Evaluator& evaluator) {
  std::set<prometheus::Labels> now_active;
  evaluator.for_each_active([&](const alerting::ActiveAlert& active) {
    prometheus::Labels labels(active.alert.labels->begin(), active.alert.labels->end());
    labels["alertstate"] = std::string(alerting::state_name(active.state));
    now_active.insert(labels);
    if (!active_.contains(labels)) active_[labels] = &alerts_.Add(labels);
    active_[labels]->Set(1);
  });
  for (auto it = active_.begin(); it != active_.end();) {
    if (now_active.contains(it->first)) {
      ++it;
    } else {
      alerts_.Remove(it->second);
      it = active_.erase(it);
    }
  }
}

}  // namespace iw::alert_evaluator
