#include "producer_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <iostream>
#include <thread>

#include "checkpoint.h"
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
    if (auto status = start_checkpoint(); !status) return status;
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
    // With --loop the input has no end: a stop request is how such a run ends.
    const bool interrupted = ctx_.shutdown.requested() && !settings_.loop;
    // Every outstanding record's report; after the delivery timeout plus a margin, the rest
    // are given up on, so each still gets exactly one (failed) report.
    publisher_.drain();
    progress_.finish();
    // Complete only when the input was read to its end: a --loop run stopped mid-pass is not.
    save_checkpoint_now(status && !ctx_.shutdown.requested() && !stop_reading_);
    return finish(status, interrupted);
  }

  /// The run was stopped before the end of its input, everything read being delivered.
  [[nodiscard]] bool interrupted() const { return interrupted_; }

  void on_delivery(const kafka::DeliveryReport& report) override {
    const bool delivered = !report.error.has_value();
    const auto outcome = ledger_.settle(report.correlation, delivered, report.possibly_persisted);
    checkpoint_due_ = checkpoint_due_ || delivered;
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
        if (ctx_.shutdown.requested()) return {};  // a stop request cut a wait for input short
        if (skipper_) {
          if (auto status = skipper_->at_end(); !status) return status;
        }
        if (!settings_.loop) return {};
        schedule_.restart();  // before next_pass() checkpoints the new pass, without an anchor
        if (auto status = next_pass(); !status) return status;
        if (auto status = reader.rewind(); !status) return status;
        ++totals_.passes;
        continue;
      }
      const logfile::RawRecord& record = **next;
      const InputPosition after =
          advance(read_position_, record.bytes, record.line, record.byte_offset);
      if (skipper_ && !skipper_->done()) {
        // Resuming: the checkpoint covers this record; it was delivered before.
        auto skip = skipper_->skip(record.bytes, record.line, record.byte_offset);
        if (!skip) return std::unexpected(skip.error());
        read_position_ = after;
        ++resumed_past_;
        if (skipper_->done()) log_resumed();
        continue;
      }
      read_position_ = after;
      ++totals_.read;
      totals_.bytes_read = reader.bytes_consumed();
      totals_.input_size = reader.file_size();
      metrics_.flow.records_in.Increment();
      if (!room_for_bookings()) return {};
      ledger_.reading(after);
      auto handled = handle(record);
      // A record whose handling failed has no outcome: the position stays before it, so a
      // resume reads it again.
      if (!handled) return handled;
      ledger_.read_done();
      // Delivery reports and progress every few records rather than every record: each is a
      // lock and a queue scan in librdkafka or a clock read, and the hot loop does not need
      // them more often. The local queue's own limit still bounds what is in flight.
      if (++since_service_ == kServeEvery) {
        since_service_ = 0;
        publisher_.serve(0ms);
        report_progress();
        maybe_save_checkpoint();
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

    // The root of the record's trace (docs/TRACING.md): sampled by tracing.sampling_ratio, the
    // decision in the traceparent's flags; the span ends at the record's delivery report.
    stage::RecordSpan& span = publisher_.open_span();
    if (span.recording()) {
      span.set("ingestwatch.source", peek->source);
      span.set("ingestwatch.execution_id", execution_id_.text());
    }
    const std::array<kafka::HeaderView, 3> headers = {{
        {"execution_id", execution_id_.text()},
        {"traceparent", span.traceparent()},
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
    ledger_.refuse();
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
      maybe_save_checkpoint();
    }
  }

  // --- The checkpoint (docs/PRODUCER.md, "Checkpoint and --resume") ---

  // Reads the checkpoint to resume from, if asked, and starts tracking the input position.
  base::Status start_checkpoint() {
    if (settings_.checkpoint.empty() || settings_.dry_run) return {};
    struct stat info {};
    if (::stat(settings_.input.c_str(), &info) == 0) {
      checkpoint_.device = static_cast<std::uint64_t>(info.st_dev);
      checkpoint_.inode = static_cast<std::uint64_t>(info.st_ino);
      checkpoint_.size = static_cast<std::uint64_t>(info.st_size);
    }
    checkpoint_.input = settings_.input;
    checkpoint_.realtime = settings_.realtime;
    checkpoint_.speed = settings_.speed;
    checkpoint_.execution_id = execution_id_.text();
    InputPosition base;
    if (settings_.resume) {
      auto loaded = load_checkpoint(settings_.checkpoint);
      if (!loaded) return std::unexpected(loaded.error());
      if (!*loaded) {
        ctx_.logger.info("no checkpoint yet: publishing from the beginning",
                         {{"checkpoint", settings_.checkpoint}});
      } else {
        const Checkpoint& previous = **loaded;
        if (auto status = check_resumable(
                previous,
                {.realtime = settings_.realtime, .speed = settings_.speed, .loop = settings_.loop});
            !status) {
          return status;
        }
        if (previous.device != checkpoint_.device || previous.inode != checkpoint_.inode) {
          ctx_.logger.info(
              "the input is another file than the checkpoint's: its records are "
              "checked against the checkpoint",
              {{"input", settings_.input}, {"checkpoint_input", previous.input}});
        }
        checkpoint_.pass = previous.pass;
        totals_.passes = previous.pass;
        if (previous.anchor_record_time && previous.anchor_wall_time) {
          schedule_.resume(*previous.anchor_record_time, *previous.anchor_wall_time,
                           ctx_.clock.monotonic_now(), ctx_.clock.now());
          checkpoint_.anchor_record_time = previous.anchor_record_time;
          checkpoint_.anchor_wall_time = previous.anchor_wall_time;
        }
        resumed_from_ = previous;
        if (previous.position.records > 0) {
          skipper_.emplace(previous.position);
        }
        base = previous.position;
        ctx_.logger.info("resuming", {{"checkpoint", settings_.checkpoint},
                                      {"records", previous.position.records},
                                      {"byte_offset", previous.position.byte_end},
                                      {"line", previous.position.line},
                                      {"pass", previous.pass},
                                      {"complete", previous.complete},
                                      {"resumed_execution_id", previous.execution_id}});
      }
    }
    ledger_.track_input(base);
    saved_ = base;
    return {};
  }

  // The checkpoint's position waits for the oldest unsettled booking. Kafka bounds how many
  // records are in flight, not how far apart the oldest and the newest are: while one
  // partition's reports lag, the others' keep coming. Reading waits for that distance too
  // (a record books at most two: itself and its dead letter). False: stopping.
  bool room_for_bookings() {
    while (ledger_.input_backlog() + 2 >= DeliveryLedger::kMaxInFlight) {
      if (ctx_.shutdown.requested() || stop_reading_) return false;
      publisher_.serve(50ms);
    }
    return true;
  }

  void log_resumed() {
    ctx_.logger.info("resumed: skipped the records the checkpoint covers",
                     {{"records", resumed_past_},
                      {"byte_offset", read_position_.byte_end},
                      {"line", read_position_.line}});
  }

  // With --loop, the next pass starts from the first record: the checkpoint says so once every
  // record of this pass is settled (its position restarts at 0).
  base::Status next_pass() {
    if (!ledger_.acknowledged()) {
      read_position_ = {};
      return {};
    }
    while (ledger_.outstanding() > 0 && !ctx_.shutdown.requested() && !stop_reading_) {
      publisher_.serve(50ms);
      report_progress();
    }
    // Stopping (a failed record holds the position too): the publish loop ends next.
    if (ledger_.outstanding() > 0 || stop_reading_) return {};
    read_position_ = {};
    ledger_.track_input({});
    ++checkpoint_.pass;
    checkpoint_.anchor_record_time.reset();
    checkpoint_.anchor_wall_time.reset();
    checkpoint_due_ = true;
    save_checkpoint_now(false, /*force=*/true);
    return {};
  }

  void maybe_save_checkpoint() {
    if (!checkpoint_due_ || !ledger_.acknowledged()) return;
    const auto now = ctx_.clock.monotonic_now();
    if (now < next_checkpoint_) return;
    next_checkpoint_ = now + settings_.checkpoint_interval;
    save_checkpoint_now(false);
  }

  // Writes the acknowledged position, if it moved (or `force`); `complete`: the whole input
  // was delivered.
  void save_checkpoint_now(bool complete, bool force = false) {
    const auto position = ledger_.acknowledged();
    if (!position) return;
    checkpoint_due_ = false;
    if (!force && !complete && *position == saved_ && saved_once_) return;
    if (settings_.realtime && !checkpoint_.anchor_record_time) {
      if (const auto& anchor = schedule_.anchor()) {
        checkpoint_.anchor_record_time = anchor->record_time;
        checkpoint_.anchor_wall_time = anchor->wall;
      }
    }
    checkpoint_.position = *position;
    checkpoint_.complete = complete;
    checkpoint_.written_at = ctx_.clock.now();
    if (auto status = save_checkpoint(settings_.checkpoint, checkpoint_); !status) {
      checkpoint_log_.warn("checkpoint not written", {{"detail", status.error().message()}});
      return;
    }
    saved_ = *position;
    saved_once_ = true;
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
    if (interrupted) {
      // Not a success: a job wrapper must be able to tell (exit status 3, main.cc).
      interrupted_ = true;
      const auto position = ledger_.acknowledged();
      return base::fail(base::ErrorCode::kAborted,
                        "stopped before the end of the input, after " +
                            std::to_string(read_position_.records) + " records" +
                            (position ? "; delivered up to line " + std::to_string(position->line) +
                                            " (byte " + std::to_string(position->byte_end) +
                                            "): run again with --resume to continue"
                                      : ""));
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
  bool interrupted_ = false;
  std::optional<std::string> first_failure_;
  // The checkpoint: where reading stands, what it resumed from, and what was last written.
  InputPosition read_position_;
  std::optional<ResumeSkipper> skipper_;
  std::optional<Checkpoint> resumed_from_;
  std::uint64_t resumed_past_ = 0;
  Checkpoint checkpoint_;
  InputPosition saved_;
  bool saved_once_ = false;
  bool checkpoint_due_ = false;
  base::MonotonicTime next_checkpoint_{};
  log::RateLimitedLog checkpoint_log_{ctx_.logger, 5, std::chrono::seconds{60}};
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
          "and, by default, dead-lettered.\n\n"
          "Exit status: 0 when the whole input was delivered; 1 when the run failed (records not\n"
          "delivered, a read error, --on-invalid fail); 2 for a configuration error; 3 when a\n"
          "signal stopped it before the end of the input (everything read was delivered). With\n"
          "--checkpoint FILE --resume, a run continues where the last one was acknowledged.\n\n"
          "Examples:\n"
          "  ingest-producer data/logs.json\n"
          "  ingest-producer --realtime --speed 60 --loop data/logs.json\n"
          "  ingest-producer --dry-run big.ndjson\n"
          "  ingest-producer --checkpoint logs.ckpt --resume data/logs.json"};
}

void ProducerService::declare(config::Schema& schema) const { declare_settings(schema); }

base::Status ProducerService::run(runtime::Context& ctx) {
  FileRun run(ctx, ctx.config.read<Settings>(), clients());
  auto status = run.run();
  interrupted_ = run.interrupted();
  return status;
}

}  // namespace iw::producer
