#include "iw/loki/push_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::loki {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using ::testing::ElementsAre;

TEST(ClassifyTest, ByWhatTheAnswerMeans) {
  EXPECT_EQ(classify(200), Verdict::kAccepted);
  EXPECT_EQ(classify(204), Verdict::kAccepted);
  EXPECT_EQ(classify(400), Verdict::kPartlyRejected);
  EXPECT_EQ(classify(413), Verdict::kTooLarge);
  for (long status : {0L, 408L, 429L, 500L, 502L, 503L, 504L}) {
    EXPECT_EQ(classify(status), Verdict::kRetry) << status;
  }
  for (long status : {301L, 401L, 403L, 404L, 405L, 422L}) {
    EXPECT_EQ(classify(status), Verdict::kMisconfigured) << status;
  }
}

TEST(ClassifyTest, StatusLabelsComeFromASmallSet) {
  EXPECT_EQ(status_label(0), "none");
  EXPECT_EQ(status_label(204), "204");
  EXPECT_EQ(status_label(429), "429");
  EXPECT_EQ(status_label(206), "2xx");
  EXPECT_EQ(status_label(418), "4xx");
  EXPECT_EQ(status_label(599), "5xx");
  EXPECT_EQ(status_label(302), "other");
  EXPECT_EQ(verdict_name(Verdict::kPartlyRejected), "partly_rejected");
}

TEST(BackoffTest, DoublesFromMinUpToMaxWithEqualJitter) {
  const BackoffOptions options{.min = 500ms, .max = 30s, .retry_after_max = 5min};
  // unit 0 gives the lowest wait (half the ceiling), unit → 1 the ceiling.
  EXPECT_EQ(backoff_delay(options, 1, std::nullopt, 0.0), 250ms);
  EXPECT_EQ(backoff_delay(options, 1, std::nullopt, 0.999999), 499ms);
  EXPECT_EQ(backoff_delay(options, 2, std::nullopt, 0.0), 500ms);
  EXPECT_EQ(backoff_delay(options, 3, std::nullopt, 0.5), 1500ms);
  EXPECT_EQ(backoff_delay(options, 7, std::nullopt, 0.0), 15s);  // 500ms * 64 capped at 30s
  EXPECT_EQ(backoff_delay(options, 1000, std::nullopt, 0.0), 15s);
  EXPECT_EQ(backoff_delay(options, 1000, std::nullopt, 1.0), 30s);
}

TEST(BackoffTest, StaysWithinItsBoundsForAnyJitter) {
  const BackoffOptions options{.min = 100ms, .max = 10s};
  for (int failures = 1; failures < 20; ++failures) {
    const double ceiling = std::min(10'000.0, 100.0 * std::exp2(failures - 1));
    for (double unit = 0; unit < 1; unit += 0.125) {
      const milliseconds wait = backoff_delay(options, failures, std::nullopt, unit);
      EXPECT_GE(static_cast<double>(wait.count()), ceiling / 2 - 1) << failures << " " << unit;
      EXPECT_LE(static_cast<double>(wait.count()), ceiling) << failures << " " << unit;
    }
  }
}

TEST(BackoffTest, RetryAfterIsAFloorUpToItsCap) {
  const BackoffOptions options{.min = 500ms, .max = 30s, .retry_after_max = 2min};
  EXPECT_EQ(backoff_delay(options, 1, 5s, 0.0), 5s);
  // A Retry-After shorter than the backoff does not shorten it.
  EXPECT_EQ(backoff_delay(options, 8, 1s, 0.0), 15s);
  // Beyond the backoff's own max, up to retry_after_max.
  EXPECT_EQ(backoff_delay(options, 1, 90s, 0.0), 90s);
  EXPECT_EQ(backoff_delay(options, 1, 1h, 0.0), 2min);
}

Batch three_streams() {
  Batch batch;
  std::int64_t offset = 0;
  for (const char* labels : {R"({job="a"})", R"({job="b"})", R"({job="c"})"}) {
    BatchStream stream{.labels = labels, .entries = {}};
    for (int i = 0; i < 3; ++i) {
      stream.entries.push_back({.timestamp_ns = 1000 + i,
                                .line = std::string(10 + offset, 'x'),
                                .ref = {.topic = 0, .partition = 1, .offset = offset}});
      ++offset;
    }
    batch.streams.push_back(std::move(stream));
  }
  batch.entry_count = 9;
  return batch;
}

std::vector<std::int64_t> offsets(const Batch& batch) {
  std::vector<std::int64_t> out;
  batch.for_each(
      [&](std::size_t, std::size_t, const BatchEntry& e) { out.push_back(e.ref.offset); });
  return out;
}

TEST(SplitBatchTest, HalvesKeepStreamsAndOrder) {
  const Batch batch = three_streams();
  const auto [first, second] = split_batch(batch);
  EXPECT_THAT(offsets(first), ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(offsets(second), ElementsAre(5, 6, 7, 8));
  ASSERT_EQ(first.streams.size(), 2u);
  ASSERT_EQ(second.streams.size(), 2u);
  EXPECT_EQ(first.streams[1].labels, R"({job="b"})");
  EXPECT_EQ(second.streams[0].labels, R"({job="b"})");
  EXPECT_EQ(first.entry_count, 5u);
  EXPECT_EQ(second.entry_count, 4u);
  // Lines (10..14 bytes) + 20 per entry + each stream's labels once.
  EXPECT_EQ(first.byte_size, (10 + 11 + 12 + 13 + 14) + 5 * 20 + 2 * 9u);
}

TEST(SplitBatchTest, TwoEntriesMakeTwoBatchesOfOne) {
  Batch batch = three_streams();
  batch.streams.resize(1);
  batch.streams[0].entries.resize(2);
  batch.entry_count = 2;
  const auto [first, second] = split_batch(batch);
  EXPECT_THAT(offsets(first), ElementsAre(0));
  EXPECT_THAT(offsets(second), ElementsAre(1));
}

// Loki 2.9's and Loki 3's texts (pkg/validation/validate.go); the second names the stream.
constexpr std::string_view kStreamLimit2 =
    "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels or "
    "reduce label values), or contact your Loki administrator to see if the limit can be "
    "increased";
constexpr std::string_view kStreamLimit3 =
    "Maximum active stream limit exceeded when trying to create stream {job=\"b\"}, reduce the "
    "number of active streams (reduce labels or reduce label values), or contact your Loki "
    "administrator to see if the limit can be increased, user: 'fake'";

TEST(StreamLimitTest, A429IsTheStreamLimitByItsText) {
  EXPECT_EQ(classify(429, kStreamLimit2), Verdict::kStreamLimited);
  EXPECT_EQ(classify(429, kStreamLimit3), Verdict::kStreamLimited);
  EXPECT_EQ(verdict_name(Verdict::kStreamLimited), "stream_limited");
  // The rate limits pass: the same push later gets through.
  EXPECT_EQ(classify(429,
                     "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while "
                     "attempting to ingest '1000' lines totaling '1048576' bytes, reduce log "
                     "volume or contact your Loki administrator to see if the limit can be "
                     "increased"),
            Verdict::kRetry);
  EXPECT_EQ(classify(429,
                     "Per stream rate limit exceeded (limit: 3MB/sec) while attempting to ingest "
                     "for stream '{job=\"a\"}' totaling 5MB, consider splitting a stream via "
                     "additional labels or contact your Loki administrator to see if the limit "
                     "can be increased"),
            Verdict::kRetry);
  EXPECT_EQ(classify(429), Verdict::kRetry);
  EXPECT_EQ(classify(503, kStreamLimit3), Verdict::kRetry);  // only Loki's 429 means it
}

TEST(StreamLimitTest, SplitsByStreamThenRetriesAStreamAFewTimesThenRefusesIt) {
  const Batch batch = three_streams();
  EXPECT_EQ(on_stream_limit(batch, 1, 3), StreamLimitAction::kSplitStreams);
  const std::vector<Batch> parts = split_streams(batch);
  ASSERT_EQ(parts.size(), 3U);
  EXPECT_THAT(offsets(parts[1]), ElementsAre(3, 4, 5));
  EXPECT_EQ(parts[1].streams[0].labels, R"({job="b"})");
  EXPECT_EQ(parts[1].entry_count, 3U);
  EXPECT_EQ(parts[1].byte_size, (13 + 14 + 15) + 3 * 20 + 9U);
  EXPECT_EQ(on_stream_limit(parts[1], 1, 3), StreamLimitAction::kRetryLater);
  EXPECT_EQ(on_stream_limit(parts[1], 2, 3), StreamLimitAction::kRetryLater);
  EXPECT_EQ(on_stream_limit(parts[1], 3, 3), StreamLimitAction::kRefuse);
  EXPECT_EQ(on_stream_limit(parts[1], 1, 1), StreamLimitAction::kRefuse);

  const Rejections refused = refuse_all(parts[1], Reason::kStreamLimit, kStreamLimit3, 20);
  ASSERT_EQ(refused.entries.size(), 3U);
  ASSERT_EQ(refused.messages.size(), 1U);
  EXPECT_EQ(refused.messages[0], "Maximum active strea");
  const Settlement settled = settle(parts[1], refused);
  EXPECT_TRUE(settled.accepted.empty());
  ASSERT_EQ(settled.refused.size(), 3U);
  EXPECT_EQ(settled.refused[2].reason, Reason::kStreamLimit);
  EXPECT_EQ(reason_name(Reason::kStreamLimit), "stream_limit");
}

TEST(SettleTest, EveryEntryIsEitherAcceptedOrRefused) {
  const Batch batch = three_streams();
  Rejections rejections;
  rejections.messages = {"entry out of order", "timestamp too old"};
  rejections.entries = {
      {.stream = 0, .entry = 2, .reason = Reason::kOutOfOrder, .message = 0},
      {.stream = 2, .entry = 0, .reason = Reason::kTooOld, .certain = false, .message = 1},
      {.stream = 2, .entry = 1, .reason = Reason::kTooOld, .certain = true, .message = 1}};
  const Settlement settlement = settle(batch, rejections);
  std::vector<std::int64_t> accepted;
  for (const auto& ref : settlement.accepted) accepted.push_back(ref.offset);
  EXPECT_THAT(accepted, ElementsAre(0, 1, 3, 4, 5, 8));
  EXPECT_EQ(settlement.accepted_line_bytes, 10u + 11 + 13 + 14 + 15 + 18);
  ASSERT_EQ(settlement.refused.size(), 3u);
  EXPECT_EQ(settlement.refused[0].stream, 0u);
  EXPECT_EQ(settlement.refused[0].entry, 2u);
  EXPECT_EQ(settlement.refused[0].reason, Reason::kOutOfOrder);
  EXPECT_EQ(settlement.refused[0].message, "entry out of order");
  // An uncertain one says so: Loki may have stored it.
  EXPECT_THAT(settlement.refused[1].message, ::testing::StartsWith("timestamp too old ("));
  EXPECT_EQ(settlement.refused[2].message, "timestamp too old");
}

TEST(SettleTest, RefusalsAfterAnUnansweredAttemptSayLokiProbablyHasThem) {
  const Batch batch = three_streams();
  Rejections rejections;
  rejections.messages = {"entry too far behind"};
  rejections.entries = {{.stream = 0, .entry = 0, .reason = Reason::kTooFarBehind, .message = 0},
                        {.stream = 0, .entry = 1, .reason = Reason::kLineTooLong, .message = 0}};
  const Settlement settlement = settle(batch, rejections, /*sent_before_unanswered=*/true);
  ASSERT_EQ(settlement.refused.size(), 2u);
  EXPECT_THAT(settlement.refused[0].message,
              ::testing::HasSubstr("Loki has probably stored this entry"));
  EXPECT_EQ(settlement.refused[1].message, "entry too far behind");
}

TEST(SettleTest, A2xxAcceptsAllAndMessagesAreCutAtACharacter) {
  const Batch batch = three_streams();
  EXPECT_EQ(settle(batch, {}).accepted.size(), 9u);
  Rejections rejections;
  rejections.messages = {"ab\xC3\xA9"};  // "abé": é is two bytes
  rejections.entries = {{.stream = 1, .entry = 1, .reason = Reason::kUnknown}};
  const Settlement settlement = settle(batch, rejections, false, 3);
  ASSERT_EQ(settlement.refused.size(), 1u);
  EXPECT_EQ(settlement.refused[0].message, "ab");
}

}  // namespace
}  // namespace iw::loki
