#include "iw/kafka/offset_tracker.h"

#include <algorithm>

#include "iw/base/check.h"

namespace iw::kafka {

OffsetTracker::Entry* OffsetTracker::find(const TopicPartition& partition) {
  if (last_ != nullptr && last_->first.partition == partition.partition &&
      last_->first.topic == partition.topic) {
    return last_;
  }
  const auto it = partitions_.find(partition);
  if (it == partitions_.end()) return nullptr;
  last_ = &*it;
  return last_;
}

void OffsetTracker::started(const TopicPartition& partition, std::int64_t offset) {
  Entry* entry = find(partition);
  if (entry == nullptr) entry = last_ = &*partitions_.try_emplace(partition).first;
  entry->second.pending.emplace_back(offset, false);
}

void OffsetTracker::finished(const TopicPartition& partition, std::int64_t offset) {
  Entry* const it = find(partition);
  if (it == nullptr) return;  // revoked meanwhile: its new owner redoes the work
  auto& pending = it->second.pending;
  // Offsets are pending in read order, so increasing: a binary search keeps each report
  // O(log n) even with many thousands of records of a partition in flight.
  const auto entry = std::lower_bound(pending.begin(), pending.end(), offset,
                                      [](const auto& e, std::int64_t o) { return e.first < o; });
  if (entry != pending.end() && entry->first == offset) entry->second = true;
  while (!pending.empty() && pending.front().second) {
    it->second.committable = pending.front().first + 1;
    pending.pop_front();
  }
}

std::vector<TopicPartitionOffset> OffsetTracker::take_committable() {
  std::vector<TopicPartitionOffset> out;
  for (auto& [tp, partition] : partitions_) {
    if (!partition.committable) continue;
    out.push_back({tp.topic, tp.partition, *partition.committable});
    partition.committable.reset();
  }
  return out;
}

void OffsetTracker::forget(const TopicPartition& partition) {
  last_ = nullptr;
  partitions_.erase(partition);
}

std::size_t OffsetTracker::in_flight() const {
  std::size_t count = 0;
  for (const auto& [tp, partition] : partitions_) count += partition.pending.size();
  return count;
}

std::optional<std::int64_t> OffsetTracker::first_unfinished(const TopicPartition& partition) const {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.pending.empty()) return std::nullopt;
  return it->second.pending.front().first;  // finished records at the front are popped at once
}

void BatchPositions::add(const TopicPartition& partition, std::int64_t offset) {
  auto [it, inserted] = partitions_.try_emplace(partition, Span{offset, offset});
  if (!inserted) {
    IW_CHECK(offset > it->second.last, "records of a partition arrive in offset order");
    it->second.last = offset;
  }
  ++records_;
}

std::vector<TopicPartitionOffset> BatchPositions::commit_positions() const {
  std::vector<TopicPartitionOffset> out;
  for (const auto& [tp, span] : partitions_) out.push_back({tp.topic, tp.partition, span.last + 1});
  return out;
}

std::vector<TopicPartitionOffset> BatchPositions::rewind_positions() const {
  std::vector<TopicPartitionOffset> out;
  for (const auto& [tp, span] : partitions_) out.push_back({tp.topic, tp.partition, span.first});
  return out;
}

void BatchPositions::clear() {
  partitions_.clear();
  records_ = 0;
}

}  // namespace iw::kafka
