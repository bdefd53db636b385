#include "topic_end.h"

#include <algorithm>

namespace iw::dlq {

TopicEnd::TopicEnd(std::vector<PartitionRange> ranges, std::chrono::milliseconds idle_timeout)
    : ranges_(std::move(ranges)), idle_timeout_(idle_timeout) {}

void TopicEnd::on_assigned(base::MonotonicTime now) {
  if (assigned_at_) return;
  assigned_at_ = now;
  last_activity_ = std::max(last_activity_, now);
}

bool TopicEnd::on_record(std::int32_t partition, std::int64_t offset, base::MonotonicTime now) {
  last_activity_ = std::max(last_activity_, now);
  if (ranges_.empty()) return true;
  const auto it = std::ranges::find(ranges_, partition, &PartitionRange::partition);
  if (it == ranges_.end()) return false;
  if (offset >= it->end) {
    // The partition is past the snapshot: everything before its end has been delivered or
    // was never going to be (markers, aborted records).
    it->begin = it->end;
    return false;
  }
  it->begin = std::max(it->begin, offset + 1);
  return true;
}

TopicEnd::State TopicEnd::state(base::MonotonicTime now) const {
  if (!ranges_.empty() &&
      std::ranges::all_of(ranges_, [](const PartitionRange& r) { return r.begin >= r.end; })) {
    return State::kReachedEnd;
  }
  if (assigned_at_ && now - last_activity_ >= idle_timeout_) return State::kIdle;
  return State::kReading;
}

std::vector<PartitionRange> TopicEnd::unfinished() const {
  std::vector<PartitionRange> out;
  for (const PartitionRange& r : ranges_) {
    if (r.begin < r.end) out.push_back(r);
  }
  return out;
}

}  // namespace iw::dlq
