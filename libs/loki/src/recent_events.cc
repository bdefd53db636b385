#include "iw/loki/recent_events.h"

#include <bit>
#include <functional>

namespace iw::loki {

std::uint64_t event_key(std::string_view event_id) {
  const std::uint64_t key = std::hash<std::string_view>{}(event_id);
  return key == 0 ? 1 : key;
}

RecentEvents::RecentEvents(std::size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) return;
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(capacity_ * 2, 8));
  slots_.resize(slots);
  mask_ = slots - 1;
  shift_ = 64 - std::countr_zero(slots);
  order_.resize(capacity_, 0);
}

// Fibonacci hashing: the top bits of key * 2^64/phi, so ids that differ only in a few bits
// still spread.
std::size_t RecentEvents::home(std::uint64_t key) const {
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);
}

std::size_t RecentEvents::find(std::uint64_t key) const {
  if (slots_.empty()) return kNone;
  for (std::size_t i = home(key);; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return i;
    if (slots_[i].key == 0) return kNone;
  }
}

// Backward-shift deletion: the entries after the hole that would not be found past it move up,
// so no tombstone is left and lookups stay short.
void RecentEvents::erase(std::size_t hole) {
  for (std::size_t i = (hole + 1) & mask_; slots_[i].key != 0; i = (i + 1) & mask_) {
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

bool RecentEvents::duplicate(std::uint64_t key, const EntryRef& at) const {
  if (key == 0) return false;
  const std::size_t i = find(key);
  return i != kNone && !slots_[i].refused && !(slots_[i].at == at);
}

void RecentEvents::refused(std::uint64_t key, const EntryRef& at) {
  if (key == 0) return;
  const std::size_t i = find(key);
  if (i != kNone && slots_[i].at == at) slots_[i].refused = true;
}

void RecentEvents::remember(std::uint64_t key, const EntryRef& at) {
  if (key == 0 || capacity_ == 0) return;
  std::size_t i = home(key);
  for (; slots_[i].key != 0; i = (i + 1) & mask_) {
    if (slots_[i].key == key) {
      // The same record read again, or a copy of a refused one (duplicate() said so).
      slots_[i] = Slot{.key = key, .at = at};
      return;
    }
  }
  if (size_ == capacity_) {
    // Full: the oldest goes. Its slot may be the free one found above, or shift into it.
    if (const std::size_t oldest = find(order_[next_]); oldest != kNone) erase(oldest);
    i = home(key);
    while (slots_[i].key != 0) i = (i + 1) & mask_;
  }
  slots_[i] = Slot{.key = key, .at = at};
  ++size_;
  order_[next_] = key;
  next_ = (next_ + 1) % capacity_;
}

}  // namespace iw::loki
