#include "iw/trace/trace_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace iw::trace {
namespace {

using ::testing::MatchesRegex;

TEST(TraceParentTest, StartsAValidSampledTrace) {
  IdGenerator ids(42);
  const TraceParent tp = TraceParent::start(ids);
  EXPECT_THAT(std::string(tp.text()), MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-01"));
  EXPECT_TRUE(TraceParent::parse(tp.text()).has_value());
}

TEST(TraceParentTest, ChildKeepsTheTraceAndChangesTheSpan) {
  IdGenerator ids(7);
  const TraceParent parent = TraceParent::start(ids);
  const TraceParent child = parent.child(ids);
  EXPECT_EQ(child.trace_id(), parent.trace_id());
  EXPECT_NE(child.span_id(), parent.span_id());
  EXPECT_EQ(child.text().substr(52), "-01");
}

TEST(TraceParentTest, StartCarriesTheSamplingDecisionInItsFlags) {
  IdGenerator ids(3);
  const TraceParent sampled = TraceParent::start(ids, true);
  const TraceParent unsampled = TraceParent::start(ids, false);
  EXPECT_TRUE(sampled.sampled());
  EXPECT_EQ(sampled.text().substr(52), "-01");
  EXPECT_FALSE(unsampled.sampled());
  EXPECT_EQ(unsampled.text().substr(52), "-00");
  EXPECT_TRUE(TraceParent::start(ids).sampled());
}

TEST(TraceParentTest, ChildKeepsTheFlags) {
  IdGenerator ids(5);
  const TraceParent unsampled = TraceParent::start(ids, false);
  EXPECT_FALSE(unsampled.child(ids).sampled());
  EXPECT_EQ(unsampled.child(ids).text().substr(52), "-00");
  EXPECT_TRUE(TraceParent::start(ids, true).child(ids).sampled());
}

TEST(TraceParentTest, SampledIsTheLowestFlagBit) {
  const auto parsed = [](std::string_view flags) {
    return TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-" +
                              std::string(flags));
  };
  EXPECT_TRUE(parsed("01")->sampled());
  EXPECT_TRUE(parsed("03")->sampled());
  EXPECT_TRUE(parsed("0f")->sampled());
  EXPECT_FALSE(parsed("00")->sampled());
  EXPECT_FALSE(parsed("02")->sampled());
  EXPECT_EQ(parsed("03")->with_sampled(false).text().substr(53), "02");
  EXPECT_EQ(parsed("00")->with_sampled(true).text().substr(53), "01");
  EXPECT_EQ(parsed("01")->with_sampled(true).text(), parsed("01")->text());
}

TEST(TraceParentTest, ParsesOnlyWellFormedVersion00Values) {
  EXPECT_TRUE(
      TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(TraceParent::parse(bad).has_value()) << bad;
  }
}

TEST(UuidTest, IsVersion4AndUnique) {
  IdGenerator ids(1);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string text(Uuid::random(ids).text());
    EXPECT_THAT(
        text, MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TraceParentTest, ChildOfOrStartContinuesAValidTraceElseStartsASampledOne) {
  IdGenerator ids(7);
  const std::string_view unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  const TraceParent next = TraceParent::child_of_or_start(unsampled, ids);
  EXPECT_EQ(next.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(next.span_id(), "00f067aa0ba902b7");
  EXPECT_FALSE(next.sampled());  // the parent's decision is kept
  for (std::string_view none : {"", "00-not-a-traceparent"}) {
    const TraceParent fresh = TraceParent::child_of_or_start(none, ids);
    EXPECT_NE(fresh.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(fresh.sampled());
  }
}

TEST(IdGeneratorTest, SameSeedSameIds) {
  IdGenerator a(99);
  IdGenerator b(99);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  IdGenerator c;
  IdGenerator d;
  EXPECT_NE(c.next(), d.next());  // seeded from std::random_device
}

}  // namespace
}  // namespace iw::trace
