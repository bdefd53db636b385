// The enricher's wiring against in-memory Kafka clients (iw/testing/fake_kafka.h): no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "enricher_service.h"
#include "iw/base/time_format.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/service_context.h"
#include "iw/testing/spans.h"

namespace iw::enricher {
namespace {

using iw::testing::FakeConsumer;
using iw::testing::FakeKafka;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kInput = "ingestion-logs";
const std::string kOutput = "ingestion-logs-enriched";
const std::string kDeadLetters = "ingestion-logs-dlq";
const std::string kGroup = "ingest-enricher";
const std::string kTransactionalId = "enricher-test";

// Transactions full at `max_bytes` (1: a transaction per record), never committed by age:
// what happens does not depend on how fast the test runs.
std::string config(std::string_view max_bytes = "1") {
  return R"(kafka:
  bootstrap_servers: fake:9092
enricher:
  transactional_id: enricher-test
  commit_interval: 30s
  retry_backoff_min: 1ms
  retry_backoff_max: 4ms
  transaction_max_bytes: )" +
         std::string(max_bytes) + "\n";
}

// Record 3 is bad (an unreadable Debut).
std::string raw_record(int id) {
  return R"({"ID": )" + std::to_string(id) +
         R"(, "Source": "Zoho", "Objet": "deals", "Etat": "SUCCESS", "Debut": ")" +
         (id == 3 ? "yesterday" : "2025-09-15 10:30:00.000") +
         R"(", "Fin": "2025-09-15 10:30:01.154"})";
}

class PipelineTest : public ::testing::Test {
 protected:
  explicit PipelineTest(const std::string& config = iw::enricher::config())
      : context_(enricher_info(), service_, config) {}

  void SetUp() override {
    kafka_.create_topic(kInput, 2);
    for (int id = 0; id < 10; ++id) append(id);
  }

  void append(int id) {
    kafka_.append(kInput, id % 2, raw_record(id), "Zoho", {{"execution_id", "run-1"}});
  }

  // Every input record read, none left behind a rewind.
  bool drained(const FakeConsumer& consumer) const {
    const auto& positions = consumer.positions();
    return !positions.empty() && std::ranges::all_of(positions, [&](const auto& p) {
      return p.second ==
             static_cast<std::int64_t>(kafka_.log(p.first.topic, p.first.partition).size());
    });
  }

  // The objet ids of the committed enriched records.
  std::multiset<std::string> committed_ids() const {
    std::multiset<std::string> ids;
    for (const auto& record : kafka_.committed_records(kOutput)) {
      const auto at = record.value.find(R"("objet":{"id":)");
      EXPECT_NE(at, std::string::npos) << record.value;
      if (at == std::string::npos) continue;
      const auto start = at + std::string_view(R"("objet":{"id":)").size();
      ids.insert(record.value.substr(start, record.value.find(',', start) - start));
    }
    return ids;
  }

  std::size_t journaled(std::string_view what) const {
    return static_cast<std::size_t>(std::ranges::count(kafka_.journal(), what));
  }

  std::string metrics() {
    return prometheus::TextSerializer().Serialize(context_.metrics().registry().Collect());
  }

  FakeKafka kafka_;
  EnricherService service_{kafka_};
  iw::testing::ServiceContext context_;
};

// Ten records, each in a transaction of its own (full at its first byte).
TEST_F(PipelineTest, EnrichesEveryGoodRecordOnceAndDeadLettersTheBadOne) {
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(committed_ids(),
            (std::multiset<std::string>{"0", "1", "2", "4", "5", "6", "7", "8", "9"}));
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, raw_record(3));
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 5);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 5);
  EXPECT_EQ(journaled("transaction aborted"), 0U);
  EXPECT_EQ(journaled("transaction committed"), 10U);
  EXPECT_EQ(context_.logged("draining").size(), 1U);
}

// Records without a traceparent start traces (all sampled at ratio 1): one `enrich` span each,
// with the facts the enricher decoded; its id is the one the enriched record (or the dead
// letter) carries.
TEST_F(PipelineTest, EachRecordHasAnEnrichSpanWhoseIdItsOutputCarries) {
  iw::testing::SpanRecorder sink;
  const runtime::Tracing tracing(1.0, &sink);
  runtime::Context traced = iw::testing::with_tracing(context_.ctx(), tracing);
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(traced));
  const auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 10U);
  std::map<std::string, otlp::Span> by_id;
  for (const otlp::Span& span : spans) by_id[span.span_id] = span;
  const auto output = kafka_.committed_records(kOutput);
  ASSERT_EQ(output.size(), 9U);
  for (const auto& record : output) {
    const std::string traceparent(record.header("traceparent").value_or(""));
    ASSERT_EQ(traceparent.size(), 55U);
    ASSERT_TRUE(by_id.contains(traceparent.substr(36, 16)));
    const otlp::Span& span = by_id[traceparent.substr(36, 16)];
    EXPECT_EQ(span.name, "enrich");
    EXPECT_EQ(span.trace_id, traceparent.substr(3, 32));
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.source"), "Zoho");
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.objet"), "deals");
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.etat"), "SUCCESS");
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.execution_id"), "run-1");
    EXPECT_EQ(iw::testing::text_attribute(span, "messaging.destination.name"), kInput);
  }
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  const std::string traceparent(dead[0].header("traceparent").value_or(""));
  ASSERT_TRUE(by_id.contains(traceparent.substr(36, 16)));
  const otlp::Span& rejected = by_id[traceparent.substr(36, 16)];
  EXPECT_EQ(iw::testing::text_attribute(rejected, "ingestwatch.dead_letter.reason"),
            std::string(dead[0].header("dlq.reason").value_or("?")));
  EXPECT_EQ(rejected.status, otlp::SpanStatus::kError);
}

// A commit the broker aborts: the transaction is rolled back, the consumer rewound to its first
// records, and the same records go into the next transactions, so each is written once.
TEST_F(PipelineTest, AnAbortedCommitRewindsAndWritesEveryRecordOnce) {
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_commit(
          base::Error(base::ErrorCode::kAborted, "transaction aborted (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(journaled("transaction aborted"), 1U);
  EXPECT_EQ(context_.logged("aborting transaction").size(), 1U);
  EXPECT_EQ(committed_ids(),
            (std::multiset<std::string>{"0", "1", "2", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(kafka_.committed_records(kDeadLetters).size(), 1U);
  // The aborted transaction's records are in the log, skipped by read_committed readers.
  std::size_t aborted = 0;
  for (const std::string& topic : {kOutput, kDeadLetters}) {
    for (std::int32_t p = 0; p < kafka_.partition_count(topic); ++p) {
      aborted += static_cast<std::size_t>(
          std::ranges::count_if(kafka_.log(topic, p), [](const auto& r) { return r.aborted; }));
    }
  }
  EXPECT_EQ(aborted, 1U);  // the first transaction's record
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 5);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 5);
}

// Another instance took the transactional id over while a transaction was open: the run stops
// with the fence as its error (exit 1 and one log line in the service), and leaving the group
// on the way out calls nothing back: no revocation, no commit through the producer.
TEST_F(PipelineTest, AFencedProducerEndsTheRunWithItsErrorAndNoCallbackAfterwards) {
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer&) {
    if (++polls == 2) {
      kafka_.fence(kTransactionalId);
      for (int id = 10; id < 14; ++id) append(id);
    }
  };
  const base::Status status = service_.run(context_.ctx());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("fenced"));
  // The first poll's ten records committed, one transaction each; none of the four that came
  // with the fence.
  EXPECT_EQ(journaled("transaction committed"), 10U);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 5);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 5);
  EXPECT_THAT(context_.logged("partitions revoked"), IsEmpty());
  EXPECT_THAT(context_.logged("could not settle before revocation"), IsEmpty());
  const auto& journal = kafka_.journal();
  const auto closed = std::ranges::find(journal, "consumer closed");
  const auto destroyed = std::ranges::find(journal, "producer destroyed");
  ASSERT_NE(closed, journal.end());
  EXPECT_LT(closed, destroyed);
}

class AtLeastOncePipelineTest : public PipelineTest {
 protected:
  AtLeastOncePipelineTest() : PipelineTest(config() + "  delivery: at_least_once\n") {}
};

// Nothing commits at least once: the business metrics count each run written all the same
// (until 2026-12 they counted none, and kept every run staged in memory).
TEST_F(AtLeastOncePipelineTest, BusinessMetricsCountTheRunsWritten) {
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  const std::string text = metrics();
  EXPECT_THAT(text,
              HasSubstr(R"(ingestion_runs_total{etat="SUCCESS",objet="deals",source="Zoho"} 9)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestion_run_duration_seconds_count{source="Zoho"} 9)"));
}

// Kafka gave up on a record after its retries: its partition is read again from it (records
// after it may be written twice: at least once), no offset is stored past it meanwhile, and the
// stream goes on.
TEST_F(AtLeastOncePipelineTest, AFailedDeliveryIsWrittenAgainAndTheStreamGoesOn) {
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_delivery(
          base::Error(base::ErrorCode::kTimeout, "Local: Message timed out (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  const auto ids = committed_ids();
  for (const std::string id : {"0", "1", "2", "4", "5", "6", "7", "8", "9"}) {
    EXPECT_GE(ids.count(id), 1U) << id;
  }
  EXPECT_EQ(context_.logged("output not delivered: reading again").size(), 1U);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 5);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 5);
}

// Kafka refuses a record outright (too large): it is dead-lettered as kafka_rejected, the
// others are enriched.
TEST_F(PipelineTest, ARecordKafkaRefusesIsDeadLetteredAsKafkaRejected) {
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_produce(
          base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 2U);
  std::multiset<std::string> reasons;
  for (const auto& record : dead) {
    for (const auto& [key, value] : record.headers) {
      if (key == "dlq.reason") reasons.insert(value);
    }
  }
  EXPECT_EQ(reasons, (std::multiset<std::string>{"invalid_timestamp", "kafka_rejected"}));
  EXPECT_EQ(committed_ids().size(), 8U);
}

// Runs that cannot have ended yet (a typo'd year, a clock far ahead) are dead-lettered as
// future_timestamp before they reach the evaluator or Loki; a run within the tolerance is not.
TEST_F(PipelineTest, RunsEndingBeyondTheWallClockAreDeadLetteredAsFutureTimestamp) {
  const auto run_ending = [](int id, std::string_view fin) {
    return R"({"ID": )" + std::to_string(id) +
           R"(, "Source": "Skewed", "Objet": "deals", "Etat": "SUCCESS", "Debut": "2025-09-15 )"
           R"(10:30:00.000", "Fin": ")" +
           std::string(fin) + R"("})";
  };
  // Ten minutes ahead: within the default tolerance of 15 minutes.
  const auto soon = std::chrono::system_clock::now() + std::chrono::minutes(10);
  kafka_.append(kInput, 0, run_ending(20, "2030-01-01 00:00:00"), "Skewed");
  kafka_.append(kInput, 1, run_ending(21, "2261-01-01 00:00:00"), "Skewed");
  kafka_.append(kInput, 0, run_ending(22, base::format_rfc3339_millis(soon)), "Skewed");
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  std::multiset<std::string> reasons;
  for (const auto& record : kafka_.committed_records(kDeadLetters)) {
    for (const auto& [key, value] : record.headers) {
      if (key == "dlq.reason") reasons.insert(value);
    }
  }
  EXPECT_EQ(reasons, (std::multiset<std::string>{"future_timestamp", "future_timestamp",
                                                 "invalid_timestamp"}));
  EXPECT_EQ(committed_ids().count("22"), 1U);
  EXPECT_EQ(committed_ids().count("20") + committed_ids().count("21"), 0U);
}

// A record whose output fails the same way at every attempt (each aborts its transaction) is
// dead-lettered after three, and the stream goes on: no endless abort-and-rewind loop.
TEST_F(PipelineTest, ARecordWhoseOutputKeepsFailingIsDeadLetteredAfterThreeAttempts) {
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->refuse =
          [](const kafka::OutgoingRecord& record) -> std::optional<base::Error> {
        if (record.value.find(R"("objet":{"id":0,)") == std::string_view::npos) return std::nullopt;
        return base::Error(base::ErrorCode::kUnavailable, "Local: Queue full (injected)");
      };
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(journaled("transaction aborted"), 3U);
  EXPECT_EQ(committed_ids(), (std::multiset<std::string>{"1", "2", "4", "5", "6", "7", "8", "9"}));
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 2U);  // record 0, and record 3 (unreadable)
  const auto poison = std::ranges::find(dead, raw_record(0), &FakeKafka::Stored::value);
  ASSERT_NE(poison, dead.end());
  bool poison_reason = false;
  for (const auto& [key, value] : poison->headers) {
    poison_reason = poison_reason || (key == "dlq.reason" && value == "processing_failed");
  }
  EXPECT_TRUE(poison_reason);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 5);
}

class OneTransactionPipelineTest : public PipelineTest {
 protected:
  // Neither full nor old before the test ends: every record in one open transaction.
  OneTransactionPipelineTest() : PipelineTest(config("1000000")) {}
};

// Partitions revoked while a transaction is open: it commits before they go, so their next
// owner starts after it.
TEST_F(OneTransactionPipelineTest, ARevocationMidBatchCommitsTheOpenTransactionFirst) {
  int polls = 0;
  std::optional<std::int64_t> committed_at_revocation[2];
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 2) consumer.revoke({{kInput, 0}, {kInput, 1}});
    if (polls == 3) {
      committed_at_revocation[0] = kafka_.committed_offset(kGroup, {kInput, 0});
      committed_at_revocation[1] = kafka_.committed_offset(kGroup, {kInput, 1});
      context_.shutdown().request();
    }
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(context_.logged("partitions revoked").size(), 1U);
  EXPECT_EQ(journaled("transaction committed"), 1U);
  EXPECT_EQ(committed_at_revocation[0], 5);
  EXPECT_EQ(committed_at_revocation[1], 5);
  EXPECT_EQ(committed_ids(),
            (std::multiset<std::string>{"0", "1", "2", "4", "5", "6", "7", "8", "9"}));
}

}  // namespace
}  // namespace iw::enricher
