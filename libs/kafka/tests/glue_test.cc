#include <gtest/gtest.h>

#include "librdkafka_glue.h"

namespace iw::kafka::detail {
namespace {

using base::ErrorCode;

TEST(ClassifyTest, TransientBrokerTroubleIsRetryable) {
  for (auto code : {RdKafka::ERR__QUEUE_FULL, RdKafka::ERR__TRANSPORT,
                    RdKafka::ERR__ALL_BROKERS_DOWN, RdKafka::ERR_NOT_LEADER_FOR_PARTITION,
                    RdKafka::ERR__TIMED_OUT, RdKafka::ERR__MSG_TIMED_OUT}) {
    EXPECT_TRUE(base::is_retryable(classify(code))) << RdKafka::err2str(code);
  }
}

TEST(ClassifyTest, BadRecordsAreInvalidInputAndFencingIsFinal) {
  EXPECT_EQ(classify(RdKafka::ERR_MSG_SIZE_TOO_LARGE), ErrorCode::kInvalidInput);
  EXPECT_EQ(classify(RdKafka::ERR_INVALID_RECORD), ErrorCode::kInvalidInput);
  EXPECT_EQ(classify(RdKafka::ERR__FENCED), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(classify(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(classify(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART), ErrorCode::kNotFound);
}

TEST(TranslateTest, MessageNamesTheContextAndLibrdkafkasText) {
  const base::Error error = translate(RdKafka::ERR__QUEUE_FULL, "produce to t");
  EXPECT_EQ(error.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(error.message(), "produce to t: " + RdKafka::err2str(RdKafka::ERR__QUEUE_FULL));
}

TEST(TranslateTest, NoErrorObjectIsSuccess) {
  EXPECT_TRUE(translate_and_free(nullptr, "commit_transaction").has_value());
}

}  // namespace
}  // namespace iw::kafka::detail
