#include "ledger.h"

#include <algorithm>
#include <functional>

namespace iw::loki_pusher {

namespace {

// The node, the strings' heap parts and the hash bucket, roughly.
constexpr std::size_t kHeldOverheadBytes = 160;

}  // namespace

std::size_t Ledger::Hash::operator()(const stage::InputRef& ref) const {
  if (const auto packed = stage::pack(ref)) return std::hash<std::uint64_t>{}(*packed);
  return std::hash<std::int64_t>{}(ref.offset) ^
         (std::hash<std::int64_t>{}((std::int64_t{ref.topic} << 32) | ref.partition) << 1);
}

void Ledger::hold(const stage::InputRef& ref, RecordMeta meta) {
  auto [it, inserted] = held_.try_emplace(ref);
  if (inserted) {
    held_bytes_ += meta_bytes(meta);
    it->second.meta = std::move(meta);
  }
  ++it->second.copies;
  ++held_entries_;
}

std::optional<RecordMeta> Ledger::release(const stage::InputRef& ref) {
  const auto it = held_.find(ref);
  if (it == held_.end()) return std::nullopt;
  --held_entries_;
  if (--it->second.copies > 0) return it->second.meta;
  RecordMeta meta = std::move(it->second.meta);
  held_.erase(it);
  held_bytes_ -= std::min(held_bytes_, meta_bytes(meta));
  return meta;
}

std::size_t Ledger::meta_bytes(const RecordMeta& meta) {
  return kHeldOverheadBytes + (meta.key ? meta.key->size() : 0) + meta.execution_id.size() +
         meta.traceparent.size();
}

}  // namespace iw::loki_pusher
