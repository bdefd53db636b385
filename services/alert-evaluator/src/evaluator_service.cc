#include "evaluator_service.h"

#include <array>
#include <memory>
#include <random>
#include <span>
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
#include "iw/base/time_format.h"
#include "iw/events/future_timestamp.h"
#include "iw/runtime/version.h"
#include "iw/stage/stage.h"
#include "iw/stage/topic_reader.h"
#include "iw/trace/trace_context.h"

namespace iw::alert_evaluator {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kInvalidRecord = "invalid_enriched_record";
// The "alert" log lines (one per alert event written) a second at most; the others are counted
// in the next one's `suppressed`. A catch-up writes thousands of events a second (one per seven
// records of the bench's input), each line a write to stdout: 5 % of the process's CPU. The
// events themselves are all in the alerts topic.
constexpr std::uint32_t kAlertLinesPerSecond = 20;
// How often the evaluation asks which partitions have nothing left to read.
constexpr auto kLagEvery = 100ms;

stage::StageOptions stage_options(const runtime::Context& ctx, const Settings& s) {
  stage::StageOptions options{.name = "alert-evaluator",
                              .span_name = "evaluate",
                              .input_topics = {s.input_topic},
                              .group_id = s.group_id,
                              .delivery = stage::Delivery::kTransactional,
                              .transactional_id = s.transactional_id,
                              .dlq_topic = s.dlq_topic,
                              .client = runtime::kafka_client_options(ctx),
                              // Alert events and input positions commit together once the
                              // transaction is commit_interval old or transaction_max_bytes large.
                              .transaction = s.transaction,
                              .poll_timeout = 50ms,
                              .poison = s.poison,
                              .output_label = s.output_topic,
                              .dead_letter_reasons = {std::string(kInvalidRecord)},
                              .latency_sample_every = 0};  // its outcome is an alert, not a record
  options.dead_letter_reasons.emplace_back(events::kFutureTimestamp);
  if (s.create_topics) {
    options.create_topics = {{.name = s.output_topic, .partitions = s.partitions},
                             {.name = s.dlq_topic, .partitions = 1}};
  }
  return options;
}

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

// The rules on the enriched runs: each record feeds the evaluator, each tick advances it to the
// evaluation clock and writes the alert events of its transitions. A restart, a rebalance or a
// rolled-back transaction rebuilds the windows from the input (docs/ALERTING.md, "Restarts and
// rebalances"). The stage does the Kafka part.
class Evaluation final : public stage::Processor {
 public:
  Evaluation(runtime::Context& ctx, Settings settings)
      : ctx_(ctx),
        settings_(std::move(settings)),
        metrics_(ctx.metrics.registry(), settings_.rules, settings_.metrics_budget, ctx.clock,
                 ctx.logger),
        evaluator_(settings_.rules, {.configured_sources = settings_.sources}),
        clock_(settings_.clock),
        warm_up_(alerting::warm_up_of(settings_.rules, settings_.clock.allowed_lateness)),
        // The notifier is made below exactly when there is an Alertmanager to notify.
        emission_({.warm_up = warm_up_, .notify = !settings_.alertmanager_url.empty()}),
        problems_(ctx.logger, 20, 10s),
        alert_log_(ctx.logger, kAlertLinesPerSecond, 1s) {
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

  base::Status process(const kafka::Record& record, stage::Output& out) override {
    if (rebuild_pending_) return {};  // the rebuild reads it again from the replay start
    auto run = reader_.read(record.value());
    if (!run) {
      return out.dead_letter({.partition = record.partition(), .offset = record.offset()},
                             stage::content_of(record), kInvalidRecord, run.error().message());
    }
    // Written straight to the input (the enricher dead-letters the others): it would carry
    // the clock to a time no other run has reached. Judged against when the record was written
    // (its Kafka timestamp), not when it is read, so that a rebuild reading it again after its
    // time has come decides as the live reading did and writes no alert that never fired.
    const base::TimePoint written =
        record.timestamp() > base::TimePoint{} ? record.timestamp() : ctx_.clock.now();
    if (auto problem =
            events::future_timestamp_problem(run->end, written, settings_.future_tolerance)) {
      return out.dead_letter({.partition = record.partition(), .offset = record.offset()},
                             stage::content_of(record), events::kFutureTimestamp, *problem);
    }
    stage::RecordSpan& span = out.span();
    if (span.recording()) {
      span.set("ingestwatch.source", run->source);
      span.set("ingestwatch.execution_id", record.header("execution_id").value_or(""));
    }
    // The transitions this run brings about are evaluated at the next tick: they are events of
    // its span, and their alert events carry its span id (docs/TRACING.md).
    out.hold_span();
    clock_.observe(record.partition(), run->source, run->end, ctx_.clock.monotonic_now());
    emission_.observed(run->end);
    switch (evaluator_.add(*run)) {
      case alerting::Evaluator::Admission::kAccepted:
        break;
      case alerting::Evaluator::Admission::kLate:
        metrics_.late_runs.Increment();
        problems_.warn("late run not evaluated",
                       {{"source", run->source},
                        {"end", base::format_rfc3339_millis(run->end)},
                        {"evaluated_up_to", base::format_rfc3339_millis(evaluator_.now())}});
        break;
      case alerting::Evaluator::Admission::kDuplicate:
        metrics_.duplicate_runs.Increment();
        problems_.warn("copy of a run already counted",
                       {{"source", run->source}, {"event_id", run->id}});
        break;
    }
    return {};
  }

  base::Status tick(stage::Input& input, stage::Output& out) override {
    if (rebuild_pending_) {
      if (auto status = rebuild(input); !status) return status;
    }
    return housekeeping(input, out);
  }

  void assigned(std::vector<kafka::TopicPartitionOffset>&) override { rebuild_pending_ = true; }
  void revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    for (const auto& p : partitions) clock_.revoke(p.partition);
    rebuild_pending_ = true;
  }
  void lost(const std::vector<kafka::TopicPartition>&) override { rebuild_pending_ = true; }
  // The events of the transaction rolled back are not in the history: the rebuild writes them
  // again.
  void rolled_back(const std::vector<kafka::TopicPartitionOffset>&) override {
    rebuild_pending_ = true;
  }

 private:
  // Starts evaluation again from the replay start of every assigned partition: the state of
  // the windows is rebuilt from the input, and the history says which transitions were already
  // written.
  base::Status rebuild(stage::Input& input) {
    const std::vector<kafka::TopicPartition> assigned = input.assignment();
    std::vector<kafka::TopicPartitionOffset> starts;
    alerting::Replay replay;
    if (const auto lookup =
            alerting::replay_lookup(settings_.replay_lookback, warm_up_, ctx_.clock.now());
        !lookup) {
      // The first record each partition still holds: 0 unless retention deleted older ones.
      auto first = input.offsets_for_times(assigned, base::TimePoint{});
      if (!first) return std::unexpected(first.error().with_context("offsets_for_times"));
      std::vector<std::optional<std::int64_t>> offsets;
      for (const auto& p : *first) {
        starts.push_back({p.topic, p.partition, kafka::kOffsetBeginning});
        offsets.push_back(p.offset >= 0 ? std::optional(p.offset) : std::nullopt);
      }
      replay = alerting::replay_from_beginning(offsets);
    } else {
      auto found = input.offsets_for_times(assigned, *lookup);
      if (!found) return std::unexpected(found.error().with_context("offsets_for_times"));
      starts = std::move(*found);
      std::vector<std::optional<std::int64_t>> offsets;
      for (const auto& start : starts) {
        offsets.push_back(start.offset >= 0 ? std::optional(start.offset) : std::nullopt);
      }
      replay = alerting::replay_from_lookup(offsets);
    }
    // The stage commits its open transaction before the first seek, so the history read next
    // holds every event written so far.
    for (std::size_t i = 0; i < starts.size(); ++i) {
      starts[i].offset = offset_of(replay.starts[i]);
      if (auto status = input.seek(starts[i]); !status) {
        return std::unexpected(status.error().with_context("seek to replay start"));
      }
    }
    auto history = read_history(input);
    if (!history) return std::unexpected(history.error());
    // Cut short: a partial history would let events be written twice. Nothing is evaluated
    // until the next rebuild, and there is none before the drain.
    if (ctx_.shutdown.requested()) return {};
    evaluator_ = alerting::Evaluator(settings_.rules, {.configured_sources = settings_.sources});
    clock_ = alerting::EvaluationClock(settings_.clock);
    for (const auto& p : assigned) clock_.assign(p.partition);
    emission_.start_replay(std::move(*history), replay.whole_input());
    rebuild_pending_ = false;
    ctx_.logger.info(
        "rebuilding from the input",
        {{"partitions", assigned.size()},
         {"from",
          replay.partial == alerting::Replay::Partial::kLookback ? "lookback" : "beginning"},
         {"history_events", emission_.history().size()}});
    warming_ = !replay.whole_input();
    if (warming_) {
      // The windows of the first runs replayed are partial: what they say is not written.
      ctx_.logger.warn(
          "warming up: no alert is written until the windows are full",
          {{"reason", alerting::partial_name(replay.partial)},
           {"warm_up_seconds", std::chrono::duration<double>(warm_up_).count()},
           {"detail", replay.partial == alerting::Replay::Partial::kRetention
                          ? "the oldest records of the input were deleted (retention): the "
                            "first ones left do not fill the windows"
                          : "the replay starts at the lookback instant, mid-input"}});
    }
    ctx_.readiness.set_ready("kafka");
    return {};
  }

  // Every alert event committed to the output topic so far, read with a group of its own.
  base::Result<alerting::AlertHistory> read_history(stage::Input& input) {
    alerting::AlertHistory history;
    std::random_device random;
    // Read to the end offsets the partitions have at their assignment, however long the group
    // takes to assign them; a read that cannot get there fails (the tick is retried) rather than
    // pass a part of the history off as the whole, which would write transitions twice.
    const auto read = stage::read_topic(
        input.factory(), input.client_options(),
        {.topic = settings_.output_topic,
         .group_id = settings_.group_id + "-history-" + std::to_string(random())},
        ctx_.shutdown, ctx_.clock, [&](const kafka::Record& record) {
          auto event = alerting::parse_alert_event(record.value());
          if (event) {
            history.record(*event);
          } else {
            problems_.warn("unreadable alert event in history",
                           {{"detail", event.error().message()}, {"offset", record.offset()}});
          }
        });
    if (!read) {
      ctx_.logger.error("cannot read the alert history: nothing is evaluated until it is read",
                        {{"topic", settings_.output_topic}, {"detail", read.error().message()}});
      return std::unexpected(read.error().with_context("reading the alert history"));
    }
    ctx_.logger.info("alert history read", {{"events", history.size()},
                                            {"records", read->records},
                                            {"assignment_wait_ms", read->assignment_wait.count()}});
    return history;
  }

  base::Status housekeeping(stage::Input& input, stage::Output& out) {
    const auto mono = ctx_.clock.monotonic_now();
    // A partition with nothing left to read stops holding the clock back. Asked at most every
    // kLagEvery rather than at every tick: the answer (the assignment, then each partition's
    // position and watermarks, under librdkafka's locks) cost about as much as evaluating the
    // poll's records during a catch-up, and the idle grace (2 s) counts from it anyway.
    if (mono >= next_lag_) {
      next_lag_ = mono + kLagEvery;
      for (const auto& lag : input.lag()) {
        if (lag.records && *lag.records == 0) clock_.caught_up(lag.partition.partition, mono);
      }
    }
    if (const auto t = clock_.at(ctx_.clock.now(), mono); t && *t > evaluator_.now()) {
      const auto started = std::chrono::steady_clock::now();
      transitions_.clear();
      evaluator_.advance_to(*t, transitions_);
      metrics_.evaluation_seconds.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (auto status = emit(transitions_, out); !status) {
        rebuild_pending_ = true;  // the transitions not written are evaluated again
        return status;
      }
      metrics_.clock_seconds.Set(
          std::chrono::duration<double>(evaluator_.now().time_since_epoch()).count());
      if (warming_ && !emission_.warming(evaluator_)) {
        warming_ = false;
        ctx_.logger.info("warm-up over: alerts are written from here on",
                         {{"evaluated_up_to", base::format_rfc3339_millis(evaluator_.now())},
                          {"warm_until", base::format_rfc3339_millis(emission_.warm_until())}});
      }
    }
    // Hands Alertmanager's notifier the alerts firing now and the resolves written since the
    // last time, when AlertEmission says so.
    if (auto notification = emission_.notification(evaluator_, mono)) {
      notifier_->update(std::move(notification->firing), std::move(notification->resolved));
    }
    if (mono >= next_gauges_) {
      metrics_.update_active(evaluator_);
      metrics_.keys.Set(static_cast<double>(evaluator_.key_count()));
      next_gauges_ = mono + 1s;
    }
    return {};
  }

  base::Status emit(const std::vector<alerting::Transition>& transitions, stage::Output& out) {
    for (const alerting::Transition& transition : transitions) {
      metrics_.count_transition(transition);
      const auto emitted = emission_.event_for(transition, evaluator_);
      if (!emitted) continue;
      line_.clear();
      alerting::append_alert_event(line_, emitted->event);
      const std::string& key = emitted->key;  // the event's source (EmittedEvent::key)
      const bool firing = emitted->event.status == alerting::EventStatus::kFiring;
      // The span of the run that brought the clock here (held since its process()). The event
      // carries that span's own id, as every output of a stage does, so the pusher's span of the
      // event is the evaluate span's child in Jaeger.
      stage::RecordSpan& span = out.span();
      const std::string_view traceparent = span.traceparent();
      const std::array<kafka::HeaderView, 2> headers = {{
          {"content-type", "application/json"},
          {"traceparent", traceparent},
      }};
      if (auto status =
              out.write({.topic = settings_.output_topic,
                         .key = key,
                         .value = line_,
                         .headers = std::span(headers).first(traceparent.empty() ? 1 : 2)});
          !status) {
        return status;
      }
      emission_.written(emitted->event);
      if (span.recording()) {
        span.add_event(firing ? "alert firing" : "alert resolved", ctx_.clock.now(),
                       {{"alertname", transition.alert.rule->alert}, {"fingerprint", key}});
      }
      alert_log_.log(log::Level::kInfo, "alert",
                     {{"status", firing ? "firing" : "resolved"},
                      {"alertname", transition.alert.rule->alert},
                      {"fingerprint", key},
                      {"at", base::format_rfc3339_millis(transition.at)}});
    }
    emission_.advanced(evaluator_);
    return {};
  }

  runtime::Context& ctx_;
  Settings settings_;
  AlertMetrics metrics_;
  alerting::Evaluator evaluator_;
  alerting::EvaluationClock clock_;
  alerting::EnrichedRunReader reader_;
  alerting::Millis warm_up_;
  alerting::AlertEmission emission_;
  log::RateLimitedLog problems_;
  log::RateLimitedLog alert_log_;  // the "alert" lines
  std::vector<alerting::Transition> transitions_;
  std::string line_;
  bool rebuild_pending_ = false;
  bool warming_ = false;  // a partial replay's warm-up, until its end is logged
  base::MonotonicTime next_gauges_{};
  base::MonotonicTime next_lag_{};
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

base::Status EvaluatorService::run(runtime::Context& ctx) {
  auto settings = ctx.config.read<Settings>();
  const stage::StageOptions options = stage_options(ctx, settings);
  ctx.logger.info("evaluating", {{"input", settings.input_topic},
                                 {"output", settings.output_topic},
                                 {"rules", settings.rules.size()},
                                 {"group", settings.group_id},
                                 {"alertmanager", !settings.alertmanager_url.empty()}});
  Evaluation evaluation(ctx, std::move(settings));
  stage::Stage stage(ctx, options, evaluation, clients());
  return stage.run();
}

}  // namespace iw::alert_evaluator
