// The stage loop and its two delivery policies against in-memory Kafka clients: no broker.
#include "iw/stage/stage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "iw/base/clock.h"
#include "iw/base/sha256.h"
#include "iw/testing/fake_kafka.h"
#include "iw/testing/service_context.h"
#include "iw/testing/spans.h"

namespace iw::stage {
namespace {

using iw::testing::FakeConsumer;
using iw::testing::FakeKafka;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

const std::string kIn = "in";
const std::string kOut = "out";
const std::string kDeadLetters = "dlq";
const std::string kGroup = "group";

using iw::testing::SpanRecorder;
using iw::testing::text_attribute;

const otlp::AttributeValue* attribute(const otlp::Span& span, std::string_view key) {
  for (const auto& a : span.attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

// Only what the runtime needs to make a Context: the common keys.
class NoKeys final : public runtime::Service {
 public:
  void declare(config::Schema&) const override {}
  base::Status run(runtime::Context&) override { return {}; }
};

runtime::ServiceInfo test_info() { return {.name = "stage-test", .binary = "stage-test"}; }

// Copies each record to kOut. "reject" is dead-lettered by the processor; "poison" fails every
// time; "flaky" fails `flaky_failures` times, then passes.
class Copier final : public Processor {
 public:
  base::Status process(const kafka::Record& record, Output& out) override {
    if (on_process) on_process();
    ++processed[std::string(record.value())];
    if (record.value() == "reject") {
      return out.dead_letter({.partition = record.partition(), .offset = record.offset()},
                             content_of(record), "rejected", "the test refuses it");
    }
    if (record.value() == "poison") {
      return base::fail(base::ErrorCode::kInvalidInput, "cannot process poison");
    }
    if (record.value() == "flaky" && flaky_failures > 0) {
      --flaky_failures;
      return base::fail(base::ErrorCode::kUnavailable, "flaky failed");
    }
    if (out.span().recording() && record.key()) out.span().set("ingestwatch.source", *record.key());
    if (defer_all) {
      deferred.push_back(out.defer());
      return {};
    }
    if (hold_spans) out.hold_span();
    // Its output's parent is the record's span in this stage (only when the test traces: the
    // transactions of the other tests are sized in bytes of value).
    const std::array<kafka::HeaderView, 1> headers = {{{"traceparent", out.span().traceparent()}}};
    return out.write({.topic = kOut,
                      .value = record.value(),
                      .headers = std::span(headers).first(stamp_traceparent ? 1 : 0)});
  }
  base::Status tick(Input&, Output& out) override {
    if (on_tick) on_tick(out);
    return {};
  }
  base::Status revoking(const std::vector<kafka::TopicPartition>& partitions,
                        Output& out) override {
    revocations.push_back(partitions.size());
    if (complete_on_revoke) {
      for (const auto& ref : deferred) out.complete(ref, {});
      deferred.clear();
    }
    return {};
  }
  void committed() override {
    ++commits;
    if (on_commit) on_commit();
  }
  void rolled_back(const std::vector<kafka::TopicPartitionOffset>& rewound) override {
    rollbacks.push_back(rewound.size());
  }
  base::Status drain(Input&, Output&) override {
    ++drains;
    return {};
  }

  std::map<std::string, int> processed;
  int flaky_failures = 0;
  bool defer_all = false;
  bool hold_spans = false;
  bool stamp_traceparent = false;
  bool complete_on_revoke = false;
  std::function<void(Output&)> on_tick;
  std::vector<InputRef> deferred;
  std::vector<std::size_t> revocations;
  std::vector<std::size_t> rollbacks;
  int commits = 0;
  int drains = 0;
  std::function<void()> on_process;
  std::function<void()> on_commit;
};

class StageFixture : public ::testing::Test {
 protected:
  explicit StageFixture(Delivery delivery)
      : delivery_(delivery),
        context_(test_info(), service_, "kafka:\n  bootstrap_servers: fake:9092\n") {
    kafka_.create_topic(kIn, 2);
  }

  StageOptions options() const {
    return {
        .name = "test-stage",
        .input_topics = {kIn},
        .group_id = kGroup,
        .delivery = delivery_,
        .transactional_id = "stage-test",
        .dlq_topic = kDeadLetters,
        .create_topics = {{.name = kOut, .partitions = 1}, {.name = kDeadLetters, .partitions = 1}},
        // Transactions of four bytes (four one-letter records; a dead letter fills one on its
        // own), committed when full or at the drain, never by age: what happens does not
        // depend on how fast the test runs.
        .transaction = {.interval = transaction_interval_, .max_bytes = transaction_max_bytes_},
        .poll_batch = 3,
        .poll_timeout = poll_timeout_,
        .poison = {.max_attempts = 3,
                   .backoff_min = 1ms,
                   .backoff_max = 4ms,
                   .max_record_bytes = max_record_bytes_,
                   .dead_letter_head_bytes = 8},
        .output_label = kOut,
        .dead_letter_reasons = {"rejected"}};
  }

  // Values appended alternately to partitions 0 and 1, with `traceparent` ("": none).
  void append(const std::vector<std::string>& values, std::string_view traceparent = kParent) {
    for (const auto& value : values) {
      std::vector<std::pair<std::string, std::string>> headers = {{"execution_id", "run-" + value}};
      if (!traceparent.empty()) headers.emplace_back("traceparent", std::string(traceparent));
      kafka_.append(kIn, next_partition_, value, "key-" + value, headers);
      next_partition_ = 1 - next_partition_;
    }
  }

  bool exactly_once() const { return delivery_ == Delivery::kTransactional; }

  // Every input record read, none left behind a rewind, nothing in flight.
  bool drained(const FakeConsumer& consumer) const {
    const auto& positions = consumer.positions();
    return !positions.empty() && std::ranges::all_of(positions, [&](const auto& p) {
      return p.second == static_cast<std::int64_t>(kafka_.log(kIn, p.first.partition).size());
    });
  }

  void stop_when_drained() {
    kafka_.on_poll = [&](FakeConsumer& consumer) {
      if (drained(consumer)) context_.shutdown().request();
    };
  }

  base::Status run() {
    runtime::Context& ctx = context_.ctx();
    // The test's clock instead of the system's, when it drives time.
    // ... and the test's tracing when it traces.
    if (sampling_ratio_) {
      tracing_.emplace(*sampling_ratio_, &spans_);
      copier_.stamp_traceparent = true;
    }
    runtime::Context with_clock = iw::testing::with_tracing(ctx, tracing_ ? *tracing_ : ctx.tracing,
                                                            fake_clock_ ? &clock_ : nullptr);
    StageOptions stage_options = options();
    stage_options.span_name = "copy";
    Stage stage(with_clock, stage_options, copier_, kafka_);
    return stage.run();
  }

  std::multiset<std::string> output() const {
    std::multiset<std::string> out;
    for (const auto& record : kafka_.committed_records(kOut)) out.insert(record.value);
    return out;
  }
  std::vector<FakeKafka::Stored> dead_letters() const {
    return kafka_.committed_records(kDeadLetters);
  }
  std::optional<std::int64_t> committed(std::int32_t partition) const {
    return kafka_.committed_offset(kGroup, {kIn, partition});
  }
  std::size_t journaled(std::string_view what) const {
    return static_cast<std::size_t>(std::ranges::count(kafka_.journal(), what));
  }
  std::string metrics() {
    return prometheus::TextSerializer().Serialize(context_.metrics().registry().Collect());
  }

  static constexpr std::string_view kParent =
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  Delivery delivery_;
  std::size_t max_record_bytes_ = 0;
  std::size_t transaction_max_bytes_ = 4;
  std::chrono::milliseconds transaction_interval_ = 1h;
  std::chrono::milliseconds poll_timeout_ = 0ms;
  bool fake_clock_ = false;  // the stage reads clock_ (nothing in the test may back off)
  std::optional<double> sampling_ratio_;  // set: spans go to spans_
  std::optional<runtime::Tracing> tracing_;
  SpanRecorder spans_;
  base::FakeClock clock_;
  FakeKafka kafka_;
  NoKeys service_;
  iw::testing::ServiceContext context_;
  Copier copier_;
  std::int32_t next_partition_ = 0;
};

// What holds for both delivery policies.
class StageTest : public StageFixture, public ::testing::WithParamInterface<Delivery> {
 protected:
  StageTest() : StageFixture(GetParam()) {}
};

class TransactionalStageTest : public StageFixture {
 protected:
  TransactionalStageTest() : StageFixture(Delivery::kTransactional) {}

  // The stage on clock_, transactions committed by age (100 ms), never by size; each record
  // takes `work` to process, and how long it waited from being taken to its transaction's
  // commit goes to waits_.
  void time_commits(std::chrono::milliseconds work) {
    fake_clock_ = true;
    transaction_interval_ = 100ms;
    transaction_max_bytes_ = 1 << 20;
    copier_.on_process = [this, work] {
      taken_.push_back(clock_.monotonic_now());
      clock_.advance(work);
    };
    copier_.on_commit = [this] {
      for (const auto at : taken_) {
        waits_.push_back(std::chrono::ceil<std::chrono::milliseconds>(clock_.monotonic_now() - at));
      }
      taken_.clear();
    };
  }

  std::vector<base::MonotonicTime> taken_;  // records whose outcome is not committed yet
  std::vector<std::chrono::milliseconds> waits_;
};

class StoredOffsetsStageTest : public StageFixture {
 protected:
  StoredOffsetsStageTest() : StageFixture(Delivery::kStoredOffsets) {}
};

INSTANTIATE_TEST_SUITE_P(Policies, StageTest,
                         ::testing::Values(Delivery::kTransactional, Delivery::kStoredOffsets),
                         [](const auto& param_info) {
                           return param_info.param == Delivery::kTransactional ? "Transactional"
                                                                               : "StoredOffsets";
                         });

TEST_P(StageTest, WritesEveryRecordOnceAndDeadLettersWhatTheProcessorRefuses) {
  append({"a", "b", "reject", "c", "d", "e"});
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", "c", "d", "e"}));
  const auto dead = dead_letters();
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, "reject");
  EXPECT_EQ(dead[0].key, "key-reject");
  EXPECT_EQ(dead[0].header("dlq.reason"), "rejected");
  EXPECT_EQ(dead[0].header("dlq.stage"), "test-stage");
  EXPECT_EQ(dead[0].header("dlq.topic"), kIn);
  EXPECT_EQ(dead[0].header("dlq.partition"), "0");
  EXPECT_EQ(dead[0].header("dlq.offset"), "1");
  EXPECT_EQ(dead[0].header("execution_id"), "run-reject");
  // A child span of the record's trace.
  const auto parent = dead[0].header("traceparent");
  ASSERT_TRUE(parent);
  EXPECT_EQ(parent->substr(0, 35), kParent.substr(0, 35));
  EXPECT_NE(*parent, kParent);
  EXPECT_EQ(committed(0), 3);
  EXPECT_EQ(committed(1), 3);
  EXPECT_EQ(copier_.drains, 1);
  const std::string text = metrics();
  EXPECT_THAT(text, HasSubstr("ingestwatch_records_in_total 6"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_records_out_total{topic="out"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="rejected"} 1)"));
  EXPECT_THAT(
      text, HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="processing_failed"} 0)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_consumer_lag_records{partition="0",topic="in"})"));
}

// A record that fails the same way every time is tried max_attempts times, with a backoff, then
// dead-lettered with that reason; the records around it go on. Never an endless retry loop.
TEST_P(StageTest, APoisonRecordIsDeadLetteredAfterItsAttemptsAndTheStreamGoesOn) {
  append({"a", "b", "poison", "c", "d", "e"});
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(copier_.processed["poison"], 3);
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", "c", "d", "e"}));
  const auto dead = dead_letters();
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, "poison");
  EXPECT_EQ(dead[0].header("dlq.reason"), "processing_failed");
  EXPECT_THAT(dead[0].header("dlq.error").value_or(""),
              HasSubstr("cannot process poison (3 attempts)"));
  EXPECT_EQ(committed(0), 3);
  EXPECT_EQ(committed(1), 3);
  if (exactly_once()) {
    // Each failure rolled its transaction back; the records around it were written once.
    EXPECT_EQ(journaled("transaction aborted"), 3U);
    EXPECT_EQ(copier_.rollbacks.size(), 3U);
  }
  EXPECT_THAT(
      metrics(),
      HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="processing_failed"} 1)"));
}

// A record that fails less often than max_attempts gets through, written once.
TEST_P(StageTest, ARecordThatFailsTwiceIsWrittenOnTheThirdAttempt) {
  append({"a", "flaky", "b"});
  copier_.flaky_failures = 2;
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "flaky", "b"}));
  EXPECT_THAT(dead_letters(), IsEmpty());
  EXPECT_EQ(copier_.processed["flaky"], 3);
}

// Kafka gave up on an output after its retries: it is written again (exactly once: the commit
// fails and the transaction is rolled back and redone; at least once: the partition is read
// again from it), and no offset is committed past it meanwhile.
TEST_P(StageTest, AnOutputNotDeliveredIsWrittenAgain) {
  append({"a", "b", "c", "d", "e", "f"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_delivery(
          base::Error(base::ErrorCode::kTimeout, "Local: Message timed out (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  const auto out = output();
  for (const std::string value : {"a", "b", "c", "d", "e", "f"}) {
    if (exactly_once()) {
      EXPECT_EQ(out.count(value), 1U) << value;
    } else {
      EXPECT_GE(out.count(value), 1U) << value;
    }
  }
  EXPECT_THAT(dead_letters(), IsEmpty());
  EXPECT_EQ(committed(0), 3);
  EXPECT_EQ(committed(1), 3);
  if (exactly_once()) {
    EXPECT_EQ(journaled("transaction aborted"), 1U);
  } else {
    EXPECT_EQ(context_.logged("output not delivered: reading again").size(), 1U);
  }
}

// An input record above max_record_bytes never reaches process(): it is dead-lettered as
// oversized_record with its first dead_letter_head_bytes, its size and the hash of the whole.
TEST_P(StageTest, AnInputAboveTheMaximumIsDeadLetteredAsOversizedBeforeProcess) {
  max_record_bytes_ = 50;
  const std::string big = "0123456789" + std::string(90, 'x');
  append({"a", big, "b", std::string(50, 'y')});
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(copier_.processed.count(big), 0U);
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", std::string(50, 'y')}));
  const auto dead = dead_letters();
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].value, "01234567");
  // The key is cut like the value; a carried header longer than the head is left out.
  EXPECT_EQ(dead[0].key, "key-0123");
  EXPECT_EQ(dead[0].header("dlq.reason"), "oversized_record");
  EXPECT_EQ(dead[0].header("dlq.original_size"), "100");
  EXPECT_EQ(dead[0].header("dlq.sha256"), base::to_hex(base::sha256(big)));
  EXPECT_EQ(dead[0].header("dlq.offset"), "0");
  EXPECT_FALSE(dead[0].header("execution_id").has_value());
  EXPECT_THAT(dead[0].header("dlq.error").value_or(""),
              HasSubstr("100 bytes, above the stage's max_record_bytes (50)"));
  EXPECT_EQ(committed(0), 2);
  EXPECT_EQ(committed(1), 2);
  EXPECT_THAT(metrics(),
              HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="oversized_record"} 1)"));
}

// Kafka refuses outputs above 20 bytes and any record above 40 (its dead letter included).
std::optional<base::Error> too_large(const kafka::OutgoingRecord& record) {
  if ((record.topic == kOut && record.value.size() > 20) || record.value.size() > 40) {
    return base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large");
  }
  return std::nullopt;
}

// An output refused as too large dead-letters its input whole (kafka_rejected); when that dead
// letter is refused too, the input's head, size and hash go instead (oversized_record). The
// refusal comes from produce() (`synchronous`) or in the delivery report (the broker's): either
// way the stream goes on, never an endless abort-and-rewind loop.
class TooLargeTest : public StageTest {
 protected:
  void run_with_refusals(bool synchronous) {
    transaction_max_bytes_ = 64;  // the two refused outputs (30 and 60 bytes) fall in one
    const std::string mid(30, 'm');
    const std::string big = "0123456789" + std::string(50, 'b');
    append({"a", mid, "b", big, "c", "d"});
    kafka_.on_poll = [&, synchronous](FakeConsumer& consumer) {
      auto* producer = kafka_.last_producer();
      if (synchronous && !producer->refuse) producer->refuse = too_large;
      if (!synchronous && !producer->refuse_delivery) producer->refuse_delivery = too_large;
      if (drained(consumer)) context_.shutdown().request();
    };
    ASSERT_TRUE(run());
    const auto out = output();
    for (const std::string value : {"a", "b", "c", "d"}) {
      if (exactly_once()) {
        EXPECT_EQ(out.count(value), 1U) << value;
      } else {
        EXPECT_GE(out.count(value), 1U) << value;
      }
    }
    EXPECT_EQ(out.count(mid) + out.count(big), 0U);
    std::map<std::string, FakeKafka::Stored> by_reason;
    for (const auto& letter : dead_letters()) {
      by_reason.emplace(letter.header("dlq.reason").value_or(""), letter);
    }
    ASSERT_EQ(by_reason.size(), 2U);
    const auto& rejected = by_reason["kafka_rejected"];
    EXPECT_EQ(rejected.value, mid);
    EXPECT_FALSE(rejected.header("dlq.original_size").has_value());
    const auto& oversized = by_reason["oversized_record"];
    EXPECT_EQ(oversized.value, "01234567");
    EXPECT_EQ(oversized.header("dlq.original_size"), "60");
    EXPECT_EQ(oversized.header("dlq.sha256"), base::to_hex(base::sha256(big)));
    EXPECT_EQ(oversized.header("dlq.partition"), "1");
    EXPECT_EQ(oversized.header("dlq.offset"), "1");
    EXPECT_THAT(oversized.header("dlq.error").value_or(""), HasSubstr("too large"));
    EXPECT_EQ(committed(0), 3);
    EXPECT_EQ(committed(1), 3);
    const std::string text = metrics();
    EXPECT_THAT(text,
                HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="kafka_rejected"} 1)"));
    EXPECT_THAT(
        text, HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="oversized_record"} 1)"));
  }
};

INSTANTIATE_TEST_SUITE_P(Policies, TooLargeTest,
                         ::testing::Values(Delivery::kTransactional, Delivery::kStoredOffsets),
                         [](const auto& param_info) {
                           return param_info.param == Delivery::kTransactional ? "Transactional"
                                                                               : "StoredOffsets";
                         });

TEST_P(TooLargeTest, RefusedByTheClient) { run_with_refusals(true); }

TEST_P(TooLargeTest, RefusedByTheBroker) {
  run_with_refusals(false);
  if (exactly_once()) {
    // The outputs' refusal (both records in one transaction), then the whole dead letter's:
    // two rollbacks, remembered across them, never an endless loop.
    EXPECT_EQ(journaled("transaction aborted"), 2U);
  }
}

// The broker refuses every dead letter, the oversized one's head too: the record whose output was
// refused is counted and skipped after one try of each fallback, and the stream goes on.
TEST_P(TooLargeTest, AHeadTheBrokerRefusesTooIsCountedAndSkipped) {
  const std::string mid(30, 'm');
  append({"a", mid, "b", "c"});
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    auto* producer = kafka_.last_producer();
    if (!producer->refuse_delivery) {
      producer->refuse_delivery = [](const kafka::OutgoingRecord& record) {
        std::optional<base::Error> refused = too_large(record);
        if (!refused && record.topic == kDeadLetters) {
          refused = base::Error(base::ErrorCode::kInvalidInput, "Broker: Message size too large");
        }
        return refused;
      };
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  const auto out = output();
  for (const std::string value : {"a", "b", "c"}) {
    EXPECT_EQ(out.count(value) >= 1 && (!exactly_once() || out.count(value) == 1), true) << value;
  }
  EXPECT_EQ(out.count(mid), 0U);
  EXPECT_TRUE(dead_letters().empty());
  EXPECT_EQ(committed(0), 2);
  EXPECT_EQ(committed(1), 2);
  EXPECT_THAT(metrics(),
              HasSubstr(R"(ingestwatch_records_dead_lettered_total{reason="oversized_record"} 0)"));
  const auto lines = context_.log_lines();
  EXPECT_EQ(std::ranges::count_if(lines,
                                  [](const std::string& line) {
                                    return line.find(
                                               "oversized record could not be "
                                               "dead-lettered; skipped") != std::string::npos;
                                  }),
            1);
}

// A commit the broker aborts: the transaction is rolled back, the consumer rewound to its first
// records, and the same records go into the next transactions, so each is written once.
TEST_F(TransactionalStageTest, AnAbortedCommitRewindsAndWritesEveryRecordOnce) {
  append({"a", "b", "c", "d", "e", "f"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      kafka_.last_producer()->fail_next_commit(
          base::Error(base::ErrorCode::kAborted, "transaction aborted (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_EQ(journaled("transaction aborted"), 1U);
  EXPECT_EQ(copier_.rollbacks, (std::vector<std::size_t>{2}));
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(committed(0), 3);
  EXPECT_EQ(committed(1), 3);
}

// Records keep coming, each taking 10 ms to process: a transaction commits once it is the
// commit interval old (100 ms), however many records that is, so no record's outcome waits
// longer than the interval (plus the record being processed) to start committing.
TEST_F(TransactionalStageTest, ATransactionCommitsOnceItIsTheIntervalOld) {
  time_commits(10ms);
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(std::to_string(i % 10));
  append(values);
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(output().size(), 40U);
  ASSERT_EQ(waits_.size(), 40U);
  EXPECT_EQ(*std::ranges::max_element(waits_), 100ms);
  EXPECT_EQ(copier_.commits, 4);  // ten records each, by age; none left for the drain
  EXPECT_EQ(committed(0), 20);
  EXPECT_EQ(committed(1), 20);
}

// The last record of a burst opens a transaction and nothing comes after it: the stage does not
// wait a whole poll timeout (250 ms here) for more, it commits when the interval is up.
TEST_F(TransactionalStageTest, AnOpenTransactionCommitsOnTimeWhenNoMoreRecordsCome) {
  time_commits(0ms);
  poll_timeout_ = 250ms;
  append({"a"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    clock_.advance(consumer.poll_timeout());  // the poll waited its whole timeout: no record
    if (copier_.commits > 0 || ++polls == 100) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_LT(polls, 100);  // committed while running, not at the drain
  EXPECT_EQ(waits_, (std::vector<std::chrono::milliseconds>{100ms}));
  EXPECT_EQ(output(), (std::multiset<std::string>{"a"}));
}

// A transaction also commits once what it wrote reaches transaction_max_bytes: here 10 bytes,
// so four three-byte records each (12 bytes), the last two at the drain.
TEST_F(TransactionalStageTest, ATransactionCommitsOnceItHoldsMaxBytes) {
  transaction_max_bytes_ = 10;
  append({"aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh", "iii", "jjj"});
  stop_when_drained();
  ASSERT_TRUE(run());
  std::map<std::uint64_t, std::size_t> per_transaction;
  for (const auto& record : kafka_.committed_records(kOut)) ++per_transaction[record.transaction];
  std::vector<std::size_t> sizes;
  for (const auto& [transaction, records] : per_transaction) sizes.push_back(records);
  EXPECT_THAT(sizes, ElementsAre(4, 4, 2));
  EXPECT_EQ(copier_.commits, 3);
}

// Partitions revoked while a transaction is open (or outputs are in flight): what was done for
// them is committed before they go, so their next owner starts after it and nothing is lost.
TEST_P(StageTest, ARevocationMidBatchCommitsWhatWasDoneBeforeThePartitionsGo) {
  append({"a", "b", "c"});
  int polls = 0;
  std::multiset<std::string> output_after_revocation;
  std::optional<std::int64_t> committed_after_revocation[2];
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 2) consumer.revoke({{kIn, 0}, {kIn, 1}});
    if (polls == 3) {
      // Before the drain commits anything.
      output_after_revocation = output();
      committed_after_revocation[0] = committed(0);
      committed_after_revocation[1] = committed(1);
      context_.shutdown().request();
    }
  };
  ASSERT_TRUE(run());
  EXPECT_EQ(copier_.revocations, (std::vector<std::size_t>{2}));
  EXPECT_EQ(output_after_revocation, (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(committed_after_revocation[0], 2);
  EXPECT_EQ(committed_after_revocation[1], 1);
}

// Partitions lost (the session expired): their work is their new owner's. Nothing is committed
// for them; exactly once, the open transaction is rolled back.
TEST_P(StageTest, LostPartitionsCommitNothing) {
  append({"a", "b", "c"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 2) consumer.lose({{kIn, 0}, {kIn, 1}});
    if (polls == 3) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_FALSE(committed(0));
  EXPECT_FALSE(committed(1));
  if (exactly_once()) {
    EXPECT_THAT(output(), IsEmpty());
    EXPECT_EQ(journaled("transaction aborted"), 1U);
  }
}

// A deferred record (the Loki pusher's, on its way to Loki) holds its partition's offset back
// until it is completed; one completed after its partition was revoked is the new owner's.
TEST_F(StoredOffsetsStageTest, ADeferredRecordHoldsItsOffsetUntilCompleted) {
  copier_.defer_all = true;
  append({"a", "b", "c", "d"});
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_FALSE(committed(0));
  EXPECT_FALSE(committed(1));
  EXPECT_EQ(copier_.deferred.size(), 4U);
}

TEST_F(StoredOffsetsStageTest, DeferredRecordsCompletedWhenRevokedAreCommitted) {
  copier_.defer_all = true;
  copier_.complete_on_revoke = true;
  append({"a", "b", "c", "d"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 3) consumer.revoke({{kIn, 0}, {kIn, 1}});
    if (polls == 4) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_EQ(committed(0), 2);
  EXPECT_EQ(committed(1), 2);
  EXPECT_THAT(metrics(), HasSubstr(R"(ingestwatch_records_out_total{topic="out"} 4)"));
}

// Another instance took the transactional id over: the run stops with the fence as its error
// (the service exits 1 with it logged once), and leaving the group on the way out calls nothing
// back: the consumer is closed before the producer is destroyed, no revocation, no commit.
TEST_F(TransactionalStageTest, AFencedProducerEndsTheRunWithItsErrorAndNoCallbackAfterwards) {
  append({"a", "b", "c", "d", "e", "f"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer&) {
    if (++polls == 2) kafka_.fence("stage-test");
  };
  const base::Status status = run();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("fenced"));
  EXPECT_THAT(copier_.revocations, IsEmpty());
  const auto& journal = kafka_.journal();
  const auto closed = std::ranges::find(journal, "consumer closed");
  const auto destroyed = std::ranges::find(journal, "producer destroyed");
  ASSERT_NE(closed, journal.end());
  EXPECT_LT(closed, destroyed);
}

// A fence noticed between transactions, with nothing to produce, still names the fence.
TEST_F(TransactionalStageTest, AFenceSeenWhileIdleEndsTheRunNamingTheFence) {
  append({"a", "b", "c", "d"});  // one transaction, committed when full
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (drained(consumer) && journaled("transaction committed") == 1) kafka_.fence("stage-test");
  };
  const base::Status status = run();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("fenced"));
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", "c", "d"}));
}

// A fatal consumer error ends the run with that error, in the same teardown order.
TEST_P(StageTest, AFatalConsumeErrorEndsTheRun) {
  append({"a"});
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    consumer.fail_next_poll(base::Error(base::ErrorCode::kFailedPrecondition, "broken (injected)"));
  };
  const base::Status status = run();
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message(), HasSubstr("broken (injected)"));
  EXPECT_THAT(copier_.revocations, IsEmpty());
}

// A transient consume error is logged and the stream goes on.
TEST_P(StageTest, ATransientConsumeErrorIsLoggedAndTheStreamGoesOn) {
  append({"a", "b"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer& consumer) {
    if (++polls == 1) {
      consumer.fail_next_poll(base::Error(base::ErrorCode::kUnavailable, "broker down (injected)"));
    }
    if (drained(consumer)) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b"}));
  EXPECT_EQ(context_.logged("consume error").size(), 1U);
}

// SIGTERM with work open (a transaction, outputs in flight): the processor drains, the stage
// commits what was done, then leaves the group.
TEST_P(StageTest, TheDrainCommitsOpenWorkThenLeavesTheGroup) {
  append({"a", "b", "c"});
  int polls = 0;
  kafka_.on_poll = [&](FakeConsumer&) {
    if (++polls == 2) context_.shutdown().request();
  };
  ASSERT_TRUE(run());
  EXPECT_EQ(copier_.drains, 1);
  EXPECT_EQ(output(), (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(committed(0), 2);
  EXPECT_EQ(committed(1), 1);
  EXPECT_EQ(journaled("consumer closed"), 1U);
}

// --- Tracing (docs/TRACING.md): one span per record per stage, opened and ended by the stage ---

constexpr std::string_view kTraceId = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kParentSpanId = "b7ad6b7169203331";
constexpr std::string_view kUnsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

TEST_P(StageTest, ASampledRecordGivesOneSpanWhoseIdItsOutputCarries) {
  sampling_ratio_ = 0.0;  // the records' own flags decide, not the ratio
  append({"a", "b", "c"});
  stop_when_drained();
  ASSERT_TRUE(run());
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 3U);
  std::set<std::string> span_ids;
  for (const otlp::Span& span : spans) {
    EXPECT_EQ(span.trace_id, kTraceId);
    EXPECT_EQ(span.parent_span_id, kParentSpanId);
    EXPECT_THAT(span.span_id, ::testing::MatchesRegex("[0-9a-f]{16}"));
    EXPECT_NE(span.span_id, kParentSpanId);
    EXPECT_EQ(span.name, "copy");
    EXPECT_EQ(span.kind, otlp::SpanKind::kConsumer);
    EXPECT_EQ(span.status, otlp::SpanStatus::kUnset);
    EXPECT_LE(span.start, span.end);
    EXPECT_EQ(text_attribute(span, "messaging.system"), "kafka");
    EXPECT_EQ(text_attribute(span, "messaging.destination.name"), kIn);
    EXPECT_THAT(text_attribute(span, "messaging.destination.partition.id"),
                ::testing::AnyOf("0", "1"));
    ASSERT_TRUE(attribute(span, "messaging.kafka.offset"));
    EXPECT_TRUE(std::holds_alternative<std::int64_t>(*attribute(span, "messaging.kafka.offset")));
    EXPECT_THAT(text_attribute(span, "ingestwatch.source"), ::testing::StartsWith("key-"));
    span_ids.insert(span.span_id);
  }
  // Each output's traceparent: the record's trace, the stage's span, sampled.
  std::set<std::string> output_span_ids;
  for (const auto& record : kafka_.committed_records(kOut)) {
    const std::string traceparent(record.header("traceparent").value_or(""));
    ASSERT_EQ(traceparent.size(), 55U);
    EXPECT_EQ(traceparent.substr(3, 32), kTraceId);
    EXPECT_EQ(traceparent.substr(52), "-01");
    output_span_ids.insert(traceparent.substr(36, 16));
  }
  EXPECT_EQ(output_span_ids, span_ids);
}

TEST_P(StageTest, AnUnsampledRecordGivesNoSpanAndItsOutputStaysUnsampled) {
  sampling_ratio_ = 1.0;  // the records' own flags decide, not the ratio
  append({"a", "b"}, kUnsampled);
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_THAT(spans_.spans(), IsEmpty());
  for (const auto& record : kafka_.committed_records(kOut)) {
    const std::string traceparent(record.header("traceparent").value_or(""));
    EXPECT_EQ(traceparent.substr(3, 32), kTraceId);
    EXPECT_NE(traceparent.substr(36, 16), kParentSpanId);  // a span of this stage, not recorded
    EXPECT_EQ(traceparent.substr(52), "-00");
  }
}

TEST_P(StageTest, ARecordWithoutATraceparentStartsATraceTheSamplerDecides) {
  sampling_ratio_ = 1.0;
  append({"a", "b"}, "");
  stop_when_drained();
  ASSERT_TRUE(run());
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 2U);
  std::set<std::string> traces;
  for (const otlp::Span& span : spans) {
    EXPECT_EQ(span.parent_span_id, "");  // the root
    traces.insert(span.span_id);
  }
  for (const auto& record : kafka_.committed_records(kOut)) {
    const std::string traceparent(record.header("traceparent").value_or(""));
    EXPECT_EQ(traceparent.substr(52), "-01");
    EXPECT_TRUE(traces.contains(traceparent.substr(36, 16)));
  }
}

TEST_P(StageTest, ANewTraceTheSamplerRefusesIsMarkedUnsampledAndNotRecorded) {
  sampling_ratio_ = 0.0;
  append({"a", "b"}, "");
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_THAT(spans_.spans(), IsEmpty());
  for (const auto& record : kafka_.committed_records(kOut)) {
    EXPECT_THAT(std::string(record.header("traceparent").value_or("")),
                ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-00"));
  }
}

TEST_P(StageTest, ADeadLetteredRecordsSpanCarriesTheReasonAndIsAnError) {
  sampling_ratio_ = 1.0;
  append({"a", "reject", "poison"});
  stop_when_drained();
  ASSERT_TRUE(run());
  std::map<std::string, otlp::Span> by_reason;  // the last span of each reason
  for (otlp::Span& span : spans_.spans()) {
    by_reason[text_attribute(span, "ingestwatch.dead_letter.reason")] = std::move(span);
  }
  ASSERT_TRUE(by_reason.contains("rejected"));
  const otlp::Span& rejected = by_reason["rejected"];
  EXPECT_EQ(rejected.status, otlp::SpanStatus::kError);
  EXPECT_EQ(rejected.status_message, "the test refuses it");
  ASSERT_TRUE(by_reason.contains("processing_failed"));
  EXPECT_EQ(by_reason["processing_failed"].status, otlp::SpanStatus::kError);
  EXPECT_THAT(by_reason["processing_failed"].status_message, HasSubstr("cannot process poison"));
  EXPECT_EQ(by_reason[""].status, otlp::SpanStatus::kUnset);  // "a"
  // The dead letters' parents are those spans.
  for (const auto& letter : dead_letters()) {
    const std::string reason(letter.header("dlq.reason").value_or(""));
    const std::string traceparent(letter.header("traceparent").value_or(""));
    EXPECT_EQ(traceparent.substr(36, 16), by_reason[reason].span_id) << reason;
  }
}

TEST_P(StageTest, WithoutASinkNothingIsRecordedAndOutputsStillCarryTheirSpan) {
  copier_.stamp_traceparent = true;
  append({"a"});
  stop_when_drained();
  ASSERT_TRUE(run());
  const auto out = kafka_.committed_records(kOut);
  ASSERT_EQ(out.size(), 1U);
  const std::string traceparent(out[0].header("traceparent").value_or(""));
  EXPECT_EQ(traceparent.substr(0, 36), kParent.substr(0, 36));
  EXPECT_NE(traceparent, kParent);
}

TEST_F(StoredOffsetsStageTest, ADeferredRecordsSpanEndsWhenItIsCompleted) {
  sampling_ratio_ = 1.0;
  fake_clock_ = true;
  copier_.defer_all = true;
  std::size_t spans_before_completion = 99;
  copier_.on_tick = [&](Output& out) {
    if (copier_.deferred.size() < 2) return;
    spans_before_completion = spans_.spans().size();
    clock_.advance(5s);  // Loki's answer comes later
    out.complete(copier_.deferred[0], {});
    ASSERT_TRUE(out.dead_letter(copier_.deferred[1], {.value = "b"}, "rejected", "refused later"));
    copier_.deferred.clear();
  };
  append({"a", "b"});
  stop_when_drained();
  ASSERT_TRUE(run());
  EXPECT_EQ(spans_before_completion, 0U);
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 2U);
  for (const otlp::Span& span : spans) EXPECT_GE(span.end - span.start, 5s);
  const auto letters = dead_letters();
  ASSERT_EQ(letters.size(), 1U);
  const auto dead = std::ranges::find_if(spans, [](const otlp::Span& span) {
    return !text_attribute(span, "ingestwatch.dead_letter.reason").empty();
  });
  ASSERT_NE(dead, spans.end());
  EXPECT_EQ(text_attribute(*dead, "ingestwatch.dead_letter.reason"), "rejected");
  EXPECT_EQ(dead->status, otlp::SpanStatus::kError);
  EXPECT_EQ(dead->status_message, "refused later");
  EXPECT_EQ(std::string(letters[0].header("traceparent").value_or("")).substr(36, 16),
            dead->span_id);
}

TEST_P(StageTest, AHeldSpanIsTheNextTicksAndEndsAfterIt) {
  sampling_ratio_ = 1.0;
  copier_.hold_spans = true;
  std::vector<std::string> tick_parents;
  copier_.on_tick = [&](Output& out) {
    RecordSpan& span = out.span();
    if (!span.recording()) return;
    tick_parents.emplace_back(span.traceparent());
    span.add_event("alert firing", {}, {{"alertname", "Test"}});
  };
  append({"a"});
  stop_when_drained();
  ASSERT_TRUE(run());
  const auto spans = spans_.spans();
  ASSERT_EQ(spans.size(), 1U);
  ASSERT_EQ(spans[0].events.size(), 1U);
  EXPECT_EQ(spans[0].events[0].name, "alert firing");
  ASSERT_EQ(tick_parents.size(), 1U);
  EXPECT_EQ(tick_parents[0].substr(36, 16), spans[0].span_id);
}

TEST(InputRefTest, PacksWithinItsRangesAndRefusesOutsideThem) {
  const InputRef ref{.topic = 255, .partition = 65535, .offset = (std::int64_t{1} << 40) - 1};
  ASSERT_TRUE(pack(ref));
  EXPECT_EQ(unpack(*pack(ref)), ref);
  EXPECT_EQ(unpack(*pack({.topic = 1, .partition = 2, .offset = 3})),
            (InputRef{.topic = 1, .partition = 2, .offset = 3}));
  EXPECT_FALSE(pack({.topic = 256}));
  EXPECT_FALSE(pack({.partition = 65536}));
  EXPECT_FALSE(pack({.offset = std::int64_t{1} << 40}));
  EXPECT_FALSE(pack({.offset = -1}));
}

}  // namespace
}  // namespace iw::stage
