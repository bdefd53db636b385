// A percentile rule's window values (src/sorted_window.h, private to libs/alerting).
#include "../src/sorted_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "iw/testing/alloc_counter.h"

namespace iw::alerting {
namespace {

// Every value of `window`, by nth(), against `expected` (sorted).
void expect_same(const SortedWindow& window, const std::vector<double>& expected) {
  ASSERT_EQ(window.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(window.nth(i), expected[i]) << i;
}

TEST(SortedWindowTest, MatchesASortedVectorAsAWindowSlides) {
  // Against a sorted vector, as a window is used: values enter, and leave in the order they
  // entered, the window growing past several blocks, sliding, then draining; few distinct values
  // (many equal ones) and many, so that blocks split, merge and empty.
  for (const int distinct : {5, 1000000}) {
    std::mt19937_64 random(static_cast<std::uint64_t>(distinct));
    std::uniform_int_distribution<int> pick(0, distinct - 1);
    SortedWindow window;
    std::vector<double> expected;
    std::deque<double> order;
    const auto enter = [&] {
      const double value = pick(random) * 0.5;
      window.insert(value);
      expected.insert(std::upper_bound(expected.begin(), expected.end(), value), value);
      order.push_back(value);
    };
    const auto leave = [&] {
      ASSERT_TRUE(window.erase(order.front()));
      expected.erase(std::lower_bound(expected.begin(), expected.end(), order.front()));
      order.pop_front();
    };
    for (int i = 0; i < 700; ++i) {
      enter();
      if (i % 50 == 0) expect_same(window, expected);
    }
    expect_same(window, expected);
    for (int i = 0; i < 3000; ++i) {
      enter();
      if (i % 3 != 0) leave();  // grows slowly: blocks split while others thin out
      if (i % 97 == 0) expect_same(window, expected);
    }
    expect_same(window, expected);
    while (!order.empty()) {
      leave();
      if (order.size() % 37 == 0) expect_same(window, expected);
    }
    EXPECT_TRUE(window.empty());
  }
}

TEST(SortedWindowTest, ErasesOnlyAValueItHolds) {
  SortedWindow window;
  for (int i = 0; i < 200; ++i) window.insert(i % 100);  // two of each, several blocks
  EXPECT_FALSE(window.erase(100));
  EXPECT_FALSE(window.erase(-1));
  EXPECT_FALSE(window.erase(49.5));
  EXPECT_TRUE(window.erase(49));
  EXPECT_TRUE(window.erase(49));
  EXPECT_FALSE(window.erase(49));
  EXPECT_EQ(window.size(), 198U);
  EXPECT_EQ(window.nth(97), 48);
  EXPECT_EQ(window.nth(98), 50);
  SortedWindow small;
  small.insert(1);
  EXPECT_FALSE(small.erase(2));
  EXPECT_TRUE(small.erase(1));
  EXPECT_FALSE(small.erase(1));
}

TEST(SortedWindowTest, AllocatesNothingOnceItHasHeldTheMost) {
  // A window of 600 values sliding: the block count moves within a range, and the storage,
  // which keeps its capacity, stops growing once the range is reached.
  std::mt19937_64 random(3);
  std::uniform_real_distribution<double> pick(0, 100);
  std::vector<double> values(40000);
  for (double& value : values) value = pick(random);
  SortedWindow window;
  const auto slide = [&](std::size_t i) {
    window.insert(values[i]);
    if (i >= 600) {
      ASSERT_TRUE(window.erase(values[i - 600]));
    }
  };
  for (std::size_t i = 0; i < 20000; ++i) slide(i);
  iw::testing::start_counting_allocations();
  for (std::size_t i = 20000; i < values.size(); ++i) slide(i);
  EXPECT_EQ(iw::testing::stop_counting_allocations(), 0U);
  EXPECT_EQ(window.size(), 600U);
}

}  // namespace
}  // namespace iw::alerting
