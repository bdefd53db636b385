#include "iw/otlp/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace iw::otlp {
namespace {

// A trace id whose last 16 hex digits are `low` (the upper half is arbitrary and ignored).
std::string trace_id(std::uint64_t low) {
  char text[33];
  std::snprintf(text, sizeof text, "4bf92f3577b34da6%016llx", static_cast<unsigned long long>(low));
  return text;
}

TEST(SamplerTest, RatioOneSamplesEveryTraceIdAndZeroNone) {
  const Sampler all(1.0);
  const Sampler none(0.0);
  for (const std::uint64_t low : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1} << 63,
                                  std::numeric_limits<std::uint64_t>::max()}) {
    EXPECT_TRUE(all.sample_new_trace(trace_id(low))) << low;
    EXPECT_FALSE(none.sample_new_trace(trace_id(low))) << low;
  }
}

TEST(SamplerTest, ANewTraceIsSampledWhenItsLow64BitsAreBelowRatioTimes2To64) {
  const Sampler half(0.5);  // threshold 2^63 exactly
  EXPECT_TRUE(half.sample_new_trace(trace_id((std::uint64_t{1} << 63) - 1)));
  EXPECT_FALSE(half.sample_new_trace(trace_id(std::uint64_t{1} << 63)));
  const Sampler quarter(0.25);  // threshold 2^62
  EXPECT_TRUE(quarter.sample_new_trace(trace_id((std::uint64_t{1} << 62) - 1)));
  EXPECT_FALSE(quarter.sample_new_trace(trace_id(std::uint64_t{1} << 62)));
  EXPECT_TRUE(quarter.sample_new_trace(trace_id(0)));
}

TEST(SamplerTest, OnlyTheLast16HexDigitsCountAndCaseDoesNot) {
  const Sampler half(0.5);
  EXPECT_TRUE(half.sample_new_trace("ffffffffffffffff0000000000000001"));
  EXPECT_FALSE(half.sample_new_trace("00000000000000008000000000000000"));
  EXPECT_FALSE(half.sample_new_trace("0000000000000000FFFFFFFFFFFFFFFF"));
  EXPECT_TRUE(half.sample_new_trace("00000000000000007FFFFFFFFFFFFFFF"));
}

TEST(SamplerTest, TheDecisionIsDeterministicAndALowerRatioSamplesASubset) {
  const Sampler low(0.01);
  const Sampler high(0.1);
  int sampled_low = 0;
  int sampled_high = 0;
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 20'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::string id = trace_id(x);
    const bool in_low = low.sample_new_trace(id);
    EXPECT_EQ(in_low, low.sample_new_trace(id));
    if (in_low) {
      EXPECT_TRUE(high.sample_new_trace(id)) << id;
    }
    sampled_low += in_low ? 1 : 0;
    sampled_high += high.sample_new_trace(id) ? 1 : 0;
  }
  // Expected 200 and 2000 of 20 000; a wide band, the ids are pseudo-random.
  EXPECT_GT(sampled_low, 100);
  EXPECT_LT(sampled_low, 300);
  EXPECT_GT(sampled_high, 1'700);
  EXPECT_LT(sampled_high, 2'300);
}

TEST(SamplerTest, TheRatioIsClampedToZeroOne) {
  EXPECT_EQ(Sampler(1.5).ratio(), 1.0);
  EXPECT_EQ(Sampler(-0.5).ratio(), 0.0);
  EXPECT_EQ(Sampler(std::nan("")).ratio(), 0.0);
  EXPECT_EQ(Sampler(0.25).ratio(), 0.25);
  EXPECT_TRUE(Sampler(1.5).sample_new_trace(trace_id(std::numeric_limits<std::uint64_t>::max())));
  EXPECT_FALSE(Sampler(-0.5).sample_new_trace(trace_id(0)));
}

TEST(SamplerTest, ARatioJustBelowOneStillSamplesAlmostEverything) {
  const Sampler almost(std::nextafter(1.0, 0.0));
  EXPECT_TRUE(almost.sample_new_trace(trace_id(std::numeric_limits<std::uint64_t>::max() - 4096)));
}

TEST(SamplerTest, AnIdThatIsNotHexIsSampledOnlyAtRatioOne) {
  EXPECT_FALSE(Sampler(0.99).sample_new_trace("not a trace id at all, not hex!!"));
  EXPECT_FALSE(Sampler(0.99).sample_new_trace("0000"));
  EXPECT_TRUE(Sampler(1.0).sample_new_trace("0000"));
}

}  // namespace
}  // namespace iw::otlp
