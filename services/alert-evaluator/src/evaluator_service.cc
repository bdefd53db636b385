#include "evaluator_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <random>
#include <utility>

#include "alert_metrics.h"
#include "alertmanager_notifier.h"
#include "evaluator_settings.h"
#include "iw/alerting/alert_event.h"
#include "iw/alerting/alert_history.h"
#include "iw/alerting/emission.h"
#include "iw/alerting/enriched_run.h"
#include "iw/alerting/evaluation_clock.h"
#include "iw/alerting/evaluator.h"
#include "iw/alerting/replay.h"
#include "iw/alerting/rule.h"
#include "iw/base/time_format.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/producer.h"
#include "iw/kafka/stage_clients.h"
#include "iw/metrics/record_flow.h"
#include "iw/runtime/version.h"
#include "iw/stage/consumer_lag.h"

namespace iw::alert_evaluator {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Where Kafka starts reading a partition replayed from `start`.
std::int64_t offset_of(const alerting::ReplayStart& start) {
  switch (start.from) {
    case alerting::ReplayStart::From::kBeginning:
      return kafka::kOffsetBeginning;
    case alerting::ReplayStart::From::kEnd:
      return kafka::kOffsetEnd;
    case alerting::ReplayStart::From::kOffset:
      break;
  }
  return start.offset;
}

const std::vector<std::string_view> kDeadLetterReasons = {"invalid_enriched_record"};

class Pipeline final : public kafka::DeliveryHandler, public kafka::RebalanceListener {
 public:
  Pipeline(runtime::Context& ctx, Settings settings, std::vector<alerting::Rule> rules)
      : ctx_(ctx),
        settings_(std::move(settings)),
        rules_(std::move(rules)),
        flow_(ctx.metrics.registry(), settings_.output_topic, kDeadLetterReasons),
        metrics_(ctx.metrics.registry(), rules_),
        lag_(ctx.metrics.registry()),
        evaluator_(rules_, {.configured_sources = settings_.sources}),
        clock_(settings_.clock),
        warm_up_(alerting::warm_up_of(rules_, settings_.clock.allowed_lateness)),
        // The notifier is made below exactly when there is an Alertmanager to notify.
        emission_({.warm_up = warm_up_, .notify = !settings_.alertmanager_url.empty()}),
        problems_(ctx.logger, 20, 10s) {
    if (!settings_.alertmanager_url.empty()) {
      notifier_ = std::make_unique<AlertmanagerNotifier>(
          AlertmanagerOptions{
              .url = settings_.alertmanager_url,
              .resend_interval = settings_.alertmanager_resend_interval,
              .bearer_token = std::exchange(settings_.alertmanager_bearer_token, {}),
              .user_agent = "ingest-alert-evaluator/" + std::string(runtime::version())},
          ctx.metrics.registry(), ctx.logger);
    }
  }

  base::Status run() {
    if (auto status = connect(); !status) return status;
    ctx_.logger.info("evaluating", {{"input", settings_.input_topic},
                                    {"output", settings_.output_topic},
                                    {"rules", rules_.size()},
                                    {"group", settings_.group_id},
                                    {"alertmanager", notifier_ != nullptr}});
    int since_housekeeping = 0;
    while (!ctx_.shutdown.requested()) {
      auto polled = clients_.consumer().poll(50ms);
      if (rebuild_pending_) {
        // Records polled before the rebuild are read again from the replay start.
        if (auto status = rebuild(); !status) return status;
        continue;
      }
      bool idle = false;
      if (!polled) {
        if (polled.error().code() == base::ErrorCode::kFailedPrecondition) {
          return std::unexpected(polled.error());
        }
        problems_.warn("consume error", {{"detail", polled.error().message()}});
      } else if (*polled) {
        if (auto status = process(**polled); !status) return status;
      } else {
        idle = true;
      }
      if (!idle && ++since_housekeeping < kHousekeepingEvery) continue;
      since_housekeeping = 0;
      if (auto status = housekeeping(); !status) return status;
    }
    ctx_.logger.info("draining", {});
    if (auto status = commit(true); !status) return status;
    clients_.close();
    return {};
  }

  void on_delivery(const kafka::DeliveryReport& report) override {
    if (report.error && !delivery_error_) delivery_error_ = *report.error;
  }

  void on_assigned(std::vector<kafka::TopicPartitionOffset>& partitions) override {
    ctx_.logger.info("partitions assigned", {{"count", partitions.size()}});
    rebuild_pending_ = true;
  }

  void on_revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.info("partitions revoked", {{"count", partitions.size()}});
    if (auto status = commit(true); !status) {
      ctx_.logger.error("could not commit before revocation",
                        {{"detail", status.error().message()}});
    }
    for (const auto& p : partitions) clock_.revoke(p.partition);
    rebuild_pending_ = true;
  }

  void on_lost(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.warn("partitions lost", {{"count", partitions.size()}});
    if (in_transaction_) abort("partitions lost");
    rebuild_pending_ = true;
  }

 private:
  base::Status connect() {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    client_ = client;
    if (settings_.create_topics) {
      auto admin = kafka::make_admin(client);
      if (!admin) return std::unexpected(admin.error());
      const std::vector<kafka::TopicSpec> topics = {
          {.name = settings_.output_topic, .partitions = settings_.partitions},
          {.name = settings_.dlq_topic, .partitions = 1}};
      if (auto status = (*admin)->create_topics(topics, 30s); !status) {
        return std::unexpected(status.error().with_context("creating topics"));
      }
    }
    if (auto status = clients_.start_producer(
            {.client = client, .transactional_id = settings_.transactional_id}, *this);
        !status) {
      return status;
    }
    // Fences a previous instance with the same id and aborts what it left open, so the history
    // read next holds exactly what was committed.
    if (auto status = clients_.producer().init_transactions(60s); !status) {
      return std::unexpected(status.error().with_context("init_transactions"));
    }
    if (auto status = clients_.start_consumer({.client = client,
                                               .group_id = settings_.group_id,
                                               .commit_mode = kafka::CommitMode::kTransactional,
                                               .listener = this});
        !status) {
      return status;
    }
    if (auto status = clients_.consumer().subscribe({settings_.input_topic}); !status) {
      return std::unexpected(status.error());
    }
    return {};
  }

  // Reads every alert event committed to the output topic so far.
  base::Result<alerting::AlertHistory> read_history() {
    alerting::AlertHistory history;
    std::random_device random;
    auto reader = kafka::make_consumer(
        {.client = client_,
         .group_id = settings_.group_id + "-history-" + std::to_string(random()),
         .commit_mode = kafka::CommitMode::kManual});
    if (!reader) return std::unexpected(reader.error());
    if (auto status = (*reader)->subscribe({settings_.output_topic}); !status) {
      return std::unexpected(status.error());
    }
    const auto started = ctx_.clock.monotonic_now();
    auto last_record = started;
    while (!ctx_.shutdown.requested()) {
      auto polled = (*reader)->poll(100ms);
      const auto now = ctx_.clock.monotonic_now();
      if (polled && *polled) {
        last_record = now;
        auto event = alerting::parse_alert_event((**polled).value());
        if (event) {
          history.record(*event);
        } else {
          problems_.warn("unreadable alert event in history",
                         {{"detail", event.error().message()}, {"offset", (**polled).offset()}});
        }
        continue;
      }
      // Caught up: every partition's position is at its end, or the topic said nothing for a
      // while after joining (an empty partition reports no position).
      const auto lags = (*reader)->lag();
      const bool assigned = !(*reader)->assignment().empty();
      const bool at_end = assigned && std::all_of(lags.begin(), lags.end(), [](const auto& lag) {
                            return lag.records && *lag.records == 0;
                          });
      if (at_end || (assigned && now - last_record > 2s) || now - started > 60s) break;
    }
    (*reader)->close();
    ctx_.logger.info("alert history read", {{"events", history.size()}});
    return history;
  }

  // Starts evaluation again from the replay start of every assigned partition: the state of
  // the windows is rebuilt from the input, and the history says which transitions were already
  // written.
  base::Status rebuild() {
    rebuild_pending_ = false;
    if (in_transaction_) {
      if (auto status = commit(true); !status) return status;
    }
    auto history = read_history();
    if (!history) return std::unexpected(history.error());
    evaluator_ = alerting::Evaluator(rules_, {.configured_sources = settings_.sources});
    clock_ = alerting::EvaluationClock(settings_.clock);
    positions_.clear();
    const std::vector<kafka::TopicPartition> assigned = clients_.consumer().assignment();
    for (const auto& p : assigned) clock_.assign(p.partition);
    std::vector<kafka::TopicPartitionOffset> starts;
    alerting::Replay replay;
    if (const auto lookup =
            alerting::replay_lookup(settings_.replay_lookback, warm_up_, ctx_.clock.now());
        !lookup) {
      for (const auto& p : assigned)
        starts.push_back({p.topic, p.partition, kafka::kOffsetBeginning});
      replay = alerting::replay_from_beginning(starts.size());
    } else {
      auto found = clients_.consumer().offsets_for_times(assigned, *lookup, 30s);
      if (!found) return std::unexpected(found.error().with_context("offsets_for_times"));
      starts = std::move(*found);
      std::vector<std::optional<std::int64_t>> offsets;
      for (const auto& start : starts) {
        offsets.push_back(start.offset >= 0 ? std::optional(start.offset) : std::nullopt);
      }
      replay = alerting::replay_from_lookup(offsets);
    }
    for (std::size_t i = 0; i < starts.size(); ++i) {
      starts[i].offset = offset_of(replay.starts[i]);
      if (auto status = clients_.consumer().seek(starts[i], 10s); !status) {
        return std::unexpected(status.error().with_context("seek to replay start"));
      }
    }
    emission_.start_replay(std::move(*history), replay.whole_input);
    ctx_.logger.info("rebuilding from the input",
                     {{"partitions", assigned.size()},
                      {"from", replay.whole_input ? "beginning" : "lookback"},
                      {"history_events", emission_.history().size()}});
    ctx_.readiness.set_ready("kafka");
    return {};
  }

  base::Status process(const kafka::Record& record) {
    flow_.records_in.Increment();
    positions_[record.partition()] = record.offset() + 1;
    lag_.taken(record.partition(), record.timestamp());
    auto run = reader_.read(record.value());
    if (!run) return dead_letter(record, run.error().message());
    clock_.observe(record.partition(), run->end, ctx_.clock.monotonic_now());
    emission_.observed(run->end);
    if (evaluator_.add(*run) == alerting::Evaluator::Admission::kLate) {
      metrics_.late_runs.Increment();
      problems_.warn("late run not evaluated",
                     {{"source", run->source},
                      {"end", base::format_rfc3339_millis(run->end)},
                      {"evaluated_up_to", base::format_rfc3339_millis(evaluator_.now())}});
    }
    return {};
  }

  base::Status dead_letter(const kafka::Record& record, std::string_view message) {
    flow_.rejected(0).Increment();
    problems_.warn("record dead-lettered", {{"reason", kDeadLetterReasons[0]},
                                            {"error", message},
                                            {"partition", record.partition()},
                                            {"offset", record.offset()}});
    if (auto status = begin(); !status) return status;
    const kafka::DeadLetterHeaders headers(
        {.reason = kDeadLetterReasons[0],
         .error = message,
         .stage = "alert-evaluator",
         .topic = record.topic(),
         .partition = record.partition(),
         .offset = record.offset(),
         .at = ctx_.clock.now(),
         .execution_id = record.header("execution_id").value_or(""),
         .traceparent = record.header("traceparent").value_or("")});
    if (auto status = clients_.producer().produce({.topic = settings_.dlq_topic,
                                                   .key = record.key(),
                                                   .value = record.value(),
                                                   .headers = headers.view()},
                                                  0);
        !status) {
      return retry_or_stop(status);
    }
    ++staged_dead_letters_;
    return {};
  }

  base::Status housekeeping() {
    const auto mono = ctx_.clock.monotonic_now();
    // A partition with nothing left to read stops holding the clock back.
    for (const auto& lag : clients_.consumer().lag()) {
      if (lag.records && *lag.records == 0) clock_.caught_up(lag.partition.partition, mono);
    }
    if (const auto t = clock_.at(ctx_.clock.now(), mono); t && *t > evaluator_.now()) {
      const auto started = std::chrono::steady_clock::now();
      transitions_.clear();
      evaluator_.advance_to(*t, transitions_);
      metrics_.evaluation_seconds.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (auto status = emit(transitions_); !status) return status;
      metrics_.clock_seconds.Set(
          std::chrono::duration<double>(evaluator_.now().time_since_epoch()).count());
    }
    notify_alertmanager(mono);
    if (mono >= next_gauges_) {
      metrics_.update_active(evaluator_);
      metrics_.keys.Set(static_cast<double>(evaluator_.key_count()));
      lag_.update(clients_.consumer(), ctx_.clock.now());
      next_gauges_ = mono + 1s;
    }
    clients_.producer().poll(0ms);
    return commit(false);
  }

  base::Status emit(const std::vector<alerting::Transition>& transitions) {
    for (const alerting::Transition& transition : transitions) {
      metrics_.count_transition(transition);
      const auto emitted = emission_.event_for(transition, evaluator_);
      if (!emitted) continue;
      if (auto status = begin(); !status) return status;
      line_.clear();
      alerting::append_alert_event(line_, emitted->event);
      const std::string& key = emitted->key;  // the event's source (EmittedEvent::key)
      const std::array<kafka::HeaderView, 1> headers = {{{"content-type", "application/json"}}};
      if (auto status = clients_.producer().produce(
              {.topic = settings_.output_topic, .key = key, .value = line_, .headers = headers}, 0);
          !status) {
        return retry_or_stop(status);
      }
      emission_.written(emitted->event);
      ++staged_events_;
      const bool firing = emitted->event.status == alerting::EventStatus::kFiring;
      ctx_.logger.info("alert", {{"status", firing ? "firing" : "resolved"},
                                 {"alertname", transition.alert.rule->alert},
                                 {"fingerprint", key},
                                 {"at", base::format_rfc3339_millis(transition.at)}});
    }
    emission_.advanced(evaluator_);
    return {};
  }

  // Hands Alertmanager's notifier the alerts firing now and the resolves written since the last
  // time, when AlertEmission says so.
  void notify_alertmanager(base::MonotonicTime mono) {
    if (auto notification = emission_.notification(evaluator_, mono)) {
      notifier_->update(std::move(notification->firing), std::move(notification->resolved));
    }
  }

  base::Status begin() {
    if (in_transaction_) return {};
    if (auto status = clients_.producer().begin_transaction(); !status) {
      return retry_or_stop(status);
    }
    in_transaction_ = true;
    transaction_opened_ = ctx_.clock.monotonic_now();
    return {};
  }

  // Commits the alert events written and the input positions reached, together.
  base::Status commit(bool force) {
    const auto now = ctx_.clock.monotonic_now();
    const bool positions_moved = positions_ != committed_positions_;
    if (!in_transaction_ && !positions_moved) return {};
    if (!force && now - transaction_opened_ < settings_.commit_interval && in_transaction_) {
      return {};
    }
    if (!force && !in_transaction_ && now - last_commit_ < settings_.commit_interval) return {};
    if (auto status = begin(); !status) return status;
    std::vector<kafka::TopicPartitionOffset> positions;
    for (const auto& [partition, offset] : positions_) {
      positions.push_back({settings_.input_topic, partition, offset});
    }
    base::Status status;
    if (!positions.empty()) {
      auto group = clients_.consumer().group_metadata();
      status = clients_.producer().send_offsets_to_transaction(positions, *group, 30s);
    }
    for (int attempt = 0; status && attempt < 5; ++attempt) {
      status = clients_.producer().commit_transaction(60s);
      if (status || !status.error().retryable() ||
          status.error().code() == base::ErrorCode::kAborted) {
        break;
      }
    }
    last_commit_ = now;
    if (status) {
      in_transaction_ = false;
      committed_positions_ = positions_;
      flow_.records_out.Increment(static_cast<double>(staged_events_));
      if (staged_dead_letters_ > 0) {
        flow_.dead_lettered(0).Increment(static_cast<double>(staged_dead_letters_));
      }
      staged_events_ = 0;
      staged_dead_letters_ = 0;
      metrics_.committed.Increment();
      return {};
    }
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(status.error().with_context("transaction"));
    }
    abort(status.error().message());
    return {};
  }

  // Rolls back and evaluates again from the replay start: the events of the aborted
  // transaction are not in the history, so the rebuild writes them again.
  void abort(std::string_view why) {
    ctx_.logger.warn("aborting transaction", {{"reason", why}});
    if (auto status = clients_.producer().abort_transaction(60s); !status) {
      ctx_.logger.error("abort failed", {{"detail", status.error().message()}});
    }
    in_transaction_ = false;
    staged_events_ = 0;
    staged_dead_letters_ = 0;
    metrics_.aborted.Increment();
    rebuild_pending_ = true;
  }

  base::Status retry_or_stop(const base::Status& status) {
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(status.error());
    }
    if (in_transaction_) abort(status.error().message());
    return {};
  }

  static constexpr int kHousekeepingEvery = 256;

  runtime::Context& ctx_;
  Settings settings_;
  std::vector<alerting::Rule> rules_;
  kafka::ClientOptions client_;
  metrics::RecordFlowMetrics flow_;
  AlertMetrics metrics_;
  stage::ConsumerLagMetrics lag_;
  alerting::Evaluator evaluator_;
  alerting::EvaluationClock clock_;
  alerting::EnrichedRunReader reader_;
  alerting::Millis warm_up_;
  alerting::AlertEmission emission_;
  log::RateLimitedLog problems_;
  kafka::StageClients clients_;
  std::vector<alerting::Transition> transitions_;
  std::string line_;
  std::map<std::int32_t, std::int64_t> positions_;
  std::map<std::int32_t, std::int64_t> committed_positions_;
  bool rebuild_pending_ = false;
  bool in_transaction_ = false;
  base::MonotonicTime transaction_opened_{};
  base::MonotonicTime last_commit_{};
  base::MonotonicTime next_gauges_{};
  std::uint64_t staged_events_ = 0;
  std::uint64_t staged_dead_letters_ = 0;
  std::optional<base::Error> delivery_error_;
  std::unique_ptr<AlertmanagerNotifier> notifier_;  // null without an Alertmanager URL
};

}  // namespace

runtime::ServiceInfo evaluator_info() {
  return {.name = "alert-evaluator",
          .binary = "ingest-alert-evaluator",
          .summary = "evaluates the six ingestion alert rules on the enriched run stream",
          .default_http_port = 9466,
          .usage_notes =
              "Subcommand:\n"
              "  ingest-alert-evaluator test FILE...   run rule test files (docs/ALERTING.md);\n"
              "                                        exit 0 when every check passes\n"};
}

void EvaluatorService::declare(config::Schema& schema) const { declare_settings(schema); }

std::vector<std::string> EvaluatorService::readiness_checks() const { return {"kafka"}; }

base::Status EvaluatorService::run(runtime::Context& ctx) {
  auto settings = ctx.config.read<Settings>();
  auto rules = std::move(settings.rules);
  Pipeline pipeline(ctx, std::move(settings), std::move(rules));
  return pipeline.run();
}

}  // namespace iw::alert_evaluator
