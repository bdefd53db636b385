#include "iw/loki/recent_events.h"

#include <algorithm>
#include <functional>

namespace iw::loki {
namespace {

__extension__ typedef unsigned __int128 Wide;  // g++'s; __extension__ keeps -Wpedantic quiet

}  // namespace

std::uint64_t event_key(std::string_view event_id) {
  const std::uint64_t key = std::hash<std::string_view>{}(event_id);
  return key == 0 ? 1 : key;
}

RecentEvents::RecentEvents(std::size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) return;
  // Two thirds full at most: linear probing stays short (~2 probes a miss).
  slots_.resize(std::max(capacity_ + capacity_ / 2, capacity_ + 1));
  order_.resize(capacity_, 0);
}

// Keys are already hashes; the multiply spreads ids that differ only in a few bits, and the
// high half of a 128-bit product maps it onto the table without a division.
std::size_t RecentEvents::home(std::uint64_t key) const {
  const Wide mixed = static_cast<Wide>(key * 0x9E3779B97F4A7C15ULL);
  return static_cast<std::size_t>((mixed * slots_.size()) >> 64);
}

std::size_t RecentEvents::after(std::size_t slot) const {
  return slot + 1 == slots_.size() ? 0 : slot + 1;
}

bool RecentEvents::at(const Slot& slot, const EntryRef& ref) {
  const std::int32_t topic = slot.topic < 0 ? -1 - slot.topic : slot.topic;
  return topic == ref.topic && slot.partition == ref.partition && slot.offset == ref.offset;
}

RecentEvents::Slot RecentEvents::taken(std::uint64_t key, const EntryRef& ref) {
  return {.key = key, .offset = ref.offset, .partition = ref.partition, .topic = ref.topic};
}

std::size_t RecentEvents::find(std::uint64_t key) const {
  if (slots_.empty()) return kNone;
  for (std::size_t i = home(key);; i = after(i)) {
    if (slots_[i].key == key) return i;
    if (slots_[i].key == 0) return kNone;
  }
}

// Backward-shift deletion: the entries after the hole that would not be found past it move up,
// so no tombstone is left and lookups stay short.
void RecentEvents::erase(std::size_t hole) {
  for (std::size_t i = after(hole); slots_[i].key != 0; i = after(i)) {
    const std::size_t want = home(slots_[i].key);
    // Movable when its home is not in the cyclic range (hole, i].
    const bool movable = hole <= i ? (want <= hole || want > i) : (want <= hole && want > i);
    if (movable) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = Slot{};
  --size_;
}

bool RecentEvents::duplicate(std::uint64_t key, const EntryRef& ref) const {
  if (key == 0) return false;
  const std::size_t i = find(key);
  return i != kNone && slots_[i].topic >= 0 && !at(slots_[i], ref);
}

void RecentEvents::refused(std::uint64_t key, const EntryRef& ref) {
  if (key == 0) return;
  const std::size_t i = find(key);
  if (i != kNone && slots_[i].topic >= 0 && at(slots_[i], ref)) slots_[i].topic = -1 - ref.topic;
}

void RecentEvents::remember(std::uint64_t key, const EntryRef& ref) {
  if (key == 0 || capacity_ == 0) return;
  std::size_t i = home(key);
  for (; slots_[i].key != 0; i = after(i)) {
    if (slots_[i].key == key) {
      // The same record read again, or a copy of a refused one (duplicate() said so).
      slots_[i] = taken(key, ref);
      return;
    }
  }
  if (size_ == capacity_) {
    // Full: the oldest goes. Its slot may be the free one found above, or shift into it.
    if (const std::size_t oldest = find(order_[next_]); oldest != kNone) erase(oldest);
    i = home(key);
    while (slots_[i].key != 0) i = after(i);
  }
  slots_[i] = taken(key, ref);
  ++size_;
  order_[next_] = key;
  next_ = (next_ + 1) % capacity_;
}

}  // namespace iw::loki
