#include "enricher_service.h"

#include <array>
#include <limits>
#include <vector>

#include "business_metrics.h"
#include "iw/events/enricher.h"
#include "iw/events/future_timestamp.h"
#include "iw/runtime/version.h"
#include "iw/stage/poison_keys.h"
#include "iw/stage/stage.h"
#include "iw/stage/transaction_keys.h"

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
  stage::TransactionPolicy transaction;
  bool create_topics = true;
  std::int32_t partitions = 3;
  milliseconds future_tolerance = events::kDefaultFutureTolerance;
  stage::PoisonPolicy poison;
  BusinessMetricsOptions business;
};

// Why a record goes to the dead-letter topic: every reason the enricher can give (the stage adds
// its own), so each metric child exists from the start.
std::vector<std::string> dead_letter_reasons() {
  const auto reasons = events::enrich_defect_reasons();
  std::vector<std::string> out(reasons.begin(), reasons.end());
  out.emplace_back(events::kFutureTimestamp);
  return out;
}

stage::StageOptions stage_options(const runtime::Context& ctx, const Settings& s) {
  const bool exactly_once = s.delivery == Delivery::kExactlyOnce;
  stage::StageOptions options{
      .name = "enricher",
      .span_name = "enrich",
      .input_topics = {s.input_topic},
      .group_id = s.group_id,
      .delivery = exactly_once ? stage::Delivery::kTransactional : stage::Delivery::kStoredOffsets,
      .transactional_id = s.transactional_id,
      .dlq_topic = s.dlq_topic,
      .client = runtime::kafka_client_options(ctx),
      .producer_properties = {{"linger.ms", "5"}, {"compression.type", "lz4"}},
      .transaction = s.transaction,
      .poison = s.poison,
      .output_label = s.output_topic,
      .dead_letter_reasons = dead_letter_reasons()};
  if (s.create_topics) {
    options.create_topics = {{.name = s.output_topic, .partitions = s.partitions},
                             {.name = s.dlq_topic, .partitions = 1}};
  }
  return options;
}

// enricher.max_record_bytes is the stage's key (libs/stage/poison_keys.h): the stage
// dead-letters a longer record with its head before process(); the enricher's own check is the
// same bound.
events::EnrichOptions enrich_options(const Settings& s) {
  events::EnrichOptions options = s.enrich;
  options.max_record_bytes = s.poison.max_record_bytes > 0
                                 ? s.poison.max_record_bytes
                                 : std::numeric_limits<std::size_t>::max();
  return options;
}

// Decodes, validates and enriches each raw record into the output topic; a record that cannot
// be enriched goes to the dead letters with the enricher's reason. The stage does the Kafka part.
class Enrichment final : public stage::Processor {
 public:
  Enrichment(runtime::Context& ctx, const Settings& settings)
      : ctx_(ctx),
        output_topic_(settings.output_topic),
        future_tolerance_(settings.future_tolerance),
        business_(ctx.metrics.registry(), settings.business, ctx.clock, ctx.logger),
        enricher_(enrich_options(settings)) {}

  void started(stage::Input&) override { ctx_.readiness.set_ready("kafka"); }

  // One clock reading per batch: pipeline.processed_at is at most one batch's processing (a
  // millisecond or two) older than the moment a record is enriched.
  base::Status tick(stage::Input&, stage::Output&) override {
    processed_at_ = ctx_.clock.now();
    return {};
  }

  base::Status process(const kafka::Record& record, stage::Output& out) override {
    const std::string_view execution_id = record.header("execution_id").value_or("");
    auto facts = enricher_.enrich(record.value(), 0,
                                  {.topic = record.topic(),
                                   .partition = record.partition(),
                                   .offset = record.offset(),
                                   .execution_id = execution_id,
                                   .processed_at = processed_at_},
                                  enriched_);
    stage::RecordSpan& span = out.span();
    if (span.recording()) span.set("ingestwatch.execution_id", execution_id);
    if (!facts) {
      return out.dead_letter({.partition = record.partition(), .offset = record.offset()},
                             stage::content_of(record), facts.error().reason,
                             facts.error().message);
    }
    if (span.recording()) {
      span.set("ingestwatch.source", facts->source);
      span.set("ingestwatch.objet", facts->objet);
      span.set("ingestwatch.etat", facts->etat);
    }
    // A run that cannot have ended yet would carry the alert evaluator's clock, and Loki's
    // streams, into the future (docs/ALERTING.md, "The evaluation clock").
    if (auto problem =
            events::future_timestamp_problem(facts->end, processed_at_, future_tolerance_)) {
      return out.dead_letter({.partition = record.partition(), .offset = record.offset()},
                             stage::content_of(record), events::kFutureTimestamp, *problem);
    }
    // The enriched record's parent is this record's span in the enricher (docs/TRACING.md).
    const std::array<kafka::HeaderView, 3> headers = {{
        {"execution_id", execution_id},
        {"traceparent", span.traceparent()},
        {"content-type", "application/json"},
    }};
    if (auto status = out.write(
            {.topic = output_topic_, .key = facts->source, .value = enriched_, .headers = headers});
        !status) {
      return status;
    }
    business_.stage(*facts);
    return {};
  }

  void committed() override { business_.commit(); }
  void rolled_back(const std::vector<kafka::TopicPartitionOffset>&) override {
    business_.discard();
  }

 private:
  runtime::Context& ctx_;
  std::string output_topic_;
  milliseconds future_tolerance_;
  BusinessMetrics business_;
  events::Enricher enricher_;
  base::TimePoint processed_at_{};
  std::string enriched_;
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
  keys.key("enricher.future_tolerance", &S::future_tolerance)
      .describe(
          "Runs ending later than the wall clock plus this are dead-lettered as future_timestamp "
          "(a connector clock set wrong, a typo'd year).")
      .default_value("15m")
      .min("0s");
  stage::declare_transaction_keys(keys, "enricher", &S::transaction);
  // Until 2026-12 a transaction also committed every batch_max_records records (2000), which,
  // not the work, set the throughput: a configuration still setting these keys is refused with
  // what replaced them rather than read as something it no longer means.
  for (const auto& [removed, why] : {
           std::pair{"enricher.batch_max_records",
                     "removed: a transaction no longer commits every N records but by age "
                     "(enricher.commit_interval) and size (enricher.transaction_max_bytes); "
                     "delete this key (docs/ENRICHER.md)"},
           std::pair{"enricher.batch_max_latency",
                     "removed: renamed enricher.commit_interval (docs/ENRICHER.md)"},
       }) {
    schema.string(removed)
        .describe("Removed (docs/ENRICHER.md): setting it is an error.")
        .validate([message = std::string(why)](const config::Value&) -> std::optional<std::string> {
          return message;
        });
  }
  keys.key("enricher.create_topics", &S::create_topics)
      .describe("Create the output and dead-letter topics when missing.")
      .default_value(true);
  keys.key("enricher.partitions", &S::partitions)
      .describe("Partitions of the output topic when the enricher creates it.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
  stage::declare_poison_keys(keys, "enricher", &S::poison);
  keys.key("enricher.metrics.max_sources", &S::business, &BusinessMetricsOptions::max_sources)
      .describe(
          "Sources with business-metric series of their own; the others are counted under "
          "source=\"_other\". 0: no limit.")
      .default_value(std::int64_t{1000})
      .min(std::int64_t{0});
  keys.key("enricher.metrics.max_objets", &S::business, &BusinessMetricsOptions::max_objets)
      .describe(
          "(source, objet) pairs with an ingestion_runs_total series of their own; the "
          "others are counted under objet=\"_other\". 0: no limit.")
      .default_value(std::int64_t{5000})
      .min(std::int64_t{0});
  keys.key("enricher.metrics.idle_timeout", &S::business, &BusinessMetricsOptions::idle_timeout)
      .describe("A source or objet unseen this long loses its series (0s: never).")
      .default_value("24h")
      .min("0s");
}

base::Status EnricherService::run(runtime::Context& ctx) {
  const auto settings = ctx.config.read<Settings>();
  Enrichment enrichment(ctx, settings);
  stage::Stage stage(ctx, stage_options(ctx, settings), enrichment, clients());
  ctx.logger.info(
      "enriching",
      {{"input", settings.input_topic},
       {"output", settings.output_topic},
       {"delivery", settings.delivery == Delivery::kExactlyOnce ? "exactly_once" : "at_least_once"},
       {"group", settings.group_id}});
  return stage.run();
}

}  // namespace iw::enricher
