#include "iw/stage/topic_reader.h"

#include <algorithm>
#include <optional>

namespace iw::stage {

base::Result<TopicRead> read_topic(kafka::ClientFactory& factory,
                                   const kafka::ClientOptions& client,
                                   const TopicReadOptions& options,
                                   const runtime::ShutdownSignal& shutdown,
                                   const base::Clock& clock,
                                   const std::function<void(const kafka::Record&)>& on_record) {
  auto reader = factory.consumer({.client = client,
                                  .group_id = options.group_id,
                                  .commit_mode = kafka::CommitMode::kManual,
                                  .read_committed = true,
                                  .auto_offset_reset = "earliest"});
  if (!reader) return std::unexpected(reader.error());
  kafka::Consumer& consumer = **reader;
  if (auto status = consumer.subscribe({options.topic}); !status) {
    return std::unexpected(status.error().with_context("subscribing to " + options.topic));
  }
  TopicRead read;
  const auto started = clock.monotonic_now();
  // When partitions were first assigned, then when the last record came.
  std::optional<base::MonotonicTime> active;
  while (true) {
    if (shutdown.requested()) {
      read.end = TopicReadEnd::kShutdown;
      break;
    }
    auto polled = consumer.poll(options.poll_timeout);
    const auto now = clock.monotonic_now();
    if (!polled && polled.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(polled.error().with_context("reading " + options.topic));
    }
    if (polled && *polled) {
      active = now;
      ++read.records;
      on_record(**polled);
      continue;
    }
    if (!active && !consumer.assignment().empty()) active = now;
    if (active) {
      const auto lags = consumer.lag();
      const bool at_end = !lags.empty() && std::ranges::all_of(lags, [](const auto& lag) {
        return lag.records && *lag.records == 0;
      });
      if (at_end) {
        read.end = TopicReadEnd::kAtEnd;
        break;
      }
      if (now - *active >= options.idle) {
        read.end = TopicReadEnd::kIdle;
        break;
      }
    }
    if (now - started >= options.cap) {
      read.end = TopicReadEnd::kCap;
      break;
    }
  }
  consumer.close();
  return read;
}

}  // namespace iw::stage
