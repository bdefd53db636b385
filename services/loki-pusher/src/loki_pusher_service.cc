#include "loki_pusher_service.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "iw/base/check.h"
#include "iw/base/time_format.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/producer.h"
#include "iw/kafka/stage_clients.h"
#include "iw/loki/batcher.h"
#include "iw/loki/entry.h"
#include "iw/loki/push_policy.h"
#include "iw/metrics/record_flow.h"
#include "iw/stage/consumer_lag.h"
#include "iw/runtime/version.h"
#include "iw/trace/trace_context.h"
#include "ledger.h"
#include "loki_client.h"
#include "pusher_metrics.h"
#include "sender.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

enum class Kind { kRun, kAlert };

struct Settings {
  std::string runs_topic;
  std::string alerts_topic;
  std::vector<std::string> topics;  // the ledger's topic indices
  std::vector<Kind> kinds;          // what each topic holds
  std::string dlq_topic;
  std::string group_id;
  bool create_topics = true;
  LokiClientOptions client;
  SenderOptions sender;
  bool gzip = false;
  loki::BatcherOptions batcher;
  loki::EntryOptions entries;
  std::size_t max_pending_bytes = 0;
  milliseconds drain_timeout{0};
};

// The settings the keys declare, and what follows from them.
Settings read_settings(const config::Config& config) {
  auto s = config.read<Settings>();
  if (!s.runs_topic.empty()) {
    s.topics.push_back(s.runs_topic);
    s.kinds.push_back(Kind::kRun);
  }
  if (!s.alerts_topic.empty() && s.alerts_topic != s.runs_topic) {
    s.topics.push_back(s.alerts_topic);
    s.kinds.push_back(Kind::kAlert);
  }
  if (s.gzip && s.sender.encoding == loki::Encoding::kJson) {
    s.sender.encoding = loki::Encoding::kJsonGzip;
  }
  s.client.user_agent = "ingest-loki-pusher/" + std::string(runtime::version());
  return s;
}

// Every reason a record can be dead-lettered for: the loki library's.
std::vector<std::string_view> reason_names() {
  std::vector<std::string_view> names;
  for (const loki::Reason reason : loki::all_reasons()) names.push_back(loki::reason_name(reason));
  return names;
}

class Pipeline final : public kafka::DeliveryHandler, public kafka::RebalanceListener {
 public:
  Pipeline(runtime::Context& ctx, Settings settings)
      : ctx_(ctx),
        settings_(std::move(settings)),
        reasons_(reason_names()),
        flow_(ctx.metrics.registry(), "loki", reasons_),
        latency_(metrics::record_latency_histogram(ctx.metrics.registry())),
        metrics_(ctx.metrics.registry()),
        lag_(ctx.metrics.registry(), settings_.topics),
        builder_(settings_.entries),
        batcher_(settings_.batcher, ctx.clock),
        ledger_(settings_.topics),
        problems_(ctx.logger, 20, 10s) {}

  base::Status run() {
    if (auto status = connect(); !status) return status;
    sender_ = std::make_unique<Sender>(settings_.client, settings_.sender, metrics_, ctx_.readiness,
                                       ctx_.logger);
    ctx_.logger.info("pushing to loki",
                     {{"url", settings_.client.url},
                      {"runs_topic",
                       settings_.kinds.front() == Kind::kRun ? settings_.topics[0] : std::string()},
                      {"alerts_topic", alerts_topic()},
                      {"group", settings_.group_id},
                      {"tenant", settings_.client.tenant},
                      {"max_pending_bytes", settings_.max_pending_bytes}});
    int since_housekeeping = 0;
    auto last_poll = ctx_.clock.monotonic_now();
    while (!ctx_.shutdown.requested()) {
      if (!paused_ && pending_bytes() > settings_.max_pending_bytes &&
          ctx_.clock.monotonic_now() - last_poll < kLongestThrottle) {
        // Loki takes pushes, just slower than Kafka delivers: take no record for a moment.
        // What librdkafka prefetched meanwhile is bounded by queued.max.messages.kbytes.
        if (sender_->idle()) batcher_.flush();
        sender_->wait(50ms);
        if (auto status = housekeeping(); !status) return status;
        continue;
      }
      last_poll = ctx_.clock.monotonic_now();
      auto polled = clients_.consumer().poll(poll_timeout());
      bool idle = false;
      if (!polled) {
        if (polled.error().code() == base::ErrorCode::kFailedPrecondition) {
          return std::unexpected(polled.error());
        }
        problems_.warn("consume error", {{"detail", polled.error().message()}});
        idle = true;
      } else if (*polled) {
        if (auto status = process(**polled); !status) return status;
      } else {
        idle = true;
      }
      // Housekeeping every few records rather than every one: each store of offsets takes
      // locks and builds partition lists in librdkafka, and a batch a few records later
      // changes nothing.
      if (!idle && ++since_housekeeping < kHousekeepingEvery) continue;
      since_housekeeping = 0;
      if (auto status = housekeeping(); !status) return status;
    }
    return drain();
  }

  // Dead letters only: their delivery makes the record's outcome durable.
  void on_delivery(const kafka::DeliveryReport& report) override {
    if (report.error) {
      if (!delivery_error_) delivery_error_ = *report.error;
      return;
    }
    const auto reason = dead_letter_reasons_.find(report.correlation);
    if (reason != dead_letter_reasons_.end()) {
      flow_.dead_lettered(reason->second).Increment();
      dead_letter_reasons_.erase(reason);
    }
    ledger_.done(Ledger::unpack(report.correlation));
  }

  void on_assigned(std::vector<kafka::TopicPartitionOffset>& partitions) override {
    ctx_.logger.info("partitions assigned", {{"count", partitions.size()}});
  }

  // Still the owner: make durable what is done for these partitions, so the next owner starts
  // after it. What is still on its way to Loki is read again by the next owner (Loki stores a
  // re-sent entry once).
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.info("partitions revoked", {{"count", partitions.size()}});
    if (sender_) {
      (void)apply_outcomes();
      (void)clients_.producer().flush(5s);
    }
    store_offsets();
    if (auto status = clients_.consumer().commit(); !status) {
      problems_.warn("commit before revocation failed", {{"detail", status.error().message()}});
    }
    forget(partitions);
  }

  // Already taken away: nothing may be stored for them any more.
  void on_lost(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.warn("partitions lost", {{"count", partitions.size()}});
    forget(partitions);
  }

 private:
  std::string alerts_topic() const {
    for (std::size_t i = 0; i < settings_.kinds.size(); ++i) {
      if (settings_.kinds[i] == Kind::kAlert) return settings_.topics[i];
    }
    return {};
  }

  base::Status connect() {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    if (settings_.create_topics) {
      auto admin = kafka::make_admin(client);
      if (!admin) return std::unexpected(admin.error());
      const std::vector<kafka::TopicSpec> topics = {{.name = settings_.dlq_topic, .partitions = 1}};
      if (auto status = (*admin)->create_topics(topics, 30s); !status) {
        return std::unexpected(status.error().with_context("creating topics"));
      }
    }
    if (auto status = clients_.start_producer({.client = client}, *this); !status) return status;

    kafka::ClientOptions consumer_client = client;
    // What librdkafka prefetches is memory too, outside the pending-bytes limit: 16 MiB instead
    // of its 64 MiB default. Not less: librdkafka 2.0 waits about a second before fetching
    // again once this queue is full, so 8 MiB held a backlog to ~16 000 lines/s and 16 MiB
    // lets it reach ~44 000 (bench/loki_pusher_throughput), at ~52 MiB peak RSS. The user's
    // kafka.properties win.
    consumer_client.properties.try_emplace("queued.max.messages.kbytes", "16384");
    // Stored offsets reach Kafka within a second: after a crash, less is read and sent again.
    consumer_client.properties.try_emplace("auto.commit.interval.ms", "1000");
    if (auto status = clients_.start_consumer({.client = consumer_client,
                                               .group_id = settings_.group_id,
                                               .commit_mode = kafka::CommitMode::kStoredOffsets,
                                               .listener = this});
        !status) {
      return status;
    }
    if (auto status = clients_.consumer().subscribe(settings_.topics); !status) {
      return std::unexpected(status.error());
    }
    ctx_.readiness.set_ready("kafka");
    return {};
  }

  milliseconds poll_timeout() const {
    milliseconds timeout = 100ms;
    if (const auto due = batcher_.due_at()) {
      const auto until = std::chrono::ceil<milliseconds>(*due - ctx_.clock.monotonic_now());
      timeout = std::clamp(until, 0ms, timeout);
    }
    return timeout;
  }

  std::int32_t topic_index(std::string_view topic) const {
    for (std::size_t i = 0; i < settings_.topics.size(); ++i) {
      if (settings_.topics[i] == topic) return static_cast<std::int32_t>(i);
    }
    return -1;
  }

  base::Status process(const kafka::Record& record) {
    flow_.records_in.Increment();
    const std::int32_t topic = topic_index(record.topic());
    IW_CHECK(topic >= 0, "a record from a topic the pusher did not subscribe to");
    const loki::EntryRef ref{
        .topic = topic, .partition = record.partition(), .offset = record.offset()};
    lag_.taken(static_cast<std::size_t>(topic), record.partition(), record.timestamp());
    ledger_.read(ref);
    auto entry = settings_.kinds[static_cast<std::size_t>(topic)] == Kind::kRun
                     ? builder_.enriched_run(record.value(), ref, record.timestamp())
                     : builder_.alert_event(record.value(), ref, record.timestamp());
    if (!entry) return dead_letter(record, ref, entry.error());
    if (auto rejected = batcher_.add(std::move(*entry))) return dead_letter(record, ref, *rejected);
    RecordMeta meta;
    if (record.key()) meta.key = std::string(*record.key());
    meta.execution_id = record.header("execution_id").value_or("");
    meta.traceparent = record.header("traceparent").value_or("");
    meta.arrived = record.timestamp();
    ledger_.hold(ref, std::move(meta));
    return {};
  }

  // A record refused before sending.
  base::Status dead_letter(const kafka::Record& record, const loki::EntryRef& ref,
                           const loki::Rejection& rejection) {
    metrics_.rejected(rejection.reason, RefusedBy::kPusher).Increment();
    return produce_dead_letter(ref, record.value(), record.key(), rejection.reason,
                               rejection.message, record.header("execution_id").value_or(""),
                               record.header("traceparent").value_or(""));
  }

  base::Status produce_dead_letter(const loki::EntryRef& ref, std::string_view value,
                                   std::optional<std::string_view> key, loki::Reason reason,
                                   std::string_view message, std::string_view execution_id,
                                   std::string_view parent) {
    const auto reason_index = static_cast<std::size_t>(reason);
    const std::string_view reason_name = loki::reason_name(reason);
    flow_.rejected(reason_index).Increment();
    problems_.warn("record dead-lettered", {{"reason", reason_name},
                                            {"error", message},
                                            {"topic", ledger_.topic(ref.topic)},
                                            {"partition", ref.partition},
                                            {"offset", ref.offset}});
    const auto parsed = parent.empty() ? std::nullopt : trace::TraceParent::parse(parent);
    const trace::TraceParent traceparent =
        parsed ? parsed->child(ids_) : trace::TraceParent::start(ids_);
    const kafka::DeadLetterHeaders headers({.reason = reason_name,
                                            .error = message,
                                            .stage = "loki-pusher",
                                            .topic = ledger_.topic(ref.topic),
                                            .partition = ref.partition,
                                            .offset = ref.offset,
                                            .at = ctx_.clock.now(),
                                            .execution_id = execution_id,
                                            .traceparent = traceparent.text()});
    const std::uint64_t correlation = Ledger::pack(ref);
    auto status = clients_.producer().produce(
        {.topic = settings_.dlq_topic, .key = key, .value = value, .headers = headers.view()},
        correlation);
    // The record came from Kafka, so Kafka takes its size; any failure here leaves it in
    // flight, its offset unstored: stopping makes the restart read it again.
    if (!status) return std::unexpected(status.error().with_context("dead-lettering"));
    dead_letter_reasons_[correlation] = reason_index;
    return {};
  }

  base::Status housekeeping() {
    submit_due();
    if (auto status = apply_outcomes(); !status) return status;
    clients_.producer().poll(0ms);
    if (delivery_error_) {
      // Kafka gave up on a dead letter after its retries; the restart resumes from the last
      // stored offset, which is before that record.
      return base::fail(base::ErrorCode::kUnavailable,
                        "dead letter not delivered: " + delivery_error_->message());
    }
    store_offsets();
    flow_control();
    const auto now = ctx_.clock.monotonic_now();
    if (now >= next_gauges_) {
      lag_.update(clients_.consumer(), ctx_.clock.now());
      next_gauges_ = now + 1s;
    }
    return {};
  }

  void submit_due() {
    while (auto batch = batcher_.next()) {
      submitted_bytes_ += batch->byte_size;
      sender_->submit(std::move(*batch));
    }
  }

  // What the sender learned: accepted entries are done, refused ones are dead-lettered.
  base::Status apply_outcomes() {
    for (PushOutcome& outcome : sender_->take_outcomes()) {
      submitted_bytes_ -= std::min(submitted_bytes_, outcome.released_bytes);
      if (outcome.abandoned) {
        outcome.batch.for_each([&](std::size_t, std::size_t, const loki::BatchEntry& entry) {
          (void)ledger_.release(entry.ref);
        });
        abandoned_entries_ += outcome.batch.entry_count;
        continue;
      }
      const loki::Settlement settlement =
          loki::settle(outcome.batch, outcome.rejections, outcome.earlier_attempt_may_have_landed);
      const auto now = ctx_.clock.now();
      for (const loki::EntryRef& ref : settlement.accepted) {
        if (const auto meta = ledger_.release(ref)) {
          latency_.Observe(std::chrono::duration<double>(now - meta->arrived).count());
        }
        ledger_.done(ref);
      }
      flow_.records_out.Increment(static_cast<double>(settlement.accepted.size()));
      metrics_.entries_pushed.Increment(static_cast<double>(settlement.accepted.size()));
      metrics_.bytes_pushed.Increment(static_cast<double>(settlement.accepted_line_bytes));
      for (const loki::RefusedEntry& refused : settlement.refused) {
        const loki::BatchEntry& entry =
            outcome.batch.streams[refused.stream].entries[refused.entry];
        std::optional<RecordMeta> meta = ledger_.release(entry.ref);
        // Revoked meanwhile: the new owner reads the record again and decides.
        if (!ledger_.owns(entry.ref)) continue;
        if (!meta) meta.emplace();
        const std::optional<std::string_view> key =
            meta->key ? std::optional<std::string_view>(*meta->key) : std::nullopt;
        if (auto status =
                produce_dead_letter(entry.ref, entry.line, key, refused.reason, refused.message,
                                    meta->execution_id, meta->traceparent);
            !status) {
          return status;
        }
      }
    }
    return {};
  }

  void store_offsets() {
    const auto positions = ledger_.take_committable();
    if (positions.empty()) return;
    if (auto status = clients_.consumer().store_offsets(positions); !status) {
      problems_.warn("offset store failed", {{"detail", status.error().message()}});
    }
  }

  std::size_t pending_bytes() const {
    return batcher_.pending_bytes() + submitted_bytes_ + ledger_.held_bytes();
  }

  // Bounded memory while Loki is slow or down. Above max_pending_bytes no record is taken:
  // while Loki answers but is slower than Kafka, the loop just waits for the sender (run());
  // while Loki fails, the partitions are paused and polling goes on, so the group membership
  // holds however long the outage lasts. They resume as soon as Loki takes pushes again, or
  // once half of the limit has drained: librdkafka 2.0 fetches again only at its broker
  // thread's next wake-up (up to a second), so a mere slowdown is not worth a pause.
  void flow_control() {
    const std::size_t pending = pending_bytes();
    metrics_.pending_bytes.Set(static_cast<double>(pending));
    const bool failing = sender_->failing();
    if (!paused_ && pending > settings_.max_pending_bytes && failing) {
      paused_ = true;
      pause_new_partitions();
      ctx_.logger.warn("input paused: loki is not taking pushes",
                       {{"pending_bytes", pending},
                        {"max_pending_bytes", settings_.max_pending_bytes},
                        {"partitions", paused_partitions_.size()}});
    } else if (paused_ && (!failing || pending <= settings_.max_pending_bytes / 2)) {
      const auto assigned = clients_.consumer().assignment();
      std::vector<kafka::TopicPartition> resume;
      for (const auto& p : paused_partitions_) {
        if (std::find(assigned.begin(), assigned.end(), p) != assigned.end()) resume.push_back(p);
      }
      if (auto status = clients_.consumer().resume(resume); !status) {
        problems_.warn("resume failed", {{"detail", status.error().message()}});
      }
      ctx_.logger.info("input resumed",
                       {{"pending_bytes", pending}, {"partitions", resume.size()}});
      paused_ = false;
      paused_partitions_.clear();
    } else if (paused_) {
      pause_new_partitions();  // assigned since the pause
    }
    metrics_.paused_partitions.Set(static_cast<double>(paused_partitions_.size()));
  }

  void pause_new_partitions() {
    std::vector<kafka::TopicPartition> fresh;
    for (auto& p : clients_.consumer().assignment()) {
      if (!paused_partitions_.contains(p)) fresh.push_back(std::move(p));
    }
    if (fresh.empty()) return;
    if (auto status = clients_.consumer().pause(fresh); !status) {
      problems_.warn("pause failed", {{"detail", status.error().message()}});
      return;
    }
    paused_partitions_.insert(fresh.begin(), fresh.end());
  }

  void forget(const std::vector<kafka::TopicPartition>& partitions) {
    for (const auto& p : partitions) {
      ledger_.forget(p);
      paused_partitions_.erase(p);
    }
  }

  // SIGTERM: push what can be pushed within the drain timeout, store the offsets of what Loki
  // took or the dead-letter topic holds, and leave the group. Anything else is read again by the
  // next start.
  base::Status drain() {
    batcher_.flush();
    submit_due();
    ctx_.logger.info("draining", {{"entries", ledger_.held()},
                                  {"drain_timeout_ms",
                                   static_cast<std::int64_t>(settings_.drain_timeout.count())}});
    const auto deadline = ctx_.clock.monotonic_now() + settings_.drain_timeout;
    while (true) {
      if (auto status = apply_outcomes(); !status) return status;
      clients_.producer().poll(0ms);
      store_offsets();
      if (sender_->idle()) break;
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - ctx_.clock.monotonic_now());
      if (left <= 0ms) break;
      sender_->wait(std::min(left, milliseconds{50}));
    }
    sender_->stop();
    if (auto status = apply_outcomes(); !status) return status;
    if (auto status = clients_.producer().flush(10s); !status) {
      ctx_.logger.error("dead letters not delivered at shutdown",
                        {{"detail", status.error().message()}});
    }
    store_offsets();
    if (auto status = clients_.consumer().commit(); !status) {
      problems_.warn("final commit failed", {{"detail", status.error().message()}});
    }
    clients_.close();
    ctx_.logger.info("drained", {{"entries_not_pushed", abandoned_entries_},
                                 {"records_in_flight", ledger_.in_flight()}});
    if (delivery_error_) {
      return base::fail(base::ErrorCode::kUnavailable,
                        "dead letter not delivered: " + delivery_error_->message());
    }
    return {};
  }

  static constexpr int kHousekeepingEvery = 64;
  // While throttled, the consumer is still polled this often: rebalances are served in time
  // (max.poll.interval.ms is 5 minutes by default); each such poll may take one record.
  static constexpr std::chrono::seconds kLongestThrottle{5};

  runtime::Context& ctx_;
  Settings settings_;
  std::vector<std::string_view> reasons_;
  metrics::RecordFlowMetrics flow_;
  prometheus::Histogram& latency_;  // arrival in the input topic → accepted by Loki
  PusherMetrics metrics_;
  stage::ConsumerLagMetrics lag_;
  loki::EntryBuilder builder_;
  loki::Batcher batcher_;
  Ledger ledger_;
  log::RateLimitedLog problems_;
  trace::IdGenerator ids_;
  kafka::StageClients clients_;
  std::unique_ptr<Sender> sender_;
  // Reason (index into reasons_) of each dead letter awaiting its delivery report.
  std::unordered_map<std::uint64_t, std::size_t> dead_letter_reasons_;
  std::optional<base::Error> delivery_error_;
  std::size_t submitted_bytes_ = 0;  // batches handed to the sender, not yet settled
  std::uint64_t abandoned_entries_ = 0;
  bool paused_ = false;
  std::set<kafka::TopicPartition> paused_partitions_;
  base::MonotonicTime next_gauges_{};
};

std::optional<std::string> http_url(const config::Value& value) {
  const auto& url = std::get<std::string>(value);
  if (url.starts_with("http://") || url.starts_with("https://")) return std::nullopt;
  return "expected an http:// or https:// URL";
}

std::optional<std::string> absolute_path(const config::Value& value) {
  const auto& path = std::get<std::string>(value);
  if (path.starts_with('/') && path.find_first_of(" \t\r\n#") == std::string::npos) {
    return std::nullopt;
  }
  return "expected a path starting with / (no spaces, no fragment)";
}

}  // namespace

runtime::ServiceInfo pusher_info() {
  return {.name = "loki-pusher",
          .binary = "ingest-loki-pusher",
          .summary = "pushes enriched runs and alert events to Grafana Loki, at least once",
          .default_http_port = 9467};
}

void LokiPusherService::declare(config::Schema& schema) const {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("loki_pusher.runs_topic", &S::runs_topic)
      .describe("Enriched run records, pushed to the job=\"ingestion-logs\" streams; empty: none.")
      .default_value("ingestion-logs-enriched")
      .flag("--runs-topic", "TOPIC");
  keys.key("loki_pusher.alerts_topic", &S::alerts_topic)
      .describe("Alert events, pushed to the job=\"ingestion-alerts\" streams; empty: none.")
      .default_value("ingestion-alerts")
      .flag("--alerts-topic", "TOPIC");
  keys.check({"loki_pusher.runs_topic", "loki_pusher.alerts_topic"},
             [](const S& s) -> std::optional<std::string> {
               if (s.runs_topic.empty() && s.alerts_topic.empty())
                 return "empty, and so is loki_pusher.alerts_topic: nothing to push";
               return std::nullopt;
             });
  keys.key("loki_pusher.dlq_topic", &S::dlq_topic)
      .describe(
          "Records Loki refuses for good (or the limits below), unchanged, with dlq.* "
          "headers.")
      .default_value("ingestion-logs-dlq")
      .flag("--dlq-topic", "TOPIC");
  keys.key("loki_pusher.group_id", &S::group_id)
      .describe("Consumer group.")
      .default_value("ingest-loki-pusher")
      .flag("--group", "ID");
  keys.key("loki_pusher.create_topics", &S::create_topics)
      .describe("Create the dead-letter topic when missing.")
      .default_value(true);

  keys.key("loki_pusher.url", &S::client, &LokiClientOptions::url)
      .describe("Loki's base URL; pushes go to <url><push_path>.")
      .default_value("http://127.0.0.1:3100")
      .validate(http_url)
      .flag("--url", "URL");
  keys.key("loki_pusher.push_path", &S::client, &LokiClientOptions::push_path)
      .describe(
          "Path of the push endpoint under url, query string allowed. VictoriaLogs: "
          "/insert/loki/api/v1/push?disable_message_parsing=1 (the line kept whole).")
      .default_value("/loki/api/v1/push")
      .validate(absolute_path);
  keys.key("loki_pusher.ready_path", &S::client, &LokiClientOptions::ready_path)
      .describe("Path of the readiness probe under url. VictoriaLogs: /insert/loki/ready.")
      .default_value("/ready")
      .validate(absolute_path);
  keys.key("loki_pusher.tenant", &S::client, &LokiClientOptions::tenant)
      .describe("Sent as X-Scope-OrgID when not empty (Loki with auth_enabled).")
      .default_value("")
      .flag("--tenant", "ID");
  keys.key("loki_pusher.basic_auth.username", &S::client, &LokiClientOptions::username)
      .describe("Basic auth user (with basic_auth.password); a gateway in front of Loki.");
  keys.key("loki_pusher.basic_auth.password", &S::client, &LokiClientOptions::password)
      .describe("Basic auth password.");
  keys.key("loki_pusher.bearer_token", &S::client, &LokiClientOptions::bearer_token)
      .describe("Sent as Authorization: Bearer <token>; not with basic auth.");
  keys.check({"loki_pusher.bearer_token", "loki_pusher.basic_auth.username"},
             [](const S& s) -> std::optional<std::string> {
               if (!s.client.username.empty() && !s.client.bearer_token.empty())
                 return "set together with loki_pusher.basic_auth.username: use one or the other";
               return std::nullopt;
             });
  keys.check({"loki_pusher.basic_auth.password", "loki_pusher.basic_auth.username"},
             [](const S& s) -> std::optional<std::string> {
               if (s.client.username.empty() && !s.client.password.empty())
                 return "set without loki_pusher.basic_auth.username";
               return std::nullopt;
             });
  keys.key("loki_pusher.tls.ca_file", &S::client, &LokiClientOptions::ca_file)
      .describe("PEM bundle of the CAs trusted for an https URL; default: the system's.");
  keys.key("loki_pusher.tls.cert_file", &S::client, &LokiClientOptions::cert_file)
      .describe("Client certificate (PEM), for mutual TLS.");
  keys.key("loki_pusher.tls.key_file", &S::client, &LokiClientOptions::key_file)
      .describe("Client key (PEM), for mutual TLS.");
  keys.key("loki_pusher.tls.insecure_skip_verify", &S::client,
           &LokiClientOptions::insecure_skip_verify)
      .describe("Do not verify Loki's certificate or name. For tests only.")
      .default_value(false);
  keys.key("loki_pusher.timeout.connect", &S::client, &LokiClientOptions::connect_timeout)
      .describe("Connecting to Loki (TCP and TLS).")
      .default_value("5s")
      .min("1ms");
  keys.key("loki_pusher.timeout.request", &S::client, &LokiClientOptions::request_timeout)
      .describe("One push, connection included; a push that times out is sent again.")
      .default_value("10s")
      .min("1ms");

  keys.key("loki_pusher.batch.max_bytes", &S::batcher, &loki::BatcherOptions::max_batch_bytes)
      .describe(
          "A batch is cut before it would exceed this many bytes (lines + 20 per entry + "
          "each stream's labels; about the protobuf size before snappy).")
      .default_value(std::int64_t{1 << 20})
      .min(std::int64_t{1024});
  keys.key("loki_pusher.batch.max_entries", &S::batcher, &loki::BatcherOptions::max_batch_entries)
      .describe("A batch is cut at this many entries.")
      .default_value(std::int64_t{10'000})
      .min(std::int64_t{1});
  keys.key("loki_pusher.batch.max_wait", &S::batcher, &loki::BatcherOptions::max_batch_wait)
      .describe("A batch is sent at the latest this long after its first entry.")
      .default_value("1s")
      .min("1ms");
  keys.choice("loki_pusher.format",
              {{"protobuf", loki::Encoding::kProtobuf}, {"json", loki::Encoding::kJson}},
              &S::sender, &SenderOptions::encoding)
      .describe(
          "protobuf: logproto.PushRequest, snappy (what Promtail and Alloy send). json: "
          "Loki's JSON push body.")
      .default_value("protobuf")
      .flag("--format", "FORMAT");
  keys.key("loki_pusher.gzip", &S::gzip)
      .describe("gzip the JSON body (Content-Encoding: gzip); format json only.")
      .default_value(false);
  keys.check({"loki_pusher.gzip", "loki_pusher.format"},
             [](const S& s) -> std::optional<std::string> {
               if (s.gzip && s.sender.encoding == loki::Encoding::kProtobuf)
                 return "true with loki_pusher.format protobuf: gzip applies to format json only "
                        "(protobuf bodies are snappy-compressed)";
               return std::nullopt;
             });
  keys.choice("loki_pusher.timestamps",
              {{"event_time", loki::TimestampSource::kEventTime},
               {"ingest_time", loki::TimestampSource::kIngestTime}},
              &S::entries, &loki::EntryOptions::timestamp)
      .describe(
          "event_time: a run under its @timestamp, an alert under startsAt (firing) or "
          "endsAt (resolved), so a re-sent entry is stored once. ingest_time: the Kafka "
          "record's timestamp.")
      .default_value("event_time")
      .flag("--timestamps", "SOURCE");

  keys.key("loki_pusher.limits.max_line_bytes", &S::batcher, &loki::BatcherOptions::max_line_bytes)
      .describe(
          "Longer records are dead-lettered (line_too_long) instead of sent; Loki's "
          "max_line_size (256KB = 262144 bytes).")
      .default_value(std::int64_t{256 * 1024})
      .min(std::int64_t{1});
  keys.key("loki_pusher.limits.max_entry_age", &S::batcher, &loki::BatcherOptions::max_entry_age)
      .describe(
          "Entries older than now - this are dead-lettered (greater_than_max_sample_age) "
          "instead of sent; set to Loki's reject_old_samples_max_age (Loki: 1w). 0s: off, "
          "Loki decides.")
      .default_value("0s")
      .min("0s");
  keys.key("loki_pusher.limits.max_future", &S::batcher, &loki::BatcherOptions::max_future)
      .describe(
          "Entries later than now + this are dead-lettered (too_far_in_future) instead of sent; "
          "Loki's creation_grace_period (10m). 0s: off, Loki decides.")
      .default_value("10m")
      .min("0s");
  keys.key("loki_pusher.limits.max_behind", &S::batcher, &loki::BatcherOptions::max_behind)
      .describe(
          "Entries older than the newest entry already batched for their stream minus this "
          "are dead-lettered (too_far_behind); at most Loki's max_chunk_age / 2. 0s: off.")
      .default_value("1h")
      .min("0s");
  keys.key("loki_pusher.limits.max_label_name_length", &S::entries,
           &loki::EntryOptions::label_limits, &loki::LabelLimits::max_name_length)
      .describe("Loki's max_label_name_length.")
      .default_value(std::int64_t{1024})
      .min(std::int64_t{1});
  keys.key("loki_pusher.limits.max_label_value_length", &S::entries,
           &loki::EntryOptions::label_limits, &loki::LabelLimits::max_value_length)
      .describe("Loki's max_label_value_length.")
      .default_value(std::int64_t{2048})
      .min(std::int64_t{1});
  keys.key("loki_pusher.limits.max_labels", &S::entries, &loki::EntryOptions::label_limits,
           &loki::LabelLimits::max_labels)
      .describe("Loki's max_label_names_per_series.")
      .default_value(std::int64_t{15})
      .min(std::int64_t{6});

  keys.key("loki_pusher.max_pending_bytes", &S::max_pending_bytes)
      .describe(
          "The input partitions are paused while more than this is held for Loki (being "
          "batched, queued, or retried), and resumed below half of it.")
      .default_value(std::int64_t{64} << 20)
      .min(std::int64_t{1} << 16);
  keys.key("loki_pusher.backoff.min", &S::sender, &SenderOptions::backoff,
           &loki::BackoffOptions::min)
      .describe(
          "First wait after a failed push (429, 5xx, no answer, 401/403/404); doubles "
          "with every failure in a row, with jitter.")
      .default_value("500ms")
      .min("1ms");
  keys.key("loki_pusher.backoff.max", &S::sender, &SenderOptions::backoff,
           &loki::BackoffOptions::max)
      .describe("Longest wait between attempts.")
      .default_value("30s")
      .min("1ms");
  keys.check({"loki_pusher.backoff.max", "loki_pusher.backoff.min"},
             [](const S& s) -> std::optional<std::string> {
               const loki::BackoffOptions& backoff = s.sender.backoff;
               if (backoff.max < backoff.min)
                 return "loki_pusher.backoff.max (" + config::format_duration(backoff.max) +
                        ") is below loki_pusher.backoff.min (" +
                        config::format_duration(backoff.min) + ")";
               return std::nullopt;
             });
  keys.key("loki_pusher.backoff.retry_after_max", &S::sender, &SenderOptions::backoff,
           &loki::BackoffOptions::retry_after_max)
      .describe("Loki's Retry-After is obeyed up to this long.")
      .default_value("5m")
      .min("0s");
  keys.key("loki_pusher.ready_probe_interval", &S::sender, &SenderOptions::probe_interval)
      .describe(
          "While there is nothing to push, Loki's /ready is asked this often (the loki "
          "readiness check).")
      .default_value("10s")
      .min("100ms");
  keys.key("loki_pusher.drain_timeout", &S::drain_timeout)
      .describe(
          "On SIGTERM, how long to keep pushing what was read before leaving; what is not "
          "pushed by then is read again by the next start.")
      .default_value("10s")
      .min("0s");
}

base::Status LokiPusherService::run(runtime::Context& ctx) {
  Pipeline pipeline(ctx, read_settings(ctx.config));
  return pipeline.run();
}

}  // namespace iw::loki_pusher
