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
  // The fetcher stops at a limit, overshooting it by up to a fetch. The queue held what this
  // poll took besides what is left (at least: more may have come meanwhile), so a stopped
  // fetcher's queue is seen above 90 % of a limit however much a poll takes. A wrong guess costs
  // one wake-up too many.
  const std::size_t before = queued + taken;
  if (before * 10 >= limit_records_ * 9 || queued_bytes(before) * 10 >= limit_bytes_ * 9) {
    filled_ = true;
  }
  // Woken below half of both limits, it fetches again at once: the queue refills before it runs
  // dry.
  if (filled_ && queued * 2 <= limit_records_ && queued_bytes(queued) * 2 <= limit_bytes_) {
    filled_ = false;
    ++wakeups_;
    return true;
  }
  return false;
}

}  // namespace iw::kafka
