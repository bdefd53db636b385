#include "enricher_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <vector>

#include "business_metrics.h"
#include "iw/base/check.h"
#include "iw/base/time_format.h"
#include "iw/events/enricher.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/offset_tracker.h"
#include "iw/kafka/producer.h"
#include "iw/kafka/stage_clients.h"
#include "iw/metrics/record_flow.h"
#include "iw/runtime/consumer_lag.h"
#include "iw/runtime/version.h"
#include "iw/trace/trace_context.h"

namespace iw::enricher {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

enum class Delivery { kExactlyOnce, kAtLeastOnce };

struct Settings {
  std::string input_topic;
  std::string output_topic;
  std::string dlq_topic;
  std::string group_id;
  std::string transactional_id = runtime::host_scoped_id("ingest-enricher");
  Delivery delivery = Delivery::kExactlyOnce;
  events::EnrichOptions enrich{.enricher_version = std::string(runtime::version())};
  std::size_t batch_max_records = 0;
  milliseconds batch_max_latency{0};
  bool create_topics = true;
  std::int32_t partitions = 3;
};

// Why a record went to the dead-letter topic: every reason the enricher can give, plus the one
// Kafka can (a record it refuses outright), so each metric child exists from the start.
std::vector<std::string_view> dead_letter_reasons() {
  const auto reasons = events::enrich_defect_reasons();
  std::vector<std::string_view> all(reasons.begin(), reasons.end());
  all.push_back("kafka_rejected");
  return all;
}

struct PipelineMetrics {
  PipelineMetrics(prometheus::Registry& registry, const Settings& s,
                  const std::vector<std::string_view>& reasons)
      : flow(registry, s.output_topic, reasons),
        latency(metrics::record_latency_histogram(registry)),
        transactions(prometheus::BuildCounter()
                         .Name("ingestwatch_transactions_total")
                         .Help("Kafka transactions ended, by outcome (committed, aborted).")
                         .Register(registry)),
        committed(transactions.Add({{"outcome", "committed"}})),
        aborted(transactions.Add({{"outcome", "aborted"}})),
        lag(registry) {}

  metrics::RecordFlowMetrics flow;
  prometheus::Histogram& latency;
  prometheus::Family<prometheus::Counter>& transactions;
  prometheus::Counter& committed;
  prometheus::Counter& aborted;
  runtime::ConsumerLagMetrics lag;
};

// Everything one transaction (or, at least once, one stretch between offset stores) did,
// applied to the metrics only once it is durable.
struct Staged {
  std::uint64_t out = 0;
  std::vector<std::uint64_t> dead_lettered;  // by reason index
  std::vector<base::TimePoint> arrived;      // Kafka timestamps, for the latency histogram
  void clear() {
    out = 0;
    std::fill(dead_lettered.begin(), dead_lettered.end(), 0);
    arrived.clear();
  }
};

class Pipeline final : public kafka::DeliveryHandler, public kafka::RebalanceListener {
 public:
  Pipeline(runtime::Context& ctx, Settings settings, kafka::ClientFactory& clients)
      : ctx_(ctx),
        settings_(std::move(settings)),
        reasons_(dead_letter_reasons()),
        metrics_(ctx.metrics.registry(), settings_, reasons_),
        business_(ctx.metrics.registry()),
        enricher_(settings_.enrich),
        problems_(ctx.logger, 20, 10s),
        clients_(clients) {
    staged_.dead_lettered.assign(reasons_.size(), 0);
  }

  base::Status run() {
    if (auto status = connect(); !status) return status;
    ctx_.logger.info("enriching", {{"input", settings_.input_topic},
                                   {"output", settings_.output_topic},
                                   {"delivery", exactly_once() ? "exactly_once" : "at_least_once"},
                                   {"group", settings_.group_id}});
    auto next_lag_update = ctx_.clock.monotonic_now();
    records_.reserve(kBatchMax);
    while (!ctx_.shutdown.requested()) {
      rewound_.clear();
      auto polled = clients_.consumer().poll_batch(records_, kBatchMax, 100ms);
      if (!polled) {
        if (polled.error().code() == base::ErrorCode::kFailedPrecondition) {
          return std::unexpected(polled.error());
        }
        problems_.warn("consume error", {{"detail", polled.error().message()}});
      }
      if (!records_.empty()) {
        // One clock reading per batch: pipeline.processed_at is at most one batch's processing
        // (a millisecond or two) older than the moment a record is enriched.
        processed_at_ = ctx_.clock.now();
        metrics_.flow.records_in.Increment(static_cast<double>(records_.size()));
        for (const kafka::Record& record : records_) {
          // After an abort, the records of the partitions rewound come again from the start of
          // the aborted transaction; these copies must not be processed as well.
          if (!rewound_.empty() &&
              std::ranges::find(rewound_, record.partition()) != rewound_.end()) {
            continue;
          }
          if (auto status = process(record); !status) return status;
          if (exactly_once() && in_transaction_ &&
              batch_.records() >= settings_.batch_max_records) {
            if (auto status = commit_batch(); !status) return status;
          }
        }
        records_.clear();  // the librdkafka messages are freed here
      }
      // Delivery reports, commits and offset stores once per batch rather than per record:
      // each takes locks and builds partition lists in librdkafka.
      clients_.producer().poll(0ms);
      if (auto status = settle(false); !status) return status;
      if (ctx_.clock.monotonic_now() >= next_lag_update) {
        metrics_.lag.update(clients_.consumer(), ctx_.clock.now());
        next_lag_update = ctx_.clock.monotonic_now() + 1s;
      }
    }
    ctx_.logger.info("draining", {{"open_records", batch_.records()}});
    if (auto status = settle(true); !status) return status;
    clients_.close();
    return {};
  }

  // Delivery reports. Exactly once, a failed record fails its transaction's commit, which is
  // where it is handled; at least once, a delivered record's input offset may now be stored.
  void on_delivery(const kafka::DeliveryReport& report) override {
    if (report.error) {
      if (!delivery_error_) delivery_error_ = *report.error;
      return;
    }
    if (exactly_once()) return;
    tracker_.finished(input_partition(static_cast<std::int32_t>(report.correlation >> 40)),
                      static_cast<std::int64_t>(report.correlation & ((1ULL << 40) - 1)));
  }

  void on_assigned(std::vector<kafka::TopicPartitionOffset>& partitions) override {
    ctx_.logger.info("partitions assigned", {{"count", partitions.size()}});
  }

  // Still the owner: finish the work for these partitions so the next owner starts after it.
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.info("partitions revoked", {{"count", partitions.size()}});
    if (auto status = settle(true); !status) {
      ctx_.logger.error("could not settle before revocation",
                        {{"detail", status.error().message()}});
    }
    for (const auto& p : partitions) tracker_.forget(p);
  }

  // Already taken away: the work for them will be redone by their new owner, so it must not
  // be committed here.
  void on_lost(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.warn("partitions lost", {{"count", partitions.size()}});
    if (exactly_once() && in_transaction_) abort_batch("partitions lost");
    for (const auto& p : partitions) tracker_.forget(p);
  }

 private:
  bool exactly_once() const { return settings_.delivery == Delivery::kExactlyOnce; }

  base::Status connect() {
    kafka::ClientOptions client = runtime::kafka_client_options(ctx_);
    client.properties.try_emplace("linger.ms", "5");
    client.properties.try_emplace("compression.type", "lz4");
    if (settings_.create_topics) {
      auto admin = clients_.factory().admin(client);
      if (!admin) return std::unexpected(admin.error());
      const std::vector<kafka::TopicSpec> topics = {
          {.name = settings_.output_topic, .partitions = settings_.partitions},
          {.name = settings_.dlq_topic, .partitions = 1}};
      if (auto status = (*admin)->create_topics(topics, 30s); !status) {
        return std::unexpected(status.error().with_context("creating topics"));
      }
    }
    kafka::ConsumerOptions consumer_options{.client = client,
                                            .group_id = settings_.group_id,
                                            .commit_mode = exactly_once()
                                                               ? kafka::CommitMode::kTransactional
                                                               : kafka::CommitMode::kStoredOffsets,
                                            .listener = this};
    if (auto status = clients_.start_consumer(consumer_options); !status) return status;

    kafka::ProducerOptions producer_options{.client = client};
    if (exactly_once()) producer_options.transactional_id = settings_.transactional_id;
    if (auto status = clients_.start_producer(producer_options, *this); !status) return status;
    if (exactly_once()) {
      // Also fences a previous instance with the same id and aborts what it left open, so
      // read_committed readers are not held back until its transaction times out.
      if (auto status = clients_.producer().init_transactions(60s); !status) {
        return std::unexpected(status.error().with_context("init_transactions"));
      }
    }
    if (auto status = clients_.consumer().subscribe({settings_.input_topic}); !status) {
      return std::unexpected(status.error());
    }
    ctx_.readiness.set_ready("kafka");
    return {};
  }

  base::Status process(const kafka::Record& record) {
    if (exactly_once() && !in_transaction_) {
      if (auto status = clients_.producer().begin_transaction(); !status) {
        return fatal_or_retry(status);
      }
      in_transaction_ = true;
      batch_opened_ = ctx_.clock.monotonic_now();
    }
    const kafka::TopicPartition& tp = input_partition(record.partition());
    if (exactly_once()) {
      batch_.add(tp, record.offset());
    } else {
      tracker_.started(tp, record.offset());
    }
    metrics_.lag.taken(record.partition(), record.timestamp());
    // The latency histogram needs a sample, not every record.
    if (++records_seen_ % kTimedEvery == 0) staged_.arrived.push_back(record.timestamp());

    const std::string_view execution_id = record.header("execution_id").value_or("");
    const auto parent = record.header("traceparent");
    const auto parsed = parent ? trace::TraceParent::parse(*parent) : std::nullopt;
    const trace::TraceParent traceparent =
        parsed ? parsed->child(ids_) : trace::TraceParent::start(ids_);
    const std::uint64_t correlation = (static_cast<std::uint64_t>(record.partition()) << 40) |
                                      static_cast<std::uint64_t>(record.offset());

    auto facts = enricher_.enrich(record.value(), 0,
                                  {.topic = record.topic(),
                                   .partition = record.partition(),
                                   .offset = record.offset(),
                                   .execution_id = execution_id,
                                   .processed_at = processed_at_},
                                  enriched_);
    if (!facts) {
      return dead_letter(record, facts.error().reason, facts.error().message, execution_id,
                         traceparent, correlation);
    }
    const std::array<kafka::HeaderView, 3> headers = {{
        {"execution_id", execution_id},
        {"traceparent", traceparent.text()},
        {"content-type", "application/json"},
    }};
    auto status = clients_.producer().produce({.topic = settings_.output_topic,
                                               .key = facts->source,
                                               .value = enriched_,
                                               .headers = headers},
                                              correlation);
    if (!status) {
      if (status.error().code() == base::ErrorCode::kInvalidInput) {
        return dead_letter(record, "kafka_rejected", status.error().message(), execution_id,
                           traceparent, correlation);
      }
      return fatal_or_retry(status);
    }
    ++staged_.out;
    business_.stage(*facts);
    return {};
  }

  base::Status dead_letter(const kafka::Record& record, std::string_view reason,
                           std::string_view message, std::string_view execution_id,
                           const trace::TraceParent& traceparent, std::uint64_t correlation) {
    std::size_t index = 0;
    while (index < reasons_.size() && reasons_[index] != reason) ++index;
    IW_CHECK(index < reasons_.size(), "dead-letter reason missing from the declared set");
    metrics_.flow.rejected(index).Increment();
    problems_.warn("record dead-lettered", {{"reason", reason},
                                            {"error", message},
                                            {"partition", record.partition()},
                                            {"offset", record.offset()}});
    const kafka::DeadLetterHeaders headers({.reason = reason,
                                            .error = message,
                                            .stage = "enricher",
                                            .topic = record.topic(),
                                            .partition = record.partition(),
                                            .offset = record.offset(),
                                            .at = ctx_.clock.now(),
                                            .execution_id = execution_id,
                                            .traceparent = traceparent.text()});
    auto status = clients_.producer().produce({.topic = settings_.dlq_topic,
                                               .key = record.key(),
                                               .value = record.value(),
                                               .headers = headers.view()},
                                              correlation);
    if (!status) return fatal_or_retry(status);
    ++staged_.dead_lettered[index];
    return {};
  }

  // Makes finished work durable. Exactly once: commits the open transaction when it is full,
  // old enough, or `force`d. At least once: stores the offsets whose records are delivered.
  base::Status settle(bool force) {
    if (delivery_error_ && !exactly_once()) {
      // Kafka gave up on a record after its retries; restarting resumes from the last stored
      // offset, which is before it.
      return base::fail(base::ErrorCode::kUnavailable,
                        "delivery failed: " + delivery_error_->message());
    }
    if (!exactly_once()) {
      if (force) (void)clients_.producer().flush(30s);
      auto positions = tracker_.take_committable();
      if (!positions.empty()) {
        if (auto status = clients_.consumer().store_offsets(positions); !status) {
          problems_.warn("offset store failed", {{"detail", status.error().message()}});
        }
      }
      if (force) (void)clients_.consumer().commit();
      business_.commit();
      apply_staged();
      return {};
    }
    if (!in_transaction_) return {};
    const bool full = batch_.records() >= settings_.batch_max_records;
    const bool old = ctx_.clock.monotonic_now() - batch_opened_ >= settings_.batch_max_latency;
    if (!force && !full && !old) return {};
    return commit_batch();
  }

  base::Status commit_batch() {
    const auto positions = batch_.commit_positions();
    base::Status status;
    if (!positions.empty()) {
      auto group = clients_.consumer().group_metadata();
      status = clients_.producer().send_offsets_to_transaction(positions, *group, 30s);
    }
    // A retriable commit error means "try the commit again", not "abort".
    for (int attempt = 0; status && attempt < 5; ++attempt) {
      status = clients_.producer().commit_transaction(60s);
      if (status || !status.error().retryable() ||
          status.error().code() == base::ErrorCode::kAborted) {
        break;
      }
    }
    if (status) {
      in_transaction_ = false;
      batch_.clear();
      metrics_.committed.Increment();
      business_.commit();
      apply_staged();
      delivery_error_.reset();
      return {};
    }
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(status.error().with_context("transaction"));  // fenced: stop
    }
    abort_batch(status.error().message());
    return {};
  }

  // Rolls the open transaction back and rewinds the consumer to its first record, so the same
  // records are processed again into a new transaction.
  void abort_batch(std::string_view why) {
    ctx_.logger.warn("aborting transaction", {{"records", batch_.records()}, {"reason", why}});
    if (auto status = clients_.producer().abort_transaction(60s); !status) {
      ctx_.logger.error("abort failed", {{"detail", status.error().message()}});
    }
    for (const auto& position : batch_.rewind_positions()) {
      rewound_.push_back(position.partition);
      if (auto status = clients_.consumer().seek(position, 10s); !status) {
        problems_.warn("rewind failed",
                       {{"detail", status.error().message()}, {"partition", position.partition}});
      }
    }
    in_transaction_ = false;
    batch_.clear();
    business_.discard();
    staged_.clear();
    delivery_error_.reset();
    metrics_.aborted.Increment();
  }

  base::Status fatal_or_retry(const base::Status& status) {
    if (exactly_once() && status.error().code() != base::ErrorCode::kFailedPrecondition) {
      if (in_transaction_) abort_batch(status.error().message());
      return {};
    }
    return std::unexpected(status.error());
  }

  void apply_staged() {
    metrics_.flow.records_out.Increment(static_cast<double>(staged_.out));
    for (std::size_t i = 0; i < staged_.dead_lettered.size(); ++i) {
      if (staged_.dead_lettered[i] > 0) {
        metrics_.flow.dead_lettered(i).Increment(static_cast<double>(staged_.dead_lettered[i]));
      }
    }
    const auto now = ctx_.clock.now();
    for (const auto arrived : staged_.arrived) {
      metrics_.latency.Observe(std::chrono::duration<double>(now - arrived).count());
    }
    staged_.clear();
  }

  // The input is one topic, so a partition number names a partition; building a
  // TopicPartition (a heap-allocated topic name) per record would cost an allocation each.
  const kafka::TopicPartition& input_partition(std::int32_t partition) {
    const auto index = static_cast<std::size_t>(partition);
    if (index >= input_partitions_.size()) {
      for (std::size_t i = input_partitions_.size(); i <= index; ++i) {
        input_partitions_.push_back({settings_.input_topic, static_cast<std::int32_t>(i)});
      }
    }
    return input_partitions_[index];
  }

  // Records taken from the consumer at a time: enough to amortise librdkafka's per-call costs,
  // few enough that delivery reports and offset stores keep up.
  static constexpr std::size_t kBatchMax = 256;
  static constexpr std::uint64_t kTimedEvery = 16;

  runtime::Context& ctx_;
  Settings settings_;
  std::vector<std::string_view> reasons_;
  std::uint64_t records_seen_ = 0;
  // pipeline.processed_at of the records being enriched: read from the clock once per batch.
  base::TimePoint processed_at_{};
  PipelineMetrics metrics_;
  BusinessMetrics business_;
  events::Enricher enricher_;
  log::RateLimitedLog problems_;
  trace::IdGenerator ids_;
  kafka::StageClients clients_;
  // The batch being processed; declared after the consumer so that its records, which hold
  // librdkafka messages, are destroyed first even when run() returns in the middle of it.
  std::vector<kafka::Record> records_;
  // Input partitions rewound by an abort while the current batch is processed.
  std::vector<std::int32_t> rewound_;
  std::string enriched_;
  bool in_transaction_ = false;
  base::MonotonicTime batch_opened_{};
  kafka::BatchPositions batch_;
  kafka::OffsetTracker tracker_;
  Staged staged_;
  std::optional<base::Error> delivery_error_;
  std::vector<kafka::TopicPartition> input_partitions_;
};

}  // namespace

runtime::ServiceInfo enricher_info() {
  return {.name = "enricher",
          .binary = "ingest-enricher",
          .summary = "parses, validates and enriches run records; dead-letters bad ones",
          .default_http_port = 9465};
}

void EnricherService::declare(config::Schema& schema) const {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("enricher.input_topic", &S::input_topic)
      .describe("Raw run records.")
      .default_value("ingestion-logs")
      .flag("--input-topic", "TOPIC");
  keys.key("enricher.output_topic", &S::output_topic)
      .describe("Enriched run records (schema v1).")
      .default_value("ingestion-logs-enriched")
      .flag("--output-topic", "TOPIC");
  keys.key("enricher.dlq_topic", &S::dlq_topic)
      .describe("Records that cannot be enriched, unchanged, with dlq.* headers.")
      .default_value("ingestion-logs-dlq")
      .flag("--dlq-topic", "TOPIC");
  keys.key("enricher.group_id", &S::group_id)
      .describe("Consumer group.")
      .default_value("ingest-enricher")
      .flag("--group", "ID");
  keys.choice("enricher.delivery",
              {{"exactly_once", Delivery::kExactlyOnce}, {"at_least_once", Delivery::kAtLeastOnce}},
              &S::delivery)
      .describe(
          "exactly_once: each input record's outcome is written and its offset committed in one "
          "Kafka transaction. at_least_once: idempotent producer, offsets stored after delivery; "
          "a crash can repeat records (event.id tells them apart).")
      .default_value("exactly_once")
      .flag("--delivery", "MODE");
  keys.key("enricher.transactional_id", &S::transactional_id)
      .describe(
          "Transactional id (exactly once). Must be unique per running instance and stable across "
          "its restarts; default ingest-enricher-<hostname>.")
      .flag("--transactional-id", "ID");
  keys.parsed("enricher.time_zone", events::TimeZone::from_name, &S::enrich,
              &events::EnrichOptions::time_zone)
      .describe("Zone of timestamps without an offset: UTC, +02:00 or an IANA name.")
      .default_value("UTC");
  keys.key("enricher.high_memory_mb", &S::enrich, &events::EnrichOptions::high_memory_mb)
      .describe("metrics.high_memory_usage is 1 above this many MB (2^20 bytes).")
      .default_value(150.0)
      .min(0.0);
  keys.key("enricher.high_cpu_seconds", &S::enrich, &events::EnrichOptions::high_cpu_seconds)
      .describe("metrics.high_cpu_usage is 1 above this many seconds of CPU.")
      .default_value(60.0)
      .min(0.0);
  keys.key("enricher.max_record_bytes", &S::enrich, &events::EnrichOptions::max_record_bytes)
      .describe("Raw records larger than this are dead-lettered as oversized_record.")
      .default_value(std::int64_t{1 << 20})
      .min(std::int64_t{1024});
  keys.key("enricher.batch_max_records", &S::batch_max_records)
      .describe("Records per transaction at most (exactly once).")
      .default_value(std::int64_t{2000})
      .min(std::int64_t{1});
  keys.key("enricher.batch_max_latency", &S::batch_max_latency)
      .describe("A transaction commits at least this often while records flow (exactly once).")
      .default_value("100ms")
      .min("1ms");
  keys.key("enricher.create_topics", &S::create_topics)
      .describe("Create the output and dead-letter topics when missing.")
      .default_value(true);
  keys.key("enricher.partitions", &S::partitions)
      .describe("Partitions of the output topic when the enricher creates it.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
}

base::Status EnricherService::run(runtime::Context& ctx) {
  Pipeline pipeline(ctx, ctx.config.read<Settings>(), clients_);
  return pipeline.run();
}

}  // namespace iw::enricher
