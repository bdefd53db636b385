// The evaluator's ring queue (src/fifo.h, private to libs/alerting).
#include "../src/fifo.h"

#include <gtest/gtest.h>

#include <deque>

namespace iw::alerting {
namespace {

TEST(FifoTest, KeepsOrderAcrossWrapsAndGrowth) {
  // Against std::deque: pushes and pops interleaved so that the ring grows while its oldest
  // element is mid-ring, the case where growing must unwrap the elements in order.
  Fifo<int> fifo;
  std::deque<int> expected;
  int next = 0;
  for (int round = 0; round < 200; ++round) {
    const int pushes = 3 + round % 7;
    const int pops = round % 5;
    for (int i = 0; i < pushes; ++i) {
      fifo.push_back(next);
      expected.push_back(next);
      ++next;
    }
    for (int i = 0; i < pops && !expected.empty(); ++i) {
      ASSERT_EQ(fifo.front(), expected.front());
      fifo.pop_front();
      expected.pop_front();
    }
    ASSERT_EQ(fifo.size(), expected.size());
    ASSERT_EQ(fifo.back(), expected.back());
    for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(fifo[i], expected[i]) << i;
  }
  while (!expected.empty()) {
    ASSERT_EQ(fifo.front(), expected.front());
    fifo.pop_front();
    expected.pop_front();
  }
  EXPECT_TRUE(fifo.empty());
}

TEST(FifoTest, ReusesItsSlotsOnceGrown) {
  Fifo<int> fifo;
  for (int i = 0; i < 20; ++i) fifo.push_back(i);
  const std::size_t capacity = fifo.capacity();
  // As many in as out, around the ring many times: no growth.
  for (int i = 0; i < 1000; ++i) {
    fifo.push_back(i);
    fifo.pop_front();
  }
  EXPECT_EQ(fifo.capacity(), capacity);
  EXPECT_EQ(fifo.size(), 20u);
  EXPECT_EQ(fifo.front(), 980);
}

}  // namespace
}  // namespace iw::alerting
