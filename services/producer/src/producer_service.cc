#include "producer_service.h"

#include <unistd.h>

#include <array>
#include <iostream>
#include <thread>

#include "delivery_ledger.h"
#include "iw/events/raw_record_peek.h"
#include "iw/kafka/dead_letter.h"
#include "iw/logfile/reader.h"
#include "iw/pacing/pacing.h"
#include "iw/stage/publisher.h"
#include "iw/trace/trace_context.h"
#include "producer_metrics.h"
#include "progress.h"
#include "settings.h"

namespace iw::producer {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// The producer's Kafka side is a stage::Publisher: its own settings on top of the common ones.
stage::PublisherOptions publisher_options(runtime::Context& ctx, const Settings& settings) {
  return {.name = "producer",
          .topic = settings.topic,
          .dlq_topic = settings.dlq_topic,
          .create_topics =
              settings.create_topics
                  ? std::vector<kafka::TopicSpec>{{.name = settings.topic,
                                                   .partitions = settings.partitions},
                                                  {.name = settings.dlq_topic, .partitions = 1}}
                  : std::vector<kafka::TopicSpec>{},
          .client = runtime::kafka_client_options(ctx),
          // Bounded memory whatever the file size: librdkafka's queue is the only buffer that grows
          // with the backlog. Run records are JSON with repeated keys: lz4 shrinks them several
          // times over for little CPU, which means less for the network and the broker's disk.
          // Users may still change these in kafka.properties.
          .producer_properties = {{"queue.buffering.max.kbytes", "16384"},
                                  {"linger.ms", "5"},
                                  {"compression.type", "lz4"}},
          .delivery_timeout = settings.delivery_timeout,
          // Keeps the ledger's send-time slots from being reused while their records are in flight.
          .max_in_flight = DeliveryLedger::kMaxInFlight - 1,
          .dead_letter_head_bytes = settings.dead_letter_head_bytes};
}

// One run over the input: reading, checking, pacing, publishing and accounting.
class FileRun final : public kafka::DeliveryHandler {
 public:
  FileRun(runtime::Context& ctx, Settings settings, kafka::ClientFactory& clients)
      : ctx_(ctx),
        settings_(std::move(settings)),
        metrics_(ctx.metrics.registry(), settings_.topic, settings_.dlq_topic),
        rejects_log_(ctx.logger, 20, std::chrono::seconds{10}),
        limiter_(settings_.rate),
        schedule_(settings_.speed),
        execution_id_(trace::Uuid::random(ids_)),
        progress_(ctx.logger, settings_.progress_interval, isatty(STDERR_FILENO) == 1),
        publisher_(ctx, publisher_options(ctx, settings_), *this, clients) {}

  base::Status run() {
    start_ = ctx_.clock.monotonic_now();
    // A pipe or terminal may go quiet for a long time (`tail -f ... | ingest-producer -`):
    // meanwhile deliveries are still reported, progress and metrics kept current, and a
    // SIGTERM or Ctrl-C ends the run.
    auto reader = logfile::RecordReader::open(settings_.input,
                                              {.format = settings_.format,
                                               .max_record_bytes = settings_.max_record_bytes,
                                               .while_waiting = [this] {
                                                 publisher_.serve(0ms);
                                                 report_progress();
                                                 return !ctx_.shutdown.requested();
                                               }});
    if (!reader) return std::unexpected(reader.error());
    if (!settings_.dry_run) {
      if (auto status = publisher_.start(); !status) return status;
    }
    ctx_.logger.info("publishing", {{"input", settings_.input},
                                    {"format", logfile::format_name(reader->format())},
                                    {"topic", settings_.topic},
                                    {"execution_id", execution_id_.text()},
                                    {"dry_run", settings_.dry_run},
                                    {"realtime", settings_.realtime}});
    base::Status status = publish(*reader);
    const bool interrupted = ctx_.shutdown.requested();
    // Every outstanding record's report; after the delivery timeout plus a margin, the rest
    // are given up on, so each still gets exactly one (failed) report.
    publisher_.drain();
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
        publisher_.serve(0ms);
        report_progress();
      }
    }
    return {};
  }

  base::Status handle(const logfile::RawRecord& record) {
    if (record.problem) {
      if (record.overflow) {
        // The reader kept its head and hashed the rest as it went by: no size of line stops
        // the run or is held whole in memory.
        return reject(record, logfile::problem_name(*record.problem),
                      "the record is " + std::to_string(record.overflow->size) +
                          " bytes, longer than producer.max_record_bytes (" +
                          std::to_string(settings_.max_record_bytes) +
                          "); its first bytes are kept",
                      std::nullopt);
      }
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
    auto status = publisher_.write(
        {.topic = settings_.topic, .key = peek->source, .value = value, .headers = headers},
        correlation);
    if (!status) return produce_failed(record, status.error(), peek->source);
    metrics_.bytes_out.Increment(static_cast<double>(value.size()));
    return {};
  }

  // Kafka refused a record outright (it never got there): withdraw its booking, then decide
  // whether the record or the broker is at fault.
  base::Status produce_failed(const logfile::RawRecord& record, const base::Error& error,
                              std::string_view key) {
    // Kafka will never take this record (too large for the broker, say): it is bad input.
    if (error.code() == base::ErrorCode::kInvalidInput) {
      ledger_.cancel();
      return reject(record, "kafka_rejected", error.message(), key);
    }
    not_queued(metrics_.main_failures, error);
    return {};
  }

  // A record the broker did not take and never will get a report: it counts as failed, and
  // reading stops.
  void not_queued(prometheus::Counter& failures, const base::Error& error) {
    ledger_.cancel();
    ++not_queued_;
    failures.Increment();
    stop_reading_ = true;
    if (!first_failure_) first_failure_ = error.message();
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
    const std::uint64_t correlation = ledger_.book(DeliveryLedger::Destination::kDeadLetter);
    std::string sha256;
    std::optional<kafka::Oversized> oversized;
    if (record.overflow) {
      sha256 = base::to_hex(record.overflow->sha256);
      oversized = kafka::Oversized{.original_size = record.overflow->size, .sha256 = sha256};
    }
    // A record too large to dead-letter whole is dead-lettered as oversized_record (its head).
    auto written = publisher_.dead_letter(
        {.value = record.bytes, .key = key, .execution_id = execution_id_.text()}, reason, message,
        kafka::FilePosition{settings_.input, record.line, record.byte_offset}, correlation,
        oversized);
    if (!written) {
      not_queued(metrics_.dlq_failures, written.error());
      return {};
    }
    metrics_.flow
        .dead_lettered(*written == reason ? reason_index : producer::reason_index(*written))
        .Increment();
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
        publisher_.serve(0ms);
        std::this_thread::sleep_for(step);
      } else if (publisher_.started()) {
        publisher_.serve(std::chrono::duration_cast<milliseconds>(step));
      } else {
        ctx_.shutdown.wait_for(std::chrono::duration_cast<milliseconds>(step));
      }
      report_progress();
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
    log_summary(ctx_.logger, totals_, execution_id_.text(), settings_.dry_run, interrupted);
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
  std::string rewritten_;
  RunTotals totals_;
  static constexpr int kServeEvery = 64;
  int since_service_ = 0;
  // Records Kafka refused for want of room or a broker: never queued, never delivered.
  std::uint64_t not_queued_ = 0;
  bool stop_reading_ = false;
  std::optional<std::string> first_failure_;
  base::MonotonicTime start_{};
  // Last: its producer reports to this object, whose ledger and metrics must outlive it.
  stage::Publisher publisher_;
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

void ProducerService::declare(config::Schema& schema) const { declare_settings(schema); }

base::Status ProducerService::run(runtime::Context& ctx) {
  FileRun run(ctx, ctx.config.read<Settings>(), clients());
  return run.run();
}

}  // namespace iw::producer
