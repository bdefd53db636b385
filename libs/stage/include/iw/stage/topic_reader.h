#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/kafka/client_factory.h"
#include "iw/kafka/record.h"
#include "iw/runtime/shutdown.h"

namespace iw::stage {

/// What read_topic() reads, and how long it may take.
struct TopicReadOptions {
  std::string topic;
  /// A group of the reader's own (no offset is committed): it starts at each partition's
  /// beginning.
  std::string group_id;
  /// The whole read, the group's assignment included, must end within this; past it the read
  /// fails (kTimeout) rather than pass a part of the topic off as the whole.
  std::chrono::milliseconds timeout{120'000};
  /// How long the broker may take to answer the end offsets' query.
  std::chrono::milliseconds query_timeout{10'000};
  std::chrono::milliseconds poll_timeout{100};
};

/// How a read ended.
enum class TopicReadEnd {
  kAtEnd,     ///< every assigned partition was read to the end offset it had at the assignment
  kShutdown,  ///< the shutdown was requested
};

struct TopicRead {
  std::size_t records = 0;
  TopicReadEnd end = TopicReadEnd::kAtEnd;
  /// From subscribe to the assignment (group.initial.rebalance.delay.ms and the join).
  std::chrono::milliseconds assignment_wait{0};
};

/// Reads `options.topic` from its beginning to its end (committed records only) with a consumer
/// of its own, made by `factory`, and hands each record to `on_record`. For a stage's reader of
/// another topic than its input (the alert evaluator's alert history).
///
/// The end is not guessed from a quiet moment: when the group assigns the partitions (however
/// long that takes: group.initial.rebalance.delay.ms is 3 s by default), the reader asks the
/// broker for each one's end offset (the last stable offset, read_committed), and the read ends
/// once its position in every partition reached that offset. Records written after that are
/// not waited for. Errors: kTimeout when `options.timeout` passes first (naming the partitions
/// short of their end), the query's error when the broker cannot say, a fatal consume error, or
/// a consumer that cannot be made; transient consume errors are skipped.
[[nodiscard]] base::Result<TopicRead> read_topic(
    kafka::ClientFactory& factory, const kafka::ClientOptions& client,
    const TopicReadOptions& options, const runtime::ShutdownSignal& shutdown,
    const base::Clock& clock, const std::function<void(const kafka::Record&)>& on_record);

}  // namespace iw::stage
