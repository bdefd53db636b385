// The alert evaluator's wiring against in-memory Kafka clients (iw/testing/fake_kafka.h): no
// broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "evaluator_service.h"
#include "iw/alerting/alert_event.h"
#include "iw/base/time_format.h"
#include "iw/events/enricher.h"
#include "iw/testing/child_process.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/service_context.h"
#include "iw/testing/spans.h"

namespace iw::alert_evaluator {
namespace {

using iw::testing::FakeConsumer;
using iw::testing::FakeKafka;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Events = std::multiset<std::string>;

const std::string kInput = "ingestion-logs-enriched";
const std::string kOutput = "ingestion-alerts";
const std::string kDeadLetters = "ingestion-logs-dlq";
const std::string kGroup = "ingest-alert-evaluator";
const std::string kTransactionalId = "evaluator-test";

// One rule: a FAILED run fires an alert for its source and objet, resolved 5 minutes later.
constexpr std::string_view kRules = R"(rules:
  - alert: IngestionFailureDetected
    kind: failed_runs
    by: [source, objet]
    window: 5m
    op: ">="
    threshold: 1
    for: 0s
    labels:
      severity: critical
)";

// Event time moves with the input only (no lateness, no idle pace), so what is decided does not
// depend on how fast the test runs; backoffs are short.
std::string config(const std::string& rules_file, std::string_view commit_interval) {
  return "kafka:\n  bootstrap_servers: fake:9092\nalert_evaluator:\n  transactional_id: " +
         kTransactionalId + "\n  rules_file: " + rules_file +
         "\n  allowed_lateness: 0s\n  idle_speed: 0\n  idle_grace: 0s\n  commit_interval: " +
         std::string(commit_interval) + "\n  retry_backoff_min: 1ms\n  retry_backoff_max: 4ms\n";
}

// The alerts of the input SetUp() writes: Zoho's 10:02 run and Sage's 10:03 run failed.
const Events kExpected = {
    "firing Zoho 2025-09-15T10:02:00.000Z", "resolved Zoho 2025-09-15T10:02:00.000Z",
    "firing Sage 2025-09-15T10:03:00.000Z", "resolved Sage 2025-09-15T10:03:00.000Z"};

class PipelineTest : public ::testing::Test {
 protected:
  explicit PipelineTest(std::string_view commit_interval = "1ms")
      : rules_file_(temp_.write("rules.yml", kRules).string()),
        config_(config(rules_file_, commit_interval)),
        context_(
            std::make_unique<iw::testing::ServiceContext>(evaluator_info(), service_, config_)) {}

  // The input, in two partitions.
  virtual void append_input() {
    for (int minute = 0; minute < 10; ++minute) {
      append_run("Zoho", 0, minute, minute == 2);
      append_run("Sage", 1, minute, minute == 3);
    }
  }

  void SetUp() override {
    kafka_.create_topic(kInput, 2);
    append_input();
    // The stage's consumer only: the alert history has readers of its own.
    kafka_.on_poll = [this](FakeConsumer& consumer) {
      if (consumer.options().group_id != kGroup) return;
      if (script_) script_(consumer);
      if (std::chrono::steady_clock::now() > deadline_) {
        ADD_FAILURE() << "the run did not reach what the test waits for";
        context_->shutdown().request();
      }
    };
  }

  // A run of `source` ending at 10:<minute>, enriched as the enricher writes it.
  void append_run(const std::string& source, std::int32_t partition, int minute, bool failed) {
    const std::string at =
        "2025-09-15 10:" + std::string(minute < 10 ? "0" : "") + std::to_string(minute);
    const std::string raw = R"({"ID": 1, "Source": ")" + source +
                            R"(", "Objet": "deals", "Etat": ")" + (failed ? "FAILED" : "SUCCESS") +
                            R"(", "Debut": ")" + at + R"(:00.000", "Fin": ")" + at + R"(:00.000"})";
    std::string enriched;
    ASSERT_TRUE(enricher_.enrich(raw, 0, {.topic = "ingestion-logs"}, enriched)) << raw;
    // Each run its own sampled trace, as the enricher passes it on.
    char traceparent[56];
    std::snprintf(traceparent, sizeof traceparent, "00-%032x-%016x-01",
                  static_cast<unsigned>(partition * 100 + minute + 1), 0xabcU);
    kafka_.append(kInput, partition, enriched, source,
                  {{"execution_id", "run-1"}, {"traceparent", traceparent}});
  }

  // Runs the service until `done` holds at a poll of its consumer, then asks it to stop.
  base::Status run_until(const std::function<bool(FakeConsumer&)>& done) {
    script_ = [this, done](FakeConsumer& consumer) {
      if (done(consumer)) context_->shutdown().request();
    };
    return service_.run(context_->ctx());
  }

  // "status source startsAt" of each alert event: committed ones, or every one not aborted.
  Events events(bool committed_only = true) const {
    Events out;
    std::vector<FakeKafka::Stored> records;
    if (committed_only) {
      records = kafka_.committed_records(kOutput);
    } else {
      for (std::int32_t p = 0; p < kafka_.partition_count(kOutput); ++p) {
        for (const auto& record : kafka_.log(kOutput, p)) {
          if (!record.aborted) records.push_back(record);
        }
      }
    }
    for (const auto& record : records) {
      const auto event = alerting::parse_alert_event(record.value);
      EXPECT_TRUE(event) << record.value;
      if (!event) continue;
      std::string source;
      for (const auto& [name, value] : event->labels) {
        if (name == "source") source = value;
      }
      out.insert(
          std::string(event->status == alerting::EventStatus::kFiring ? "firing " : "resolved ") +
          source + " " + base::format_rfc3339_millis(event->starts_at));
    }
    return out;
  }

  bool all_committed(const FakeConsumer& consumer, const Events& expected = kExpected) const {
    return consumer.at_end() && events() == expected;
  }

  std::size_t journaled(std::string_view what) const {
    return static_cast<std::size_t>(std::ranges::count(kafka_.journal(), what));
  }

  static std::string header(const FakeKafka::Stored& record, std::string_view name) {
    for (const auto& [key, value] : record.headers) {
      if (key == name) return value;
    }
    return "";
  }

  std::size_t aborted_events() const {
    std::size_t aborted = 0;
    for (std::int32_t p = 0; p < kafka_.partition_count(kOutput); ++p) {
      aborted += static_cast<std::size_t>(
          std::ranges::count_if(kafka_.log(kOutput, p), [](const auto& r) { return r.aborted; }));
    }
    return aborted;
  }

  iw::testing::TempDir temp_;
  std::string rules_file_;
  std::string config_;
  events::Enricher enricher_{{}};
  FakeKafka kafka_;
  EvaluatorService service_{kafka_};
  std::unique_ptr<iw::testing::ServiceContext> context_;
  std::function<void(FakeConsumer&)> script_;
  std::chrono::steady_clock::time_point deadline_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
};

TEST_F(PipelineTest, CommitsTheAlertEventsWithTheInputPositions) {
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c); }));
  EXPECT_EQ(events(), kExpected);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 10);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 10);
  EXPECT_EQ(journaled("transaction aborted"), 0U);
  EXPECT_EQ(context_->logged("rebuilding from the input").size(), 1U);
  EXPECT_EQ(context_->logged("alert").size(), 4U);
  EXPECT_THAT(kafka_.committed_records(kDeadLetters), IsEmpty());
}

// Each alert transition is an event of the span of the run that brought it about (held until the
// tick that evaluates it), and the alert event written carries that span's id, so the pusher's
// span of the event is its child.
// 30 sources whose 10:02 run failed: 60 alert events within a second.
class ManyAlertsTest : public PipelineTest {
 protected:
  static constexpr int kSources = 30;
  void append_input() override {
    for (int minute = 0; minute < 10; ++minute) {
      for (int s = 0; s < kSources; ++s) {
        append_run("S" + std::to_string(s), s % 2, minute, minute == 2);
      }
    }
  }
};

TEST_F(ManyAlertsTest, EveryEventIsWrittenButAtMostTwentyAlertLinesASecondAreLogged) {
  Events expected;
  for (int s = 0; s < kSources; ++s) {
    expected.insert("firing S" + std::to_string(s) + " 2025-09-15T10:02:00.000Z");
    expected.insert("resolved S" + std::to_string(s) + " 2025-09-15T10:02:00.000Z");
  }
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c, expected); }));
  EXPECT_EQ(events(), expected);
  const std::vector<std::string> lines = context_->logged("alert");
  // 20 in the first second; a slow run may reach into a second or third.
  EXPECT_GE(lines.size(), 20U);
  EXPECT_LE(lines.size(), 40U);
}

TEST_F(PipelineTest, AlertTransitionsAreEventsOfTheRunsSpanAndTheirEventsItsChildren) {
  iw::testing::SpanRecorder sink;
  const runtime::Tracing tracing(0.0, &sink);  // the runs' own flags decide
  runtime::Context traced = iw::testing::with_tracing(context_->ctx(), tracing);
  script_ = [this](FakeConsumer& consumer) {
    if (all_committed(consumer)) context_->shutdown().request();
  };
  ASSERT_TRUE(service_.run(traced));
  const auto spans = sink.spans();
  ASSERT_GE(spans.size(), 20U);
  // "firing Zoho" -> the trace of the span holding that event.
  std::map<std::string, std::string> trace_of;
  std::map<std::string, std::string> span_of;
  for (const otlp::Span& span : spans) {
    EXPECT_EQ(span.name, "evaluate");
    EXPECT_EQ(span.kind, otlp::SpanKind::kConsumer);
    EXPECT_EQ(span.parent_span_id, "0000000000000abc");
    for (const otlp::SpanEvent& event : span.events) {
      std::map<std::string, std::string> attributes;
      for (const auto& a : event.attributes) attributes[a.key] = std::get<std::string>(a.value);
      EXPECT_EQ(attributes["alertname"], "IngestionFailureDetected");
      EXPECT_FALSE(attributes["fingerprint"].empty());
      trace_of[event.name + " " + attributes["fingerprint"]] = span.trace_id;
      span_of[event.name + " " + attributes["fingerprint"]] = span.span_id;
    }
  }
  EXPECT_EQ(trace_of.size(), 4U);
  for (const auto& record : kafka_.committed_records(kOutput)) {
    const auto event = alerting::parse_alert_event(record.value);
    ASSERT_TRUE(event);
    const std::string name =
        std::string(event->status == alerting::EventStatus::kFiring ? "alert firing "
                                                                    : "alert resolved ") +
        std::string(record.key.value_or(""));
    const std::string traceparent = header(record, "traceparent");
    ASSERT_EQ(traceparent.size(), 55U) << name;
    ASSERT_TRUE(trace_of.contains(name)) << name;
    EXPECT_EQ(traceparent.substr(3, 32), trace_of[name]) << name;
    EXPECT_EQ(traceparent.substr(36, 16), span_of[name]) << name;
    EXPECT_EQ(traceparent.substr(52), "-01");
  }
}

TEST_F(PipelineTest, AnUnreadableRecordIsDeadLettered) {
  kafka_.append(kInput, 0, R"({"oops":1)", "Zoho", {{"execution_id", "run-1"}});
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c); }));
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, R"({"oops":1)");
  EXPECT_EQ(header(dead[0], "dlq.reason"), "invalid_enriched_record");
  EXPECT_EQ(header(dead[0], "dlq.stage"), "alert-evaluator");
  EXPECT_EQ(header(dead[0], "dlq.offset"), "10");
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 11);
}

// The broker aborts the transaction holding the first alert event: it is rolled back, the
// windows are rebuilt from the replay start, and every event is written again, once.
TEST_F(PipelineTest, AnAbortedCommitIsRolledBackAndEvaluatedAgainFromTheReplayStart) {
  bool injected = false;
  ASSERT_TRUE(run_until([&](FakeConsumer& c) {
    if (!injected) {
      injected = true;
      iw::testing::FakeProducer* producer = kafka_.last_producer();
      producer->refuse =
          [producer, armed = true](
              const kafka::OutgoingRecord& record) mutable -> std::optional<base::Error> {
        if (armed && record.topic == kOutput) {
          armed = false;
          producer->fail_next_commit(
              base::Error(base::ErrorCode::kAborted, "transaction aborted (injected)"));
        }
        return std::nullopt;
      };
    }
    return all_committed(c);
  }));
  EXPECT_EQ(journaled("transaction aborted"), 1U);
  EXPECT_GE(aborted_events(), 1U);
  EXPECT_EQ(context_->logged("rebuilding from the input").size(), 2U);
  EXPECT_EQ(events(), kExpected);
}

// Kafka gave up on an alert event after its retries: the transaction cannot commit, so it is
// rolled back, and the event is written again, once.
TEST_F(PipelineTest, AnAlertEventNotDeliveredIsWrittenAgainOnce) {
  bool injected = false;
  ASSERT_TRUE(run_until([&](FakeConsumer& c) {
    if (!injected) {
      injected = true;  // the first record produced is an alert event
      kafka_.last_producer()->fail_next_delivery(
          base::Error(base::ErrorCode::kTimeout, "Local: Message timed out (injected)"));
    }
    return all_committed(c);
  }));
  EXPECT_EQ(journaled("transaction aborted"), 1U);
  EXPECT_EQ(events(), kExpected);
}

// Its dead letter fails every time: after three attempts (each rolled back and evaluated
// again) the record is dead-lettered as processing_failed, and the stream goes on.
TEST_F(PipelineTest, APoisonRecordIsDeadLetteredAfterThreeAttemptsAndTheStreamGoesOn) {
  kafka_.append(kInput, 0, R"({"oops":1)", "Zoho");
  bool injected = false;
  ASSERT_TRUE(run_until([&](FakeConsumer& c) {
    if (!injected) {
      injected = true;
      kafka_.last_producer()->refuse =
          [](const kafka::OutgoingRecord& record) -> std::optional<base::Error> {
        if (record.topic != kDeadLetters || record.value != R"({"oops":1)") return std::nullopt;
        for (const auto& h : record.headers) {
          if (h.key == "dlq.reason" && h.value == "invalid_enriched_record") {
            return base::Error(base::ErrorCode::kUnavailable, "Local: Queue full (injected)");
          }
        }
        return std::nullopt;
      };
    }
    return all_committed(c) && !kafka_.committed_records(kDeadLetters).empty();
  }));
  EXPECT_EQ(journaled("transaction aborted"), 3U);
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, R"({"oops":1)");
  EXPECT_EQ(header(dead[0], "dlq.reason"), "processing_failed");
  EXPECT_EQ(events(), kExpected);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 11);
}

// Another instance took the transactional id over: the run stops with the fence as its error,
// and leaving the group on the way out calls nothing back.
TEST_F(PipelineTest, AFencedProducerEndsTheRunWithItsErrorAndNoCallbackAfterwards) {
  bool fenced = false;
  script_ = [&](FakeConsumer& consumer) {
    if (fenced || !all_committed(consumer)) return;
    fenced = true;
    kafka_.fence(kTransactionalId);
    kafka_.append(kInput, 0, R"({"oops":1)", "Zoho");
  };
  const base::Status status = service_.run(context_->ctx());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("fenced"));
  EXPECT_EQ(events(), kExpected);
  EXPECT_THAT(context_->logged("partitions revoked"), IsEmpty());
  EXPECT_THAT(context_->logged("could not commit before revocation"), IsEmpty());
  const auto& journal = kafka_.journal();
  const auto last_closed = std::ranges::find(journal.rbegin(), journal.rend(), "consumer closed");
  const auto destroyed = std::ranges::find(journal, "producer destroyed");
  ASSERT_NE(last_closed, journal.rend());
  ASSERT_NE(destroyed, journal.end());
  EXPECT_LT(last_closed.base() - 1, destroyed);
}

class LongTransactionTest : public PipelineTest {
 protected:
  // The longest interval allowed, longer than the test: nothing commits by age.
  LongTransactionTest() : PipelineTest("30s") {}
};

// Nothing commits by age: what is open at SIGTERM commits at the drain, events and positions
// together.
TEST_F(LongTransactionTest, TheDrainCommitsWhatIsOpen) {
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return c.at_end() && events(false) == kExpected; }));
  EXPECT_EQ(journaled("transaction committed"), 1U);
  EXPECT_EQ(context_->logged("draining").size(), 1U);
  EXPECT_EQ(events(), kExpected);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 0}), 10);
  EXPECT_EQ(kafka_.committed_offset(kGroup, {kInput, 1}), 10);
}

// Partitions revoked while a transaction holds the alert events: it commits before they go, and
// when they come back the history keeps the evaluation from writing the events again.
TEST_F(LongTransactionTest, ARevocationMidTransactionCommitsFirst) {
  int step = 0;
  Events at_revocation;
  std::optional<std::int64_t> offset_at_revocation;
  ASSERT_TRUE(run_until([&](FakeConsumer& consumer) {
    const std::vector<kafka::TopicPartition> all = {{kInput, 0}, {kInput, 1}};
    if (step == 0 && consumer.at_end() && events(false) == kExpected) {
      EXPECT_THAT(events(), IsEmpty());
      consumer.revoke(all);
      step = 1;
    } else if (step == 1) {
      at_revocation = events();
      offset_at_revocation = kafka_.committed_offset(kGroup, {kInput, 0});
      consumer.assign(all);
      step = 2;
    }
    return step == 2 && consumer.at_end() &&
           context_->logged("rebuilding from the input").size() == 3;
  }));
  // This revocation, and leaving the group at the drain.
  EXPECT_EQ(context_->logged("partitions revoked").size(), 2U);
  EXPECT_EQ(at_revocation, kExpected);
  EXPECT_EQ(offset_at_revocation, 10);
  EXPECT_EQ(events(), kExpected);
}

// A second run on the same Kafka replays the input: the events the first wrote are in the
// history and are not written again; the new ones are.
TEST_F(PipelineTest, ARestartWritesNoAlertEventTwice) {
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c); }));
  for (int minute = 10; minute < 20; ++minute) append_run("Zoho", 0, minute, minute == 12);
  context_ = std::make_unique<iw::testing::ServiceContext>(evaluator_info(), service_, config_);
  Events expected = kExpected;
  expected.insert("firing Zoho 2025-09-15T10:12:00.000Z");
  expected.insert("resolved Zoho 2025-09-15T10:12:00.000Z");
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c, expected); }));
  const auto history = context_->logged("alert history read");
  ASSERT_FALSE(history.empty());
  EXPECT_THAT(history[0], HasSubstr(R"("events":4)"));
  EXPECT_EQ(context_->logged("alert").size(), 2U);
  EXPECT_EQ(events(), expected);
}

// Retention deleted the first minutes of one partition: with replay_lookback 0s, what is left
// is not the whole history, so the replay warms up (the longest window, 5 min, after its first
// run) before it writes anything, and says so when it starts and when it ends. Sage's failure
// at 10:03 fires in the warm-up: its firing is not written, only its resolve at 10:08 (as after
// a lookback's warm-up, docs/ALERTING.md); Zoho's at 10:02 was deleted.
TEST_F(PipelineTest, AReplayAfterRetentionDeletedRecordsWarmsUpFirst) {
  for (int minute = 10; minute < 20; ++minute) append_run("Zoho", 0, minute, minute == 12);
  kafka_.delete_records(kInput, 0, 4);  // Zoho's runs of 10:00 to 10:03
  const Events expected = {"resolved Sage 2025-09-15T10:03:00.000Z",
                           "firing Zoho 2025-09-15T10:12:00.000Z",
                           "resolved Zoho 2025-09-15T10:12:00.000Z"};
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c, expected); }));
  EXPECT_EQ(events(), expected);
  const auto warming =
      context_->logged("warming up: no alert is written until the windows are full");
  ASSERT_EQ(warming.size(), 1U);
  EXPECT_THAT(warming[0], HasSubstr(R"("reason":"retention")"));
  const auto over = context_->logged("warm-up over: alerts are written from here on");
  ASSERT_EQ(over.size(), 1U);
  EXPECT_THAT(over[0], HasSubstr(R"("warm_until":"2025-09-15T10:05:00.000Z")"));
}

// Nothing deleted: the replay from the beginning is the whole input, with no warm-up.
TEST_F(PipelineTest, AReplayOfTheWholeInputHasNoWarmUp) {
  ASSERT_TRUE(run_until([&](FakeConsumer& c) { return all_committed(c); }));
  EXPECT_THAT(context_->logged("warming up: no alert is written until the windows are full"),
              IsEmpty());
}

}  // namespace
}  // namespace iw::alert_evaluator
