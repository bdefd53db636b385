#include "producer_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <unistd.h>

#include <array>
#include <iostream>
#include <thread>

#include "delivery_ledger.h"
#include "iw/base/check.h"
#include "iw/events/raw_record_peek.h"
#include "iw/events/timestamp.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/producer.h"
#include "iw/logfile/reader.h"
#include "iw/metrics/record_flow.h"
#include "iw/pacing/pacing.h"
#include "iw/trace/trace_context.h"
#include "progress.h"

namespace iw::producer {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Every reason a record can be rejected for, known up front so each metric child is created
// once at start-up and never looked up per record.
constexpr std::array<std::string_view, 9> kRejectReasons = {
    "oversized_record", "truncated_record", "unexpected_content", "invalid_json",   "not_an_object",
    "missing_source",   "invalid_source",   "invalid_timestamp",  "kafka_rejected",
};

std::size_t reason_index(std::string_view reason) {
  for (std::size_t i = 0; i < kRejectReasons.size(); ++i) {
    if (kRejectReasons[i] == reason) return i;
  }
  IW_CHECK(false, "reject reason missing from kRejectReasons");
  return 0;
}

struct ProducerMetrics {
  explicit ProducerMetrics(prometheus::Registry& registry, const std::string& topic,
                           const std::string& dlq_topic)
      : flow(registry, topic, kRejectReasons),
        bytes_out(prometheus::BuildCounter()
                      .Name("ingestwatch_bytes_out_total")
                      .Help("Value bytes of records delivered, by topic.")
                      .Register(registry)
                      .Add({{"topic", topic}})),
        delivery_failures(prometheus::BuildCounter()
                              .Name("ingestwatch_delivery_failures_total")
                              .Help("Records Kafka did not accept after retries, by topic.")
                              .Register(registry)),
        main_failures(delivery_failures.Add({{"topic", topic}})),
        dlq_failures(delivery_failures.Add({{"topic", dlq_topic}})),
        delivery_latency(
            prometheus::BuildHistogram()
                .Name("ingestwatch_delivery_latency_seconds")
                .Help("Time from handing a record to Kafka to its acknowledgement.")
                .Register(registry)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                                                 10, 30})),
        in_flight(prometheus::BuildGauge()
                      .Name("ingestwatch_records_in_flight")
                      .Help("Records handed to Kafka and not yet acknowledged or failed.")
                      .Register(registry)
                      .Add({})) {}

  metrics::RecordFlowMetrics flow;
  prometheus::Counter& bytes_out;
  prometheus::Family<prometheus::Counter>& delivery_failures;
  prometheus::Counter& main_failures;
  prometheus::Counter& dlq_failures;
  prometheus::Histogram& delivery_latency;
  prometheus::Gauge& in_flight;
};

enum class OnInvalid { kDeadLetter, kSkip, kFail };

struct Settings {
  std::string input;
  logfile::Format format = logfile::Format::kAuto;
  std::string topic;
  std::string dlq_topic;
  double rate = 0;
  bool realtime = false;
  double speed = 1;
  bool loop = false;
  bool dry_run = false;
  OnInvalid on_invalid = OnInvalid::kDeadLetter;
  std::size_t max_record_bytes = 0;
  events::TimeZone time_zone = events::TimeZone::utc();
  milliseconds progress_interval{0};
  milliseconds delivery_timeout{0};
  bool create_topics = true;
  std::int32_t partitions = 1;
};

// One run over the input: reading, checking, pacing, producing and accounting.
class Publisher final : public kafka::DeliveryHandler {
 public:
  Publisher(runtime::Context& ctx, Settings settings)
      : ctx_(ctx),
        settings_(std::move(settings)),
        metrics_(ctx.metrics.registry(), settings_.topic, settings_.dlq_topic),
        rejects_log_(ctx.logger, 20, std::chrono::seconds{10}),
        limiter_(settings_.rate),
        schedule_(settings_.speed),
        execution_id_(trace::Uuid::random(ids_)),
        progress_(ctx.logger, settings_.progress_interval, isatty(STDERR_FILENO) == 1) {}

  base::Status run() {
    start_ = ctx_.clock.monotonic_now();
    // A pipe or terminal may go quiet for a long time (`tail -f ... | ingest-producer -`):
    // meanwhile deliveries are still reported, progress and metrics kept current, and a
    // SIGTERM or Ctrl-C ends the run.
    auto reader = logfile::RecordReader::open(settings_.input,
                                              {.format = settings_.format,
                                               .max_record_bytes = settings_.max_record_bytes,
                                               .while_waiting = [this] {
                                                 serve(0ms);
                                                 report_progress();
                                                 return !ctx_.shutdown.requested();
                                               }});
    if (!reader) return std::unexpected(reader.error());
    if (!settings_.dry_run) {
      if (auto status = connect(); !status) return status;
    }
    ctx_.logger.info("publishing", {{"input", settings_.input},
                                    {"format", logfile::format_name(reader->format())},
                                    {"topic", settings_.topic},
                                    {"execution_id", execution_id_.text()},
                                    {"dry_run", settings_.dry_run},
                                    {"realtime", settings_.realtime}});
    base::Status status = publish(*reader);
    const bool interrupted = ctx_.shutdown.requested();
    drain();
    progress_.finish();
    return finish(status, interrupted);
  }

  void on_delivery(const kafka::DeliveryReport& report) override {
    const bool delivered = !report.error.has_value();
    const auto outcome = ledger_.settle(report.correlation, delivered, report.possibly_persisted);
    const bool main = outcome.destination == DeliveryLedger::Destination::kMain;
    if (delivered) {
      if (outcome.latency) {
        metrics_.delivery_latency.Observe(std::chrono::duration<double>(*outcome.latency).count());
      }
      if (main) metrics_.flow.records_out.Increment();
      return;
    }
    (main ? metrics_.main_failures : metrics_.dlq_failures).Increment();
    // The broker is not taking records: stop reading rather than queue a file's worth more.
    stop_reading_ = true;
    if (!first_failure_) first_failure_ = report.error->message();
  }

 private:
  base::Status connect() {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    // Bounded memory whatever the file size: librdkafka's queue is the only buffer that grows
    // with the backlog. Users may still raise these in kafka.properties.
    client.properties.try_emplace("queue.buffering.max.kbytes", "16384");
    client.properties.try_emplace("linger.ms", "5");
    // Run records are JSON with repeated keys: lz4 shrinks them several times over for little
    // CPU, which means less for the network and the broker's disk.
    client.properties.try_emplace("compression.type", "lz4");
    client.properties["message.timeout.ms"] = std::to_string(settings_.delivery_timeout.count());
    if (settings_.create_topics) {
      auto admin = kafka::make_admin(client);
      if (!admin) return std::unexpected(admin.error());
      const std::vector<kafka::TopicSpec> topics = {
          {.name = settings_.topic, .partitions = settings_.partitions},
          {.name = settings_.dlq_topic, .partitions = 1}};
      if (auto status = (*admin)->create_topics(topics, 30s); !status) {
        ctx_.readiness.set_not_ready("kafka", "cannot create topics");
        return std::unexpected(status.error().with_context("creating topics"));
      }
    }
    auto producer = kafka::make_producer({.client = client}, *this);
    if (!producer) return std::unexpected(producer.error());
    producer_ = std::move(*producer);
    ctx_.readiness.set_ready("kafka");
    return {};
  }

  base::Status publish(logfile::RecordReader& reader) {
    while (!ctx_.shutdown.requested() && !stop_reading_) {
      auto next = reader.next();
      if (!next) return std::unexpected(next.error());
      if (!*next) {
        if (!settings_.loop) return {};
        if (auto status = reader.rewind(); !status) return status;
        schedule_.restart();
        ++totals_.passes;
        continue;
      }
      const logfile::RawRecord& record = **next;
      ++totals_.read;
      totals_.bytes_read = reader.bytes_consumed();
      totals_.input_size = reader.file_size();
      metrics_.flow.records_in.Increment();
      if (auto status = handle(record); !status) return status;
      // Delivery reports and progress every few records rather than every record: each is a
      // lock and a queue scan in librdkafka or a clock read, and the hot loop does not need
      // them more often. The local queue's own limit still bounds what is in flight.
      if (++since_service_ == kServeEvery) {
        since_service_ = 0;
        serve(0ms);
        report_progress();
      }
    }
    return {};
  }

  base::Status handle(const logfile::RawRecord& record) {
    if (record.problem) {
      return reject(record, logfile::problem_name(*record.problem),
                    logfile::describe(*record.problem), std::nullopt);
    }
    auto peek = peeker_.peek(record.bytes, logfile::RecordReader::kReadablePadding);
    if (!peek) return reject(record, peek.error().reason, peek.error().message, std::nullopt);
    std::string_view value = record.bytes;
    if (settings_.realtime) {
      auto times = events::read_times(record.bytes, *peek, settings_.time_zone);
      if (!times) return reject(record, times.error().reason, times.error().message, peek->source);
      const auto written = times->written();
      if (written) {
        const auto slot = schedule_.place(*written, ctx_.clock.monotonic_now(), ctx_.clock.now());
        wait_until(slot.send_at);
        events::shift_times(rewritten_, record.bytes, *peek, *times, slot.shift);
        value = rewritten_;
      }
    }
    if (settings_.rate > 0) {
      if (const auto delay = limiter_.delay(ctx_.clock.monotonic_now()); delay > 0ns) {
        wait_until(ctx_.clock.monotonic_now() + delay);
      }
    }
    if (settings_.dry_run) return {};

    const trace::TraceParent traceparent = trace::TraceParent::start(ids_);
    const std::array<kafka::HeaderView, 3> headers = {{
        {"execution_id", execution_id_.text()},
        {"traceparent", traceparent.text()},
        {"content-type", "application/json"},
    }};
    const std::uint64_t correlation = ledger_.book(DeliveryLedger::Destination::kMain);
    auto status = producer_->produce(
        {.topic = settings_.topic, .key = peek->source, .value = value, .headers = headers},
        correlation);
    if (!status) return produce_failed(record, status.error(), peek->source);
    metrics_.bytes_out.Increment(static_cast<double>(value.size()));
    return {};
  }

  // produce() refused a record outright (it never reached Kafka): withdraw its booking, then
  // decide whether the record or the broker is at fault.
  base::Status produce_failed(const logfile::RawRecord& record, const base::Error& error,
                              std::string_view key) {
    ledger_.cancel();
    // Kafka will never take this record (too large for the broker, say): it is bad input.
    if (error.code() == base::ErrorCode::kInvalidInput) {
      return reject(record, "kafka_rejected", error.message(), key);
    }
    ++not_queued_;
    metrics_.main_failures.Increment();
    stop_reading_ = true;
    if (!first_failure_) first_failure_ = error.message();
    return {};
  }

  base::Status reject(const logfile::RawRecord& record, std::string_view reason,
                      std::string_view message, std::optional<std::string_view> key) {
    const std::size_t index = reason_index(reason);
    ++totals_.invalid;
    metrics_.flow.rejected(index).Increment();
    rejects_log_.warn("record rejected", {{"reason", reason},
                                          {"error", message},
                                          {"input", settings_.input},
                                          {"line", record.line},
                                          {"byte_offset", record.byte_offset}});
    switch (settings_.on_invalid) {
      case OnInvalid::kSkip:
        return {};
      case OnInvalid::kFail:
        return base::fail(base::ErrorCode::kInvalidInput,
                          settings_.input + ": line " + std::to_string(record.line) + ", byte " +
                              std::to_string(record.byte_offset) + ": " + std::string(reason) +
                              ": " + std::string(message));
      case OnInvalid::kDeadLetter:
        break;
    }
    if (settings_.dry_run) return {};
    return dead_letter(record, reason, message, key, index);
  }

  base::Status dead_letter(const logfile::RawRecord& record, std::string_view reason,
                           std::string_view message, std::optional<std::string_view> key,
                           std::size_t reason_index) {
    const trace::TraceParent traceparent = trace::TraceParent::start(ids_);
    // A file has no partition or Kafka offset, so those are -1 and the position in the file
    // travels instead.
    const kafka::DeadLetterHeaders headers(
        {.reason = reason,
         .error = message,
         .stage = "producer",
         .topic = settings_.topic,
         .partition = -1,
         .offset = -1,
         .at = ctx_.clock.now(),
         .file = kafka::FilePosition{settings_.input, record.line, record.byte_offset},
         .execution_id = execution_id_.text(),
         .traceparent = traceparent.text()});
    const std::uint64_t correlation = ledger_.book(DeliveryLedger::Destination::kDeadLetter);
    auto status = producer_->produce({.topic = settings_.dlq_topic,
                                      .key = key,
                                      .value = record.bytes,
                                      .headers = headers.view()},
                                     correlation);
    if (!status) {
      ledger_.cancel();
      ++not_queued_;
      metrics_.dlq_failures.Increment();
      stop_reading_ = true;
      if (!first_failure_) first_failure_ = status.error().message();
      return {};
    }
    metrics_.flow.dead_lettered(reason_index).Increment();
    return {};
  }

  // Serves delivery reports while waiting, so acknowledgements keep flowing during pauses.
  void wait_until(base::MonotonicTime deadline) {
    while (!ctx_.shutdown.requested()) {
      const auto now = ctx_.clock.monotonic_now();
      if (now >= deadline) return;
      const auto step = std::min<nanoseconds>(deadline - now, 50ms);
      if (step < 1ms) {
        // poll() and the shutdown wait count whole milliseconds: a shorter wait would be 0 and
        // the loop would spin (at --rate 1000 a whole core). Sleep the rest instead.
        serve(0ms);
        std::this_thread::sleep_for(step);
      } else if (producer_) {
        serve(std::chrono::duration_cast<milliseconds>(step));
      } else {
        ctx_.shutdown.wait_for(std::chrono::duration_cast<milliseconds>(step));
      }
      report_progress();
    }
  }

  void serve(milliseconds timeout) {
    if (!producer_) return;
    producer_->poll(timeout);
    // Keep the ledger's send-time slots from being reused while their records are in flight.
    while (ledger_.outstanding() >= DeliveryLedger::kMaxInFlight - 1) producer_->poll(100ms);
  }

  // Waits for every outstanding record's report; after the delivery timeout plus a margin,
  // gives up on the rest so each still gets exactly one (failed) report.
  void drain() {
    if (!producer_) return;
    const auto limit = settings_.delivery_timeout + 10s;
    if (auto status = producer_->flush(limit); !status) {
      ctx_.logger.warn("flush timed out, purging", {{"in_flight", producer_->in_flight()}});
      producer_->purge();
      for (int i = 0; i < 100 && producer_->in_flight() > 0; ++i) producer_->poll(100ms);
    }
  }

  void report_progress() {
    fill_totals();
    progress_.update(totals_, ctx_.clock.monotonic_now());
  }

  void fill_totals() {
    using Destination = DeliveryLedger::Destination;
    totals_.sent = ledger_.delivered(Destination::kMain);
    totals_.failed =
        ledger_.failed(Destination::kMain) + ledger_.failed(Destination::kDeadLetter) + not_queued_;
    totals_.possibly_persisted = ledger_.possibly_persisted();
    totals_.dead_lettered = ledger_.delivered(Destination::kDeadLetter);
    totals_.in_flight = ledger_.outstanding();
    totals_.elapsed = ctx_.clock.monotonic_now() - start_;
    metrics_.in_flight.Set(static_cast<double>(totals_.in_flight));
  }

  base::Status finish(base::Status status, bool interrupted) {
    fill_totals();
    std::cerr << format_summary(totals_, settings_.input, settings_.topic, settings_.dlq_topic,
                                settings_.dry_run, interrupted);
    const double seconds = std::chrono::duration<double>(totals_.elapsed).count();
    ctx_.logger.info("summary", {{"read", totals_.read},
                                 {"sent", totals_.sent},
                                 {"invalid", totals_.invalid},
                                 {"dead_lettered", totals_.dead_lettered},
                                 {"failed", totals_.failed},
                                 {"possibly_persisted", totals_.possibly_persisted},
                                 {"passes", totals_.passes},
                                 {"seconds", seconds},
                                 {"records_per_second",
                                  seconds > 0 ? static_cast<double>(totals_.read) / seconds : 0.0},
                                 {"execution_id", execution_id_.text()},
                                 {"dry_run", settings_.dry_run},
                                 {"interrupted", interrupted}});
    if (!status) return status;
    if (totals_.failed > 0) {
      return base::fail(base::ErrorCode::kUnavailable,
                        std::to_string(totals_.failed) + " records not delivered (" +
                            std::to_string(totals_.possibly_persisted) +
                            " possibly persisted); first error: " + first_failure_.value_or("?"));
    }
    return {};
  }

  runtime::Context& ctx_;
  Settings settings_;
  ProducerMetrics metrics_;
  log::RateLimitedLog rejects_log_;
  pacing::RateLimiter limiter_;
  pacing::ReplaySchedule schedule_;
  trace::IdGenerator ids_;
  trace::Uuid execution_id_;
  ProgressReporter progress_;
  events::RawRecordPeeker peeker_;
  DeliveryLedger ledger_{ctx_.clock};
  std::unique_ptr<kafka::Producer> producer_;
  std::string rewritten_;
  RunTotals totals_;
  static constexpr int kServeEvery = 64;
  int since_service_ = 0;
  // Records produce() refused for want of room or a broker: never queued, never delivered.
  std::uint64_t not_queued_ = 0;
  bool stop_reading_ = false;
  std::optional<std::string> first_failure_;
  base::MonotonicTime start_{};
};

}  // namespace

runtime::ServiceInfo producer_info() {
  return {
      .name = "producer",
      .binary = "ingest-producer",
      .summary = "publishes connector run records from a logs file to Kafka",
      .default_http_port = 9464,
      .usage_notes =
          "Arguments:\n"
          "  FILE             the logs file: a JSON array or newline-delimited JSON (detected),\n"
          "                   '-' for stdin; overrides producer.input\n\n"
          "Every record is published unchanged to producer.topic, keyed by Source, with the\n"
          "headers execution_id (one per run), traceparent and content-type. Records that are\n"
          "not a JSON object with a Source string are reported with their line and byte offset\n"
          "and, by default, dead-lettered. Exit status 0 only when every record was delivered.\n\n"
          "Examples:\n"
          "  ingest-producer data/logs.json\n"
          "  ingest-producer --realtime --speed 60 --loop data/logs.json\n"
          "  ingest-producer --dry-run big.ndjson"};
}

void ProducerService::declare(config::Schema& schema) const {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("producer.input", &S::input)
      .describe("The logs file to publish ('-' for stdin); the FILE argument wins over it.")
      .required()
      .flag("--input", "FILE")
      .argument("FILE");
  keys.choice("producer.format",
              {{"auto", logfile::Format::kAuto},
               {"ndjson", logfile::Format::kNdjson},
               {"json_array", logfile::Format::kJsonArray}},
              &S::format)
      .describe("Layout of the input: auto (detect), ndjson or json_array.")
      .default_value("auto")
      .flag("--format", "FORMAT");
  keys.key("producer.topic", &S::topic)
      .describe("Topic the raw run records go to.")
      .default_value("ingestion-logs")
      .flag("--topic", "TOPIC");
  keys.key("producer.dlq_topic", &S::dlq_topic)
      .describe("Topic rejected records go to, with dlq.* headers.")
      .default_value("ingestion-logs-dlq")
      .flag("--dlq-topic", "TOPIC");
  keys.key("producer.rate", &S::rate)
      .describe("Records per second at most; 0 for as fast as possible.")
      .default_value(0.0)
      .min(0.0)
      .flag("--rate", "N");
  keys.key("producer.realtime", &S::realtime)
      .describe(
          "Replay at the records' own pace (by when each job wrote its record: Fin, else "
          "Debut), with Debut and Fin moved to the present.")
      .default_value(false)
      .flag("--realtime");
  keys.key("producer.speed", &S::speed)
      .describe("With realtime, how many times faster than the records' own pace.")
      .default_value(1.0)
      .min(0.001)
      .flag("--speed", "F");
  keys.key("producer.loop", &S::loop)
      .describe("At the end of the input, start it again, until stopped.")
      .default_value(false)
      .flag("--loop");
  keys.key("producer.dry_run", &S::dry_run)
      .describe("Read and check every record; publish nothing.")
      .default_value(false)
      .flag("--dry-run");
  keys.choice(
          "producer.on_invalid",
          {{"dlq", OnInvalid::kDeadLetter}, {"skip", OnInvalid::kSkip}, {"fail", OnInvalid::kFail}},
          &S::on_invalid)
      .describe(
          "What to do with a record that is not a JSON object with a Source string: dlq "
          "(publish it to the dead-letter topic), skip, or fail (stop with an error).")
      .default_value("dlq")
      .flag("--on-invalid", "MODE");
  keys.key("producer.max_record_bytes", &S::max_record_bytes)
      .describe("Records longer than this are rejected as oversized_record.")
      .default_value(std::int64_t{1'000'000})
      .min(std::int64_t{1024})
      .max(std::int64_t{100'000'000});
  keys.parsed("producer.time_zone", events::TimeZone::from_name, &S::time_zone)
      .describe("Zone of timestamps without an offset (UTC, +02:00, Europe/Paris): realtime only.")
      .default_value("UTC")
      .flag("--time-zone", "TZ");
  keys.key("producer.progress_interval", &S::progress_interval)
      .describe("How often a progress line is logged when stderr is not a terminal.")
      .default_value("5s")
      .min("100ms");
  keys.key("producer.delivery_timeout", &S::delivery_timeout)
      .describe(
          "How long Kafka may take to accept a record (message.timeout.ms) before it counts as not "
          "delivered.")
      .default_value("2m")
      .min("1s")
      .flag("--delivery-timeout", "D");
  keys.key("producer.create_topics", &S::create_topics)
      .describe("Create the topics when they do not exist.")
      .default_value(true);
  keys.key("producer.partitions", &S::partitions)
      .describe("Partitions of the topic when the producer creates it.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
}

base::Status ProducerService::run(runtime::Context& ctx) {
  Publisher publisher(ctx, ctx.config.read<Settings>());
  return publisher.run();
}

}  // namespace iw::producer
