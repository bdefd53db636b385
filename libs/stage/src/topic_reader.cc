#include "iw/stage/topic_reader.h"

#include <optional>
#include <vector>

namespace iw::stage {
namespace {

// Where each assigned partition's read ends: its end offset when the partitions were assigned.
struct EndOffsets {
  std::vector<kafka::TopicPartition> partitions;
  std::vector<kafka::Consumer::Watermarks> ends;

  // Every partition empty or read up to its end.
  [[nodiscard]] bool reached(kafka::Consumer& consumer) const {
    const auto positions = consumer.positions_of(partitions);
    for (std::size_t i = 0; i < ends.size(); ++i) {
      if (ends[i].high <= ends[i].low) continue;  // nothing to read
      if (!positions[i] || *positions[i] < ends[i].high) return false;
    }
    return true;
  }

  // "topic[0] at 12 of 40, topic[2] at none of 3", for the timeout's message.
  [[nodiscard]] std::string short_of_end(kafka::Consumer& consumer) const {
    const auto positions = consumer.positions_of(partitions);
    std::string out;
    for (std::size_t i = 0; i < ends.size(); ++i) {
      if (ends[i].high <= ends[i].low || (positions[i] && *positions[i] >= ends[i].high)) continue;
      if (!out.empty()) out += ", ";
      out += partitions[i].topic + "[" + std::to_string(partitions[i].partition) + "] at " +
             (positions[i] ? std::to_string(*positions[i]) : std::string("none")) + " of " +
             std::to_string(ends[i].high);
    }
    return out;
  }
};

}  // namespace

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
  std::optional<EndOffsets> ends;  // once the partitions are assigned
  const auto fail = [&](base::Error error) -> base::Result<TopicRead> {
    consumer.close();
    return std::unexpected(std::move(error));
  };
  while (true) {
    if (shutdown.requested()) {
      read.end = TopicReadEnd::kShutdown;
      break;
    }
    const auto now = clock.monotonic_now();
    if (now - started >= options.timeout) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
      return fail(base::Error(
          base::ErrorCode::kTimeout,
          "reading " + options.topic + ": not at its end after " + std::to_string(waited.count()) +
              " ms (" + std::to_string(read.records) + " records read; " +
              (ends ? ends->short_of_end(consumer) : std::string("no partition assigned")) + ")"));
    }
    if (!ends) {
      if (auto assigned = consumer.assignment(); !assigned.empty()) {
        auto watermarks = consumer.watermarks(assigned, options.query_timeout);
        if (!watermarks) {
          return fail(watermarks.error().with_context("end offsets of " + options.topic));
        }
        read.assignment_wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock.monotonic_now() - started);
        ends = EndOffsets{std::move(assigned), std::move(*watermarks)};
      }
    }
    if (ends && ends->reached(consumer)) {
      read.end = TopicReadEnd::kAtEnd;
      break;
    }
    auto polled = consumer.poll(options.poll_timeout);
    if (!polled && polled.error().code() == base::ErrorCode::kFailedPrecondition) {
      return fail(polled.error().with_context("reading " + options.topic));
    }
    if (polled && *polled) {
      ++read.records;
      on_record(**polled);
    }
  }
  consumer.close();
  return read;
}

}  // namespace iw::stage
