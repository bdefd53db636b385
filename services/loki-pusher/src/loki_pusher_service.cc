#include "loki_pusher_service.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "iw/events/enriched_record.h"
#include "iw/loki/batcher.h"
#include "iw/loki/entry.h"
#include "iw/loki/push_policy.h"
#include "iw/loki/recent_events.h"
#include "iw/stage/stage.h"
#include "ledger.h"
#include "pusher_metrics.h"
#include "pusher_settings.h"
#include "sender.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Every reason a record can be dead-lettered for: the loki library's (the stage adds its own).
std::vector<std::string> reason_names() {
  std::vector<std::string> names;
  for (const loki::Reason reason : loki::all_reasons()) {
    names.emplace_back(loki::reason_name(reason));
  }
  return names;
}

// What librdkafka prefetches is memory too, outside the pending-bytes limit. librdkafka 2.0 stops
// fetching once its queue is full and looked again only at its broker thread's next wake-up, up
// to a second later: the pusher moved about one queue a second (8 MiB ~14 000 lines/s, 64 MiB
// ~72 000, bench/results/2026-12-06-loki-pusher-in-flight.md). The consumer now wakes the fetcher
// once the queue has drained to half (kafka::PrefetchWatch), so the queue only has to cover a
// fetch's round trip: 8, 16 and 64 MiB move the same lines/s, 16 MiB with the least CPU
// (bench/results/2026-12-06-loki-pusher-wakeup.md). As much as max_pending_bytes, from 8 to
// 16 MiB: the one memory setting bounds both. The user's kafka.properties win.
std::size_t prefetch_bytes(std::size_t max_pending_bytes) {
  return std::clamp<std::size_t>(max_pending_bytes, std::size_t{8} << 20, std::size_t{16} << 20);
}

// How long a poll waits for more input after a batch was cut full: two such polls without a
// record, and the end of the burst is pushed.
constexpr milliseconds kBurstQuiet{10};

// Records a poll takes at most. wants_input() is asked before each poll, so one poll is all that
// can go past max_pending_bytes (256 records overshot a 4 MiB limit by ~190 KB): records of ~1 KiB
// by a 512th of the limit at most, 8 (up to 4 MiB) to 64 records (from 32 MiB). Each poll costs
// the same (the stage's tick and settle, the sender's outcomes), so fewer of them cost less per
// record.
std::size_t poll_batch(std::size_t max_pending_bytes) {
  return std::clamp<std::size_t>(max_pending_bytes / (std::size_t{512} << 10), 8, 64);
}

stage::StageOptions stage_options(const runtime::Context& ctx, const Settings& s) {
  stage::StageOptions options{
      .name = "loki-pusher",
      .span_name = "push",
      .input_topics = s.topics,
      .group_id = s.group_id,
      .delivery = stage::Delivery::kStoredOffsets,
      .dlq_topic = s.dlq_topic,
      .client = runtime::kafka_client_options(ctx),
      .consumer_properties = {{"queued.max.messages.kbytes",
                               std::to_string(prefetch_bytes(s.max_pending_bytes) / 1024)}},
      // Stored offsets reach Kafka within a second: after a crash, less is read and sent again.
      .store_interval = 1000ms,
      .poll_batch = poll_batch(s.max_pending_bytes),
      .poison = s.poison,
      .output_label = "loki",
      .dead_letter_reasons = reason_names(),
      .latency_sample_every = 1};
  if (s.create_topics) options.create_topics = {{.name = s.dlq_topic, .partitions = 1}};
  return options;
}

stage::InputRef input_ref(const loki::EntryRef& ref) {
  return {.topic = ref.topic, .partition = ref.partition, .offset = ref.offset};
}

// Turns records into Loki entries, batches them and hands the batches to the Sender; a record's
// outcome is deferred until Loki took its entry (complete) or refused it for good (a dead
// letter). The stage does the Kafka part: offsets stored behind the first record without an
// outcome, dead letters, rebalances, the drain.
class Pusher final : public stage::Processor {
 public:
  Pusher(runtime::Context& ctx, const Settings& settings)
      : ctx_(ctx),
        settings_(settings),
        metrics_(ctx.metrics.registry()),
        builder_(settings_.entries),
        batcher_(settings_.batcher, ctx.clock),
        recent_(settings_.dedup_max_ids),
        duplicates_log_(ctx.logger, 10, std::chrono::minutes(1)) {}

  void started(stage::Input& input) override {
    input_ = &input;
    ctx_.readiness.set_ready("kafka");
    sender_ = std::make_unique<Sender>(settings_.client, settings_.sender, metrics_, ctx_.readiness,
                                       ctx_.logger);
    ctx_.logger.info("pushing to loki", {{"url", settings_.client.url},
                                         {"runs_topic", topic_of(Kind::kRun)},
                                         {"alerts_topic", topic_of(Kind::kAlert)},
                                         {"group", settings_.group_id},
                                         {"tenant", settings_.client.tenant},
                                         {"max_pending_bytes", settings_.max_pending_bytes}});
  }

  base::Status process(const kafka::Record& record, stage::Output& out) override {
    ++taken_since_tick_;
    const auto topic = static_cast<std::size_t>(
        std::ranges::find(settings_.topics, record.topic()) - settings_.topics.begin());
    const loki::EntryRef ref{.topic = static_cast<std::int32_t>(topic),
                             .partition = record.partition(),
                             .offset = record.offset()};
    auto entry = settings_.kinds.at(topic) == Kind::kRun
                     ? builder_.enriched_run(record.value(), ref, record.timestamp())
                     : builder_.alert_event(record.value(), ref, record.timestamp());
    if (!entry) return refuse(record, ref, entry.error(), out);
    entry->trace_id = loki::TraceId::from_traceparent(record.header("traceparent").value_or(""));
    const std::uint64_t event_key = entry->event_key;
    if (recent_.duplicate(event_key, ref)) {
      // Sent twice (a producer resend): its twin is in Loki, on its way, or dead-lettered. This
      // record is done without an entry.
      metrics_.duplicates.Increment();
      duplicates_log_.log(log::Level::kInfo,
                          "duplicate run not pushed (its event.id was taken recently)",
                          {{"topic", record.topic()},
                           {"partition", record.partition()},
                           {"offset", record.offset()}});
      return {};
    }
    if (auto rejected = batcher_.add(std::move(*entry))) return refuse(record, ref, *rejected, out);
    recent_.remember(event_key, ref);
    const std::string_view execution_id = record.header("execution_id").value_or("");
    if (stage::RecordSpan& span = out.span(); span.recording()) {
      span.set("ingestwatch.execution_id", execution_id);
      // A sampled run's span names its run, as the enricher's does; the entry keeps only labels,
      // so the record is read again for the few records that are traced.
      if (settings_.kinds.at(topic) == Kind::kRun) {
        if (const auto run = span_facts_.read(record.value(), 0)) {
          span.set("ingestwatch.source", run->source);
          span.set("ingestwatch.objet", run->objet);
          span.set("ingestwatch.etat", run->etat);
        }
      }
    }
    // The record's span ends at Loki's answer: complete() or its dead letter (docs/TRACING.md).
    ledger_.hold(out.defer(),
                 RecordMetaView{.key = record.key(),
                                .execution_id = execution_id,
                                .traceparent = record.header("traceparent").value_or(""),
                                .arrived = record.timestamp()});
    return {};
  }

  base::Status tick(stage::Input& input, stage::Output& out) override {
    // The previous poll brought no record (a tick comes after each poll, before that poll's
    // records are processed): the input paused, and the end of a burst is pushed now
    // (Batcher::end_burst()).
    if (taken_since_tick_ == 0 && !held_back_) batcher_.end_burst();
    taken_since_tick_ = 0;
    held_back_ = false;
    submit_due();
    if (auto status = apply_outcomes(out); !status) return status;
    flow_control(input);
    return {};
  }

  milliseconds poll_timeout() const override {
    const auto due = batcher_.due_at();
    if (!due) return milliseconds::max();
    const milliseconds until_due =
        std::max(0ms, std::chrono::ceil<milliseconds>(*due - ctx_.clock.monotonic_now()));
    // After a burst, a short poll finds out soon whether the input paused.
    return batcher_.in_burst() ? std::min(until_due, kBurstQuiet) : until_due;
  }

  // Loki takes pushes, just slower than Kafka delivers: take no record for a moment. What
  // librdkafka prefetched meanwhile is bounded by queued.max.messages.kbytes.
  bool wants_input() const override {
    return input_->input_paused() || pending_bytes() <= settings_.max_pending_bytes;
  }

  void wait(milliseconds timeout) override {
    held_back_ = true;  // the next tick follows no poll
    if (sender_->idle()) batcher_.flush();
    sender_->wait(timeout);
  }

  // What Loki settled for the partitions going is made durable before they go (the stage
  // stores and commits right after); what is still on its way to Loki is read again by the next
  // owner (Loki stores a re-sent entry once).
  base::Status revoking(const std::vector<kafka::TopicPartition>&, stage::Output& out) override {
    return apply_outcomes(out);
  }

  // SIGTERM: push what can be pushed within the drain timeout; the stage then stores the offsets
  // of what Loki took or the dead-letter topic holds, and leaves the group. Anything else is
  // read again by the next start.
  base::Status drain(stage::Input&, stage::Output& out) override {
    batcher_.flush();
    submit_due();
    ctx_.logger.info(
        "pushing what was read",
        {{"entries", ledger_.held()},
         {"drain_timeout_ms", static_cast<std::int64_t>(settings_.drain_timeout.count())}});
    const auto deadline = ctx_.clock.monotonic_now() + settings_.drain_timeout;
    while (true) {
      if (auto status = apply_outcomes(out); !status) return status;
      if (sender_->idle()) break;
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - ctx_.clock.monotonic_now());
      if (left <= 0ms) break;
      sender_->wait(std::min(left, milliseconds{50}));
    }
    sender_->stop();
    if (auto status = apply_outcomes(out); !status) return status;
    ctx_.logger.info("drained", {{"entries_not_pushed", abandoned_entries_}});
    return {};
  }

 private:
  std::string topic_of(Kind kind) const {
    const auto it = std::ranges::find(settings_.kinds, kind);
    return it == settings_.kinds.end()
               ? std::string()
               : settings_.topics[static_cast<std::size_t>(it - settings_.kinds.begin())];
  }

  void submit_due() {
    while (auto batch = batcher_.next()) {
      submitted_bytes_ += batch->byte_size;
      sender_->submit(std::move(*batch));
    }
  }

  // A record refused before sending: dead-lettered at once.
  base::Status refuse(const kafka::Record& record, const loki::EntryRef& ref,
                      const loki::Rejection& rejection, stage::Output& out) {
    metrics_.rejected(rejection.reason, RefusedBy::kPusher).Increment();
    return out.dead_letter(input_ref(ref), stage::content_of(record),
                           loki::reason_name(rejection.reason), rejection.message);
  }

  // What the sender learned: accepted entries are done, refused ones are dead-lettered.
  base::Status apply_outcomes(stage::Output& out) {
    for (PushOutcome& outcome : sender_->take_outcomes()) {
      submitted_bytes_ -= std::min(submitted_bytes_, outcome.released_bytes);
      if (outcome.abandoned) {
        outcome.batch.for_each([&](std::size_t, std::size_t, const loki::BatchEntry& entry) {
          (void)ledger_.release_arrival(input_ref(entry.ref));
        });
        abandoned_entries_ += outcome.batch.entry_count;
        continue;
      }
      const loki::Settlement settlement =
          loki::settle(outcome.batch, outcome.rejections, outcome.earlier_attempt_may_have_landed);
      for (const loki::EntryRef& accepted : settlement.accepted) {
        const stage::InputRef ref = input_ref(accepted);
        out.complete(ref, ledger_.release_arrival(ref).value_or(ctx_.clock.now()));
      }
      metrics_.entries_pushed.Increment(static_cast<double>(settlement.accepted.size()));
      metrics_.bytes_pushed.Increment(static_cast<double>(settlement.accepted_line_bytes));
      for (const loki::RefusedEntry& letter : settlement.refused) {
        const loki::BatchEntry& entry = outcome.batch.streams[letter.stream].entries[letter.entry];
        // Its replay from the dead-letter topic must not be taken for a duplicate.
        recent_.refused(entry.event_key, entry.ref);
        const stage::InputRef ref = input_ref(entry.ref);
        std::optional<RecordMeta> meta = ledger_.release(ref);
        // Revoked meanwhile: the new owner reads the record again and decides.
        if (!out.owns(ref)) continue;
        if (!meta) meta.emplace();
        // Kafka refusing a dead letter outright leaves the record without an outcome: the run
        // ends, and the restart reads it again (its offset is not stored).
        if (auto status = out.dead_letter(
                ref,
                {.value = entry.line,
                 .key = meta->key ? std::optional<std::string_view>(*meta->key) : std::nullopt,
                 .execution_id = meta->execution_id,
                 .traceparent = meta->traceparent},
                loki::reason_name(letter.reason), letter.message);
            !status) {
          return base::fail(base::ErrorCode::kFailedPrecondition, status.error().message());
        }
      }
    }
    return {};
  }

  std::size_t pending_bytes() const {
    return batcher_.pending_bytes() + submitted_bytes_ + ledger_.held_bytes();
  }

  // Bounded memory while Loki is slow or down. Above max_pending_bytes no record is taken:
  // while Loki answers but is slower than Kafka, the stage just waits for the sender
  // (wants_input(), wait()); while Loki fails, the input is paused and polling goes on, so the
  // group membership holds however long the outage lasts. It resumes as soon as Loki takes
  // pushes again, or once half of the limit has drained: librdkafka 2.0 fetches again only at
  // its broker thread's next wake-up (up to a second), so a mere slowdown is not worth a pause.
  void flow_control(stage::Input& input) {
    const std::size_t pending = pending_bytes();
    metrics_.pending_bytes.Set(static_cast<double>(pending));
    const bool failing = sender_->failing();
    if (!input.input_paused() && pending > settings_.max_pending_bytes && failing) {
      input.pause_input();
      ctx_.logger.warn("input paused: loki is not taking pushes",
                       {{"pending_bytes", pending},
                        {"max_pending_bytes", settings_.max_pending_bytes},
                        {"partitions", input.paused_partitions()}});
    } else if (input.input_paused() && (!failing || pending <= settings_.max_pending_bytes / 2)) {
      const std::size_t partitions = input.paused_partitions();
      input.resume_input();
      ctx_.logger.info("input resumed", {{"pending_bytes", pending}, {"partitions", partitions}});
    }
    metrics_.paused_partitions.Set(static_cast<double>(input.paused_partitions()));
  }

  runtime::Context& ctx_;
  const Settings& settings_;
  PusherMetrics metrics_;
  loki::EntryBuilder builder_;
  // Only for sampled records' spans (process()).
  events::EnrichedRecordReader span_facts_{events::EnrichedField::kSourceName,
                                           events::EnrichedField::kObjetName,
                                           events::EnrichedField::kEtat};
  loki::Batcher batcher_;
  Ledger ledger_;
  loki::RecentEvents recent_;
  log::RateLimitedLog duplicates_log_;
  stage::Input* input_ = nullptr;  // the stage's, from started()
  std::unique_ptr<Sender> sender_;
  std::size_t submitted_bytes_ = 0;  // batches handed to the sender, not yet settled
  // Since the last tick: records taken, and whether the stage waited instead of polling.
  std::size_t taken_since_tick_ = 0;
  bool held_back_ = false;
  std::uint64_t abandoned_entries_ = 0;
};

}  // namespace

runtime::ServiceInfo pusher_info() {
  return {.name = "loki-pusher",
          .binary = "ingest-loki-pusher",
          .summary = "pushes enriched runs and alert events to Grafana Loki, at least once",
          .default_http_port = 9467};
}

void LokiPusherService::declare(config::Schema& schema) const { declare_settings(schema); }

base::Status LokiPusherService::run(runtime::Context& ctx) {
  const Settings settings = read_settings(ctx.config);
  Pusher pusher(ctx, settings);
  stage::Stage stage(ctx, stage_options(ctx, settings), pusher, clients());
  return stage.run();
}

}  // namespace iw::loki_pusher
