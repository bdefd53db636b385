#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <vector>

#include "iw/alerting/evaluator.h"

namespace iw::alert_evaluator {

/// The evaluator's own metrics (docs/METRICS.md):
///   ingestwatch_alerts{alertname,alertstate,severity,source,...}   1 per active alert (ALERTS)
///   ingestwatch_alert_transitions_total{alertname,to}              state changes
///   ingestwatch_alert_evaluation_seconds                           time to evaluate a step
///   ingestwatch_alert_clock_timestamp_seconds                      the evaluation clock
///   ingestwatch_alert_late_runs_total                              runs later than the lateness
///   ingestwatch_duplicate_records_total                            copies of a run (event.id)
///   ingestwatch_alert_keys                                         keys with state
///   ingestwatch_alert_firing_duration_seconds{alertname,source}    startsAt to resolve (MTTR)
class AlertMetrics {
 public:
  AlertMetrics(prometheus::Registry& registry, const std::vector<alerting::Rule>& rules);

  /// Counts the change and, for a resolve, observes how long the alert fired.
  void count_transition(const alerting::Transition& transition);
  /// Sets the ALERTS-like gauge to the evaluator's active alerts.
  void update_active(const alerting::Evaluator& evaluator);

  prometheus::Histogram& evaluation_seconds;
  prometheus::Gauge& clock_seconds;
  prometheus::Counter& late_runs;
  prometheus::Counter& duplicate_runs;
  prometheus::Gauge& keys;

 private:
  prometheus::Family<prometheus::Gauge>& alerts_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Histogram>& firing_durations_;
  std::map<std::pair<std::string, alerting::AlertState>, prometheus::Counter*> transition_counters_;
  std::map<prometheus::Labels, prometheus::Gauge*> active_;
};

}  // namespace iw::alert_evaluator
