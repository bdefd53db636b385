#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alert_metrics.h"
#include "iw/alerting/evaluation_clock.h"
#include "iw/alerting/rule.h"
#include "iw/base/error.h"
#include "iw/config/binder.h"
#include "iw/stage/stage.h"

namespace iw::alert_evaluator {

/// The evaluator's alert_evaluator.* keys (docs/CONFIGURATION.md).
struct Settings {
  std::string input_topic;
  std::string output_topic;
  std::string dlq_topic;
  std::string group_id;
  std::string transactional_id;
  std::vector<alerting::Rule> rules;  // alert_evaluator.rules_file's, or the built-in ones
  alerting::ClockOptions clock;
  std::chrono::milliseconds future_tolerance{0};
  std::vector<std::string> sources;
  std::chrono::milliseconds replay_lookback{0};
  stage::TransactionPolicy transaction;
  bool create_topics = true;
  std::int32_t partitions = 3;
  std::string alertmanager_url;  // empty: no Alertmanager
  std::chrono::milliseconds alertmanager_resend_interval{60'000};
  config::Secret alertmanager_bearer_token;
  stage::PoisonPolicy poison;
  AlertMetricsOptions metrics_budget;

  Settings();
};

/// Declares the keys of Settings, each once: flag, YAML path, type, default and check.
void declare_settings(config::Schema& schema);

/// The whole of a file, or why it cannot be read (kNotFound).
[[nodiscard]] base::Result<std::string> read_file(const std::string& path);

}  // namespace iw::alert_evaluator
