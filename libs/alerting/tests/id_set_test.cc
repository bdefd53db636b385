// The evaluator's set of run ids (src/id_set.h, private to libs/alerting).
#include "../src/id_set.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_set>
#include <vector>

#include "iw/testing/alloc_counter.h"

namespace iw::alerting {
namespace {

TEST(IdSetTest, MatchesStdUnorderedSet) {
  // Random inserts and erases against std::unordered_set, from a small range of ids (so that
  // they collide, runs of probed slots form and erases shift them back) and from the whole
  // 64 bits; 0, the empty slot's marker, among them.
  for (const std::uint64_t range : {std::uint64_t{300}, ~std::uint64_t{0}}) {
    std::mt19937_64 random(range);
    std::uniform_int_distribution<std::uint64_t> pick(0, range);
    IdSet set;
    std::unordered_set<std::uint64_t> expected;
    std::vector<std::uint64_t> seen;
    for (int i = 0; i < 20000; ++i) {
      const bool add = random() % 3 != 0;
      std::uint64_t id = add || seen.empty() ? pick(random) : seen[random() % seen.size()];
      if (i % 1000 == 0) id = 0;
      if (add) {
        ASSERT_EQ(set.insert(id), expected.insert(id).second) << id;
        seen.push_back(id);
      } else {
        ASSERT_EQ(set.erase(id), expected.erase(id) == 1) << id;
      }
      ASSERT_EQ(set.size(), expected.size());
      if (i % 500 == 0) {
        for (const std::uint64_t s : seen) ASSERT_EQ(set.contains(s), expected.contains(s)) << s;
      }
    }
    for (const std::uint64_t s : seen) ASSERT_EQ(set.contains(s), expected.contains(s)) << s;
  }
}

TEST(IdSetTest, AllocatesNothingOnceItHasHeldTheMost) {
  // Ids entering and leaving in order, 3 000 held, as the evaluator's do.
  std::mt19937_64 random(5);
  std::vector<std::uint64_t> ids(40000);
  for (std::uint64_t& id : ids) id = random();
  IdSet set;
  const auto slide = [&](std::size_t i) {
    ASSERT_TRUE(set.insert(ids[i]));
    if (i >= 3000) {
      ASSERT_TRUE(set.erase(ids[i - 3000]));
    }
  };
  for (std::size_t i = 0; i < 4000; ++i) slide(i);
  iw::testing::start_counting_allocations();
  for (std::size_t i = 4000; i < ids.size(); ++i) slide(i);
  EXPECT_EQ(iw::testing::stop_counting_allocations(), 0U);
  EXPECT_EQ(set.size(), 3000U);
  EXPECT_TRUE(set.contains(ids.back()));
  EXPECT_FALSE(set.contains(ids[0]));
}

}  // namespace
}  // namespace iw::alerting
