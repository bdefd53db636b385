#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "iw/base/clock.h"
#include "iw/kafka/offset_tracker.h"
#include "iw/kafka/record.h"
#include "iw/loki/entry.h"

namespace iw::loki_pusher {

/// What a dead letter of a record needs besides its value (the entry's line): its key and the
/// headers that follow it across services.
struct RecordMeta {
  std::optional<std::string> key;
  std::string execution_id;
  std::string traceparent;    ///< the record's own, "" when none
  base::TimePoint arrived{};  ///< its Kafka timestamp, for ingestwatch_record_latency_seconds
};

/// The pusher's bookkeeping between Kafka, the batcher and Loki (pure; the polling thread's).
/// Every record read is in flight until it is accepted by Loki or its dead letter is delivered;
/// a partition's offset may be stored only up to its first record still in flight
/// (kafka::OffsetTracker). For records waiting in a batch it keeps what their dead letter would
/// need, since the batch carries only the line.
///
/// Records are named by loki::EntryRef: `topic` is the index into the topics given to the
/// constructor.
class Ledger {
 public:
  explicit Ledger(std::vector<std::string> topics);

  /// A record was taken from Kafka.
  void read(const loki::EntryRef& ref);
  /// Its entry went into a batch: keep what a dead letter of it needs.
  void hold(const loki::EntryRef& ref, RecordMeta meta);
  /// Hands back (and forgets) what hold() kept; nullopt when nothing was held.
  std::optional<RecordMeta> release(const loki::EntryRef& ref);
  /// The record's outcome is durable (accepted by Loki, or its dead letter delivered).
  void done(const loki::EntryRef& ref);

  /// Whether the record's partition is still this consumer's: when not, its new owner reads it
  /// again and neither its dead letter nor its offset is this consumer's business.
  [[nodiscard]] bool owns(const loki::EntryRef& ref) const;
  /// Partitions revoked or lost.
  void forget(const kafka::TopicPartition& partition);
  /// Positions (next offset to read) that became safe to store since the last call.
  [[nodiscard]] std::vector<kafka::TopicPartitionOffset> take_committable() {
    return tracker_.take_committable();
  }

  [[nodiscard]] std::size_t in_flight() const { return tracker_.in_flight(); }
  [[nodiscard]] std::size_t held() const { return held_.size(); }
  /// About the memory held for dead letters, for the pending-bytes limit.
  [[nodiscard]] std::size_t held_bytes() const { return held_bytes_; }

  [[nodiscard]] const std::string& topic(std::int32_t index) const;
  [[nodiscard]] const kafka::TopicPartition& partition(const loki::EntryRef& ref);

  /// A record's reference packed into 64 bits (topic index < 256, partition < 65536, offset <
  /// 2^40), for hash keys and producer correlations.
  [[nodiscard]] static std::uint64_t pack(const loki::EntryRef& ref);
  [[nodiscard]] static loki::EntryRef unpack(std::uint64_t packed);

 private:
  static std::size_t meta_bytes(const RecordMeta& meta);

  std::vector<std::string> topics_;
  // TopicPartition by topic index and partition number: building one per record would allocate
  // its topic name every time.
  std::vector<std::vector<kafka::TopicPartition>> partitions_;
  kafka::OffsetTracker tracker_;
  std::unordered_map<std::uint64_t, RecordMeta> held_;
  std::size_t held_bytes_ = 0;
};

}  // namespace iw::loki_pusher
