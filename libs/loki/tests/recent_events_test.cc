#include "iw/loki/recent_events.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <unordered_map>

namespace iw::loki {
namespace {

constexpr EntryRef kFirst{.topic = 0, .partition = 1, .offset = 10};
constexpr EntryRef kResent{.topic = 0, .partition = 1, .offset = 900};

TEST(RecentEventsTest, TheSameIdAtAnotherPositionIsADuplicate) {
  RecentEvents recent(100);
  const std::uint64_t id = event_key("0f3c2a9e5b7d4c1e8a6f0b2d4e6a8c0e");
  EXPECT_FALSE(recent.duplicate(id, kFirst));
  recent.remember(id, kFirst);
  EXPECT_TRUE(recent.duplicate(id, kResent));
  // Read again where it was (a rebalance, a restart): not a duplicate, its entry goes again.
  EXPECT_FALSE(recent.duplicate(id, kFirst));
  EXPECT_FALSE(recent.duplicate(event_key("another"), kResent));
}

TEST(RecentEventsTest, ACopyOfARefusedEntryIsTakenAgain) {
  RecentEvents recent(100);
  const std::uint64_t id = event_key("0f3c2a9e5b7d4c1e8a6f0b2d4e6a8c0e");
  recent.remember(id, kFirst);
  recent.refused(id, kResent);  // not the one taken: nothing changes
  EXPECT_TRUE(recent.duplicate(id, kResent));
  recent.refused(id, kFirst);  // dead-lettered: its replay comes at another position
  EXPECT_FALSE(recent.duplicate(id, kResent));
  recent.remember(id, kResent);
  EXPECT_TRUE(recent.duplicate(id, kFirst));
  EXPECT_EQ(recent.size(), 1U);
}

TEST(RecentEventsTest, NoIdNeverDuplicatesAndZeroCapacityRemembersNothing) {
  RecentEvents recent(100);
  recent.remember(0, kFirst);
  EXPECT_FALSE(recent.duplicate(0, kResent));
  EXPECT_NE(event_key(""), 0U);
  RecentEvents off(0);
  off.remember(event_key("a"), kFirst);
  EXPECT_FALSE(off.duplicate(event_key("a"), kResent));
  EXPECT_EQ(off.size(), 0U);
}

TEST(RecentEventsTest, ForgetsTheOldestBeyondItsCapacity) {
  RecentEvents recent(3);
  for (std::int64_t i = 0; i < 5; ++i) {
    recent.remember(event_key("id" + std::to_string(i)), {.topic = 0, .partition = 0, .offset = i});
  }
  EXPECT_EQ(recent.size(), 3U);
  EXPECT_FALSE(recent.duplicate(event_key("id0"), kResent));
  EXPECT_FALSE(recent.duplicate(event_key("id1"), kResent));
  EXPECT_TRUE(recent.duplicate(event_key("id2"), kResent));
  EXPECT_TRUE(recent.duplicate(event_key("id4"), kResent));
  // Remembering a known id again does not grow the memory.
  recent.remember(event_key("id4"), {.topic = 0, .partition = 0, .offset = 4});
  EXPECT_EQ(recent.size(), 3U);
}

// The flat table against the obvious model (a map and a queue), on keys chosen to collide: few
// distinct low bits, many evictions, ids coming back after they were forgotten.
TEST(RecentEventsTest, BehavesAsAMapWithAQueueUnderChurn) {
  constexpr std::size_t kCapacity = 37;
  RecentEvents recent(kCapacity);
  std::unordered_map<std::uint64_t, std::pair<EntryRef, bool>> model;
  std::deque<std::uint64_t> order;
  std::mt19937_64 random(7);
  for (int step = 0; step < 20'000; ++step) {
    const std::uint64_t key = 1 + (random() % 120) * 1024;  // same low bits
    const EntryRef at{
        .topic = 0, .partition = 0, .offset = static_cast<std::int64_t>(random() % 3)};
    const auto it = model.find(key);
    const bool expected = it != model.end() && !it->second.second && !(it->second.first == at);
    ASSERT_EQ(recent.duplicate(key, at), expected) << "step " << step;
    switch (random() % 3) {
      case 0:
      case 1:
        recent.remember(key, at);
        if (it != model.end()) {
          it->second = {at, false};
        } else {
          model[key] = {at, false};
          order.push_back(key);
          if (order.size() > kCapacity) {
            model.erase(order.front());
            order.pop_front();
          }
        }
        break;
      default:
        recent.refused(key, at);
        if (it != model.end() && it->second.first == at) it->second.second = true;
    }
    ASSERT_EQ(recent.size(), model.size());
  }
}

}  // namespace
}  // namespace iw::loki
