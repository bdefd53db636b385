#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "iw/base/check.h"

namespace iw::alerting {

/// A first-in first-out queue in one ring of slots: what the evaluator's per-rule expiries and
/// deadlines, its runs in τ order and the clock's recent records go through once or more per
/// record. Unlike std::deque, it allocates nothing once it has grown to the most it held
/// (a deque allocates a block every few pushes and frees one every few pops), and its slots are
/// contiguous. T must be default-constructible and cheap to copy (plain values).
template <typename T>
class Fifo {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return slots_.size(); }

  [[nodiscard]] const T& front() const {
    IW_CHECK(size_ != 0, "front() of an empty Fifo");
    return slots_[head_];
  }
  [[nodiscard]] const T& back() const {
    IW_CHECK(size_ != 0, "back() of an empty Fifo");
    return slots_[wrap(head_ + size_ - 1)];
  }
  /// The i-th oldest element.
  [[nodiscard]] const T& operator[](std::size_t i) const { return slots_[wrap(head_ + i)]; }

  void push_back(const T& value) {
    if (size_ == slots_.size()) grow();
    slots_[wrap(head_ + size_)] = value;
    ++size_;
  }

  void pop_front() {
    IW_CHECK(size_ != 0, "pop_front() of an empty Fifo");
    head_ = wrap(head_ + 1);
    --size_;
  }

 private:
  std::size_t wrap(std::size_t i) const { return i < slots_.size() ? i : i - slots_.size(); }

  // Doubles the ring, its elements moved to the start of the new one in order.
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[wrap(head_ + i)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace iw::alerting
