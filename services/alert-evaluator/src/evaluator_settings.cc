#include "evaluator_settings.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "iw/base/check.h"
#include "iw/runtime/service.h"
#include "iw/stage/poison_keys.h"
#include "iw/stage/transaction_keys.h"

namespace iw::alert_evaluator {
namespace {

// The rules of a rules file; its problems on one line, for a configuration diagnostic.
base::Result<std::vector<alerting::Rule>> load_rules(const std::string& file) {
  auto text = read_file(file);
  if (!text) return std::unexpected(text.error());
  auto rules = alerting::parse_rules(*text, file);
  if (!rules) {
    std::string problems;
    for (const config::Diagnostic& problem : rules.error()) {
      problems += (problems.empty() ? "" : "; ") + problem.to_string();
    }
    return base::fail(base::ErrorCode::kInvalidInput, "invalid rules: " + problems);
  }
  return std::move(*rules);
}

std::vector<alerting::Rule> built_in_rules() {
  auto rules = alerting::parse_rules(alerting::default_rules_yaml(), "built-in rules");
  IW_CHECK(rules.has_value(), "the built-in rules do not parse");
  return std::move(*rules);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto first = item.find_first_not_of(' ');
    const auto last = item.find_last_not_of(' ');
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
  }
  return out;
}

}  // namespace

Settings::Settings()
    : transactional_id(runtime::host_scoped_id("ingest-alert-evaluator")),
      rules(built_in_rules()) {}

base::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return base::fail(base::ErrorCode::kNotFound,
                      "cannot read '" + path + "': " + std::generic_category().message(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void declare_settings(config::Schema& schema) {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("alert_evaluator.input_topic", &S::input_topic)
      .describe("Enriched run records.")
      .default_value("ingestion-logs-enriched")
      .flag("--input-topic", "TOPIC");
  keys.key("alert_evaluator.output_topic", &S::output_topic)
      .describe("Alert events (BRIEF §5), keyed by source.")
      .default_value("ingestion-alerts")
      .flag("--output-topic", "TOPIC");
  keys.key("alert_evaluator.dlq_topic", &S::dlq_topic)
      .describe("Enriched records that cannot be read, unchanged, with dlq.* headers.")
      .default_value("ingestion-logs-dlq");
  keys.key("alert_evaluator.group_id", &S::group_id)
      .describe("Consumer group.")
      .default_value("ingest-alert-evaluator")
      .flag("--group", "ID");
  keys.key("alert_evaluator.transactional_id", &S::transactional_id)
      .describe(
          "Transactional id; unique per running instance and stable across its restarts. Default "
          "ingest-alert-evaluator-<hostname>.")
      .flag("--transactional-id", "ID");
  keys.parsed("alert_evaluator.rules_file", load_rules, &S::rules)
      .describe(
          "Rules file (docs/ALERTING.md), read and checked with the configuration; default: the "
          "six rules of rules/ingestion-rules.yml, built in.")
      .flag("--rules", "FILE");
  keys.choice("alert_evaluator.clock",
              {{"event_time", alerting::ClockMode::kEventTime},
               {"wall_clock", alerting::ClockMode::kWallClock}},
              &S::clock, &alerting::ClockOptions::mode)
      .describe(
          "event_time: decide up to the input's low watermark minus the allowed lateness, at "
          "wall-clock pace while the input is idle. wall_clock: up to now minus the lateness.")
      .default_value("event_time")
      .flag("--clock", "MODE");
  keys.key("alert_evaluator.allowed_lateness", &S::clock, &alerting::ClockOptions::allowed_lateness)
      .describe("How late a run may arrive and still be evaluated; later ones are counted.")
      .default_value("5m")
      .min("0s");
  keys.key("alert_evaluator.idle_speed", &S::clock, &alerting::ClockOptions::idle_speed)
      .describe("Event seconds per wall second while no partition has anything to deliver.")
      .default_value(1.0)
      .min(0.0)
      .flag("--idle-speed", "X");
  keys.key("alert_evaluator.idle_grace", &S::clock, &alerting::ClockOptions::idle_grace)
      .describe(
          "How long a partition must stay caught up before it stops holding the clock back; "
          "restarted for the idle ones when input flows again (a burst reaches partitions one "
          "fetch apart).")
      .default_value("2s")
      .min("0s");
  keys.key("alert_evaluator.future_tolerance", &S::future_tolerance)
      .describe(
          "Runs ending later than the wall clock plus this are dead-lettered as future_timestamp "
          "(records written straight to the input; the enricher stops the others).")
      .default_value("15m")
      .min("0s");
  keys.parsed("alert_evaluator.sources", split_list, &S::sources)
      .describe(
          "Comma-separated sources known from the start: silent 75 min after start-up if they "
          "never report.")
      .default_value("");
  keys.key("alert_evaluator.replay_lookback", &S::replay_lookback)
      .describe(
          "On start-up and rebalance the windows are rebuilt by replaying the input: 0s replays "
          "each partition from its beginning (exact); otherwise records produced in the last "
          "lookback + longest window + lateness are replayed.")
      .default_value("0s")
      .min("0s")
      .flag("--replay-lookback", "DURATION");
  stage::declare_transaction_keys(keys, "alert_evaluator", &S::transaction);
  keys.key("alert_evaluator.create_topics", &S::create_topics)
      .describe("Create the output and dead-letter topics when missing.")
      .default_value(true);
  keys.key("alert_evaluator.partitions", &S::partitions)
      .describe("Partitions of the output topic when the evaluator creates it.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
  keys.key("alert_evaluator.alertmanager_url", &S::alertmanager_url)
      .describe(
          "Alertmanager to post alerts to (its /api/v2/alerts), e.g. http://127.0.0.1:9093; "
          "unset or empty: none. Firing alerts are sent again every resend interval, resolved "
          "ones for 15 minutes, as Prometheus does.")
      .validate([](const config::Value& value) -> std::optional<std::string> {
        const auto& url = std::get<std::string>(value);
        if (url.empty() || url.starts_with("http://") || url.starts_with("https://")) {
          return std::nullopt;
        }
        return "expected an http:// or https:// URL";
      });
  keys.key("alert_evaluator.alertmanager_resend_interval", &S::alertmanager_resend_interval)
      .describe(
          "How often alerts are sent to Alertmanager again; firing ones carry endsAt = now + 4 "
          "intervals, so Alertmanager resolves them if the evaluator stops.")
      .default_value("1m")
      .min("1s");
  keys.key("alert_evaluator.alertmanager_bearer_token", &S::alertmanager_bearer_token)
      .describe("Bearer token sent to Alertmanager (Authorization header).");
  stage::declare_poison_keys(keys, "alert_evaluator", &S::poison);
  keys.key("alert_evaluator.metrics.max_sources", &S::metrics_budget,
           &AlertMetricsOptions::max_sources)
      .describe(
          "Sources with per-source alert series of their own; the alerts of others are "
          "shown under source=\"_other\" (the evaluation stays per source). 0: no limit.")
      .default_value(std::int64_t{1000})
      .min(std::int64_t{0});
  keys.key("alert_evaluator.metrics.idle_timeout", &S::metrics_budget,
           &AlertMetricsOptions::idle_timeout)
      .describe("A source without an alert this long loses its per-source series (0s: never).")
      .default_value("24h")
      .min("0s");
}

}  // namespace iw::alert_evaluator
