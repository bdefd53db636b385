// The producer's wiring (file → stage::Publisher) against in-memory Kafka clients
// (iw/testing/fake_kafka.h): no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <tuple>

#include "iw/base/sha256.h"
#include "iw/testing/child_process.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/service_context.h"
#include "producer_service.h"

namespace iw::producer {
namespace {

using iw::testing::FakeKafka;
using iw::testing::FakeProducer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kTopic = "ingestion-logs";
const std::string kDeadLetters = "ingestion-logs-dlq";

std::string record(int id) {
  static const std::array<std::string, 3> kSources = {"Zoho", "PowerBI", "Efficy"};
  return R"({"ID":)" + std::to_string(id) + R"(,"Source":")" + kSources[id % 3] +
         R"(","Etat":"SUCCESS","Debut":"2025-09-15 10:30:00.000","Fin":"2025-09-15 10:30:01.154"})";
}

std::string ndjson(int count) {
  std::string text;
  for (int id = 0; id < count; ++id) text += record(id) + "\n";
  return text;
}

// FakeKafka's clients, with a hook on each producer as it is made: the test's script.
class Clients final : public kafka::ClientFactory {
 public:
  explicit Clients(FakeKafka& kafka) : kafka_(kafka) {}
  std::function<void(FakeProducer&)> on_producer;

  base::Result<std::unique_ptr<kafka::Admin>> admin(const kafka::ClientOptions& options) override {
    return kafka_.admin(options);
  }
  base::Result<std::unique_ptr<kafka::Consumer>> consumer(
      const kafka::ConsumerOptions& options) override {
    return kafka_.consumer(options);
  }
  base::Result<std::unique_ptr<kafka::Producer>> producer(
      const kafka::ProducerOptions& options, kafka::DeliveryHandler& handler) override {
    auto producer = kafka_.fake_producer(options, handler);
    if (on_producer) on_producer(*producer);
    return std::unique_ptr<kafka::Producer>(std::move(producer));
  }

 private:
  FakeKafka& kafka_;
};

// A header of a record written, "<missing>" when it has none.
std::string header(const FakeKafka::Stored& record, std::string_view name) {
  return record.header(name).value_or("<missing>");
}

class WiringTest : public ::testing::Test {
 protected:
  explicit WiringTest(std::string_view extra = "")
      : input_((dir_.path() / "logs.ndjson").string()),
        context_(producer_info(), service_,
                 "kafka:\n  bootstrap_servers: fake:9092\nproducer:\n  input: " + input_ +
                     "\n  progress_interval: 1h\n" + std::string(extra)) {}

  void write_input(const std::string& text) { (void)dir_.write("logs.ndjson", text); }

  // A number of the "summary" log line.
  std::uint64_t summary(const std::string& field) const {
    const auto lines = context_.logged("summary");
    if (lines.size() != 1) {
      ADD_FAILURE() << lines.size() << " summary lines";
      return 0;
    }
    std::smatch match;
    if (!std::regex_search(lines[0], match, std::regex("\"" + field + "\":([0-9]+)"))) {
      ADD_FAILURE() << "no " << field << " in " << lines[0];
      return 0;
    }
    return std::stoull(match[1]);
  }

  std::string metrics() {
    return prometheus::TextSerializer().Serialize(context_.metrics().registry().Collect());
  }

  // A SIGTERM as the `n`th record is handed to Kafka.
  void stop_at_record(int n) {
    clients_.on_producer = [this, n](FakeProducer& producer) {
      producer.refuse = [this, n](const kafka::OutgoingRecord&) -> std::optional<base::Error> {
        if (++produced_ == n) context_.shutdown().request();
        return std::nullopt;
      };
    };
  }
  int produced_ = 0;

  iw::testing::TempDir dir_;
  std::string input_;
  FakeKafka kafka_;
  Clients clients_{kafka_};
  ProducerService service_{clients_};
  iw::testing::ServiceContext context_;
};

TEST_F(WiringTest, PublishesEveryRecordKeyedBySourceWithItsHeaders) {
  write_input(ndjson(5));
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(kafka_.partition_count(kTopic), 3);
  EXPECT_EQ(kafka_.partition_count(kDeadLetters), 1);
  auto records = kafka_.committed_records(kTopic);
  ASSERT_EQ(records.size(), 5U);
  std::ranges::sort(records, {}, [](const auto& r) { return r.value; });
  const std::string execution_id = header(records[0], "execution_id");
  for (int id = 0; id < 5; ++id) {
    const auto& r = records[static_cast<std::size_t>(id)];
    EXPECT_EQ(r.value, record(id));
    EXPECT_EQ(r.key, id % 3 == 0 ? "Zoho" : id % 3 == 1 ? "PowerBI" : "Efficy");
    EXPECT_EQ(header(r, "execution_id"), execution_id);
    EXPECT_THAT(header(r, "traceparent"), ::testing::MatchesRegex("00-[0-9a-f]{32}-.*"));
    EXPECT_EQ(header(r, "content-type"), "application/json");
  }
  EXPECT_EQ(execution_id.size(), 36U);
  EXPECT_THAT(kafka_.committed_records(kDeadLetters), IsEmpty());
  EXPECT_EQ(summary("read"), 5U);
  EXPECT_EQ(summary("sent"), 5U);
  EXPECT_EQ(summary("failed"), 0U);
  EXPECT_THAT(metrics(), HasSubstr(R"(ingestwatch_records_out_total{topic="ingestion-logs"} 5)"));
  EXPECT_TRUE(context_.ctx().readiness.ready());
}

TEST_F(WiringTest, AMalformedLineIsDeadLetteredWithItsPositionInTheFile) {
  const std::string bad = R"({"ID": 1, "Source":)";
  write_input(record(0) + "\n" + bad + "\n" + record(2) + "\n");
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 2U);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  const auto& letter = letters[0];
  EXPECT_EQ(letter.value, bad);
  EXPECT_EQ(header(letter, "dlq.reason"), "invalid_json");
  EXPECT_EQ(header(letter, "dlq.stage"), "producer");
  EXPECT_EQ(header(letter, "dlq.topic"), kTopic);
  EXPECT_EQ(header(letter, "dlq.partition"), "-1");
  EXPECT_EQ(header(letter, "dlq.offset"), "-1");
  EXPECT_EQ(header(letter, "dlq.file"), input_);
  EXPECT_EQ(header(letter, "dlq.line"), "2");
  EXPECT_EQ(header(letter, "dlq.byte_offset"), std::to_string(record(0).size() + 1));
  EXPECT_EQ(header(letter, "execution_id"),
            header(kafka_.committed_records(kTopic)[0], "execution_id"));
  EXPECT_EQ(summary("invalid"), 1U);
  EXPECT_EQ(summary("dead_lettered"), 1U);
  EXPECT_EQ(summary("sent"), 2U);
  const auto rejected = context_.logged("record rejected");
  ASSERT_EQ(rejected.size(), 1U);
  EXPECT_THAT(rejected[0], HasSubstr("\"line\":2"));
  EXPECT_THAT(metrics(),
              HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="invalid_json"} 1)"));
}

// Kafka gives up on a record: reading stops at the next report served (every 64 records), what
// was queued is still accounted for, and the run fails naming the first error.
TEST_F(WiringTest, ADeliveryFailureStopsReadingAndFailsTheRun) {
  write_input(ndjson(200));
  clients_.on_producer = [](FakeProducer& producer) {
    producer.fail_next_delivery(base::Error(base::ErrorCode::kTimeout, "Local: Message timed out"));
  };
  const auto status = service_.run(context_.ctx());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kUnavailable);
  EXPECT_THAT(status.error().message(),
              HasSubstr("1 records not delivered (0 possibly persisted); first error: Local: "
                        "Message timed out"));
  EXPECT_EQ(summary("read"), 64U);
  EXPECT_EQ(summary("sent"), 63U);
  EXPECT_EQ(summary("failed"), 1U);
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 63U);
  EXPECT_THAT(metrics(),
              HasSubstr(R"(ingestwatch_delivery_failures_total{topic="ingestion-logs"} 1)"));
}

// A record Kafka refuses outright (too large) is bad input: dead-lettered as kafka_rejected.
TEST_F(WiringTest, ARecordKafkaRefusesIsDeadLetteredAsKafkaRejected) {
  write_input(ndjson(3));
  clients_.on_producer = [](FakeProducer& producer) {
    producer.fail_next_produce(
        base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large"));
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 2U);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(header(letters[0], "dlq.reason"), "kafka_rejected");
  EXPECT_EQ(header(letters[0], "dlq.line"), "1");
  EXPECT_EQ(summary("invalid"), 1U);
  EXPECT_EQ(summary("failed"), 0U);
}

// Lines of any size: a line above producer.max_record_bytes (900 000) is dead-lettered as
// oversized_record with its first 4096 bytes, its size and SHA-256; a line under it that Kafka
// refuses all the same (here: above 800 000 bytes) is kafka_rejected, and its dead letter,
// refused too, falls back to the same oversized form. The lines after them are published; the
// run succeeds.
TEST_F(WiringTest, LinesOfAnySizeAreDeadLetteredWithTheirSizeAndTheRunGoesOn) {
  const auto line = [](std::size_t size) {
    std::string text = R"({"ID":1,"Source":"Zoho","Description":")";
    text += std::string(size - text.size() - 2, 'd');
    return text + "\"}";
  };
  const std::string three_mb = line(3'000'000);
  const std::string refused = line(850'000);
  write_input(record(0) + "\n" + three_mb + "\n" + record(1) + "\n" + refused + "\n" + record(2) +
              "\n");
  clients_.on_producer = [](FakeProducer& producer) {
    producer.refuse = [](const kafka::OutgoingRecord& record) {
      return record.value.size() > 800'000
                 ? std::optional(base::Error(base::ErrorCode::kInvalidInput,
                                             "Broker: Message size too large"))
                 : std::nullopt;
    };
  };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 3U);
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 2U);
  for (const auto& [letter, whole, line_no] :
       {std::tuple{letters[0], three_mb, "2"}, std::tuple{letters[1], refused, "4"}}) {
    EXPECT_EQ(header(letter, "dlq.reason"), "oversized_record");
    EXPECT_EQ(letter.value, whole.substr(0, 4096));
    EXPECT_EQ(header(letter, "dlq.original_size"), std::to_string(whole.size()));
    EXPECT_EQ(header(letter, "dlq.sha256"), base::to_hex(base::sha256(whole)));
    EXPECT_EQ(header(letter, "dlq.line"), line_no);
  }
  EXPECT_THAT(header(letters[0], "dlq.error"),
              HasSubstr("3000000 bytes, longer than producer.max_record_bytes (900000)"));
  EXPECT_THAT(header(letters[1], "dlq.error"), HasSubstr("kafka_rejected"));
  EXPECT_EQ(summary("read"), 5U);
  EXPECT_EQ(summary("invalid"), 2U);
  EXPECT_EQ(summary("dead_lettered"), 2U);
  EXPECT_EQ(summary("failed"), 0U);
  EXPECT_THAT(metrics(),
              HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="oversized_record"} 2)"));
}

// The queue stays full (no broker): the record was never queued, reading stops, the run fails.
TEST_F(WiringTest, ARecordNeverQueuedCountsAsFailedAndStopsReading) {
  write_input(ndjson(10));
  clients_.on_producer = [](FakeProducer& producer) {
    producer.fail_next_produce(base::Error(base::ErrorCode::kUnavailable, "Local: Queue full"));
  };
  const auto status = service_.run(context_.ctx());
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("first error: Local: Queue full"));
  EXPECT_EQ(summary("read"), 1U);
  EXPECT_EQ(summary("failed"), 1U);
  EXPECT_THAT(kafka_.committed_records(kTopic), IsEmpty());
}

// SIGTERM mid-file: reading stops, every record read is delivered before the run ends, and the
// run is not a success (exit status 3, main.cc): a job wrapper can tell it from one that
// published the whole file.
TEST_F(WiringTest, SigtermMidFileDeliversWhatWasReadAndSaysItWasInterrupted) {
  write_input(ndjson(100));
  stop_at_record(10);
  const auto status = service_.run(context_.ctx());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kAborted);
  EXPECT_THAT(status.error().message(), HasSubstr("stopped before the end of the input"));
  EXPECT_TRUE(service_.interrupted());
  EXPECT_EQ(summary("read"), 10U);
  EXPECT_EQ(summary("sent"), 10U);
  EXPECT_EQ(summary("failed"), 0U);
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 10U);
  EXPECT_THAT(context_.logged("summary")[0], HasSubstr("\"interrupted\":true"));
  EXPECT_THAT(metrics(), HasSubstr("ingestwatch_records_in_flight 0"));
}

// A delivery failure is a failure (exit 1), not an interruption.
TEST_F(WiringTest, ADeliveryFailureIsNotAnInterruption) {
  write_input(ndjson(10));
  clients_.on_producer = [](FakeProducer& producer) {
    producer.fail_next_delivery(base::Error(base::ErrorCode::kTimeout, "Local: Message timed out"));
  };
  ASSERT_FALSE(service_.run(context_.ctx()));
  EXPECT_FALSE(service_.interrupted());
}

// Runs with a checkpoint beside the input, and --resume.
class CheckpointTest : public WiringTest {
 protected:
  CheckpointTest() : WiringTest("  checkpoint: " + checkpoint_path() + "\n  resume: true\n") {}

  static std::string checkpoint_path() {
    return (std::filesystem::temp_directory_path() /
            ("iw-producer-wiring-" + std::to_string(::getpid()) + ".checkpoint"))
        .string();
  }
  void SetUp() override { std::filesystem::remove(checkpoint_path()); }
  void TearDown() override { std::filesystem::remove(checkpoint_path()); }

  std::string checkpoint_text() const {
    std::ifstream in(checkpoint_path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A second run, as a new process would make it: new service, new context, same Kafka;
  // `stop_at` > 0: a SIGTERM as its stop_at-th record is handed to Kafka.
  base::Status run_again(std::string_view extra = "", int stop_at = 0) {
    ProducerService service{clients_};
    iw::testing::ServiceContext context(
        producer_info(), service,
        "kafka:\n  bootstrap_servers: fake:9092\nproducer:\n  input: " + input_ +
            "\n  progress_interval: 1h\n  checkpoint: " + checkpoint_path() + "\n  resume: true\n" +
            std::string(extra));
    int produced = 0;
    clients_.on_producer = [&](FakeProducer& producer) {
      producer.refuse = [&](const kafka::OutgoingRecord&) -> std::optional<base::Error> {
        if (++produced == stop_at) context.shutdown().request();
        return std::nullopt;
      };
    };
    auto status = service.run(context.ctx());
    clients_.on_producer = nullptr;
    second_log_ = context.log_lines();
    return status;
  }

  std::vector<std::string> second_log_;
};

// Stopped after 10 records, then resumed: every record is in the topic exactly once.
TEST_F(CheckpointTest, AResumeAfterAnInterruptionPublishesEveryRecordOnce) {
  write_input(ndjson(100));
  stop_at_record(10);
  ASSERT_FALSE(service_.run(context_.ctx()));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"records\":10,"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"line\":10,"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"complete\":false"));

  clients_.on_producer = nullptr;
  ASSERT_TRUE(run_again());
  std::vector<std::string> values;
  for (const auto& r : kafka_.committed_records(kTopic)) values.push_back(r.value);
  ASSERT_EQ(values.size(), 100U);
  std::ranges::sort(values);
  EXPECT_EQ(std::ranges::adjacent_find(values), values.end()) << "a record published twice";
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"records\":100,"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"complete\":true"));

  // Once complete, a resume publishes nothing more.
  ASSERT_TRUE(run_again());
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 100U);
}

// A record Kafka did not deliver holds the checkpoint before it: the resume sends it again,
// and what came after it.
TEST_F(CheckpointTest, ADeliveryFailureHoldsTheCheckpointBeforeTheFailedRecord) {
  write_input(ndjson(20));
  int produced = 0;
  clients_.on_producer = [&](FakeProducer& producer) {
    producer.refuse = [&](const kafka::OutgoingRecord&) -> std::optional<base::Error> {
      if (++produced == 5) producer.fail_next_delivery(base::Error(base::ErrorCode::kTimeout, "x"));
      return std::nullopt;
    };
  };
  ASSERT_FALSE(service_.run(context_.ctx()));
  EXPECT_FALSE(service_.interrupted());
  const auto delivered = kafka_.committed_records(kTopic).size();
  ASSERT_LT(delivered, 20U);
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"complete\":false"));

  clients_.on_producer = nullptr;
  ASSERT_TRUE(run_again());
  std::set<std::string> values;
  for (const auto& r : kafka_.committed_records(kTopic)) values.insert(r.value);
  EXPECT_EQ(values.size(), 20U);
}

// --on-invalid fail stops at a bad record: it has no outcome, so the checkpoint stays before it
// and a resume (dead-lettering this time) reads it again.
TEST_F(CheckpointTest, ARecordThatFailedTheRunIsReadAgainByTheResume) {
  const std::string bad = R"({"ID": 1, "Source":)";
  write_input(ndjson(5) + bad + "\n" + record(7) + "\n");
  ASSERT_FALSE(run_again("  on_invalid: fail\n"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"records\":5,"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"complete\":false"));

  ASSERT_TRUE(run_again());
  const auto letters = kafka_.committed_records(kDeadLetters);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].value, bad);
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 6U);
}

// The checkpoint covers records the input no longer holds: the resume refuses, sending nothing.
TEST_F(CheckpointTest, AResumeRefusesAnInputThatChanged) {
  write_input(ndjson(10));
  ASSERT_TRUE(service_.run(context_.ctx()));
  write_input(record(99) + "\n" + ndjson(10));
  const auto status = run_again();
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("cannot resume"));
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 10U);
}

// Lines appended to an NDJSON file after a complete run: the resume publishes just those.
TEST_F(CheckpointTest, AResumePublishesLinesAppendedSince) {
  write_input(ndjson(10));
  ASSERT_TRUE(service_.run(context_.ctx()));
  write_input(ndjson(15));
  ASSERT_TRUE(run_again());
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 15U);
}

// With --loop the checkpoint follows the passes: the pass it is in, and the position in it.
// A signal is how a looping run ends: not an interruption.
TEST_F(CheckpointTest, ALoopingRunCheckpointsItsPassAndPosition) {
  write_input(ndjson(10));
  ASSERT_TRUE(run_again("  loop: true\n", 25));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"pass\":3,"));
  EXPECT_THAT(checkpoint_text(), HasSubstr("\"records\":5,"));
  EXPECT_EQ(kafka_.committed_records(kTopic).size(), 25U);
  // A resume without --loop refuses a checkpoint of a later pass.
  const auto status = run_again();
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("--loop"));
}

class DryRunTest : public WiringTest {
 protected:
  DryRunTest() : WiringTest("  dry_run: true\n") {}
};

TEST_F(DryRunTest, ReadsEverythingAndMakesNoKafkaClient) {
  write_input(ndjson(4) + "not json\n");
  bool made = false;
  clients_.on_producer = [&](FakeProducer&) { made = true; };
  ASSERT_TRUE(service_.run(context_.ctx()));
  EXPECT_FALSE(made);
  EXPECT_EQ(kafka_.partition_count(kTopic), 0);
  EXPECT_EQ(summary("read"), 5U);
  EXPECT_EQ(summary("invalid"), 1U);
  EXPECT_EQ(summary("sent"), 0U);
}

}  // namespace
}  // namespace iw::producer
