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

/// What read_topic() reads, and when it stops.
struct TopicReadOptions {
  std::string topic;
  /// A group of the reader's own (no offset is committed): it starts at each partition's
  /// beginning.
  std::string group_id;
  /// Once partitions are assigned, the read ends after this long without a record: an empty
  /// partition reports no position, so "at its end" cannot be told for it.
  std::chrono::milliseconds idle{2'000};
  /// The read ends this long after it started, whatever it has read.
  std::chrono::milliseconds cap{60'000};
  std::chrono::milliseconds poll_timeout{100};
};

/// How a read ended.
enum class TopicReadEnd {
  kAtEnd,     ///< every assigned partition's position was at its end
  kIdle,      ///< nothing came for TopicReadOptions::idle after the assignment
  kCap,       ///< TopicReadOptions::cap passed
  kShutdown,  ///< the shutdown was requested
};

struct TopicRead {
  std::size_t records = 0;
  TopicReadEnd end = TopicReadEnd::kAtEnd;
};

/// Reads `options.topic` from its beginning to its end (committed records only) with a consumer
/// of its own, made by `factory`, and hands each record to `on_record`. For a stage's reader of
/// another topic than its input (the alert evaluator's alert history). The idle timer starts
/// when partitions are assigned, not at subscribe: a group's first assignment can take
/// seconds (group.initial.rebalance.delay.ms, 3 s by default). Transient consume errors are
/// skipped; a fatal one, or a consumer that cannot be made, is the error.
[[nodiscard]] base::Result<TopicRead> read_topic(
    kafka::ClientFactory& factory, const kafka::ClientOptions& client,
    const TopicReadOptions& options, const runtime::ShutdownSignal& shutdown,
    const base::Clock& clock, const std::function<void(const kafka::Record&)>& on_record);

}  // namespace iw::stage
