#include "ledger.h"

#include <algorithm>

#include "iw/base/check.h"

namespace iw::loki_pusher {

namespace {

// The node, the strings' heap parts and the hash bucket, roughly.
constexpr std::size_t kHeldOverheadBytes = 160;

}  // namespace

Ledger::Ledger(std::vector<std::string> topics)
    : topics_(std::move(topics)), partitions_(topics_.size()) {
  IW_CHECK(!topics_.empty() && topics_.size() <= 256, "a ledger reads 1 to 256 topics");
}

const std::string& Ledger::topic(std::int32_t index) const {
  return topics_.at(static_cast<std::size_t>(index));
}

const kafka::TopicPartition& Ledger::partition(const loki::EntryRef& ref) {
  auto& partitions = partitions_.at(static_cast<std::size_t>(ref.topic));
  const auto index = static_cast<std::size_t>(ref.partition);
  for (std::size_t i = partitions.size(); i <= index; ++i) {
    partitions.push_back(
        {topics_[static_cast<std::size_t>(ref.topic)], static_cast<std::int32_t>(i)});
  }
  return partitions[index];
}

void Ledger::read(const loki::EntryRef& ref) { tracker_.started(partition(ref), ref.offset); }

void Ledger::hold(const loki::EntryRef& ref, RecordMeta meta) {
  const std::size_t bytes = meta_bytes(meta);
  auto [it, inserted] = held_.insert_or_assign(pack(ref), std::move(meta));
  // The same record read again (a partition revoked and assigned back) replaces its twin.
  if (inserted) held_bytes_ += bytes;
}

std::optional<RecordMeta> Ledger::release(const loki::EntryRef& ref) {
  const auto it = held_.find(pack(ref));
  if (it == held_.end()) return std::nullopt;
  RecordMeta meta = std::move(it->second);
  held_.erase(it);
  held_bytes_ -= std::min(held_bytes_, meta_bytes(meta));
  return meta;
}

void Ledger::done(const loki::EntryRef& ref) { tracker_.finished(partition(ref), ref.offset); }

bool Ledger::owns(const loki::EntryRef& ref) const {
  const auto topic = static_cast<std::size_t>(ref.topic);
  const auto index = static_cast<std::size_t>(ref.partition);
  if (topic >= partitions_.size() || index >= partitions_[topic].size()) return false;
  return tracker_.tracks(partitions_[topic][index]);
}

void Ledger::forget(const kafka::TopicPartition& partition) { tracker_.forget(partition); }

std::uint64_t Ledger::pack(const loki::EntryRef& ref) {
  IW_CHECK(ref.topic >= 0 && ref.topic < 256 && ref.partition >= 0 && ref.partition < 65536 &&
               ref.offset >= 0 && ref.offset < (std::int64_t{1} << 40),
           "record reference out of the packable range");
  return (static_cast<std::uint64_t>(ref.topic) << 56) |
         (static_cast<std::uint64_t>(ref.partition) << 40) | static_cast<std::uint64_t>(ref.offset);
}

loki::EntryRef Ledger::unpack(std::uint64_t packed) {
  return {.topic = static_cast<std::int32_t>(packed >> 56),
          .partition = static_cast<std::int32_t>((packed >> 40) & 0xFFFF),
          .offset = static_cast<std::int64_t>(packed & ((std::uint64_t{1} << 40) - 1))};
}

std::size_t Ledger::meta_bytes(const RecordMeta& meta) {
  return kHeldOverheadBytes + (meta.key ? meta.key->size() : 0) + meta.execution_id.size() +
         meta.traceparent.size();
}

}  // namespace iw::loki_pusher
