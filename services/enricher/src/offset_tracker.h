#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "iw/kafka/record.h"

namespace iw::enricher {

/// At-least-once bookkeeping: which input offsets may be committed. A record's outcome can
/// become durable out of order (its output lands on another partition than its neighbours'),
/// but an input offset may only be stored once every record before it on the same partition is
/// durable too. Pure; one per consumer.
class OffsetTracker {
 public:
  /// A record taken from `partition` at `offset` is now in flight.
  void started(const kafka::TopicPartition& partition, std::int64_t offset);
  /// Its outcome is durable.
  void finished(const kafka::TopicPartition& partition, std::int64_t offset);
  /// Positions (next offset to read) that became safe since the last call, one per partition.
  [[nodiscard]] std::vector<kafka::TopicPartitionOffset> take_committable();
  /// Forgets partitions the consumer no longer owns.
  void forget(const kafka::TopicPartition& partition);
  [[nodiscard]] std::size_t in_flight() const;

 private:
  struct Partition {
    std::deque<std::pair<std::int64_t, bool>> pending;  // offset, finished; in read order
    std::optional<std::int64_t> committable;            // next offset, not yet handed out
  };
  std::map<kafka::TopicPartition, Partition> partitions_;
};

/// Exactly-once bookkeeping for the open transaction: for each partition, where the batch
/// started (to rewind to after an abort) and the position after its last record (to commit
/// with the transaction).
class BatchPositions {
 public:
  void add(const kafka::TopicPartition& partition, std::int64_t offset);
  [[nodiscard]] bool empty() const { return partitions_.empty(); }
  [[nodiscard]] std::size_t records() const { return records_; }
  [[nodiscard]] std::vector<kafka::TopicPartitionOffset> commit_positions() const;
  [[nodiscard]] std::vector<kafka::TopicPartitionOffset> rewind_positions() const;
  void clear();

 private:
  struct Span {
    std::int64_t first;
    std::int64_t last;
  };
  std::map<kafka::TopicPartition, Span> partitions_;
  std::size_t records_ = 0;
};

}  // namespace iw::enricher
