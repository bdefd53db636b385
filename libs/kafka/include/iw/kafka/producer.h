#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/kafka/client.h"
#include "iw/kafka/record.h"

namespace iw::kafka {

class GroupMetadata;

/// A record to produce. Views only: librdkafka copies the bytes before produce() returns.
struct OutgoingRecord {
  std::string_view topic;
  std::optional<std::int32_t> partition;  // nullopt: the partitioner picks from the key
  std::optional<std::string_view> key;
  std::string_view value;
  std::span<const HeaderView> headers;
  std::optional<base::TimePoint> timestamp;  // nullopt: the producer's clock
};

/// The outcome of one produced record, reported from poll()/flush() on the calling thread.
struct DeliveryReport {
  std::string_view topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  /// The value given to produce(), to find the caller's own bookkeeping without a lookup map.
  std::uint64_t correlation = 0;
  /// Set when the record was not delivered; librdkafka already retried what it could.
  std::optional<base::Error> error;
  /// With an error: whether the broker may have written the record all the same (it timed out
  /// in flight), so a reader may still see it. Accounting must not call it lost for certain.
  bool possibly_persisted = false;
};

class DeliveryHandler {
 public:
  virtual ~DeliveryHandler() = default;
  virtual void on_delivery(const DeliveryReport& report) = 0;
};

struct ProducerOptions {
  ClientOptions client;
  /// Enables transactions when set (implies idempotence). Must be stable across restarts of the
  /// same logical producer so a restarted instance fences the old one. Every record is reported,
  /// with or without transactions (delivery.report.only.error is forced off).
  std::optional<std::string> transactional_id;
  /// How long produce() keeps polling for room when the local queue is full before it gives up.
  std::chrono::milliseconds queue_full_timeout{30'000};
};

/// An idempotent (acks=all) Kafka producer. Not thread-safe: one thread produces and polls.
class Producer {
 public:
  virtual ~Producer() = default;

  /// Queues a record. Returns kUnavailable if the queue stayed full for queue_full_timeout,
  /// kInvalidInput for a record Kafka cannot take (e.g. too large), kFailedPrecondition after a
  /// fatal error. Delivery is reported later through the DeliveryHandler.
  virtual base::Status produce(const OutgoingRecord& record, std::uint64_t correlation) = 0;
  /// Serves delivery reports; returns how many were served.
  virtual int poll(std::chrono::milliseconds timeout) = 0;
  /// Waits until everything queued is delivered or failed. kTimeout names how many records were
  /// still undelivered.
  virtual base::Status flush(std::chrono::milliseconds timeout) = 0;
  /// Records queued or in flight, not yet reported.
  [[nodiscard]] virtual std::size_t in_flight() const = 0;
  /// Gives up on everything queued or in flight: each such record is reported as failed on
  /// the next poll(), so after a flush timeout every record still gets exactly one report.
  virtual void purge() = 0;
  /// True once the client hit a fatal error; it must be recreated.
  [[nodiscard]] virtual bool fatal() const = 0;
  /// Why fatal() is true, in the client's words (a fence says "fenced"); empty when it cannot
  /// say.
  [[nodiscard]] virtual std::string fatal_reason() const { return {}; }
  /// Waits until the client knows each of `topics` with a leader for every partition, so that no
  /// record waits in librdkafka's queue for a topic not known yet: a dead letter that took that
  /// path to a topic created a moment earlier was, rarely, reported delivered and not written
  /// (librdkafka 2.0.2; docs/PRODUCER.md). kUnavailable after `timeout`.
  virtual base::Status wait_for_topics(std::span<const std::string> topics,
                                       std::chrono::milliseconds timeout) {
    (void)topics;
    (void)timeout;
    return {};
  }

  // Transactions (only with ProducerOptions::transactional_id). Errors are kAborted when the
  // transaction must be aborted and retried from its start, kFailedPrecondition when the
  // producer is fenced or broken for good, kTimeout/kUnavailable when the call may be retried.
  virtual base::Status init_transactions(std::chrono::milliseconds timeout) = 0;
  virtual base::Status begin_transaction() = 0;
  virtual base::Status send_offsets_to_transaction(std::span<const TopicPartitionOffset> offsets,
                                                   const GroupMetadata& group,
                                                   std::chrono::milliseconds timeout) = 0;
  virtual base::Status commit_transaction(std::chrono::milliseconds timeout) = 0;
  virtual base::Status abort_transaction(std::chrono::milliseconds timeout) = 0;
};

/// Connects lazily (librdkafka connects in the background); start-up errors are configuration
/// errors. `handler` must outlive the producer.
[[nodiscard]] base::Result<std::unique_ptr<Producer>> make_producer(const ProducerOptions& options,
                                                                    DeliveryHandler& handler);

}  // namespace iw::kafka
