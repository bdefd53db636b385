#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "iw/base/error.h"
#include "iw/kafka/client.h"
#include "iw/kafka/record.h"

namespace iw::kafka {

/// The consumer's group identity, for committing offsets inside a producer's transaction.
/// Opaque: obtained from Consumer::group_metadata().
class GroupMetadata {
 public:
  virtual ~GroupMetadata() = default;
};

/// Told about partition ownership changes. Called from inside Consumer::poll() on the polling
/// thread, so the service can finish or abandon work for a partition before it moves.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  /// New partitions. A listener may set each one's start offset (default kOffsetStored).
  virtual void on_assigned(std::vector<TopicPartitionOffset>& partitions) = 0;
  /// Partitions leaving in an orderly way: commit what is done for them now.
  virtual void on_revoked(const std::vector<TopicPartition>& partitions) = 0;
  /// Partitions already taken away (session lost): their uncommitted work will be redone
  /// elsewhere; do not commit for them.
  virtual void on_lost(const std::vector<TopicPartition>& partitions) { on_revoked(partitions); }
};

enum class CommitMode {
  /// librdkafka commits the offsets the service stored, in the background and on close.
  kStoredOffsets,
  /// Nothing is committed unless the service calls commit().
  kManual,
  /// Offsets are committed through a producer transaction (send_offsets_to_transaction).
  kTransactional,
};

struct ConsumerOptions {
  ClientOptions client;
  std::string group_id;
  CommitMode commit_mode = CommitMode::kStoredOffsets;
  /// Only see committed transactional records (what downstream of an exactly-once stage wants).
  bool read_committed = true;
  /// Where a group with no committed offset starts: "earliest" or "latest".
  std::string auto_offset_reset = "earliest";
  /// nullptr: partitions are simply assigned and revoked.
  RebalanceListener* listener = nullptr;
};

/// A group member with cooperative-sticky rebalancing. Offsets are never stored automatically:
/// the service stores a record's position only once its outcome is durable downstream.
/// Not thread-safe: one thread polls and stores.
class Consumer {
 public:
  virtual ~Consumer() = default;

  virtual base::Status subscribe(const std::vector<std::string>& topics) = 0;
  /// The next record, nullopt when none arrived within `timeout`. Errors are per event:
  /// kFailedPrecondition when fatal (the consumer must be recreated), otherwise transient
  /// (log, count, keep polling).
  virtual base::Result<std::optional<Record>> poll(std::chrono::milliseconds timeout) = 0;
  /// Up to `max` records in consumption order, waiting at most `timeout` for the first: `out`
  /// is cleared, then filled (keep one vector and its capacity is reused). Cheaper per record
  /// than poll(): librdkafka's queue is locked, and the call accounted, once per batch.
  /// Rebalance callbacks run inside; records of partitions revoked or lost meanwhile are left
  /// out, and a seek() made from a callback takes effect as the call returns (records of that
  /// partition are left out too, so they come again from the new position). Errors are
  /// reported as poll() reports them; `out` then still holds the records that came around the
  /// error, to be processed as usual. Do not pause() or resume() from a rebalance callback.
  /// Like poll()'s, the records must be destroyed before the consumer.
  virtual base::Status poll_batch(std::vector<Record>& out, std::size_t max,
                                  std::chrono::milliseconds timeout);
  /// Marks positions (next offset to read) as safe to commit.
  virtual base::Status store_offsets(std::span<const TopicPartitionOffset> positions) = 0;
  /// Commits the stored offsets now and waits for the answer.
  virtual base::Status commit() = 0;
  /// The committed positions of the given partitions (kOffsetStored where none).
  virtual base::Result<std::vector<TopicPartitionOffset>> committed(
      std::span<const TopicPartition> partitions, std::chrono::milliseconds timeout) = 0;
  /// For each partition, the first offset whose timestamp is at or after `time`.
  virtual base::Result<std::vector<TopicPartitionOffset>> offsets_for_times(
      std::span<const TopicPartition> partitions, base::TimePoint time,
      std::chrono::milliseconds timeout) = 0;
  virtual base::Status seek(const TopicPartitionOffset& position,
                            std::chrono::milliseconds timeout) = 0;
  virtual base::Status pause(std::span<const TopicPartition> partitions) = 0;
  virtual base::Status resume(std::span<const TopicPartition> partitions) = 0;
  [[nodiscard]] virtual std::vector<TopicPartition> assignment() = 0;
  /// For each assigned partition, how many records are behind the consumer's position, from
  /// the high watermark librdkafka last saw in a fetch response (no broker round trip, so it
  /// is cheap enough to read every second). nullopt where either is not known yet; 0 for an
  /// empty partition (low and high watermarks equal) even before any position exists.
  struct PartitionLag {
    TopicPartition partition;
    std::optional<std::int64_t> records;
  };
  [[nodiscard]] virtual std::vector<PartitionLag> lag() = 0;
  /// A partition's first and end offsets, asked of the broker now (not the cached ones lag()
  /// uses). For a read_committed consumer `high` is the last stable offset (a transaction still
  /// open ends the readable part), otherwise the high watermark. `high == low`: nothing to read.
  struct Watermarks {
    TopicPartition partition;
    std::int64_t low = 0;
    std::int64_t high = 0;
  };
  /// The watermarks of each of `partitions`, in their order; waits at most `timeout` for each.
  /// A consumer that cannot tell answers kFailedPrecondition.
  [[nodiscard]] virtual base::Result<std::vector<Watermarks>> watermarks(
      std::span<const TopicPartition> partitions, std::chrono::milliseconds timeout);
  /// The consumer's position in each of `partitions` (the next offset it hands out; a commit or
  /// abort marker already passed counts as read), nullopt where it has none yet.
  [[nodiscard]] virtual std::vector<std::optional<std::int64_t>> positions_of(
      std::span<const TopicPartition> partitions);
  [[nodiscard]] virtual std::unique_ptr<GroupMetadata> group_metadata() = 0;
  [[nodiscard]] virtual bool fatal() const = 0;
  /// Leaves the group (revoking partitions through the listener, committing stored offsets in
  /// kStoredOffsets mode). Also done by the destructor.
  virtual void close() = 0;
};

[[nodiscard]] base::Result<std::unique_ptr<Consumer>> make_consumer(const ConsumerOptions& options);

}  // namespace iw::kafka
