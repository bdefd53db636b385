#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "iw/alerting/evaluator.h"
#include "iw/base/clock.h"
#include "iw/cardinality/budget.h"
#include "iw/log/logger.h"
#include "iw/metrics/cardinality.h"

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
///   ingestwatch_cardinality_*{kind="source"}                       the source budget (below)
/// The per-source series are budgeted (cardinality::Budget, docs/ALERTING.md): the first
/// `max_sources` sources with alerts get series of their own; the alerts of any other source are
/// shown under source="_other" (ingestwatch_alerts then counts them, without their other key
/// labels), and a source without an alert for `idle_timeout` loses its series. Only the metrics
/// fold: the evaluation stays exact per source.
struct AlertMetricsOptions {
  std::size_t max_sources = 1000;                                   ///< 0: no limit
  std::chrono::milliseconds idle_timeout = std::chrono::hours{24};  ///< 0: never
};

class AlertMetrics {
 public:
  /// `clock` (monotonic time) and `logger` must outlive this.
  AlertMetrics(prometheus::Registry& registry, const std::vector<alerting::Rule>& rules,
               AlertMetricsOptions options, const base::Clock& clock, const log::Logger& logger);

  /// Counts the change and, for a resolve, observes how long the alert fired.
  void count_transition(const alerting::Transition& transition);
  /// Sets the ALERTS-like gauge to the evaluator's active alerts, then removes the series of
  /// sources without an alert for the idle timeout.
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
  // By (alertname, source label).
  std::map<std::pair<std::string, std::string>, prometheus::Histogram*> firing_children_;
  metrics::CardinalityMetrics cardinality_;
  cardinality::Budget sources_;
  const log::Logger& logger_;

  cardinality::Budget::Admission admit(const alerting::Labels& labels);
};

}  // namespace iw::alert_evaluator
