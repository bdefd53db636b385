#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/client_factory.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"

namespace iw::testing {

class FakeConsumer;
class FakeProducer;
class FakeAdmin;

/// An in-memory Kafka cluster for hermetic tests of a stage's wiring: topics of partitions of
/// records, each group's committed offsets, and transactional ids with their epochs. The fake
/// clients made from it behave as the kafka library's real ones do where a stage can tell:
/// rebalance callbacks run inside poll(), transactional records stay invisible to
/// read_committed readers until committed, a newer producer with the same transactional id
/// fences the older one. Faults are injected one call at a time. Single-threaded, no clock:
/// poll() never waits. As a kafka::ClientFactory it hands a stage under test its clients, and
/// the test the same clients (last_consumer(), ...) to inject faults into.
class FakeKafka final : public kafka::ClientFactory {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  /// One record as a partition holds it.
  struct Stored {
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::string value;
    Headers headers;
    base::TimePoint timestamp{};
    /// Written in a transaction still open: read_committed readers stop before it.
    bool pending = false;
    /// Written in a transaction that was aborted: read_committed readers skip it.
    bool aborted = false;
    std::uint64_t transaction = 0;  ///< the transaction that wrote it, 0 for none

    /// The value of the header `name` (its first), nullopt when the record has none.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
      for (const auto& header : headers) {
        if (header.first == name) return header.second;
      }
      return std::nullopt;
    }
  };

  /// Creates the topic; an existing one is left as it is.
  void create_topic(const std::string& name, std::int32_t partitions);
  /// 0 when the topic does not exist.
  [[nodiscard]] std::int32_t partition_count(const std::string& topic) const;
  /// Appends a record as a plain producer would (test input); returns its offset.
  std::int64_t append(const std::string& topic, std::int32_t partition, std::string value,
                      std::optional<std::string> key = std::nullopt, Headers headers = {},
                      base::TimePoint timestamp = {});
  /// Every record of a partition, aborted and pending ones included, in offset order.
  [[nodiscard]] const std::vector<Stored>& log(const std::string& topic,
                                               std::int32_t partition) const;
  /// What a read_committed reader of the whole topic sees: the committed records of each
  /// partition in turn.
  [[nodiscard]] std::vector<Stored> committed_records(const std::string& topic) const;
  /// The group's committed position (next offset to read) of a partition.
  /// Retention (or DeleteRecords) removed the records before `offset`: they keep their place
  /// in log() but no consumer reads them, the beginning is `offset` (the low watermark), and
  /// offsets-for-times finds nothing before it.
  void delete_records(const std::string& topic, std::int32_t partition, std::int64_t offset);
  /// The first offset still held: 0 unless delete_records() said otherwise.
  [[nodiscard]] std::int64_t log_start(const kafka::TopicPartition& partition) const;
  [[nodiscard]] std::optional<std::int64_t> committed_offset(
      const std::string& group, const kafka::TopicPartition& partition) const;
  void commit_offset(const std::string& group, const kafka::TopicPartition& partition,
                     std::int64_t offset);

  /// Fences the producers using `transactional_id`, as a newer instance's init_transactions
  /// does: their open transaction is aborted, and their next call fails as fenced (fatal).
  void fence(const std::string& transactional_id);

  /// What the clients did that a test may want to see in order: "consumer closed",
  /// "consumer destroyed", "producer destroyed", "transaction committed", ...
  [[nodiscard]] const std::vector<std::string>& journal() const { return journal_; }

  // Clients for a test's own use.
  [[nodiscard]] std::unique_ptr<FakeConsumer> fake_consumer(const kafka::ConsumerOptions& options);
  [[nodiscard]] std::unique_ptr<FakeProducer> fake_producer(const kafka::ProducerOptions& options,
                                                            kafka::DeliveryHandler& handler);
  [[nodiscard]] std::unique_ptr<FakeAdmin> fake_admin();

  // kafka::ClientFactory: the same, for a stage under test.
  [[nodiscard]] base::Result<std::unique_ptr<kafka::Admin>> admin(
      const kafka::ClientOptions& options) override;
  [[nodiscard]] base::Result<std::unique_ptr<kafka::Consumer>> consumer(
      const kafka::ConsumerOptions& options) override;
  [[nodiscard]] base::Result<std::unique_ptr<kafka::Producer>> producer(
      const kafka::ProducerOptions& options, kafka::DeliveryHandler& handler) override;

  /// Called at the start of every poll() and poll_batch() of its consumers, before their
  /// rebalances run: the script of what happens while a stage under test runs (inject a fault
  /// into its producer, fence it, append input, ask it to stop).
  std::function<void(FakeConsumer&)> on_poll;

  /// The consumer or producer made last that still lives, nullptr when none.
  [[nodiscard]] FakeConsumer* last_consumer() const;
  [[nodiscard]] FakeProducer* last_producer() const;

 private:
  friend class FakeConsumer;
  friend class FakeProducer;

  std::vector<Stored>& partition_log(const std::string& topic, std::int32_t partition);
  // The id's next epoch, which fences the producers holding an older one; aborts what they left
  // open.
  std::uint32_t new_epoch(const std::string& transactional_id);
  // Ends a transaction: its records become visible, or are skipped for good.
  void settle(std::uint64_t transaction, bool commit);

  std::map<std::string, std::vector<std::vector<Stored>>> topics_;
  std::map<std::string, std::map<kafka::TopicPartition, std::int64_t>> committed_;  // by group
  std::map<std::string, std::uint32_t> epochs_;               // by transactional id
  std::map<std::string, std::uint64_t> open_transactions_;    // by transactional id
  std::map<kafka::TopicPartition, std::int64_t> log_starts_;  // delete_records()
  std::uint64_t next_transaction_ = 1;
  std::vector<std::string> journal_;
  std::vector<FakeConsumer*> consumers_;  // living, in the order made
  std::vector<FakeProducer*> producers_;
};

/// A consumer group of one member. After subscribe(), the first poll assigns every partition
/// of the subscribed topics (through the listener, as a rebalance does); assign(), revoke()
/// and lose() queue further rebalances for the next poll. Partitions start at the group's
/// committed offset, else as auto_offset_reset says, unless the listener sets a start.
class FakeConsumer final : public kafka::Consumer {
 public:
  FakeConsumer(FakeKafka& kafka, kafka::ConsumerOptions options);
  ~FakeConsumer() override;
  FakeConsumer(const FakeConsumer&) = delete;
  FakeConsumer& operator=(const FakeConsumer&) = delete;

  // Rebalances, run by the next poll()/poll_batch() before it reads.
  void assign(std::vector<kafka::TopicPartition> partitions);
  /// An orderly revocation: on_revoked, then (stored offsets mode) the stored offsets of these
  /// partitions are committed, as librdkafka's auto-commit does on unassign.
  void revoke(std::vector<kafka::TopicPartition> partitions);
  /// Partitions taken away (session lost): on_lost, and their stored offsets are dropped.
  void lose(std::vector<kafka::TopicPartition> partitions);
  /// The next poll()/poll_batch() fails with `error` (kFailedPrecondition: fatal, as the real
  /// consumer reports it; the consumer is then fatal()).
  void fail_next_poll(base::Error error);

  [[nodiscard]] const std::map<kafka::TopicPartition, std::int64_t>& positions() const {
    return positions_;
  }
  [[nodiscard]] const std::map<kafka::TopicPartition, std::int64_t>& stored() const {
    return stored_;
  }
  [[nodiscard]] const std::set<kafka::TopicPartition>& paused() const { return paused_; }
  [[nodiscard]] bool closed() const { return closed_; }
  /// Every assigned partition read to the end of its log, none left behind a rewind (or an
  /// open transaction, read_committed); false with nothing assigned.
  [[nodiscard]] bool at_end() const;
  [[nodiscard]] const kafka::ConsumerOptions& options() const { return options_; }
  /// The timeout of the poll under way (for on_poll) or of the last one: how long a real
  /// consumer would have waited for a record.
  [[nodiscard]] std::chrono::milliseconds poll_timeout() const { return poll_timeout_; }

  base::Status subscribe(const std::vector<std::string>& topics) override;
  base::Result<std::optional<kafka::Record>> poll(std::chrono::milliseconds timeout) override;
  base::Status poll_batch(std::vector<kafka::Record>& out, std::size_t max,
                          std::chrono::milliseconds timeout) override;
  base::Status store_offsets(std::span<const kafka::TopicPartitionOffset> positions) override;
  base::Status commit() override;
  base::Result<std::vector<kafka::TopicPartitionOffset>> committed(
      std::span<const kafka::TopicPartition> partitions,
      std::chrono::milliseconds timeout) override;
  base::Result<std::vector<kafka::TopicPartitionOffset>> offsets_for_times(
      std::span<const kafka::TopicPartition> partitions, base::TimePoint time,
      std::chrono::milliseconds timeout) override;
  base::Status seek(const kafka::TopicPartitionOffset& position,
                    std::chrono::milliseconds timeout) override;
  base::Status pause(std::span<const kafka::TopicPartition> partitions) override;
  base::Status resume(std::span<const kafka::TopicPartition> partitions) override;
  [[nodiscard]] std::vector<kafka::TopicPartition> assignment() override;
  [[nodiscard]] std::vector<PartitionLag> lag() override;
  /// low 0, high the log's end (read_committed: the first record of a transaction still open).
  [[nodiscard]] base::Result<std::vector<Watermarks>> watermarks(
      std::span<const kafka::TopicPartition> partitions,
      std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::vector<std::optional<std::int64_t>> positions_of(
      std::span<const kafka::TopicPartition> partitions) override;
  [[nodiscard]] std::unique_ptr<kafka::GroupMetadata> group_metadata() override;
  [[nodiscard]] bool fatal() const override { return fatal_; }
  void close() override;

 private:
  enum class Change { kAssign, kRevoke, kLose };
  struct Rebalance {
    Change change;
    std::vector<kafka::TopicPartition> partitions;
  };

  // Runs the queued rebalances; kFailedPrecondition once fatal.
  base::Status serve();
  void run(Rebalance& rebalance);
  void drop(const std::vector<kafka::TopicPartition>& partitions);
  // The next record to deliver, round robin over the assigned partitions that are not paused.
  std::optional<kafka::Record> next();
  std::int64_t start_of(const kafka::TopicPartitionOffset& requested) const;
  std::int64_t end_of(const kafka::TopicPartition& partition) const;

  FakeKafka& kafka_;
  kafka::ConsumerOptions options_;
  std::vector<std::string> topics_;
  std::deque<Rebalance> rebalances_;
  std::map<kafka::TopicPartition, std::int64_t> positions_;  // the assignment
  std::map<kafka::TopicPartition, std::int64_t> stored_;
  std::set<kafka::TopicPartition> paused_;
  std::optional<base::Error> poll_error_;
  std::size_t turn_ = 0;
  bool fatal_ = false;
  bool closed_ = false;
  std::chrono::milliseconds poll_timeout_{0};
};

/// A producer writing into a FakeKafka. Each produce() is written at once (a transaction's
/// records pending until it ends) and reported on the next poll() or flush(). With a
/// transactional id it needs init_transactions() and a transaction for every produce(), and
/// commit_transaction() fails (kAborted) when a record of the transaction was not delivered.
class FakeProducer final : public kafka::Producer {
 public:
  FakeProducer(FakeKafka& kafka, kafka::ProducerOptions options, kafka::DeliveryHandler& handler);
  ~FakeProducer() override;
  FakeProducer(const FakeProducer&) = delete;
  FakeProducer& operator=(const FakeProducer&) = delete;

  // Faults, each for the next such call only.
  /// produce() returns `error` (kInvalidInput: a record Kafka refuses; kUnavailable: queue full).
  void fail_next_produce(base::Error error);
  /// The next record produced is not written and its delivery report carries `error`.
  void fail_next_delivery(base::Error error);
  /// commit_transaction() returns `error` (kAborted: abort and retry; retryable: commit again);
  /// the transaction stays open.
  void fail_next_commit(base::Error error);
  /// Asked at every produce(): an error it returns is produce()'s (a record that fails every
  /// time it is written: a poison record's output).
  std::function<std::optional<base::Error>(const kafka::OutgoingRecord&)> refuse;
  /// Asked at every produce() that gets past `refuse`: an error it returns goes into the record's
  /// delivery report and the record is not written (the broker refusing it, e.g. larger than the
  /// topic takes, after the client took it).
  std::function<std::optional<base::Error>(const kafka::OutgoingRecord&)> refuse_delivery;

  [[nodiscard]] bool in_transaction() const { return transaction_ != 0; }
  [[nodiscard]] int commits() const { return commits_; }
  [[nodiscard]] int aborts() const { return aborts_; }

  base::Status produce(const kafka::OutgoingRecord& record, std::uint64_t correlation) override;
  int poll(std::chrono::milliseconds timeout) override;
  base::Status flush(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::size_t in_flight() const override { return reports_.size(); }
  void purge() override;
  [[nodiscard]] bool fatal() const override;
  [[nodiscard]] std::string fatal_reason() const override;
  base::Status init_transactions(std::chrono::milliseconds timeout) override;
  base::Status begin_transaction() override;
  base::Status send_offsets_to_transaction(std::span<const kafka::TopicPartitionOffset> offsets,
                                           const kafka::GroupMetadata& group,
                                           std::chrono::milliseconds timeout) override;
  base::Status commit_transaction(std::chrono::milliseconds timeout) override;
  base::Status abort_transaction(std::chrono::milliseconds timeout) override;

 private:
  // kFailedPrecondition when fenced, or when the call needs a state the producer is not in.
  base::Status check_transactional(bool needs_open) const;

  FakeKafka& kafka_;
  kafka::ProducerOptions options_;
  kafka::DeliveryHandler& handler_;
  std::deque<kafka::DeliveryReport> reports_;  // topics: views of FakeKafka's topic names
  std::optional<std::uint32_t> epoch_;         // set by init_transactions
  std::uint64_t transaction_ = 0;              // the open one, 0 for none
  bool transaction_failed_ = false;            // a record of the open transaction was not delivered
  std::vector<std::pair<std::string, std::vector<kafka::TopicPartitionOffset>>> offsets_;
  std::optional<base::Error> produce_error_;
  std::optional<base::Error> delivery_error_;
  std::optional<base::Error> commit_error_;
  int commits_ = 0;
  int aborts_ = 0;
};

class FakeAdmin final : public kafka::Admin {
 public:
  explicit FakeAdmin(FakeKafka& kafka) : kafka_(kafka) {}
  /// The next create_topics() returns `error` and creates nothing.
  void fail_next_create(base::Error error) { create_error_ = std::move(error); }

  base::Status create_topics(std::span<const kafka::TopicSpec> topics,
                             std::chrono::milliseconds timeout) override;
  base::Result<std::int32_t> partition_count(const std::string& topic,
                                             std::chrono::milliseconds timeout) override;

 private:
  FakeKafka& kafka_;
  std::optional<base::Error> create_error_;
};

}  // namespace iw::testing
