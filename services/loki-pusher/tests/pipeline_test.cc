// The pusher's wiring against in-memory Kafka clients (iw/testing/fake_kafka.h) and the Loki test
// receiver in process (iw/testing/loki_receiver.h): no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "alert_events.h"
#include "iw/events/enricher.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/loki_receiver.h"
#include "iw/testing/service_context.h"
#include "iw/testing/spans.h"
#include "loki_pusher_service.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using iw::testing::FakeConsumer;
using iw::testing::FakeKafka;
using iw::testing::LokiReceiver;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kRuns = "ingestion-logs-enriched";
const std::string kAlerts = "ingestion-alerts";
const std::string kDeadLetters = "ingestion-logs-dlq";
const std::string kGroup = "ingest-loki-pusher";
constexpr int kRunCount = 10;  // five on each of the two partitions
constexpr int kAlertCount = 3;

// Every backoff is a few milliseconds.
constexpr std::string_view kConfig = R"(kafka:
  bootstrap_servers: fake:9092
loki_pusher:
  backoff:
    min: 1ms
    max: 4ms
  ready_probe_interval: 100ms
  retry_backoff_min: 1ms
  retry_backoff_max: 4ms
  drain_timeout: 5s
)";

// Run `id` (< 60) as the enricher writes it; each starts a second after the one before, so Loki
// tells their entries apart by timestamp.
std::string enriched_run(int id, const std::string& source = "Zoho") {
  const std::string raw = R"({"ID": )" + std::to_string(id) + R"(, "Source": ")" + source +
                          R"(", "Objet": "deals", "Etat": "SUCCESS", "Debut": "2025-09-15 10:30:)" +
                          (id < 10 ? "0" : "") + std::to_string(id) +
                          R"(.000", "Fin": "2025-09-15 10:31:00.000"})";
  events::Enricher enricher({});
  std::string enriched;
  const auto facts = enricher.enrich(raw, 0, {.topic = "ingestion-logs", .offset = id}, enriched);
  EXPECT_TRUE(facts.has_value()) << raw;
  return enriched;
}

std::string header(const FakeKafka::Stored& record, std::string_view name) {
  for (const auto& [key, value] : record.headers) {
    if (key == name) return value;
  }
  return {};
}

class PusherPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = LokiReceiver::start();
    ASSERT_TRUE(receiver.has_value());
    receiver_ = std::move(*receiver);
    kafka_.create_topic(kRuns, 2);
    kafka_.create_topic(kAlerts, 1);
    for (int id = 0; id < kRunCount; ++id) append_run(id);
    for (int n = 0; n < kAlertCount; ++n) {
      kafka_.append(kAlerts, 0, alert_event(n), "fp", {}, std::chrono::system_clock::now());
    }
  }

  // Batches leave `max_wait` after their first entry, or once they hold `max_entries`.
  void start(std::string_view max_wait = "5ms", std::size_t max_entries = 10'000) {
    const std::string config = std::string(kConfig) +
                               "  url: http://127.0.0.1:" + std::to_string(receiver_->port()) +
                               "\n  batch:\n    max_wait: " + std::string(max_wait) +
                               "\n    max_entries: " + std::to_string(max_entries) + "\n";
    context_ = std::make_unique<iw::testing::ServiceContext>(pusher_info(), service_, config);
  }

  void append_run(int id, std::string value = {}) {
    kafka_.append(kRuns, id % 2, value.empty() ? enriched_run(id) : std::move(value), "Zoho",
                  {{"execution_id", "run-" + std::to_string(id)},
                   {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
                  std::chrono::system_clock::now());
  }

  // Runs the service with `script` called at every poll; stops it after 20 s whatever happens.
  base::Status run(std::function<void(FakeConsumer&)> script) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    kafka_.on_poll = [this, deadline, script = std::move(script)](FakeConsumer& consumer) {
      script(consumer);
      if (std::chrono::steady_clock::now() > deadline) {
        std::string state;
        for (const auto& [p, o] : consumer.stored()) {
          state += p.topic + "/" + std::to_string(p.partition) + "=" + std::to_string(o) + " ";
        }
        ADD_FAILURE() << "the test's script did not stop the service in time; stored: " << state;
        context_->shutdown().request();
      }
    };
    return service_.run(context_->ctx());
  }

  std::int64_t end_of(const kafka::TopicPartition& partition) const {
    return static_cast<std::int64_t>(kafka_.log(partition.topic, partition.partition).size());
  }

  static std::vector<kafka::TopicPartition> partitions() {
    return {{kRuns, 0}, {kRuns, 1}, {kAlerts, 0}};
  }

  // Every input record read.
  bool read_all(const FakeConsumer& consumer) const {
    return std::ranges::all_of(partitions(), [&](const kafka::TopicPartition& p) {
      const auto it = consumer.positions().find(p);
      return it != consumer.positions().end() && it->second == end_of(p);
    });
  }

  // Every input offset (of `which`) stored to the end.
  bool stored_all(const FakeConsumer& consumer,
                  const std::vector<kafka::TopicPartition>& which = partitions()) const {
    return std::ranges::all_of(which, [&](const kafka::TopicPartition& p) {
      const auto it = consumer.stored().find(p);
      return it != consumer.stored().end() && it->second == end_of(p);
    });
  }

  // Each line stored by the receiver, with how often.
  std::map<std::string, int> stored_lines() const {
    std::map<std::string, int> lines;
    for (const auto& entry : receiver_->entries()) ++lines[entry.line];
    return lines;
  }

  void expect_every_record_stored_once(std::set<std::string> except = {}) const {
    const auto lines = stored_lines();
    std::size_t expected = 0;
    for (const auto& p : partitions()) {
      for (const auto& record : kafka_.log(p.topic, p.partition)) {
        if (except.contains(record.value)) continue;
        ++expected;
        const auto it = lines.find(record.value);
        EXPECT_TRUE(it != lines.end() && it->second == 1) << record.value;
      }
    }
    EXPECT_EQ(lines.size(), expected);
  }

  double metric(const std::string& series) const {
    const std::string text =
        prometheus::TextSerializer().Serialize(context_->metrics().registry().Collect());
    const std::string prefix = "\n" + series + " ";
    const auto at = text.find(prefix);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + prefix.size()));
  }

  // The stage's teardown: the consumer left its group while the producer still existed.
  bool left_in_order() const {
    const auto& journal = kafka_.journal();
    const auto closed = std::ranges::find(journal, "consumer closed");
    return closed != journal.end() && closed < std::ranges::find(journal, "producer destroyed");
  }

  std::size_t logged(std::string_view msg) const { return context_->logged(msg).size(); }

  FakeKafka kafka_;
  std::unique_ptr<LokiReceiver> receiver_;
  LokiPusherService service_{kafka_};
  std::unique_ptr<iw::testing::ServiceContext> context_;
};

// Loki is down at first: nothing is stored while no entry is accepted; once it is back every
// record arrives once and every offset is stored.
TEST_F(PusherPipelineTest, PushesEveryRecordAndStoresOffsetsOnlyOnceLokiTookThem) {
  start();
  receiver_->go_down();
  bool stored_while_down = false;
  bool back = false;
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (receiver_->entry_count() == 0 && !consumer.stored().empty()) stored_while_down = true;
    if (!back && receiver_->refused() >= 3 && read_all(consumer)) {
      back = true;
      (void)receiver_->come_back();
    }
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  EXPECT_FALSE(stored_while_down);
  expect_every_record_stored_once();
  // A run's entry carries its traceparent's trace id as structured metadata (docs/TRACING.md).
  for (const auto& entry : receiver_->entries()) {
    if (entry.stream.find("ingestion-logs") == std::string::npos) continue;
    EXPECT_EQ(entry.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") << entry.line;
  }
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
  constexpr double kRecords = kRunCount + kAlertCount;
  EXPECT_EQ(metric("ingestwatch_records_in_total"), kRecords);
  EXPECT_EQ(metric(R"(ingestwatch_records_out_total{topic="loki"})"), kRecords);
  EXPECT_EQ(metric("ingestwatch_loki_entries_pushed_total"), kRecords);
  EXPECT_EQ(metric("ingestwatch_record_latency_seconds_count"), kRecords);
  // The stage's lag gauges, by topic and partition.
  EXPECT_GE(metric(R"(ingestwatch_consumer_lag_records{partition="0",topic="ingestion-alerts"})"),
            0);
  EXPECT_THAT(kafka_.committed_records(kDeadLetters), IsEmpty());
}

// A burst fills batches; when the input pauses, its last entries (batches not full) are pushed
// at once, not a minute (max_wait) later.
TEST_F(PusherPipelineTest, TheEndOfABurstIsPushedWithoutWaitingForMaxWait) {
  start("60s", 2);
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  // Every offset stored before SIGTERM: the drain did not push the last entries.
  expect_every_record_stored_once();
}

// Partitions revoked while entries are on their way to Loki (down): only what Loki accepted
// before is committed; the partitions' next owner (here the same consumer, assigned them back)
// reads the rest again, and Loki stores each entry once.
TEST_F(PusherPipelineTest, ARevocationStoresOnlyWhatLokiAcceptedAndTheNextOwnerReadsTheRest) {
  start();
  enum { kFirst, kDown, kRevoked, kBack } phase = kFirst;
  std::map<kafka::TopicPartition, std::optional<std::int64_t>> committed_at_revocation;
  std::map<kafka::TopicPartition, std::int64_t> accepted_before;
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    switch (phase) {
      case kFirst:
        if (!stored_all(consumer)) return;
        for (const auto& p : partitions()) accepted_before[p] = end_of(p);
        receiver_->go_down();
        for (int id = kRunCount; id < kRunCount + 4; ++id) append_run(id);
        phase = kDown;
        return;
      case kDown:
        if (!read_all(consumer) || receiver_->refused() < 2) return;
        consumer.revoke(partitions());
        phase = kRevoked;
        return;
      case kRevoked:
        for (const auto& p : partitions()) {
          committed_at_revocation[p] = kafka_.committed_offset(kGroup, p);
        }
        (void)receiver_->come_back();
        consumer.assign(partitions());
        phase = kBack;
        return;
      case kBack:
        // The alerts partition has nothing new to read: its offset stays where it was.
        if (stored_all(consumer, {{kRuns, 0}, {kRuns, 1}})) context_->shutdown().request();
        return;
    }
  }));
  EXPECT_EQ(logged("partitions revoked"), 2U);  // the test's, and leaving the group at the end
  for (const auto& p : partitions()) {
    EXPECT_EQ(committed_at_revocation[p], accepted_before[p]) << p.topic << "/" << p.partition;
    EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
  }
  expect_every_record_stored_once();
}

// An entry Loki refuses for good (a 400 naming it) goes to the dead-letter topic with Loki's
// reason, its key and its headers; its offset is stored once the dead letter is delivered.
TEST_F(PusherPipelineTest, AnEntryLokiRefusesIsDeadLetteredWithItsReason) {
  start();
  const std::string refused = enriched_run(4);
  receiver_->reject_lines([&](std::string_view line) { return line == refused; });
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  expect_every_record_stored_once({refused});
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, refused);
  EXPECT_EQ(dead[0].key, "Zoho");
  EXPECT_EQ(header(dead[0], "dlq.reason"), "out_of_order");
  EXPECT_EQ(header(dead[0], "dlq.stage"), "loki-pusher");
  EXPECT_EQ(header(dead[0], "dlq.topic"), kRuns);
  EXPECT_EQ(header(dead[0], "dlq.offset"), "2");
  EXPECT_EQ(header(dead[0], "execution_id"), "run-4");
  EXPECT_THAT(header(dead[0], "traceparent"), HasSubstr("4bf92f3577b34da6a3ce929d0e0e4736"));
  EXPECT_EQ(metric(R"(ingestwatch_records_dead_lettered_total{reason="out_of_order"})"), 1);
  EXPECT_EQ(metric(R"(ingestwatch_loki_rejected_entries_total{by="loki",reason="out_of_order"})"),
            1);
  EXPECT_EQ(metric(R"(ingestwatch_records_out_total{topic="loki"})"), kRunCount + kAlertCount - 1);
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
}

// Each record's `push` span runs from its read to Loki's answer: accepted (the span ends once
// Loki took the entry, not before) or refused (the span carries its dead letter's reason).
TEST_F(PusherPipelineTest, EachRecordsSpanEndsAtLokisAnswer) {
  start();
  iw::testing::SpanRecorder sink;
  const runtime::Tracing tracing(0.0, &sink);  // the runs are sampled, the alert events not
  runtime::Context traced = iw::testing::with_tracing(context_->ctx(), tracing);
  const std::string refused = enriched_run(4);
  receiver_->reject_lines([&](std::string_view line) { return line == refused; });
  receiver_->go_down();
  std::optional<base::TimePoint> back_at;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (!back_at && receiver_->refused() >= 3 && read_all(consumer)) {
      EXPECT_THAT(sink.spans(), IsEmpty());  // read, not answered
      back_at = std::chrono::system_clock::now();
      (void)receiver_->come_back();
    }
    if (stored_all(consumer) || std::chrono::steady_clock::now() > deadline) {
      context_->shutdown().request();
    }
  };
  ASSERT_TRUE(service_.run(traced));
  ASSERT_TRUE(back_at);
  const auto spans = sink.spans();
  ASSERT_EQ(spans.size(), static_cast<std::size_t>(kRunCount));
  const otlp::Span* dead_span = nullptr;
  for (const otlp::Span& span : spans) {
    EXPECT_EQ(span.name, "push");
    EXPECT_EQ(span.kind, otlp::SpanKind::kConsumer);
    EXPECT_EQ(span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(span.parent_span_id, "00f067aa0ba902b7");
    EXPECT_GE(span.end, *back_at);
    EXPECT_LT(span.start, *back_at);
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.source"), "Zoho");
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.objet"), "deals");
    EXPECT_EQ(iw::testing::text_attribute(span, "ingestwatch.etat"), "SUCCESS");
    if (!iw::testing::text_attribute(span, "ingestwatch.dead_letter.reason").empty()) {
      dead_span = &span;
    }
  }
  ASSERT_NE(dead_span, nullptr);
  EXPECT_EQ(iw::testing::text_attribute(*dead_span, "ingestwatch.dead_letter.reason"),
            "out_of_order");
  EXPECT_EQ(dead_span->status, otlp::SpanStatus::kError);
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(header(dead[0], "traceparent").substr(36, 16), dead_span->span_id);
}

// A dead letter Kafka does not deliver (after its retries) does not end the run: the partition is
// read again from its first record without an outcome, the dead letter is written again, and
// Loki stores the entries sent again once.
TEST_F(PusherPipelineTest, ADeadLetterNotDeliveredIsWrittenAgain) {
  append_run(kRunCount, "not json");  // partition 0, offset 5: invalid_record
  start();
  int polls = 0;
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_delivery(
          base::Error(base::ErrorCode::kTimeout, "Local: Message timed out (injected)"));
    }
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  EXPECT_EQ(logged("output not delivered: reading again"), 1U);
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, "not json");
  EXPECT_EQ(header(dead[0], "dlq.reason"), "invalid_record");
  expect_every_record_stored_once({"not json"});
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
}

// A record whose dead letter Kafka refuses whole every time (too large): it is dead-lettered as
// oversized_record, its head with its size and hash, and the stream goes on. A dead letter never
// ends the run.
TEST_F(PusherPipelineTest, ARecordWhoseWholeDeadLetterKafkaRefusesIsDeadLetteredAsOversized) {
  append_run(kRunCount, "not json");  // partition 0, offset 5
  start();
  int polls = 0;
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->refuse =
          [](const kafka::OutgoingRecord& record) -> std::optional<base::Error> {
        const bool cut = std::ranges::any_of(record.headers, [](const kafka::HeaderView& h) {
          return h.key == "dlq.original_size";
        });
        if (record.value != "not json" || cut) return std::nullopt;
        return base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large");
      };
    }
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  const auto dead = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, "not json");
  EXPECT_EQ(header(dead[0], "dlq.reason"), "oversized_record");
  EXPECT_EQ(header(dead[0], "dlq.original_size"), "8");
  EXPECT_THAT(header(dead[0], "dlq.error"),
              HasSubstr("the whole record was refused as a dead letter"));
  EXPECT_EQ(metric(R"(ingestwatch_records_dead_lettered_total{reason="oversized_record"})"), 1);
  expect_every_record_stored_once({"not json"});
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
}

// A fatal consumer error ends the run with that error; leaving calls nothing back (no
// revocation, no commit through a producer already gone): the consumer closes before the
// producer is destroyed.
TEST_F(PusherPipelineTest, AFatalConsumeErrorEndsTheRunWithNoCallbackAfterwards) {
  start();
  int polls = 0;
  const base::Status status = run([&](FakeConsumer& consumer) {
    if (++polls == 3) {
      consumer.fail_next_poll(base::Error(base::ErrorCode::kFailedPrecondition,
                                          "Broker: fatal consumer error (injected)"));
    }
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("fatal consumer error"));
  EXPECT_THAT(context_->logged("partitions revoked"), IsEmpty());
  EXPECT_THAT(context_->logged("drained"), IsEmpty());
  EXPECT_TRUE(left_in_order());
}

// SIGTERM with every entry still in the batcher (batches wait an hour): the drain pushes them
// within drain_timeout, and the offsets are stored and committed before the pusher leaves.
TEST_F(PusherPipelineTest, TheSigtermDrainPushesWhatIsPendingAndStoresItsOffsets) {
  start("1h");
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (read_all(consumer)) context_->shutdown().request();
  }));
  expect_every_record_stored_once();
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
  const auto drained = context_->logged("drained");
  ASSERT_EQ(drained.size(), 1U);
  EXPECT_THAT(drained[0], HasSubstr(R"("entries_not_pushed":0)"));
}

// Runs of eight sources (eight streams, shared out among the four lanes) on both partitions, so
// that each partition's records travel in several pushes at once.
void append_many_sources(FakeKafka& kafka, int first_id, int count) {
  for (int id = first_id; id < first_id + count; ++id) {
    kafka.append(kRuns, id % 2, enriched_run(id, "Src" + std::to_string(id % 8)), "k",
                 {{"execution_id", "run"}}, std::chrono::system_clock::now());
  }
}

// Pushes answered out of order (one of them refused with a 500 and sent again while the
// others are stored): at every poll, a partition's stored offset has every record before it in
// Loki; the records stored past a late push wait for it, and then every offset is stored.
TEST_F(PusherPipelineTest, OffsetsStoredOnlyBehindAnsweredPushesWhenAnswersComeOutOfOrder) {
  append_many_sources(kafka_, kRunCount, 40);
  start("20ms");
  receiver_->set_delay(50ms);
  receiver_->fail_next(1, 500, "internal");
  bool overtaken = false;
  std::string broken;
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    const auto lines = stored_lines();
    for (const auto& p : partitions()) {
      const auto& log = kafka_.log(p.topic, p.partition);
      const auto stored = consumer.stored().find(p);
      const std::int64_t below = stored == consumer.stored().end() ? 0 : stored->second;
      for (std::int64_t offset = 0; offset < static_cast<std::int64_t>(log.size()); ++offset) {
        const bool in_loki = lines.contains(log[static_cast<std::size_t>(offset)].value);
        if (offset < below && !in_loki && broken.empty()) {
          broken = p.topic + "/" + std::to_string(p.partition) + " stored at " +
                   std::to_string(below) + " before " + std::to_string(offset) + " was in Loki";
        }
        // A record in Loki while one before it on its partition is not yet.
        if (offset >= below && in_loki) overtaken = overtaken || offset > below;
      }
    }
    if (stored_all(consumer)) context_->shutdown().request();
  }));
  EXPECT_EQ(broken, "");
  EXPECT_TRUE(overtaken) << "no push was answered out of order";
  expect_every_record_stored_once();
  EXPECT_EQ(std::ranges::count(receiver_->requests(), 500, &testing::LokiRequest::status), 1);
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
}

// SIGTERM while several pushes are in flight (each answered 300 ms after it arrives): the drain
// waits for their answers, then stores every offset before leaving.
TEST_F(PusherPipelineTest, TheSigtermDrainWaitsForThePushesInFlight) {
  append_many_sources(kafka_, kRunCount, 40);
  start("1h");
  receiver_->set_delay(300ms);
  ASSERT_TRUE(run([&](FakeConsumer& consumer) {
    if (read_all(consumer)) context_->shutdown().request();
  }));
  expect_every_record_stored_once();
  EXPECT_GE(receiver_->requests().size(), 2U);
  for (const auto& p : partitions()) EXPECT_EQ(kafka_.committed_offset(kGroup, p), end_of(p));
  const auto drained = context_->logged("drained");
  ASSERT_EQ(drained.size(), 1U);
  EXPECT_THAT(drained[0], HasSubstr(R"("entries_not_pushed":0)"));
}

}  // namespace
}  // namespace iw::loki_pusher
