#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "iw/kafka/record.h"

namespace iw::kafka {

/// At-least-once bookkeeping: which input offsets may be stored (CommitMode::kStoredOffsets). A
/// record's outcome can become durable out of order (the enricher's output lands on another
/// partition than its neighbours'; the Loki pusher's record is dead-lettered while the batch
/// before it is still being retried), but an input offset may only be stored once every record
/// before it on the same partition is durable too. Pure; one per consumer.
class OffsetTracker {
 public:
  OffsetTracker() = default;
  // It points into itself (the partition last looked up).
  OffsetTracker(const OffsetTracker&) = delete;
  OffsetTracker& operator=(const OffsetTracker&) = delete;

  /// A record taken from `partition` at `offset` is now in flight.
  void started(const TopicPartition& partition, std::int64_t offset);
  /// Its outcome is durable.
  void finished(const TopicPartition& partition, std::int64_t offset);
  /// Positions (next offset to read) that became safe since the last call, one per partition.
  [[nodiscard]] std::vector<TopicPartitionOffset> take_committable();
  /// Forgets partitions the consumer no longer owns; later reports for them are ignored.
  void forget(const TopicPartition& partition);
  /// Whether `partition` has records in flight or a position not yet handed out (false once
  /// forgotten, until a record of it is started again).
  [[nodiscard]] bool tracks(const TopicPartition& partition) const {
    return partitions_.contains(partition);
  }
  [[nodiscard]] std::size_t in_flight() const;
  /// The offset of the partition's first record still in flight, nullopt when none is.
  [[nodiscard]] std::optional<std::int64_t> first_unfinished(const TopicPartition& partition) const;

 private:
  struct Partition {
    std::deque<std::pair<std::int64_t, bool>> pending;  // offset, finished; in read order
    std::optional<std::int64_t> committable;            // next offset, not yet handed out
  };
  using Entry = std::map<TopicPartition, Partition>::value_type;
  // The partition's entry, nullptr when it is not tracked.
  Entry* find(const TopicPartition& partition);

  std::map<TopicPartition, Partition> partitions_;
  // The entry last looked up: records are taken, and mostly reported, in runs of one
  // partition, so most lookups compare one partition number and one topic name.
  Entry* last_ = nullptr;
};

/// Exactly-once bookkeeping for the open transaction: for each partition, where the batch
/// started (to rewind to after an abort) and the position after its last record (to commit
/// with the transaction).
class BatchPositions {
 public:
  void add(const TopicPartition& partition, std::int64_t offset);
  [[nodiscard]] bool empty() const { return partitions_.empty(); }
  [[nodiscard]] std::size_t records() const { return records_; }
  [[nodiscard]] std::vector<TopicPartitionOffset> commit_positions() const;
  [[nodiscard]] std::vector<TopicPartitionOffset> rewind_positions() const;
  void clear();

 private:
  struct Span {
    std::int64_t first;
    std::int64_t last;
  };
  std::map<TopicPartition, Span> partitions_;
  std::size_t records_ = 0;
};

}  // namespace iw::kafka
