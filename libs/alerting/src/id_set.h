#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace iw::alerting {

/// The hashed ids of the runs in the longest window: a set of 64-bit values asked about, added
/// to and removed from once per run. Open addressing in one array (linear probing, at most half
/// full; a removal shifts the slots after it back, so no tombstones), so a lookup is one
/// multiply and a probe or two of adjacent slots. std::unordered_set divided by a prime for the
/// bucket, then again for every node it walked, and chased a node pointer per id: most of
/// Evaluator::add's time in the service's profile. Allocates nothing once it has held the most
/// it will hold.
class IdSet {
 public:
  [[nodiscard]] std::size_t size() const { return size_ + (has_zero_ ? 1 : 0); }
  [[nodiscard]] std::size_t capacity_bytes() const {
    return slots_.capacity() * sizeof(std::uint64_t);
  }

  [[nodiscard]] bool contains(std::uint64_t id) const {
    if (id == kEmpty) return has_zero_;
    if (slots_.empty()) return false;
    for (std::size_t i = home(id);; i = (i + 1) & mask_) {
      if (slots_[i] == id) return true;
      if (slots_[i] == kEmpty) return false;
    }
  }

  /// Adds `id`; false when it was there already.
  bool insert(std::uint64_t id) {
    if (id == kEmpty) return !std::exchange(has_zero_, true);
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = home(id);
    for (; slots_[i] != kEmpty; i = (i + 1) & mask_) {
      if (slots_[i] == id) return false;
    }
    slots_[i] = id;
    ++size_;
    return true;
  }

  /// Removes `id`; false when it was not there.
  bool erase(std::uint64_t id) {
    if (id == kEmpty) return std::exchange(has_zero_, false);
    if (slots_.empty()) return false;
    std::size_t i = home(id);
    for (; slots_[i] != id; i = (i + 1) & mask_) {
      if (slots_[i] == kEmpty) return false;
    }
    // Backward shift: each later id of the run whose home is not in (i, j] moves into the hole,
    // so that no lookup meets an empty slot before its id.
    for (std::size_t j = (i + 1) & mask_; slots_[j] != kEmpty; j = (j + 1) & mask_) {
      const std::size_t h = home(slots_[j]);
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = kEmpty;
    --size_;
    return true;
  }

 private:
  static constexpr std::uint64_t kEmpty = 0;  // the id 0 is kept apart, in has_zero_

  // Fibonacci hashing: the top bits of id × 2^64/φ, so ids alike in their low bits spread too.
  [[nodiscard]] std::size_t home(std::uint64_t id) const {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> shift_);
  }

  void grow() {
    std::vector<std::uint64_t> old = std::move(slots_);
    const std::size_t capacity = old.empty() ? 64 : old.size() * 2;
    slots_.assign(capacity, kEmpty);
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (const std::uint64_t id : old) {
      if (id == kEmpty) continue;
      std::size_t i = home(id);
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = id;
    }
  }

  std::vector<std::uint64_t> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;  // ids in slots_
  bool has_zero_ = false;
};

}  // namespace iw::alerting
