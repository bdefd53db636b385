#include "pusher_settings.h"

#include <optional>

#include "iw/config/binder.h"
#include "iw/runtime/version.h"
#include "iw/stage/poison_keys.h"

namespace iw::loki_pusher {
namespace {

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
  // A lane per push in flight: the batcher shares the streams out, the sender pushes one batch
  // per lane at a time.
  s.batcher.lanes = s.sender.max_in_flight;
  return s;
}

void declare_settings(config::Schema& schema) {
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
  keys.key("loki_pusher.max_in_flight", &S::sender, &SenderOptions::max_in_flight)
      .describe(
          "Pushes in flight at once, each on a connection of its own. Streams are shared out "
          "among this many lanes by their labels; a lane's batches are pushed one at a time, in "
          "order, so no stream ever has two pushes in flight.")
      .default_value(std::int64_t{4})
      .min(std::int64_t{1})
      .max(std::int64_t{64});
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
          "batched, queued, or retried), and resumed below half of it. The consumer prefetches "
          "as much (8 to 16 MiB) unless kafka.properties sets queued.max.messages.kbytes.")
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
  keys.key("loki_pusher.stream_limit.max_attempts", &S::sender,
           &SenderOptions::stream_limit_attempts)
      .describe(
          "Loki's active-stream limit (429 \"Maximum active stream limit exceeded\"): a stream "
          "refused this many times, backing off between attempts while other streams go on, has "
          "its entries dead-lettered as stream_limit.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
  keys.key("loki_pusher.dedup.max_ids", &S::dedup_max_ids)
      .describe(
          "Runs remembered by event.id: a run whose event.id was taken at another position "
          "among the last this many (a record sent twice) is not pushed again, and counted in "
          "ingestwatch_duplicate_records_total. About 90 bytes each; 0 turns it off.")
      .default_value(std::int64_t{100'000})
      .min(std::int64_t{0});
  keys.key("loki_pusher.drain_timeout", &S::drain_timeout)
      .describe(
          "On SIGTERM, how long to keep pushing what was read before leaving; what is not "
          "pushed by then is read again by the next start.")
      .default_value("10s")
      .min("0s");
  stage::declare_poison_keys(keys, "loki_pusher", &S::poison);
}

}  // namespace iw::loki_pusher
