#include "dead_letter.h"

#include <gtest/gtest.h>

namespace iw::dlq {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

base::TimePoint at(std::int64_t unix_seconds) {
  return base::TimePoint{std::chrono::seconds{unix_seconds}};
}

// 2025-09-15T10:30:00Z
constexpr std::int64_t kT0 = 1757932200;

kafka::Record enricher_record(Headers extra = {}) {
  Headers headers = {{"execution_id", "e-1"},
                     {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                     {"dlq.reason", "invalid_timestamp"},
                     {"dlq.error", "Debut: expected a timestamp, got 'hier'"},
                     {"dlq.stage", "enricher"},
                     {"dlq.topic", "ingestion-logs"},
                     {"dlq.partition", "2"},
                     {"dlq.offset", "42"},
                     {"dlq.ts", "2025-09-15T10:30:00.000Z"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return kafka::Record::owned("ingestion-logs-dlq", 0, 12, "PowerBI", R"({"Source":"PowerBI"})",
                              headers, at(kT0 + 5));
}

kafka::Record producer_record() {
  return kafka::Record::owned("ingestion-logs-dlq", 1, 3, std::nullopt, "not json",
                              {{"dlq.reason", "invalid_json"},
                               {"dlq.error", "expected a JSON value"},
                               {"dlq.stage", "producer"},
                               {"dlq.topic", "ingestion-logs"},
                               {"dlq.partition", "-1"},
                               {"dlq.offset", "-1"},
                               {"dlq.ts", "2025-09-15T10:31:00.000Z"},
                               {"dlq.file", "/data/logs.ndjson"},
                               {"dlq.line", "2"},
                               {"dlq.byte_offset", "57"}},
                              at(kT0 + 60));
}

TEST(DeadLetterTest, ItsPlaceInTheDeadLetterTopicAndItsHeaders) {
  const kafka::Record record = enricher_record();
  const DeadLetter d = DeadLetter::from(record);
  EXPECT_EQ(d.partition, 0);
  EXPECT_EQ(d.offset, 12);
  EXPECT_EQ(d.timestamp, at(kT0 + 5));
  EXPECT_EQ(d.key, "PowerBI");
  EXPECT_EQ(d.value, R"({"Source":"PowerBI"})");
  // The headers, as the kafka library reads them (its tests cover every one).
  EXPECT_EQ(d.letter.reason, "invalid_timestamp");
  EXPECT_EQ(d.letter.stage, "enricher");
  EXPECT_EQ(d.letter.partition, 2);
  EXPECT_EQ(d.origin(), "ingestion-logs/2/42");
}

TEST(DeadLetterTest, AProducerRecordComesFromAFileLine) {
  const kafka::Record record = producer_record();
  const DeadLetter d = DeadLetter::from(record);
  EXPECT_FALSE(d.key.has_value());
  EXPECT_EQ(d.origin(), "/data/logs.ndjson:2");
}

TEST(DeadLetterTest, OriginSaysWhatIsKnown) {
  const auto origin = [](Headers headers) {
    const auto record = kafka::Record::owned("dlq", 0, 0, std::nullopt, "", std::move(headers));
    return DeadLetter::from(record).origin();
  };
  EXPECT_EQ(origin({}), "-");
  EXPECT_EQ(origin({{"dlq.topic", "t"}, {"dlq.partition", "-1"}, {"dlq.offset", "-1"}}), "t");
  EXPECT_EQ(origin({{"dlq.partition", "1"}, {"dlq.offset", "5"}}), "?/1/5");
  EXPECT_EQ(origin({{"dlq.topic", "t"}, {"dlq.partition", "1"}}), "t/1/?");
  EXPECT_EQ(origin({{"dlq.topic", "t"}, {"dlq.partition", "x"}, {"dlq.offset", "5"}}), "t");
  EXPECT_EQ(origin({{"dlq.file", "-"}}), "-");
  EXPECT_EQ(origin({{"dlq.file", "f"}, {"dlq.line", "?"}}), "f");
}

TEST(DeadLetterTest, DeadLetteredAtIsDlqTsElseTheKafkaTimestamp) {
  const kafka::Record record = enricher_record();
  EXPECT_EQ(DeadLetter::from(record).dead_lettered_at(), at(kT0));
  const kafka::Record garbled = enricher_record({{"dlq.ts", "yesterday"}});
  EXPECT_EQ(DeadLetter::from(garbled).dead_lettered_at(), at(kT0 + 5));
}

TEST(FilterTest, AnEmptyFilterTakesEverything) {
  const kafka::Record a = enricher_record();
  const kafka::Record b = kafka::Record::owned("dlq", 0, 0, std::nullopt, "");
  EXPECT_TRUE(Filter{}.matches(DeadLetter::from(a)));
  EXPECT_TRUE(Filter{}.matches(DeadLetter::from(b)));
}

TEST(FilterTest, ReasonsAndStagesAreListsAndCombineWithEachOther) {
  const kafka::Record e = enricher_record();
  const kafka::Record p = producer_record();
  const DeadLetter enricher = DeadLetter::from(e);
  const DeadLetter producer = DeadLetter::from(p);

  const Filter reasons{.reasons = {"invalid_json", "invalid_timestamp"}};
  EXPECT_TRUE(reasons.matches(enricher));
  EXPECT_TRUE(reasons.matches(producer));

  const Filter one_reason{.reasons = {"invalid_json"}};
  EXPECT_FALSE(one_reason.matches(enricher));
  EXPECT_TRUE(one_reason.matches(producer));

  const Filter stage{.stages = {"enricher"}};
  EXPECT_TRUE(stage.matches(enricher));
  EXPECT_FALSE(stage.matches(producer));

  const Filter both{.reasons = {"invalid_json"}, .stages = {"enricher"}};
  EXPECT_FALSE(both.matches(enricher));
  EXPECT_FALSE(both.matches(producer));

  // A record without the header does not match a filter on it.
  const kafka::Record bare = kafka::Record::owned("dlq", 0, 0, std::nullopt, "");
  EXPECT_FALSE(one_reason.matches(DeadLetter::from(bare)));
}

TEST(FilterTest, SinceIsInclusiveAndReadsDlqTs) {
  const kafka::Record e = enricher_record();  // dlq.ts kT0, Kafka timestamp kT0 + 5
  const DeadLetter d = DeadLetter::from(e);
  EXPECT_TRUE(Filter{.since = at(kT0)}.matches(d));
  EXPECT_FALSE(Filter{.since = at(kT0 + 1)}.matches(d));
  EXPECT_TRUE(Filter{.since = at(kT0 - 3600)}.matches(d));
}

TEST(SelectorTest, TakesTheFirstMatchingRecordsUpToTheLimit) {
  const kafka::Record e = enricher_record();
  const kafka::Record p = producer_record();
  Selector selector(Filter{.stages = {"producer"}}, 2);
  EXPECT_FALSE(selector.take(DeadLetter::from(e)));
  EXPECT_FALSE(selector.full());
  EXPECT_TRUE(selector.take(DeadLetter::from(p)));
  EXPECT_FALSE(selector.full());
  EXPECT_TRUE(selector.take(DeadLetter::from(p)));
  EXPECT_TRUE(selector.full());
  EXPECT_FALSE(selector.take(DeadLetter::from(p)));
  EXPECT_EQ(selector.taken(), 2u);
}

TEST(SelectorTest, LimitZeroMeansNoLimit) {
  const kafka::Record p = producer_record();
  Selector selector(Filter{}, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(selector.take(DeadLetter::from(p)));
  EXPECT_FALSE(selector.full());
}

TEST(ParseSinceTest, TakesAnInstantOrADurationBackFromNow) {
  const base::TimePoint now = at(kT0 + 7200);
  EXPECT_EQ(parse_since("2025-09-15T10:30:00Z", now), at(kT0));
  EXPECT_EQ(parse_since("2025-09-15T12:30:00+02:00", now), at(kT0));
  EXPECT_EQ(parse_since("2025-09-15 10:30:00", now), at(kT0)) << "no offset: UTC";
  EXPECT_EQ(parse_since("2h", now), at(kT0));
  EXPECT_EQ(parse_since("1h30m", now), at(kT0 + 1800));
  EXPECT_EQ(parse_since("30", now), at(kT0 + 7170)) << "a bare number is seconds";
}

TEST(ParseSinceTest, AnythingElseNamesBothForms) {
  const auto since = parse_since("yesterday", at(kT0));
  ASSERT_FALSE(since.has_value());
  EXPECT_EQ(since.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_NE(since.error().message().find("RFC 3339"), std::string::npos);
  EXPECT_NE(since.error().message().find("duration"), std::string::npos);
  EXPECT_NE(since.error().message().find("'yesterday'"), std::string::npos);
  EXPECT_FALSE(parse_since("1000000w", at(kT0)).has_value()) << "would overflow";
}

}  // namespace
}  // namespace iw::dlq
