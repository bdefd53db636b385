#include "replay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::dlq {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using ::testing::Pair;

constexpr std::string_view kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

kafka::Record dead(Headers headers) {
  return kafka::Record::owned("ingestion-logs-dlq", 1, 17, "PowerBI", "{}", std::move(headers));
}

TEST(ReplayHeadersTest, DropsTheDlqHeadersKeepsTheRestInOrderAndSaysWhereFrom) {
  trace::IdGenerator ids(42);
  const kafka::Record record = dead({{"execution_id", "e-1"},
                                     {"dlq.reason", "invalid_timestamp"},
                                     {"content-type", "application/json"},
                                     {"dlq.error", "bad"},
                                     {"dlq.stage", "enricher"},
                                     {"dlq.topic", "ingestion-logs"},
                                     {"dlq.partition", "2"},
                                     {"dlq.offset", "42"},
                                     {"dlq.ts", "2025-09-15T10:30:00.000Z"},
                                     {"traceparent", std::string(kTrace)}});
  const Headers headers = replay_headers(record, "ingestion-logs-dlq", "replay-run", ids);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_THAT(headers[0], Pair("execution_id", "e-1"));
  EXPECT_THAT(headers[1], Pair("content-type", "application/json"));
  EXPECT_EQ(headers[2].first, "traceparent");
  EXPECT_THAT(headers[3], Pair("dlq.replayed_from", "ingestion-logs-dlq/1/17"));
}

TEST(ReplayHeadersTest, ContinuesTheTraceWithANewSpan) {
  trace::IdGenerator ids(42);
  const kafka::Record record = dead({{"traceparent", std::string(kTrace)}, {"execution_id", "e"}});
  const Headers headers = replay_headers(record, "dlq", "replay-run", ids);
  const auto child = trace::TraceParent::parse(headers.at(0).second);
  ASSERT_TRUE(child.has_value()) << headers.at(0).second;
  EXPECT_EQ(child->trace_id(), kTrace.substr(3, 32));
  EXPECT_NE(child->span_id(), kTrace.substr(36, 16));
  EXPECT_EQ(child->text().substr(53), "01") << "the sampled flag is kept";
}

TEST(ReplayHeadersTest, AnUnreadableTraceparentStartsANewTrace) {
  trace::IdGenerator ids(42);
  const kafka::Record record = dead({{"traceparent", "garbage"}, {"execution_id", "e"}});
  const Headers headers = replay_headers(record, "dlq", "replay-run", ids);
  EXPECT_EQ(headers.at(0).first, "traceparent");
  EXPECT_TRUE(trace::TraceParent::parse(headers.at(0).second).has_value());
}

TEST(ReplayHeadersTest, MissingTraceHeadersAreAddedTheExecutionIdBeingTheReplays) {
  trace::IdGenerator ids(42);
  const kafka::Record record = dead({{"dlq.reason", "invalid_json"}});
  const Headers headers = replay_headers(record, "dlq", "replay-run", ids);
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].first, "traceparent");
  EXPECT_TRUE(trace::TraceParent::parse(headers[0].second).has_value());
  EXPECT_THAT(headers[1], Pair("execution_id", "replay-run"));
  EXPECT_THAT(headers[2], Pair("dlq.replayed_from", "dlq/1/17"));
}

TEST(ReplayHeadersTest, ARepeatedTraceparentIsKeptOnce) {
  trace::IdGenerator ids(42);
  const kafka::Record record = dead(
      {{"traceparent", std::string(kTrace)}, {"traceparent", "garbage"}, {"execution_id", "e"}});
  const Headers headers = replay_headers(record, "dlq", "r", ids);
  EXPECT_EQ(std::ranges::count(headers, std::string("traceparent"),
                               &std::pair<std::string, std::string>::first),
            1);
}

TEST(ReplayHeadersTest, ViewsPointAtTheHeaders) {
  const Headers headers = {{"a", "1"}, {"b", "2"}};
  const auto views = header_views(headers);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[1].key, "b");
  EXPECT_EQ(views[1].value, "2");
  EXPECT_EQ(views[0].key.data(), headers[0].first.data());
}

TEST(ReplayDestinationTest, IsTheDlqTopicHeader) {
  const auto destination = [](Headers headers) {
    const kafka::Record record = dead(std::move(headers));
    return replay_destination(DeadLetter::from(record), "ingestion-logs-dlq");
  };
  EXPECT_EQ(destination({{"dlq.topic", "ingestion-logs"}}), "ingestion-logs");
  EXPECT_EQ(destination({}), std::unexpected(SkipReason::kNoDestination));
  EXPECT_EQ(destination({{"dlq.topic", ""}}), std::unexpected(SkipReason::kNoDestination));
  EXPECT_EQ(destination({{"dlq.topic", "ingestion-logs-dlq"}}),
            std::unexpected(SkipReason::kDeadLetterLoop));
  // An oversized record's dead letter holds only its head: not replayable.
  EXPECT_EQ(destination({{"dlq.topic", "ingestion-logs"}, {"dlq.original_size", "20971520"}}),
            std::unexpected(SkipReason::kTruncated));
  EXPECT_EQ(skip_reason_name(SkipReason::kTruncated), "truncated");
}

TEST(ReplayTallyTest, ReportsPerDestinationThenTheSkips) {
  ReplayTally tally;
  EXPECT_EQ(tally.text(false), "replayed 0 records (selected 0: 0 skipped, 0 failed)\n");
  tally.replayed("ingestion-logs");
  EXPECT_EQ(tally.text(false),
            "replayed 1 record (selected 1: 0 skipped, 0 failed)\n  ingestion-logs  1\n");
  tally.replayed("ingestion-logs");
  tally.replayed("ingestion-logs-enriched");
  tally.failed("ingestion-logs-enriched");
  tally.skipped(SkipReason::kNoDestination);
  tally.skipped(SkipReason::kNoDestination);
  tally.skipped(SkipReason::kDeadLetterLoop);
  EXPECT_EQ(tally.replayed_count(), 3u);
  EXPECT_EQ(tally.failed_count(), 1u);
  EXPECT_EQ(tally.skipped_count(), 3u);
  EXPECT_EQ(tally.text(false),
            "replayed 3 records (selected 7: 3 skipped, 1 failed)\n"
            "  ingestion-logs  2\n"
            "  ingestion-logs-enriched  1 (1 failed)\n"
            "skipped: no_destination 2, dead_letter_loop 1\n");
}

TEST(ReplayTallyTest, ADryRunSaysWhatWouldBeSent) {
  ReplayTally tally;
  tally.replayed("ingestion-logs");
  tally.replayed("ingestion-logs");
  tally.skipped(SkipReason::kNoDestination);
  EXPECT_EQ(tally.text(true),
            "dry run: would replay 2 records (selected 3: 1 skipped)\n"
            "  ingestion-logs  2\n"
            "skipped: no_destination 1\n");
}

}  // namespace
}  // namespace iw::dlq
