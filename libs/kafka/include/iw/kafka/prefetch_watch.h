#pragma once

#include <cstddef>
#include <cstdint>

namespace iw::kafka {

/// When to wake librdkafka's fetcher. librdkafka 2.0 (Debian 12's) stops fetching a partition
/// once the consumer queue holds queued.min.messages records or queued.max.messages.kbytes, and
/// its broker thread looks at the queue again only at its next wake-up: an operation for it, a
/// socket event, or its one-second timer (librdkafka #2879; 2.1 turned the pause into
/// fetch.queue.backoff.ms). An application slower than the fetcher thus drains the queue and then
/// waits for the rest of that second: it moves about one queue a second. Told what the queue
/// holds after each poll, this says when to wake the fetcher: once the queue was (nearly) at a
/// limit, as soon as it has drained to half of both. Pure.
class PrefetchWatch {
 public:
  /// The consumer's queued.min.messages and queued.max.messages.kbytes (in bytes).
  PrefetchWatch(std::size_t limit_records, std::size_t limit_bytes);

  /// After a poll: `queued` records left in the queue, `taken` records of `taken_bytes` (keys and
  /// values) just read. True: wake the fetcher now.
  [[nodiscard]] bool after_poll(std::size_t queued, std::size_t taken, std::size_t taken_bytes);

  /// The queue's bytes, estimated from its records and the mean size of the records read.
  [[nodiscard]] std::size_t queued_bytes(std::size_t queued) const;
  /// Whether the queue was seen (nearly) at a limit since the last wake-up.
  [[nodiscard]] bool filled() const { return filled_; }
  [[nodiscard]] std::uint64_t wakeups() const { return wakeups_; }

 private:
  std::size_t limit_records_;
  std::size_t limit_bytes_;
  // Records and bytes read, for the mean record size; halved now and then so it follows change.
  std::uint64_t read_records_ = 0;
  std::uint64_t read_bytes_ = 0;
  bool filled_ = false;
  std::uint64_t wakeups_ = 0;
};

}  // namespace iw::kafka
