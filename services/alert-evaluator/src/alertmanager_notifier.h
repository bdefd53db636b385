#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "iw/alerting/alert_event.h"
#include "iw/config/config.h"
#include "iw/log/logger.h"

namespace iw::alert_evaluator {

struct AlertmanagerOptions {
  /// Alertmanager's base URL, e.g. "http://127.0.0.1:9093"; alerts go to <url>/api/v2/alerts.
  std::string url;
  /// How often every alert is sent again; firing alerts carry endsAt = now + 4 × this, so
  /// Alertmanager resolves them by itself when the evaluator stops sending.
  std::chrono::milliseconds resend_interval = std::chrono::minutes(1);
  /// How long (wall time) a resolved alert keeps being sent after it resolved (Prometheus: 15m).
  std::chrono::milliseconds resolved_retention = std::chrono::minutes(15);
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  /// The whole request, connection included.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  /// Sent as "Authorization: Bearer <token>" when not empty. Never logged.
  config::Secret bearer_token;
  std::string user_agent = "ingestwatch";
};

/// Posts alerts to Alertmanager the way Prometheus's notifier does, from one thread of its own,
/// so the evaluator never waits on HTTP:
///   - every alert is sent again each `resend_interval`; new firings and resolves promptly;
///   - a firing alert is sent with endsAt = now + 4 × resend_interval;
///   - a resolved alert is sent with its real endsAt for `resolved_retention`, then dropped;
///   - a failed post (connection error, timeout, non-2xx) is counted, logged (rate-limited)
///     and retried with the next round; alerts are sent in batches of at most 64.
/// Metrics (registered in `registry`):
///   ingestwatch_alertmanager_posts_total{outcome="success|error"}
///   ingestwatch_alertmanager_alerts_sent_total       alerts in posts Alertmanager accepted
///   ingestwatch_alertmanager_post_latency_seconds    every completed post
class AlertmanagerNotifier {
 public:
  /// Starts the thread. `logger` and `registry` must outlive the notifier.
  AlertmanagerNotifier(AlertmanagerOptions options, prometheus::Registry& registry,
                       const log::Logger& logger);
  /// Stops the thread, abandoning a post in flight; what was not sent is dropped.
  ~AlertmanagerNotifier();
  AlertmanagerNotifier(const AlertmanagerNotifier&) = delete;
  AlertmanagerNotifier& operator=(const AlertmanagerNotifier&) = delete;

  /// Hands over the current state without waiting for any I/O. `firing`: every alert firing
  /// now, replacing the previous set (an alert that leaves it without a resolve is no longer
  /// sent and expires in Alertmanager at its last endsAt). `resolved`: alerts resolved since
  /// the last call, with their endsAt; an alert that is in `firing` again is not sent as
  /// resolved. New firings (by fingerprint and startsAt) and resolves wake the thread.
  void update(std::vector<alerting::AlertEvent> firing, std::vector<alerting::AlertEvent> resolved);

  /// Alerts currently sent each round (firing plus resolved within their retention).
  [[nodiscard]] std::size_t tracked() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::alert_evaluator
