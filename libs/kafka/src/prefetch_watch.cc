#include "iw/kafka/prefetch_watch.h"

namespace iw::kafka {
namespace {

// The mean record size follows the last few hundred thousand records.
constexpr std::uint64_t kMeanWindow = 1 << 18;

}  // namespace

PrefetchWatch::PrefetchWatch(std::size_t limit_records, std::size_t limit_bytes)
    : limit_records_(limit_records), limit_bytes_(limit_bytes) {}

std::size_t PrefetchWatch::queued_bytes(std::size_t queued) const {
  if (read_records_ == 0) return 0;
  return static_cast<std::size_t>(
      static_cast<double>(queued) *
      (static_cast<double>(read_bytes_) / static_cast<double>(read_records_)));
}

bool PrefetchWatch::after_poll(std::size_t queued, std::size_t taken, std::size_t taken_bytes) {
  read_records_ += taken;
  read_bytes_ += taken_bytes;
  if (read_records_ > kMeanWindow) {
    read_records_ /= 2;
    read_bytes_ /= 2;
  }
  const std::size_t bytes = queued_bytes(queued);
  // The fetcher stops at a limit, overshooting it by up to a fetch; seen after a poll took a few
  // records, a stopped fetcher's queue is still above 90 % of it. A wrong guess costs one
  // wake-up too many.
  if (queued * 10 >= limit_records_ * 9 || bytes * 10 >= limit_bytes_ * 9) {
    filled_ = true;
    return false;
  }
  // Woken below half of both limits, it fetches again at once: the queue refills before it runs
  // dry.
  if (filled_ && queued * 2 <= limit_records_ && bytes * 2 <= limit_bytes_) {
    filled_ = false;
    ++wakeups_;
    return true;
  }
  return false;
}

}  // namespace iw::kafka
