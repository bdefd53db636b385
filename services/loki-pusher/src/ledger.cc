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

RecordMeta Ledger::Held::meta() const {
  const std::string_view all = text;
  RecordMeta meta{.key = std::nullopt,
                  .execution_id = std::string(all.substr(key_size, execution_id_size)),
                  .traceparent = std::string(all.substr(key_size + execution_id_size)),
                  .arrived = arrived};
  if (has_key) meta.key = std::string(all.substr(0, key_size));
  return meta;
}

void Ledger::hold(const stage::InputRef& ref, const RecordMetaView& meta) {
  auto [it, inserted] = held_.try_emplace(ref);
  Held& held = it->second;
  if (inserted) {
    const std::string_view key = meta.key.value_or(std::string_view());
    held.text.reserve(key.size() + meta.execution_id.size() + meta.traceparent.size());
    held.text.append(key).append(meta.execution_id).append(meta.traceparent);
    held.key_size = static_cast<std::uint32_t>(key.size());
    held.execution_id_size = static_cast<std::uint32_t>(meta.execution_id.size());
    held.has_key = meta.key.has_value();
    held.arrived = meta.arrived;
    held_bytes_ += meta_bytes(held);
  }
  ++held.copies;
  ++held_entries_;
}

std::optional<RecordMeta> Ledger::release(const stage::InputRef& ref) {
  const auto it = held_.find(ref);
  if (it == held_.end()) return std::nullopt;
  RecordMeta meta = it->second.meta();
  --held_entries_;
  if (--it->second.copies == 0) {
    held_bytes_ -= std::min(held_bytes_, meta_bytes(it->second));
    held_.erase(it);
  }
  return meta;
}

std::optional<base::TimePoint> Ledger::release_arrival(const stage::InputRef& ref) {
  const auto it = held_.find(ref);
  if (it == held_.end()) return std::nullopt;
  const base::TimePoint arrived = it->second.arrived;
  --held_entries_;
  if (--it->second.copies == 0) {
    held_bytes_ -= std::min(held_bytes_, meta_bytes(it->second));
    held_.erase(it);
  }
  return arrived;
}

std::size_t Ledger::meta_bytes(const Held& held) { return kHeldOverheadBytes + held.text.size(); }

}  // namespace iw::loki_pusher
