#include "loki_pusher_service.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "iw/loki/batcher.h"
#include "iw/loki/entry.h"
#include "iw/runtime/version.h"
#include "iw/stage/poison_keys.h"
#include "iw/stage/stage.h"
#include "ledger.h"
#include "loki_client.h"
#include "push_policy.h"
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
  std::vector<std::string> topics;  // the stage's input topics, in the order of their indices
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
  stage::PoisonPolicy poison;
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

// Every reason a record can be dead-lettered for: the loki library's (the stage adds its own).
std::vector<std::string> reason_names() {
  std::vector<std::string> names;
  for (const loki::Reason reason : loki::all_reasons()) {
    names.emplace_back(loki::reason_name(reason));
  }
  return names;
}

stage::StageOptions stage_options(const runtime::Context& ctx, const Settings& s) {
  stage::StageOptions options{
      .name = "loki-pusher",
      .input_topics = s.topics,
      .group_id = s.group_id,
      .delivery = stage::Delivery::kStoredOffsets,
      .dlq_topic = s.dlq_topic,
      .client = runtime::kafka_client_options(ctx),
      // What librdkafka prefetches is memory too, outside the pending-bytes limit: 16 MiB
      // instead of its 64 MiB default. Not less: librdkafka 2.0 waits about a second before
      // fetching again once this queue is full, so 8 MiB held a backlog to ~16 000 lines/s and
      // 16 MiB lets it reach ~44 000 (bench/loki_pusher_throughput), at ~52 MiB peak RSS. The
      // user's kafka.properties win.
      .consumer_properties = {{"queued.max.messages.kbytes", "16384"}},
      // Stored offsets reach Kafka within a second: after a crash, less is read and sent again.
      .store_interval = 1000ms,
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
        batcher_(settings_.batcher, ctx.clock) {}

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
    const auto topic = static_cast<std::size_t>(
        std::ranges::find(settings_.topics, record.topic()) - settings_.topics.begin());
    const loki::EntryRef ref{.topic = static_cast<std::int32_t>(topic),
                             .partition = record.partition(),
                             .offset = record.offset()};
    auto entry = settings_.kinds.at(topic) == Kind::kRun
                     ? builder_.enriched_run(record.value(), ref, record.timestamp())
                     : builder_.alert_event(record.value(), ref, record.timestamp());
    if (!entry) return refuse(record, ref, entry.error(), out);
    if (auto rejected = batcher_.add(std::move(*entry))) return refuse(record, ref, *rejected, out);
    ledger_.hold(out.defer(),
                 {.key = record.key() ? std::optional<std::string>(*record.key()) : std::nullopt,
                  .execution_id = std::string(record.header("execution_id").value_or("")),
                  .traceparent = std::string(record.header("traceparent").value_or("")),
                  .arrived = record.timestamp()});
    return {};
  }

  base::Status tick(stage::Input& input, stage::Output& out) override {
    submit_due();
    if (auto status = apply_outcomes(out); !status) return status;
    flow_control(input);
    return {};
  }

  milliseconds poll_timeout() const override {
    const auto due = batcher_.due_at();
    if (!due) return milliseconds::max();
    return std::max(0ms, std::chrono::ceil<milliseconds>(*due - ctx_.clock.monotonic_now()));
  }

  // Loki takes pushes, just slower than Kafka delivers: take no record for a moment. What
  // librdkafka prefetched meanwhile is bounded by queued.max.messages.kbytes.
  bool wants_input() const override {
    return input_->input_paused() || pending_bytes() <= settings_.max_pending_bytes;
  }

  void wait(milliseconds timeout) override {
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
          (void)ledger_.release(input_ref(entry.ref));
        });
        abandoned_entries_ += outcome.batch.entry_count;
        continue;
      }
      const Settlement settlement =
          settle(outcome.batch, outcome.rejections, outcome.earlier_attempt_may_have_landed);
      for (const loki::EntryRef& accepted : settlement.accepted) {
        const stage::InputRef ref = input_ref(accepted);
        const auto meta = ledger_.release(ref);
        out.complete(ref, meta ? meta->arrived : ctx_.clock.now());
      }
      metrics_.entries_pushed.Increment(static_cast<double>(settlement.accepted.size()));
      metrics_.bytes_pushed.Increment(static_cast<double>(settlement.accepted_line_bytes));
      for (const DeadLetter& letter : settlement.dead_letters) {
        const loki::BatchEntry& entry = outcome.batch.streams[letter.stream].entries[letter.entry];
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
  loki::Batcher batcher_;
  Ledger ledger_;
  stage::Input* input_ = nullptr;  // the stage's, from started()
  std::unique_ptr<Sender> sender_;
  std::size_t submitted_bytes_ = 0;  // batches handed to the sender, not yet settled
  std::uint64_t abandoned_entries_ = 0;
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
  keys.key("loki_pusher.backoff.min", &S::sender, &SenderOptions::backoff, &BackoffOptions::min)
      .describe(
          "First wait after a failed push (429, 5xx, no answer, 401/403/404); doubles "
          "with every failure in a row, with jitter.")
      .default_value("500ms")
      .min("1ms");
  keys.key("loki_pusher.backoff.max", &S::sender, &SenderOptions::backoff, &BackoffOptions::max)
      .describe("Longest wait between attempts.")
      .default_value("30s")
      .min("1ms");
  keys.check({"loki_pusher.backoff.max", "loki_pusher.backoff.min"},
             [](const S& s) -> std::optional<std::string> {
               const BackoffOptions& backoff = s.sender.backoff;
               if (backoff.max < backoff.min)
                 return "loki_pusher.backoff.max (" + config::format_duration(backoff.max) +
                        ") is below loki_pusher.backoff.min (" +
                        config::format_duration(backoff.min) + ")";
               return std::nullopt;
             });
  keys.key("loki_pusher.backoff.retry_after_max", &S::sender, &SenderOptions::backoff,
           &BackoffOptions::retry_after_max)
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
  stage::declare_poison_keys(keys, "loki_pusher", &S::poison);
}

base::Status LokiPusherService::run(runtime::Context& ctx) {
  const Settings settings = read_settings(ctx.config);
  Pusher pusher(ctx, settings);
  stage::Stage stage(ctx, stage_options(ctx, settings), pusher, clients_);
  return stage.run();
}

}  // namespace iw::loki_pusher
