#include "dlq_tool.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "command_line.h"
#include "dead_letter.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"
#include "iw/trace/trace_context.h"
#include "replay.h"
#include "report.h"
#include "topic_end.h"

namespace iw::dlq {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr int kExitUsage = 2;
// Metadata questions (partition count, end offsets) answer in milliseconds on a healthy
// cluster; this long means the brokers are unreachable.
constexpr milliseconds kMetadataTimeout = 15s;
// A fresh group gets its partitions within seconds; far longer means the group coordinator
// cannot be reached, and waiting on would look like a hang.
constexpr milliseconds kAssignmentTimeout = 30s;
constexpr milliseconds kPollInterval = 100ms;
// How long a replay gives Kafka to accept a record (message.timeout.ms) unless
// kafka.properties says otherwise: the producer service's default.
constexpr std::string_view kDefaultDeliveryTimeoutMs = "120000";

void emit(std::FILE* out, std::string_view text) { std::fwrite(text.data(), 1, text.size(), out); }

struct Settings {
  Command command = Command::kList;
  std::string topic;
  Filter filter;
  std::string since;  // dlq.since, read against the clock when the command runs
  std::uint64_t limit = 0;
  bool json = false;
  bool dry_run = false;
  milliseconds idle_timeout{0};
};

base::Result<Settings> read_settings(const runtime::Context& ctx) {
  auto s = ctx.config.read<Settings>();
  auto command = parse_command(ctx.args);
  if (!command) return base::fail(base::ErrorCode::kInvalidInput, command.error());
  s.command = *command;
  if (!s.since.empty()) {
    auto since = parse_since(s.since, ctx.clock.now());
    if (!since) return std::unexpected(since.error().with_context("dlq.since"));
    s.filter.since = *since;
  }
  return s;
}

// The log start and end offsets of every partition of `topic`. The kafka library has no
// watermark call and needs none: the ListOffsets request behind offsets_for_times reads the
// timestamps -2 and -1 as "earliest" and "latest", and answers with the log start offset and
// the end offset — under read_committed the last stable offset, exactly where this consumer's
// reading stops.
base::Result<std::vector<PartitionRange>> query_ranges(kafka::Consumer& consumer,
                                                       const std::string& topic,
                                                       std::int32_t partitions) {
  std::vector<kafka::TopicPartition> parts;
  for (std::int32_t p = 0; p < partitions; ++p) parts.push_back({topic, p});
  const base::TimePoint earliest{milliseconds{-2}};
  const base::TimePoint latest{milliseconds{-1}};
  auto begin = consumer.offsets_for_times(parts, earliest, kMetadataTimeout);
  if (!begin) return std::unexpected(begin.error());
  auto end = consumer.offsets_for_times(parts, latest, kMetadataTimeout);
  if (!end) return std::unexpected(end.error());
  std::vector<PartitionRange> ranges;
  for (const kafka::TopicPartitionOffset& e : *end) {
    const auto b = std::ranges::find(*begin, e.partition, &kafka::TopicPartitionOffset::partition);
    // A partition whose answer carried an error comes back without an offset.
    if (b == begin->end() || b->offset < 0 || e.offset < 0) {
      return base::fail(base::ErrorCode::kUnavailable,
                        "no offsets for partition " + std::to_string(e.partition));
    }
    ranges.push_back({e.partition, b->offset, e.offset});
  }
  if (ranges.size() != parts.size()) {
    return base::fail(base::ErrorCode::kUnavailable, "offsets missing for some partitions");
  }
  return ranges;
}

// Reads the dead-letter topic from its beginning to the end it had when the read began, with a
// throw-away group that never commits: an operator's look must not move anyone's offsets, and
// the next look starts from the beginning again.
class DeadLetterReader {
 public:
  DeadLetterReader(runtime::Context& ctx, const Settings& settings)
      : ctx_(ctx),
        topic_(settings.topic),
        idle_timeout_(settings.idle_timeout),
        errors_log_(ctx.logger, 5, 10s) {}

  // Calls `on_record` with each record of the read, in offset order within a partition, until
  // it returns false; `on_turn` runs on every loop turn (to serve a producer's reports).
  base::Status read(const std::function<bool(const kafka::Record&)>& on_record,
                    const std::function<void()>& on_turn) {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    // A metadata request may otherwise create the topic it asks about, and a typo in --topic
    // must not leave a new topic behind.
    client.properties["allow.auto.create.topics"] = "false";
    auto admin = kafka::make_admin(client);
    if (!admin) return std::unexpected(admin.error());
    auto partitions = (*admin)->partition_count(topic_, kMetadataTimeout);
    if (!partitions) {
      if (partitions.error().code() == base::ErrorCode::kNotFound) {
        return base::fail(base::ErrorCode::kNotFound,
                          "topic '" + topic_ + "' does not exist (dlq.topic, --topic)");
      }
      return std::unexpected(
          partitions.error().with_context("reading the partitions of " + topic_));
    }
    trace::IdGenerator ids;
    kafka::ConsumerOptions options;
    options.client = client;
    options.group_id = "ingest-dlq-" + std::string(trace::Uuid::random(ids).text());
    options.commit_mode = kafka::CommitMode::kManual;
    // Records of aborted transactions were never dead-lettered.
    options.read_committed = true;
    options.auto_offset_reset = "earliest";
    auto consumer = kafka::make_consumer(options);
    if (!consumer) return std::unexpected(consumer.error());

    auto ranges = query_ranges(**consumer, topic_, *partitions);
    // Leadership moves (a broker restarting, a topic just created) make the question fail for
    // a moment; the answer is worth a short wait, since without it only silence ends the read.
    const base::MonotonicTime give_up = ctx_.clock.monotonic_now() + kMetadataTimeout;
    while (!ranges && ranges.error().retryable() && ctx_.clock.monotonic_now() < give_up &&
           !ctx_.shutdown.wait_for(200ms)) {
      ranges = query_ranges(**consumer, topic_, *partitions);
    }
    if (!ranges) {
      ctx_.logger.warn("cannot read the end offsets; the read ends after idle_timeout",
                       {{"topic", topic_}, {"detail", ranges.error().message()}});
    }
    TopicEnd end(ranges ? std::move(*ranges) : std::vector<PartitionRange>{}, idle_timeout_);
    const base::MonotonicTime started = ctx_.clock.monotonic_now();
    if (end.state(started) == TopicEnd::State::kReachedEnd) return {};  // an empty topic
    if (auto status = (*consumer)->subscribe({topic_}); !status) return status;

    while (!ctx_.shutdown.requested()) {
      auto polled = (*consumer)->poll(kPollInterval);
      const base::MonotonicTime now = ctx_.clock.monotonic_now();
      if (!polled) {
        if (polled.error().code() == base::ErrorCode::kFailedPrecondition) {
          return std::unexpected(polled.error().with_context("reading " + topic_));
        }
        errors_log_.warn("kafka consumer error", {{"detail", polled.error().message()}});
      } else if (*polled) {
        const kafka::Record& record = **polled;
        end.on_assigned(now);
        if (end.on_record(record.partition(), record.offset(), now) && !on_record(record)) {
          return {};
        }
      } else if (!end.assigned()) {
        if (!(*consumer)->assignment().empty()) {
          end.on_assigned(now);
        } else if (now - started > kAssignmentTimeout) {
          return base::fail(base::ErrorCode::kUnavailable,
                            "no partition of " + topic_ + " assigned within " +
                                std::to_string(kAssignmentTimeout.count() / 1000) + "s");
        }
      }
      on_turn();
      switch (end.state(now)) {
        case TopicEnd::State::kReading:
          break;
        case TopicEnd::State::kReachedEnd:
          return {};
        case TopicEnd::State::kIdle:
          log_idle_end(end);
          return {};
      }
    }
    interrupted_ = true;
    return {};
  }

  [[nodiscard]] bool interrupted() const { return interrupted_; }

 private:
  void log_idle_end(const TopicEnd& end) {
    const std::vector<PartitionRange> left = end.unfinished();
    if (left.empty()) return;  // end offsets unknown: idle is the only rule, nothing to say
    // Usually transaction markers at the end of a partition; a large gap is worth a look.
    std::string gaps;
    for (const PartitionRange& r : left) {
      gaps += (gaps.empty() ? "" : " ") + std::to_string(r.partition) + ":[" +
              std::to_string(r.begin) + "," + std::to_string(r.end) + ")";
    }
    ctx_.logger.info("read ended on idle_timeout before the end offsets",
                     {{"topic", topic_}, {"undelivered_offsets", gaps}});
  }

  runtime::Context& ctx_;
  const std::string& topic_;
  milliseconds idle_timeout_;
  log::RateLimitedLog errors_log_;
  bool interrupted_ = false;
};

void note_interrupted(const DeadLetterReader& reader) {
  if (reader.interrupted()) emit(stderr, "interrupted: stopped before the end of the topic\n");
}

base::Status list(runtime::Context& ctx, const Settings& settings, std::FILE* report) {
  Selector selector(settings.filter, settings.limit);
  Tally tally;
  DeadLetterReader reader(ctx, settings);
  auto status = reader.read(
      [&](const kafka::Record& record) {
        const DeadLetter d = DeadLetter::from(record);
        if (selector.take(d)) {
          // The heading waits for the first row so that a failed read prints only its error.
          if (!settings.json && tally.total() == 0) emit(report, table_header());
          tally.add(d.letter.stage, d.letter.reason);
          emit(report, settings.json ? json_line(record) : table_row(d));
        }
        return !selector.full();
      },
      [] {});
  if (!status) return status;
  if (settings.json) {
    // stdout stays one record object per line, for jq; the counts are for the person.
    emit(stderr, tally.totals_text());
  } else {
    emit(report, (tally.total() == 0 ? "" : "\n") + tally.totals_text());
  }
  note_interrupted(reader);
  return {};
}

base::Status summary(runtime::Context& ctx, const Settings& settings, std::FILE* report) {
  Selector selector(settings.filter, settings.limit);
  Tally tally;
  DeadLetterReader reader(ctx, settings);
  auto status = reader.read(
      [&](const kafka::Record& record) {
        const DeadLetter d = DeadLetter::from(record);
        if (selector.take(d)) tally.add(d.letter.stage, d.letter.reason);
        return !selector.full();
      },
      [] {});
  if (!status) return status;
  emit(report, settings.json ? tally.summary_json() : tally.summary_table());
  note_interrupted(reader);
  return {};
}

// replay: each selected record's original key and bytes back to its dlq.topic.
class Replayer final : public kafka::DeliveryHandler {
 public:
  Replayer(runtime::Context& ctx, const Settings& settings, std::FILE* report)
      : ctx_(ctx),
        settings_(settings),
        report_(report),
        selector_(settings.filter, settings.limit),
        execution_id_(trace::Uuid::random(ids_)) {}

  base::Status run() {
    ctx_.logger.info("replaying", {{"topic", settings_.topic},
                                   {"execution_id", execution_id_.text()},
                                   {"dry_run", settings_.dry_run}});
    if (!settings_.dry_run) {
      if (auto status = connect(); !status) return status;
    }
    DeadLetterReader reader(ctx_, settings_);
    base::Status status = reader.read([this](const kafka::Record& r) { return handle(r); },
                                      [this] {
                                        if (producer_) producer_->poll(0ms);
                                      });
    drain();
    emit(report_, tally_.text(settings_.dry_run));
    note_interrupted(reader);
    if (!status) return status;
    if (const std::uint64_t failed = tally_.failed_count(); failed > 0) {
      return base::fail(base::ErrorCode::kUnavailable,
                        std::to_string(failed) +
                            " records not replayed; first error: " + first_failure_.value_or("?"));
    }
    return {};
  }

  void on_delivery(const kafka::DeliveryReport& report) override {
    const Pending& pending = pending_.at(report.correlation);
    if (report.error) {
      failed(pending.position, pending.destination, report.error->message());
      return;
    }
    tally_.replayed(pending.destination);
    emit(report_, pending.position + "  ->  " + printable(report.topic) + "/" +
                      std::to_string(report.partition) + "/" + std::to_string(report.offset) +
                      "\n");
  }

 private:
  struct Pending {
    std::string position;  // "<partition>/<offset>" in the dead-letter topic
    std::string destination;
  };

  base::Status connect() {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    // delivery.timeout.ms is librdkafka's other name for the same setting.
    if (!client.properties.contains("delivery.timeout.ms")) {
      client.properties.try_emplace("message.timeout.ms", std::string(kDefaultDeliveryTimeoutMs));
    }
    const auto timeout = client.properties.find("message.timeout.ms");
    const std::string& delivery_timeout = timeout != client.properties.end()
                                              ? timeout->second
                                              : client.properties.at("delivery.timeout.ms");
    // librdkafka checked the properties at start-up, so this is a number.
    flush_limit_ = milliseconds{std::stoll(delivery_timeout)} + 10s;
    auto producer = kafka::make_producer({.client = client}, *this);
    if (!producer) return std::unexpected(producer.error());
    producer_ = std::move(*producer);
    return {};
  }

  bool handle(const kafka::Record& record) {
    const DeadLetter d = DeadLetter::from(record);
    if (!selector_.take(d)) return !selector_.full();
    std::string position = std::to_string(d.partition) + "/" + std::to_string(d.offset);
    const auto destination = replay_destination(d, settings_.topic);
    if (!destination) {
      tally_.skipped(destination.error());
      emit(report_,
           position + "  skipped: " + std::string(skip_reason_name(destination.error())) + "\n");
      return !selector_.full();
    }
    if (settings_.dry_run) {
      tally_.replayed(*destination);
      emit(report_, position + "  ->  " + printable(*destination) + "  (dry run)\n");
      return !selector_.full();
    }
    const auto headers = replay_headers(record, settings_.topic, execution_id_.text(), ids_);
    const auto views = header_views(headers);
    const std::uint64_t correlation = pending_.size();
    pending_.push_back({std::move(position), std::string(*destination)});
    auto status = producer_->produce(
        {.topic = *destination, .key = record.key(), .value = record.value(), .headers = views},
        correlation);
    if (!status) {
      const Pending refused = std::move(pending_.back());
      pending_.pop_back();
      failed(refused.position, refused.destination, status.error().message());
      // Only a record Kafka refuses for itself (too large, say) leaves the others worth
      // trying; a full queue or a fatal error would refuse them all.
      if (status.error().code() != base::ErrorCode::kInvalidInput) return false;
    }
    return !selector_.full();
  }

  void failed(const std::string& position, const std::string& destination,
              const std::string& error) {
    tally_.failed(destination);
    if (!first_failure_) first_failure_ = error;
    emit(report_, position + "  ->  " + printable(destination) +
                      "  FAILED: " + printable(error, kErrorColumnChars) + "\n");
  }

  // Waits for every report; after the delivery timeout plus a margin, gives up on the rest so
  // each record still gets exactly one (failed) report and is counted.
  void drain() {
    if (!producer_) return;
    if (auto status = producer_->flush(flush_limit_); !status) {
      ctx_.logger.warn("flush timed out, purging", {{"in_flight", producer_->in_flight()}});
      producer_->purge();
      for (int i = 0; i < 100 && producer_->in_flight() > 0; ++i) producer_->poll(100ms);
    }
  }

  runtime::Context& ctx_;
  const Settings& settings_;
  std::FILE* report_;
  Selector selector_;
  trace::IdGenerator ids_;
  trace::Uuid execution_id_;
  std::unique_ptr<kafka::Producer> producer_;
  milliseconds flush_limit_{0};
  std::vector<Pending> pending_;  // indexed by correlation
  ReplayTally tally_;
  std::optional<std::string> first_failure_;
};

}  // namespace

runtime::ServiceInfo dlq_info() {
  return {
      .name = "dlq",
      .binary = "ingest-dlq",
      .summary = "lists, counts and replays the records of the dead-letter topic",
      // Port 0: a free one, so the tool never collides with a service on the same host.
      .default_http_port = 0,
      .usage_notes =
          "Commands (ARGS is exactly one of them):\n"
          "  list      one line per dead-lettered record: its partition/offset in the DLQ,\n"
          "            dlq.ts, stage, reason, origin (topic/partition/offset, or file:line for\n"
          "            records the producer rejected), key and the start of dlq.error; then\n"
          "            the count by reason and by stage. --format json: one JSON object per\n"
          "            record with every header and the value (counts on stderr)\n"
          "  summary   the count by stage and reason (--format json: one JSON object)\n"
          "  replay    republishes each selected record's original bytes with its original\n"
          "            key to the topic it was meant for (its dlq.topic header)\n\n"
          "Every command reads the dead-letter topic from its beginning to the end it had when\n"
          "the command started, with a throw-away consumer group that never commits, and\n"
          "works on the records the filters select (--reason, --stage, --since, --limit; all\n"
          "optional, combined with AND; --reason and --stage take comma-separated lists). The\n"
          "end is each partition's end offset, asked of the broker before reading; the read\n"
          "also ends once no record arrived for dlq.idle_timeout after the partitions were\n"
          "assigned (transaction markers take up offsets that no record is delivered for).\n"
          "--since compares with dlq.ts (the Kafka timestamp when dlq.ts is missing or\n"
          "unreadable).\n\n"
          "replay keeps the execution_id header, continues the trace in traceparent with a new\n"
          "span, keeps other non-dlq headers, drops the dlq.* headers and adds\n"
          "dlq.replayed_from: <dlq topic>/<partition>/<offset>. The producer is idempotent\n"
          "(acks=all) and every delivery is awaited: exit status 0 only when every selected\n"
          "record was delivered. Records without a dlq.topic header are skipped and counted.\n"
          "Replay deletes nothing: Kafka topics are append-only, so the dead-letter records\n"
          "stay until retention removes them, and replaying the same selection again sends\n"
          "them again. Narrow it with --since or --limit; try it with --dry-run first.\n\n"
          "Output: the report goes to stdout. Log lines (JSON) go to stderr, unlike the\n"
          "services, so the report can be piped.\n\n"
          "Examples:\n"
          "  ingest-dlq summary\n"
          "  ingest-dlq list --stage enricher --since 2h\n"
          "  ingest-dlq list --format json --limit 10 | jq .headers\n"
          "  ingest-dlq replay --reason invalid_timestamp --dry-run\n"
          "  ingest-dlq replay --reason invalid_timestamp --since 2025-09-15T10:00:00Z"};
}

void DlqTool::declare(config::Schema& schema) const {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("dlq.topic", &S::topic)
      .describe("The dead-letter topic to read.")
      .default_value("ingestion-logs-dlq")
      .flag("--topic", "TOPIC");
  keys.key("dlq.reason", &S::filter, &Filter::reasons)
      .describe("Only records whose dlq.reason is one of these; empty for all.")
      .default_value(std::vector<std::string>{})
      .flag("--reason", "R[,R...]");
  keys.key("dlq.stage", &S::filter, &Filter::stages)
      .describe(
          "Only records whose dlq.stage (producer, enricher, loki-pusher, ...) is one of "
          "these; empty for all.")
      .default_value(std::vector<std::string>{})
      .flag("--stage", "S[,S...]");
  keys.key("dlq.since", &S::since)
      .describe(
          "Only records dead-lettered at or after this RFC 3339 time (UTC when without "
          "offset), or within this duration back from now (2h, 1h30m, 7d).")
      .validate([](const config::Value& value) -> std::optional<std::string> {
        auto since = parse_since(std::get<std::string>(value), base::TimePoint{});
        if (!since) return since.error().message();
        return std::nullopt;
      })
      .flag("--since", "T");
  keys.key("dlq.limit", &S::limit)
      .describe("At most this many records, the first in reading order; 0 for all.")
      .default_value(std::int64_t{0})
      .min(std::int64_t{0})
      .flag("--limit", "N");
  keys.choice("dlq.format", {{"table", false}, {"json", true}}, &S::json)
      .describe("list and summary output: table (for people) or json (one object a line).")
      .default_value("table")
      .flag("--format", "F");
  keys.key("dlq.dry_run", &S::dry_run)
      .describe("replay: show which records would go where, and send nothing.")
      .default_value(false)
      .flag("--dry-run");
  keys.key("dlq.idle_timeout", &S::idle_timeout)
      .describe(
          "The read also ends when no record arrived for this long after the partitions were "
          "assigned (for offsets no record is delivered for, e.g. transaction markers).")
      .default_value("2s")
      .min("100ms")
      .flag("--idle-timeout", "D");
}

base::Status DlqTool::run(runtime::Context& ctx) {
  auto settings = read_settings(ctx);
  if (!settings) return std::unexpected(settings.error());
  base::Status status;
  switch (settings->command) {
    case Command::kList:
      status = list(ctx, *settings, report_);
      break;
    case Command::kSummary:
      status = summary(ctx, *settings, report_);
      break;
    case Command::kReplay:
      status = Replayer(ctx, *settings, report_).run();
      break;
  }
  // Before the runtime's closing log line, so the report is complete when the process ends.
  std::fflush(report_);
  return status;
}

int run_tool(int argc, char** argv) {
  const runtime::ServiceInfo info = dlq_info();
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const CommandLineScan scan =
      scan_command_line(runtime::declare_keys(info, DlqTool(stdout)), args);
  if (scan.informational) {
    DlqTool tool(stdout);
    return runtime::run_service(info, tool, argc, argv);
  }
  if (auto command = parse_command(scan.positionals); !command) {
    std::cerr << info.binary << ": " << command.error() << " (see --help)\n";
    return kExitUsage;
  }
  // The runtime logs to stdout, as the services do. Here stdout is the report operators pipe
  // into grep, jq or a file, so the log lines go to stderr instead: fd 1 becomes a copy of
  // stderr and the report keeps the original stdout.
  std::FILE* report = stdout;
  std::fflush(stdout);
  if (const int report_fd = ::dup(STDOUT_FILENO); report_fd >= 0) {
    std::FILE* copy = ::fdopen(report_fd, "w");
    if (copy != nullptr && ::dup2(STDERR_FILENO, STDOUT_FILENO) >= 0) {
      report = copy;
    } else if (copy != nullptr) {
      std::fclose(copy);
    } else {
      ::close(report_fd);
    }
  }
  DlqTool tool(report);
  const int status = runtime::run_service(info, tool, argc, argv);
  if (report != stdout) std::fclose(report);
  return status;
}

}  // namespace iw::dlq
