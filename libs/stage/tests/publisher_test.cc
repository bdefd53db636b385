// The Publisher (the output side of a stage whose input is not Kafka) against in-memory Kafka
// clients: no broker.
#include "iw/stage/publisher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "iw/base/sha256.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/service_context.h"
#include "iw/testing/spans.h"

namespace iw::stage {
namespace {

using iw::testing::FakeKafka;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

const std::string kOut = "out";
const std::string kDeadLetters = "dlq";

class NoKeys final : public runtime::Service {
 public:
  void declare(config::Schema&) const override {}
  base::Status run(runtime::Context&) override { return {}; }
};

runtime::ServiceInfo test_info() { return {.name = "publisher-test", .binary = "publisher-test"}; }

// FakeKafka's clients, with the faults FakeProducer has no switch for: a flush that times out
// (its reports stay queued), a producer gone fatal, topics that cannot be created.
class Faults final : public kafka::ClientFactory {
 public:
  explicit Faults(FakeKafka& kafka) : kafka_(kafka) {}

  bool flush_times_out = false;
  bool fatal = false;
  bool create_fails = false;
  kafka::ProducerOptions producer_options;

  base::Result<std::unique_ptr<kafka::Admin>> admin(const kafka::ClientOptions&) override {
    auto admin = kafka_.fake_admin();
    if (create_fails) admin->fail_next_create(base::Error(base::ErrorCode::kTimeout, "no broker"));
    return admin;
  }
  base::Result<std::unique_ptr<kafka::Consumer>> consumer(
      const kafka::ConsumerOptions& options) override {
    return kafka_.consumer(options);
  }
  base::Result<std::unique_ptr<kafka::Producer>> producer(
      const kafka::ProducerOptions& options, kafka::DeliveryHandler& handler) override {
    producer_options = options;
    return std::make_unique<Producer>(*this, kafka_.fake_producer(options, handler));
  }

 private:
  class Producer final : public kafka::Producer {
   public:
    Producer(Faults& faults, std::unique_ptr<kafka::Producer> fake)
        : faults_(faults), fake_(std::move(fake)) {}
    base::Status produce(const kafka::OutgoingRecord& record, std::uint64_t correlation) override {
      if (faults_.fatal) {
        return base::fail(base::ErrorCode::kFailedPrecondition, "Fatal error (injected)");
      }
      return fake_->produce(record, correlation);
    }
    int poll(std::chrono::milliseconds timeout) override { return fake_->poll(timeout); }
    base::Status flush(std::chrono::milliseconds timeout) override {
      if (faults_.flush_times_out) {
        return base::fail(base::ErrorCode::kTimeout, "flush timed out (injected)");
      }
      return fake_->flush(timeout);
    }
    std::size_t in_flight() const override { return fake_->in_flight(); }
    void purge() override { fake_->purge(); }
    bool fatal() const override { return faults_.fatal; }
    base::Status init_transactions(std::chrono::milliseconds t) override {
      return fake_->init_transactions(t);
    }
    base::Status begin_transaction() override { return fake_->begin_transaction(); }
    base::Status send_offsets_to_transaction(std::span<const kafka::TopicPartitionOffset> offsets,
                                             const kafka::GroupMetadata& group,
                                             std::chrono::milliseconds t) override {
      return fake_->send_offsets_to_transaction(offsets, group, t);
    }
    base::Status commit_transaction(std::chrono::milliseconds t) override {
      return fake_->commit_transaction(t);
    }
    base::Status abort_transaction(std::chrono::milliseconds t) override {
      return fake_->abort_transaction(t);
    }

   private:
    Faults& faults_;
    std::unique_ptr<kafka::Producer> fake_;
  };

  FakeKafka& kafka_;
};

// Every report, by correlation.
class Reports final : public kafka::DeliveryHandler {
 public:
  void on_delivery(const kafka::DeliveryReport& report) override {
    auto& seen = by_correlation[report.correlation];
    ++seen.count;
    if (report.error) seen.error = report.error->message();
  }
  struct Seen {
    int count = 0;
    std::string error;  // "" when delivered
  };
  std::map<std::uint64_t, Seen> by_correlation;
};

// A header of a record written, "<missing>" when it has none.
std::string header(const FakeKafka::Stored& record, std::string_view name) {
  return record.header(name).value_or("<missing>");
}

class PublisherTest : public ::testing::Test {
 protected:
  PublisherTest()
      : context_(test_info(), service_,
                 "kafka:\n  bootstrap_servers: fake:9092\n  properties:\n    linger.ms: \"50\"\n") {
  }

  PublisherOptions options() {
    return {
        .name = "producer",
        .topic = kOut,
        .dlq_topic = kDeadLetters,
        .create_topics = {{.name = kOut, .partitions = 2}, {.name = kDeadLetters, .partitions = 1}},
        .client = runtime::kafka_client_options(context_.ctx()),
        .producer_properties = {{"linger.ms", "5"}, {"compression.type", "lz4"}},
        .delivery_timeout = 3s,
        .dead_letter_head_bytes = 8};
  }

  base::Status write(std::string_view value, std::uint64_t correlation) {
    const std::array<kafka::HeaderView, 1> headers = {{{"content-type", "application/json"}}};
    return publisher_.write({.topic = kOut, .key = "Zoho", .value = value, .headers = headers},
                            correlation);
  }

  NoKeys service_;
  iw::testing::ServiceContext context_;
  FakeKafka kafka_;
  Faults faults_{kafka_};
  Reports reports_;
  Publisher publisher_{context_.ctx(), options(), reports_, faults_};
};

TEST_F(PublisherTest, CreatesItsTopicsAndWritesRecordsReportedByCorrelation) {
  ASSERT_TRUE(publisher_.start());
  EXPECT_EQ(kafka_.partition_count(kOut), 2);
  EXPECT_EQ(kafka_.partition_count(kDeadLetters), 1);
  EXPECT_TRUE(context_.ctx().readiness.ready());
  // The user's kafka.properties win over the publisher's defaults; the delivery timeout is its.
  const auto& properties = faults_.producer_options.client.properties;
  EXPECT_EQ(properties.at("linger.ms"), "50");
  EXPECT_EQ(properties.at("compression.type"), "lz4");
  EXPECT_EQ(properties.at("message.timeout.ms"), "3000");

  ASSERT_TRUE(write("a", 7));
  ASSERT_TRUE(write("b", 8));
  EXPECT_EQ(publisher_.outstanding(), 2U);
  publisher_.serve(0ms);
  EXPECT_EQ(publisher_.outstanding(), 0U);
  ASSERT_EQ(reports_.by_correlation.size(), 2U);
  EXPECT_EQ(reports_.by_correlation[7].count, 1);
  EXPECT_EQ(reports_.by_correlation[7].error, "");
  EXPECT_EQ(reports_.by_correlation[8].count, 1);
  const auto written = kafka_.committed_records(kOut);
  ASSERT_EQ(written.size(), 2U);
  EXPECT_EQ(written[0].key, "Zoho");
  EXPECT_EQ(header(written[0], "content-type"), "application/json");
}

TEST_F(PublisherTest, TopicsThatCannotBeCreatedStopTheStartAndLeaveItNotReady) {
  faults_.create_fails = true;
  const auto status = publisher_.start();
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("creating topics"));
  EXPECT_FALSE(publisher_.started());
  EXPECT_FALSE(context_.ctx().readiness.ready());
}

TEST_F(PublisherTest, DeadLettersCarryTheStageTheTopicAndTheFilePosition) {
  ASSERT_TRUE(publisher_.start());
  ASSERT_TRUE(publisher_.dead_letter({.value = "{not json", .key = "Zoho", .execution_id = "run-1"},
                                     "invalid_json", "expected a value",
                                     kafka::FilePosition{"logs.ndjson", 12, 3456}, 9));
  publisher_.serve(0ms);
  EXPECT_EQ(reports_.by_correlation[9].count, 1);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  const auto& letter = letters[0];
  EXPECT_EQ(letter.value, "{not json");
  EXPECT_EQ(letter.key, "Zoho");
  EXPECT_EQ(header(letter, "dlq.reason"), "invalid_json");
  EXPECT_EQ(header(letter, "dlq.error"), "expected a value");
  EXPECT_EQ(header(letter, "dlq.stage"), "producer");
  EXPECT_EQ(header(letter, "dlq.topic"), kOut);
  EXPECT_EQ(header(letter, "dlq.partition"), "-1");
  EXPECT_EQ(header(letter, "dlq.offset"), "-1");
  EXPECT_EQ(header(letter, "dlq.file"), "logs.ndjson");
  EXPECT_EQ(header(letter, "dlq.line"), "12");
  EXPECT_EQ(header(letter, "dlq.byte_offset"), "3456");
  EXPECT_EQ(header(letter, "execution_id"), "run-1");
  EXPECT_THAT(header(letter, "traceparent"), ::testing::StartsWith("00-"));
  EXPECT_NE(header(letter, "dlq.ts"), "<missing>");
}

// A dead letter Kafka refuses as too large (the record plus its headers) falls back to the
// record's head, size and hash, as oversized_record: it never stops the producer.
TEST_F(PublisherTest, ADeadLetterRefusedAsTooLargeKeepsTheHeadSizeAndHash) {
  ASSERT_TRUE(publisher_.start());
  EXPECT_EQ(faults_.producer_options.client.properties["message.max.bytes"], "1000000");
  kafka_.last_producer()->refuse = [](const kafka::OutgoingRecord& record) {
    return record.value.size() > 20 ? std::optional(base::Error(base::ErrorCode::kInvalidInput,
                                                                "Broker: Message size too large"))
                                    : std::nullopt;
  };
  const std::string big = "{\"a\":\"" + std::string(40, 'x') + "\"}";
  const auto reason = publisher_.dead_letter({.value = big, .key = "Zoho", .execution_id = "run-1"},
                                             "kafka_rejected", "Broker: Message size too large",
                                             kafka::FilePosition{"logs.ndjson", 3, 99}, 5);
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "oversized_record");
  publisher_.serve(0ms);
  EXPECT_EQ(reports_.by_correlation[5].count, 1);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].value, big.substr(0, 8));
  EXPECT_EQ(header(letters[0], "dlq.reason"), "oversized_record");
  EXPECT_EQ(header(letters[0], "dlq.original_size"), std::to_string(big.size()));
  EXPECT_EQ(header(letters[0], "dlq.sha256"), base::to_hex(base::sha256(big)));
  EXPECT_EQ(header(letters[0], "dlq.line"), "3");
  EXPECT_THAT(header(letters[0], "dlq.error"),
              HasSubstr("kafka_rejected: Broker: Message size too large; the whole record was "
                        "refused as a dead letter"));
}

// A record the reader already cut (a 20 MB line): its head goes, cut to dead_letter_head_bytes,
// with the size and hash the reader computed.
TEST_F(PublisherTest, AnOversizedRecordsDeadLetterCarriesTheWholesSizeAndHash) {
  ASSERT_TRUE(publisher_.start());
  const std::string sha256(64, 'c');
  const auto reason = publisher_.dead_letter(
      {.value = "0123456789abcdef", .execution_id = "run-1"}, "oversized_record", "too long",
      kafka::FilePosition{"logs.ndjson", 7, 1000}, 6,
      kafka::Oversized{.original_size = 20'000'000, .sha256 = sha256});
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "oversized_record");
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].value, "01234567");
  EXPECT_FALSE(letters[0].key.has_value());
  EXPECT_EQ(header(letters[0], "dlq.original_size"), "20000000");
  EXPECT_EQ(header(letters[0], "dlq.sha256"), sha256);
}

TEST_F(PublisherTest, AFailedDeliveryIsReportedToTheHandler) {
  ASSERT_TRUE(publisher_.start());
  kafka_.last_producer()->fail_next_delivery(
      base::Error(base::ErrorCode::kTimeout, "Local: Message timed out"));
  ASSERT_TRUE(write("lost", 1));
  ASSERT_TRUE(write("kept", 2));
  publisher_.serve(0ms);
  EXPECT_EQ(reports_.by_correlation[1].error, "Local: Message timed out");
  EXPECT_EQ(reports_.by_correlation[2].error, "");
  EXPECT_EQ(publisher_.outstanding(), 0U);
}

TEST_F(PublisherTest, ARecordKafkaRefusesIsNotQueuedAndGetsNoReport) {
  ASSERT_TRUE(publisher_.start());
  kafka_.last_producer()->fail_next_produce(
      base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large"));
  const auto status = write("huge", 1);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_EQ(publisher_.outstanding(), 0U);
  publisher_.drain();
  EXPECT_THAT(reports_.by_correlation, IsEmpty());
}

TEST_F(PublisherTest, DrainDeliversWhatIsOutstanding) {
  ASSERT_TRUE(publisher_.start());
  for (std::uint64_t c = 1; c <= 3; ++c) ASSERT_TRUE(write("r", c));
  publisher_.drain();
  ASSERT_EQ(reports_.by_correlation.size(), 3U);
  for (const auto& [correlation, seen] : reports_.by_correlation) {
    EXPECT_EQ(seen.count, 1) << correlation;
    EXPECT_EQ(seen.error, "") << correlation;
  }
  EXPECT_THAT(context_.logged("flush timed out, purging"), IsEmpty());
}

// The flush gives up: the rest are purged, and each still gets exactly one (failed) report.
TEST_F(PublisherTest, DrainPurgesAfterAFlushTimeoutSoEveryRecordGetsOneReport) {
  ASSERT_TRUE(publisher_.start());
  for (std::uint64_t c = 1; c <= 3; ++c) ASSERT_TRUE(write("r", c));
  faults_.flush_times_out = true;
  publisher_.drain();
  ASSERT_EQ(reports_.by_correlation.size(), 3U);
  for (const auto& [correlation, seen] : reports_.by_correlation) {
    EXPECT_EQ(seen.count, 1) << correlation;
    EXPECT_THAT(seen.error, HasSubstr("purged")) << correlation;
  }
  EXPECT_EQ(publisher_.outstanding(), 0U);
  const auto logged = context_.logged("flush timed out, purging");
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_THAT(logged[0], HasSubstr("\"in_flight\":3"));
}

// A fatal producer takes nothing more and will deliver nothing: the drain does not wait for it.
TEST_F(PublisherTest, AFatalProducerRefusesWritesAndIsPurgedAtOnce) {
  ASSERT_TRUE(publisher_.start());
  ASSERT_TRUE(write("before", 1));
  faults_.fatal = true;
  const auto status = write("after", 2);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(publisher_.fatal());
  publisher_.drain();
  ASSERT_EQ(reports_.by_correlation.size(), 1U);
  EXPECT_EQ(reports_.by_correlation[1].count, 1);
  EXPECT_THAT(reports_.by_correlation[1].error, HasSubstr("purged"));
  EXPECT_EQ(context_.logged("producer failed, purging").size(), 1U);
}

TEST_F(PublisherTest, BeforeStartServeAndDrainDoNothing) {
  publisher_.serve(0ms);
  publisher_.drain();
  EXPECT_FALSE(publisher_.started());
  EXPECT_FALSE(publisher_.fatal());
  EXPECT_THAT(reports_.by_correlation, IsEmpty());
}

// --- Tracing (docs/TRACING.md): each record published is the root of its trace ---

using iw::testing::text_attribute;

class TracedPublisherTest : public PublisherTest {
 protected:
  // Publishes `value` as the producer does: a span opened, its traceparent stamped.
  base::Status publish(Publisher& publisher, std::string_view value, std::uint64_t correlation) {
    RecordSpan& span = publisher.open_span();
    span.set("ingestwatch.source", "Zoho");
    const std::array<kafka::HeaderView, 1> headers = {{{"traceparent", span.traceparent()}}};
    return publisher.write({.topic = kOut, .key = "Zoho", .value = value, .headers = headers},
                           correlation);
  }

  iw::testing::SpanRecorder spans_;
  runtime::Tracing always_{1.0, &spans_};
  runtime::Tracing never_{0.0, &spans_};
  runtime::Context always_ctx_ = iw::testing::with_tracing(context_.ctx(), always_);
  runtime::Context never_ctx_ = iw::testing::with_tracing(context_.ctx(), never_);
};

TEST_F(TracedPublisherTest, ASampledRecordIsARootPublishSpanEndedAtItsReport) {
  Publisher publisher(always_ctx_, options(), reports_, faults_);
  ASSERT_TRUE(publisher.start());
  ASSERT_TRUE(publish(publisher, "a", 7));
  EXPECT_THAT(spans_.spans(), IsEmpty());  // until its delivery report
  publisher.serve(0ms);
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 1U);
  const otlp::Span& span = spans[0];
  EXPECT_EQ(span.name, "publish");
  EXPECT_EQ(span.kind, otlp::SpanKind::kProducer);
  EXPECT_EQ(span.parent_span_id, "");
  EXPECT_EQ(span.status, otlp::SpanStatus::kUnset);
  EXPECT_EQ(text_attribute(span, "messaging.system"), "kafka");
  EXPECT_EQ(text_attribute(span, "messaging.destination.name"), kOut);
  EXPECT_THAT(text_attribute(span, "messaging.destination.partition.id"),
              ::testing::AnyOf("0", "1"));
  EXPECT_EQ(text_attribute(span, "ingestwatch.source"), "Zoho");
  const auto written = kafka_.committed_records(kOut);
  ASSERT_EQ(written.size(), 1U);
  EXPECT_EQ(header(written[0], "traceparent"), "00-" + span.trace_id + "-" + span.span_id + "-01");
}

TEST_F(TracedPublisherTest, ARecordTheSamplerRefusesCarriesTheDecisionAndNoSpan) {
  Publisher publisher(never_ctx_, options(), reports_, faults_);
  ASSERT_TRUE(publisher.start());
  ASSERT_TRUE(publish(publisher, "a", 7));
  publisher.serve(0ms);
  EXPECT_THAT(spans_.spans(), IsEmpty());
  const auto written = kafka_.committed_records(kOut);
  ASSERT_EQ(written.size(), 1U);
  EXPECT_THAT(header(written[0], "traceparent"),
              ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-00"));
}

TEST_F(TracedPublisherTest, ADeadLetteredRecordsSpanCarriesTheReason) {
  Publisher publisher(always_ctx_, options(), reports_, faults_);
  ASSERT_TRUE(publisher.start());
  ASSERT_TRUE(publisher.dead_letter({.value = "{not json", .key = "Zoho"}, "invalid_json",
                                    "expected a value", std::nullopt, 9));
  publisher.serve(0ms);
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 1U);
  const otlp::Span& span = spans[0];
  EXPECT_EQ(text_attribute(span, "ingestwatch.dead_letter.reason"), "invalid_json");
  EXPECT_EQ(span.status, otlp::SpanStatus::kError);
  EXPECT_EQ(span.status_message, "expected a value");
  EXPECT_EQ(text_attribute(span, "messaging.destination.name"), kDeadLetters);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(header(letters[0], "traceparent"), "00-" + span.trace_id + "-" + span.span_id + "-01");
}

TEST_F(TracedPublisherTest, ARecordNotDeliveredEndsItsSpanInError) {
  Publisher publisher(always_ctx_, options(), reports_, faults_);
  ASSERT_TRUE(publisher.start());
  faults_.fatal = true;
  EXPECT_FALSE(publish(publisher, "a", 7));
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 1U);
  EXPECT_EQ(spans[0].status, otlp::SpanStatus::kError);
  EXPECT_THAT(spans[0].status_message, HasSubstr("Fatal error"));
}

}  // namespace
}  // namespace iw::stage
