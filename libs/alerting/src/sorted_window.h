#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "iw/base/check.h"

namespace iw::alerting {

/// The values of a percentile rule's window, sorted: a multiset of doubles with insert, erase of
/// one equal value, and the i-th smallest. A window of a source's runs holds its runs of the
/// last hour: 600 values for a source of ten objets that run every minute. In one sorted vector
/// each insert and each erase moved half of them (a memmove of ~2.4 kB, twice per run and
/// percentile rule, the evaluator's largest cost in the service's profile); here, past one block,
/// the values are kept in blocks of at most kBlock, so an insert or an erase moves at most a
/// block, and the i-th is found by walking the blocks' counts. Splitting a full block and
/// removing an emptied or merged one move the blocks after it: once every kBlock / 2 changes at
/// most. Like Fifo, it allocates nothing once it has held the most it will hold.
class SortedWindow {
 public:
  static constexpr std::size_t kBlock = 64;

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  /// Bytes held (for the evaluator's memory estimate).
  [[nodiscard]] std::size_t capacity_bytes() const {
    return (values_.capacity() + lasts_.capacity()) * sizeof(double) +
           counts_.capacity() * sizeof(std::uint32_t);
  }

  void insert(double value) {
    ++size_;
    if (counts_.empty()) {
      if (values_.size() < kBlock) {
        values_.insert(std::upper_bound(values_.begin(), values_.end(), value), value);
        return;
      }
      counts_.push_back(static_cast<std::uint32_t>(kBlock));  // the one block, full
      lasts_.push_back(values_.back());
    }
    // The first block whose last value is above `value`, else the last: every value before it
    // is <= value, every value after it >= value.
    std::size_t b = 0;
    while (b + 1 < counts_.size() && last(b) <= value) ++b;
    if (counts_[b] == kBlock) {
      split(b);
      if (value >= block(b + 1)[0]) ++b;
    }
    double* first = block(b);
    double* end = first + counts_[b];
    double* at = std::upper_bound(first, end, value);
    std::move_backward(at, end, end + 1);
    *at = value;
    ++counts_[b];
    lasts_[b] = first[counts_[b] - 1];
  }

  /// Removes one value equal to `value`; false (and nothing changes) when there is none.
  bool erase(double value) {
    if (counts_.empty()) {
      const auto it = std::lower_bound(values_.begin(), values_.end(), value);
      if (it == values_.end() || *it != value) return false;
      values_.erase(it);
      --size_;
      return true;
    }
    // The first block whose last value is not below `value`: the earlier ones hold none equal.
    std::size_t b = 0;
    while (b < counts_.size() && last(b) < value) ++b;
    if (b == counts_.size()) return false;
    double* first = block(b);
    double* end = first + counts_[b];
    double* at = std::lower_bound(first, end, value);
    if (at == end || *at != value) return false;
    std::move(at + 1, end, at);
    --counts_[b];
    --size_;
    if (counts_[b] != 0) lasts_[b] = first[counts_[b] - 1];
    if (counts_[b] == 0) {
      remove(b);
    } else if (b + 1 < counts_.size() && counts_[b] + counts_[b + 1] <= kBlock / 2) {
      merge_next(b);
    } else if (b > 0 && counts_[b - 1] + counts_[b] <= kBlock / 2) {
      merge_next(b - 1);
    }
    if (counts_.size() == 1) {  // back to one plain sorted vector
      values_.resize(counts_[0]);
      counts_.clear();
      lasts_.clear();
    }
    return true;
  }

  /// The i-th smallest value (0-based); i < size().
  [[nodiscard]] double nth(std::size_t i) const {
    IW_CHECK(i < size_, "nth() past the end of a SortedWindow");
    if (counts_.empty()) return values_[i];
    std::size_t b = 0;
    while (i >= counts_[b]) i -= counts_[b++];
    return values_[b * kBlock + i];
  }

 private:
  // Past one block, block b is values_[b * kBlock, b * kBlock + counts_[b]), sorted, no value of
  // it above any of block b + 1; no block is empty. Up to one block, values_ is the window and
  // counts_ is empty.
  double* block(std::size_t b) { return values_.data() + b * kBlock; }
  [[nodiscard]] double last(std::size_t b) const { return lasts_[b]; }

  // Block b (full) becomes two halves, b and b + 1.
  void split(std::size_t b) {
    values_.insert(values_.begin() + static_cast<std::ptrdiff_t>((b + 1) * kBlock), kBlock, 0.0);
    constexpr std::size_t kHalf = kBlock / 2;
    std::copy(block(b) + kHalf, block(b) + kBlock, block(b + 1));
    counts_[b] = kHalf;
    counts_.insert(counts_.begin() + static_cast<std::ptrdiff_t>(b + 1), kHalf);
    lasts_.insert(lasts_.begin() + static_cast<std::ptrdiff_t>(b), block(b)[kHalf - 1]);
  }

  // Block b + 1's values join block b's (they fit).
  void merge_next(std::size_t b) {
    std::copy(block(b + 1), block(b + 1) + counts_[b + 1], block(b) + counts_[b]);
    counts_[b] += counts_[b + 1];
    lasts_[b] = lasts_[b + 1];
    remove(b + 1);
  }

  void remove(std::size_t b) {
    const auto first = values_.begin() + static_cast<std::ptrdiff_t>(b * kBlock);
    values_.erase(first, first + static_cast<std::ptrdiff_t>(kBlock));
    counts_.erase(counts_.begin() + static_cast<std::ptrdiff_t>(b));
    lasts_.erase(lasts_.begin() + static_cast<std::ptrdiff_t>(b));
  }

  std::vector<double> values_;
  std::vector<std::uint32_t> counts_;
  // Each block's last value, apart: the blocks are found by scanning these, one or two cache
  // lines, rather than a line of each block.
  std::vector<double> lasts_;
  std::size_t size_ = 0;
};

}  // namespace iw::alerting
