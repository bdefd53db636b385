#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/error.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/client_factory.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/producer.h"
#include "iw/kafka/record.h"
#include "iw/runtime/service.h"
#include "iw/stage/input_ref.h"
#include "iw/stage/record_span.h"

namespace iw::stage {

/// How a stage makes its outcome durable.
enum class Delivery {
  /// Everything written for a stretch of input and the input positions reached are committed in
  /// one Kafka transaction: each record's outcome exactly once.
  kTransactional,
  /// An input offset is stored once every record before it on its partition has a durable
  /// outcome (delivered write or dead letter, or completed by the processor): at least once.
  kStoredOffsets,
};

/// A record whose processing or output fails the same way again and again is dead-lettered
/// after `max_attempts` tries, with a backoff between tries: the stream goes on. A record too
/// large (its value above `max_record_bytes`, or its output or its dead letter refused by Kafka
/// as too large) is dead-lettered as oversized_record with only its first
/// `dead_letter_head_bytes` (docs/DLQ.md, "Oversized records").
struct PoisonPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5'000};
  /// An input record whose value is longer is dead-lettered before process(); 0: no maximum.
  std::size_t max_record_bytes = 0;
  std::size_t dead_letter_head_bytes = kafka::kDefaultDeadLetterHeadBytes;
};

/// kTransactional: when a transaction commits (docs/ARCHITECTURE.md, "The stage layer"). Time and
/// size, not a record count: a count small enough to bound a slow stream's transactions caps a
/// fast one's throughput (each commit is a few round trips to the broker during which nothing is
/// processed), and one large enough for a fast stream bounds nothing.
struct TransactionPolicy {
  /// A transaction commits once it is this old, counted from its first record: a record's
  /// outcome starts committing at most this long after the record was taken (plus one record's
  /// processing). Kafka Streams' commit.interval.ms under exactly once. Keep it well below the
  /// producer's transaction.timeout.ms (librdkafka: 60 s), past which the broker aborts it.
  std::chrono::milliseconds interval{100};
  /// ... or once what it wrote (keys, values and headers of its records and dead letters)
  /// reaches this many bytes: an abort re-does at most about this much output, and a burst of
  /// large records does not make one transaction (and what its readers wait for) grow with the
  /// speed of the stream.
  std::size_t max_bytes = 32 * 1024 * 1024;
};

struct StageOptions {
  /// dlq.stage of its dead letters, and the `stage` of its log lines: "enricher".
  std::string name;
  /// The name of each record's span (docs/TRACING.md): "enrich". Empty: `name`.
  std::string span_name;
  std::vector<std::string> input_topics;
  std::string group_id;
  Delivery delivery = Delivery::kTransactional;
  /// kTransactional: stable across restarts of one instance, unique between instances.
  std::string transactional_id;
  std::string dlq_topic;
  /// Created when missing before the stage subscribes (the dead-letter topic is not added
  /// implicitly: list it). Empty: none.
  std::vector<kafka::TopicSpec> create_topics;
  /// The common kafka.* settings (runtime::kafka_client_options).
  kafka::ClientOptions client;
  /// Added to the consumer's and the producer's librdkafka properties unless client has them:
  /// the user's kafka.properties win.
  std::map<std::string, std::string> consumer_properties;
  std::map<std::string, std::string> producer_properties;
  /// kTransactional: when a transaction commits (also at a revocation, a seek and the drain).
  TransactionPolicy transaction;
  /// kStoredOffsets: stored offsets reach Kafka this often (and at a revocation and the drain).
  std::chrono::milliseconds store_interval{1000};
  /// Records taken from the consumer at a time, and the longest wait for the first.
  std::size_t poll_batch = 256;
  std::chrono::milliseconds poll_timeout{100};
  PoisonPolicy poison;
  /// The `topic` label of ingestwatch_records_out_total: what the stage writes to.
  std::string output_label;
  /// Why the processor may dead-letter a record: a child of each dead-letter counter is made
  /// up front for these and for the stage's own reasons (kStageReasons).
  std::vector<std::string> dead_letter_reasons;
  /// Observe ingestwatch_record_latency_seconds (arrival in the input → durable outcome) for
  /// one record in this many; 0: the stage does not observe it.
  std::uint64_t latency_sample_every = 16;
};

/// Reasons the stage itself dead-letters for: Kafka refused the output outright (too large);
/// processing failed, or the output was not delivered, PoisonPolicy::max_attempts times in a row;
/// the record is too large to pass or to be dead-lettered whole (only its head is kept).
inline constexpr std::string_view kKafkaRejected = "kafka_rejected";
inline constexpr std::string_view kOversizedRecord = kafka::kOversizedRecord;
inline constexpr std::string_view kProcessingFailed = "processing_failed";
inline constexpr std::string_view kDeliveryFailed = "delivery_failed";

/// The size limits of the pipeline's Kafka side (docs/DLQ.md, "Size limits"). Every topic a
/// stage or a publisher creates gets max.message.bytes (Kafka's own default, set explicitly so
/// that a broker configured otherwise does not change it); every producer, message.max.bytes
/// (librdkafka's default, set explicitly), unless kafka.properties sets it. The gap (48 KiB)
/// covers the record batch's own overhead, so a record the client accepts is never refused by
/// the broker as too large: the refusal comes at once, from produce(), where the stage still
/// holds the record.
inline constexpr std::string_view kTopicMaxMessageBytes = "1048588";
inline constexpr std::string_view kClientMessageMaxBytes = "1000000";

/// `topics` with max.message.bytes = kTopicMaxMessageBytes where their config does not set it.
[[nodiscard]] std::vector<kafka::TopicSpec> with_size_limit(std::vector<kafka::TopicSpec> topics);

/// What a dead letter carries besides its reason: the record's bytes and the headers that follow
/// it across services. Views; they need to live only for the call.
struct DeadLetterContent {
  std::string_view value;
  std::optional<std::string_view> key;
  std::string_view execution_id;
  std::string_view traceparent;  ///< the record's own; "" starts a new trace
  /// The record's Kafka timestamp, for the latency histogram.
  base::TimePoint arrived{};
};

/// The content of a consumed record, for dead_letter().
[[nodiscard]] DeadLetterContent content_of(const kafka::Record& record);

/// Where a processor's outcome goes. Every write joins the stage's delivery policy: inside the
/// open transaction, or tracked until delivered before the input offset is stored.
class Output {
 public:
  virtual ~Output() = default;
  /// Writes a record. Inside process(), it is the outcome of the record being processed;
  /// inside tick(), it belongs to no input record (kTransactional: it commits with the
  /// positions reached). kInvalidInput when Kafka refuses it outright: the caller decides
  /// (process() may return it, and the record is dead-lettered as kafka_rejected).
  virtual base::Status write(const kafka::OutgoingRecord& record) = 0;
  /// Dead-letters the record being processed, or (kStoredOffsets, deferred) record `ref`.
  /// `reason` must be one of StageOptions::dead_letter_reasons or the stage's own. When Kafka
  /// refuses the dead letter as too large, the record is dead-lettered as oversized_record
  /// instead (its head, size and hash); a dead letter never stops the stage.
  virtual base::Status dead_letter(const InputRef& ref, const DeadLetterContent& content,
                                   std::string_view reason, std::string_view error) = 0;
  /// kStoredOffsets only: the outcome of the record being processed comes later, through
  /// complete() or dead_letter() with this reference; until then its offset is not stored.
  virtual InputRef defer() = 0;
  /// A deferred record's outcome is durable (the pusher: Loki took it). Counted as one record
  /// out; `arrived` (its Kafka timestamp) feeds the latency histogram. Ignored for a partition
  /// revoked or lost since.
  virtual void complete(const InputRef& ref, base::TimePoint arrived) = 0;
  /// Whether the stage still owns the record's partition: a deferred record of a partition
  /// revoked or lost is the new owner's to decide.
  [[nodiscard]] virtual bool owns(const InputRef& ref) const = 0;
  /// The topic of an InputRef.
  [[nodiscard]] virtual const std::string& topic(const InputRef& ref) const = 0;
  /// The span of the record being processed (kind CONSUMER, its parent the record's
  /// traceparent; docs/TRACING.md): its traceparent() is the one the record's outputs carry,
  /// and the processor adds its attributes and events to it. The stage opens it before
  /// process() and ends it when process() returns, or for a deferred record at complete() or
  /// its dead letter; the stage sets the Kafka attributes and, for a dead letter, the reason and
  /// status ERROR. Outside process() it is closed (traceparent() is "").
  [[nodiscard]] virtual RecordSpan& span() = 0;
  /// Inside process(): the record's span does not end when process() returns but after the next
  /// tick() (or when another record's span is held), and during that tick() span() is this
  /// span: for a processor whose work for a record happens at the next tick (the evaluator's
  /// alert transitions). Outside process(), nothing.
  virtual void hold_span() = 0;
};

/// The stage's consumer, as much of it as a processor may drive.
class Input {
 public:
  virtual ~Input() = default;
  [[nodiscard]] virtual std::vector<kafka::TopicPartition> assignment() = 0;
  [[nodiscard]] virtual std::vector<kafka::Consumer::PartitionLag> lag() = 0;
  [[nodiscard]] virtual base::Result<std::vector<kafka::TopicPartitionOffset>> offsets_for_times(
      std::span<const kafka::TopicPartition> partitions, base::TimePoint time) = 0;
  /// Moves a partition's position; records of it already taken in the current batch are not
  /// given to process().
  virtual base::Status seek(const kafka::TopicPartitionOffset& position) = 0;
  /// Stops taking records from every assigned partition (and those assigned later) until
  /// resume_input(); polling goes on, so the group membership holds.
  virtual void pause_input() = 0;
  virtual void resume_input() = 0;
  [[nodiscard]] virtual bool input_paused() const = 0;
  [[nodiscard]] virtual std::size_t paused_partitions() const = 0;
  /// For a processor's own reader of another topic (the evaluator's alert history).
  [[nodiscard]] virtual kafka::ClientFactory& factory() = 0;
  [[nodiscard]] virtual const kafka::ClientOptions& client_options() const = 0;
};

/// A service's part of a stage: what it does with a record, with time, and with partitions
/// coming and going. It makes no Kafka call of its own. Errors: kFailedPrecondition stops the
/// stage (the service exits 1); any other error from process() fails that record, which is
/// tried again and, after PoisonPolicy::max_attempts, dead-lettered as processing_failed.
class Processor {
 public:
  virtual ~Processor() = default;
  /// Once, when the stage is connected and subscribed.
  virtual void started(Input& input) { (void)input; }
  /// One input record; its outcome goes through `out` (a write, a dead letter, a deferral, or
  /// nothing: the record is done).
  virtual base::Status process(const kafka::Record& record, Output& out) = 0;
  /// After every poll, before the records it took are processed: time-driven work.
  virtual base::Status tick(Input& input, Output& out) {
    (void)input;
    (void)out;
    return {};
  }
  /// How long the next poll may wait for a record at most (the stage's poll_timeout caps it).
  [[nodiscard]] virtual std::chrono::milliseconds poll_timeout() const {
    return std::chrono::milliseconds::max();
  }
  /// Whether to take records now. While false the stage polls without taking records only
  /// every few seconds (rebalances are still served) and calls wait() between ticks.
  [[nodiscard]] virtual bool wants_input() const { return true; }
  virtual void wait(std::chrono::milliseconds timeout) { (void)timeout; }
  /// New partitions; a processor may set each one's start offset.
  virtual void assigned(std::vector<kafka::TopicPartitionOffset>& partitions) { (void)partitions; }
  /// Partitions leaving in an orderly way: settle what can be settled for them now (the stage
  /// commits or stores right after).
  virtual base::Status revoking(const std::vector<kafka::TopicPartition>& partitions, Output& out) {
    (void)partitions;
    (void)out;
    return {};
  }
  /// After the revocation's commit.
  virtual void revoked(const std::vector<kafka::TopicPartition>& partitions) { (void)partitions; }
  /// Partitions already taken away: their uncommitted work is redone by the new owner.
  virtual void lost(const std::vector<kafka::TopicPartition>& partitions) { (void)partitions; }
  /// What was staged since the last commit (or rollback) is durable: apply staged metrics.
  /// kTransactional: after each committed transaction; kStoredOffsets: after each settle, when
  /// the offsets of the records done are stored.
  virtual void committed() {}
  /// What was staged since the last commit was rolled back (kTransactional abort): the input
  /// is read again from `rewound` (already sought).
  virtual void rolled_back(const std::vector<kafka::TopicPartitionOffset>& rewound) {
    (void)rewound;
  }
  /// SIGTERM: finish what is in flight (the stage commits right after).
  virtual base::Status drain(Input& input, Output& out) {
    (void)input;
    (void)out;
    return {};
  }
};

/// One Kafka stage: connect (topics, producer, transactions, consumer, subscribe), poll in
/// batches, the split between fatal and transient errors, rebalances, the delivery policy,
/// the poison-record policy, consumer-lag gauges, the pipeline counters, the SIGTERM drain, and
/// the order of teardown. docs/ARCHITECTURE.md, "The stage layer".
class Stage {
 public:
  Stage(runtime::Context& ctx, StageOptions options, Processor& processor,
        kafka::ClientFactory& factory = kafka::librdkafka_clients());
  ~Stage();
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  /// Runs until the shutdown is requested, then drains. An error: the stage cannot go on
  /// (fenced, fatal consumer or producer, topics not created); nothing more is committed.
  base::Status run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::stage
