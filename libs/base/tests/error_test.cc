#include "iw/base/error.h"

#include <gtest/gtest.h>

#include "iw/base/check.h"

namespace iw::base {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) return fail(ErrorCode::kInvalidInput, "not positive");
  return value;
}

TEST(ErrorTest, RetryabilityFollowsTheCode) {
  EXPECT_TRUE(is_retryable(ErrorCode::kUnavailable));
  EXPECT_TRUE(is_retryable(ErrorCode::kTimeout));
  EXPECT_TRUE(is_retryable(ErrorCode::kAborted));
  EXPECT_FALSE(is_retryable(ErrorCode::kInvalidInput));
  EXPECT_FALSE(is_retryable(ErrorCode::kFailedPrecondition));
  EXPECT_FALSE(is_retryable(ErrorCode::kNotFound));
  EXPECT_FALSE(is_retryable(ErrorCode::kInternal));
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);

  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidInput);
  EXPECT_FALSE(bad.error().retryable());
  EXPECT_EQ(bad.error().to_string(), "invalid_input: not positive");
}

TEST(ErrorTest, ContextIsPrepended) {
  Error base(ErrorCode::kUnavailable, "broker down");
  EXPECT_EQ(base.with_context("produce").message(), "produce: broker down");
  EXPECT_EQ(base.message(), "broker down");  // the const& overload leaves the original alone
  EXPECT_EQ(std::move(base).with_context("a").with_context("b").message(), "b: a: broker down");
}

TEST(ErrorTest, CodeNamesAreStableLabelValues) {
  EXPECT_EQ(code_name(ErrorCode::kInvalidInput), "invalid_input");
  EXPECT_EQ(code_name(ErrorCode::kFailedPrecondition), "failed_precondition");
}

TEST(CheckDeathTest, BrokenInvariantAbortsWithItsMessage) {
  EXPECT_DEATH(IW_CHECK(1 + 1 == 3, "arithmetic"), "1 \\+ 1 == 3: arithmetic");
}

}  // namespace
}  // namespace iw::base
