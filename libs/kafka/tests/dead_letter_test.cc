#include "iw/kafka/dead_letter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace iw::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
// 2025-09-21T10:20:00.123Z
const base::TimePoint kAt{std::chrono::milliseconds{1'758'450'000'123}};

Headers written(const DeadLetter& letter) {
  const DeadLetterHeaders headers(letter);
  Headers out;
  for (const HeaderView& h : headers.view()) out.emplace_back(h.key, h.value);
  return out;
}

Record dead_letter_record(Headers headers) {
  return Record::owned("ingestion-logs-dlq", 0, 7, "PowerBI", "{}", std::move(headers));
}

const DeadLetter kFromKafka{.reason = "invalid_timestamp",
                            .error = "Debut: not a timestamp",
                            .stage = "enricher",
                            .topic = "ingestion-logs",
                            .partition = 2,
                            .offset = 1234567890123,
                            .at = kAt,
                            .execution_id = "run-42",
                            .traceparent = kTrace};

const DeadLetter kFromFile{.reason = "invalid_json",
                           .error = "expected a JSON value",
                           .stage = "producer",
                           .topic = "ingestion-logs",
                           .partition = -1,
                           .offset = -1,
                           .at = kAt,
                           .file = FilePosition{"/data/logs.ndjson", 2, 57},
                           .execution_id = "run-43",
                           .traceparent = kTrace};

// The wire format, header by header and in order: what every stage writes, what ingest-dlq and
// operators' tools read.
TEST(DeadLetterHeadersTest, AKafkaStagesHeadersInTheirOrder) {
  EXPECT_EQ(written(kFromKafka), (Headers{{"dlq.reason", "invalid_timestamp"},
                                          {"dlq.error", "Debut: not a timestamp"},
                                          {"dlq.stage", "enricher"},
                                          {"dlq.topic", "ingestion-logs"},
                                          {"dlq.partition", "2"},
                                          {"dlq.offset", "1234567890123"},
                                          {"dlq.ts", "2025-09-21T10:20:00.123Z"},
                                          {"execution_id", "run-42"},
                                          {"traceparent", std::string(kTrace)}}));
}

TEST(DeadLetterHeadersTest, TheProducersHeadersCarryTheFilePosition) {
  EXPECT_EQ(written(kFromFile), (Headers{{"dlq.reason", "invalid_json"},
                                         {"dlq.error", "expected a JSON value"},
                                         {"dlq.stage", "producer"},
                                         {"dlq.topic", "ingestion-logs"},
                                         {"dlq.partition", "-1"},
                                         {"dlq.offset", "-1"},
                                         {"dlq.ts", "2025-09-21T10:20:00.123Z"},
                                         {"dlq.file", "/data/logs.ndjson"},
                                         {"dlq.line", "2"},
                                         {"dlq.byte_offset", "57"},
                                         {"execution_id", "run-43"},
                                         {"traceparent", std::string(kTrace)}}));
}

TEST(DeadLetterHeadersTest, NoEmptyTraceHeaders) {
  const DeadLetterHeaders headers({.reason = "r", .error = "e", .stage = "s", .topic = "t"});
  EXPECT_EQ(headers.view().size(), 7U);
  for (const HeaderView& h : headers.view()) EXPECT_TRUE(h.key.starts_with("dlq.")) << h.key;
}

// Every field the writer takes comes back from the reader as it was.
void expect_round_trip(const DeadLetter& letter) {
  const Record record = dead_letter_record(written(letter));
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_EQ(read.reason, letter.reason);
  EXPECT_EQ(read.error, letter.error);
  EXPECT_EQ(read.stage, letter.stage);
  EXPECT_EQ(read.topic, letter.topic);
  EXPECT_EQ(read.partition, letter.partition);
  EXPECT_EQ(read.offset, letter.offset);
  EXPECT_EQ(read.at, letter.at);
  EXPECT_EQ(read.file, letter.file ? letter.file->file : "");
  EXPECT_EQ(read.line, letter.file ? std::optional(letter.file->line) : std::nullopt);
  EXPECT_EQ(read.byte_offset, letter.file ? std::optional(letter.file->byte_offset) : std::nullopt);
  EXPECT_EQ(read.original_size,
            letter.oversized ? std::optional(letter.oversized->original_size) : std::nullopt);
  EXPECT_EQ(read.sha256, letter.oversized ? letter.oversized->sha256 : "");
  EXPECT_EQ(read.execution_id, letter.execution_id);
  EXPECT_EQ(read.traceparent, letter.traceparent);
  EXPECT_THAT(read.malformed, IsEmpty());
}

TEST(DeadLetterRoundTripTest, EveryHeaderOfAKafkaStagesDeadLetter) {
  expect_round_trip(kFromKafka);
}

TEST(DeadLetterRoundTripTest, EveryHeaderOfTheProducersDeadLetter) { expect_round_trip(kFromFile); }

// An oversized record: its size and hash after the position, before the trace.
TEST(DeadLetterHeadersTest, AnOversizedRecordsSizeAndHash) {
  const std::string sha256(64, 'a');
  DeadLetter letter = kFromFile;
  letter.reason = kOversizedRecord;
  letter.oversized = Oversized{.original_size = 20'971'520, .sha256 = sha256};
  const Headers headers = written(letter);
  ASSERT_EQ(headers.size(), 14U);
  EXPECT_EQ(headers[9], (std::pair<std::string, std::string>{"dlq.byte_offset", "57"}));
  EXPECT_EQ(headers[10], (std::pair<std::string, std::string>{"dlq.original_size", "20971520"}));
  EXPECT_EQ(headers[11], (std::pair<std::string, std::string>{"dlq.sha256", std::string(64, 'a')}));
  EXPECT_EQ(headers[12].first, "execution_id");
  expect_round_trip(letter);
}

TEST(OversizedValueTest, TheHeadAndTheWholesSizeAndHash) {
  const std::string value = "abc" + std::string(10, 'x');
  const OversizedValue oversized = oversized_value(value, 3);
  EXPECT_EQ(oversized.head, "abc");
  EXPECT_EQ(oversized.original_size, 13U);
  // sha256 of "abcxxxxxxxxxx", computed independently (sha256sum).
  EXPECT_EQ(oversized.sha256, "c60c4e61f4ab6cc70e7ed47f1fa3d65d5a52fea72a47f01d34a893fd001a4c4d");
  // A head longer than the value is the whole value.
  EXPECT_EQ(oversized_value("ab", 4096).head, "ab");
}

TEST(DeadLetterRoundTripTest, ExtremeNumbersAndTimes) {
  DeadLetter letter = kFromFile;
  letter.partition = std::numeric_limits<std::int32_t>::max();
  letter.offset = std::numeric_limits<std::int64_t>::max();
  letter.file->line = std::numeric_limits<std::uint64_t>::max();
  letter.file->byte_offset = 0;
  letter.at = base::TimePoint{};
  letter.execution_id = "";
  letter.traceparent = "";
  expect_round_trip(letter);
}

TEST(ParseDeadLetterTest, MissingHeadersReadAsEmptyOrUnknown) {
  const Record record = dead_letter_record({{"dlq.reason", "r"}});
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_EQ(read.reason, "r");
  EXPECT_EQ(read.error, "");
  EXPECT_EQ(read.stage, "");
  EXPECT_EQ(read.topic, "");
  EXPECT_FALSE(read.partition);
  EXPECT_FALSE(read.offset);
  EXPECT_FALSE(read.at);
  EXPECT_EQ(read.file, "");
  EXPECT_FALSE(read.line);
  EXPECT_FALSE(read.byte_offset);
  EXPECT_THAT(read.malformed, IsEmpty());  // missing is not malformed
}

TEST(ParseDeadLetterTest, MalformedHeadersReadAsUnknownAndAreNamed) {
  const Record record = dead_letter_record({{"dlq.reason", "r"},
                                            {"dlq.partition", "two"},
                                            {"dlq.offset", "42x"},
                                            {"dlq.ts", "yesterday"},
                                            {"dlq.file", "/data/logs.ndjson"},
                                            {"dlq.line", "-3"},
                                            {"dlq.byte_offset", ""}});
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_EQ(read.reason, "r");
  EXPECT_FALSE(read.partition);
  EXPECT_FALSE(read.offset);
  EXPECT_FALSE(read.at);
  EXPECT_EQ(read.file, "/data/logs.ndjson");
  EXPECT_FALSE(read.line);
  EXPECT_FALSE(read.byte_offset);
  EXPECT_THAT(read.malformed,
              ElementsAre("dlq.partition", "dlq.offset", "dlq.ts", "dlq.line", "dlq.byte_offset"));
}

TEST(ParseDeadLetterTest, NumbersOutOfRangeAndTimesNotUtcAreMalformed) {
  const Record record = dead_letter_record({{"dlq.partition", "2147483648"},
                                            {"dlq.offset", "+5"},
                                            {"dlq.ts", "2025-09-21T10:20:00.123+02:00"}});
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_FALSE(read.partition);
  EXPECT_FALSE(read.offset);
  EXPECT_FALSE(read.at);
  EXPECT_EQ(read.malformed.size(), 3U);
}

TEST(ParseDeadLetterTest, ARepeatedHeaderReadsAsItsLastValue) {
  const Record record = dead_letter_record({{"dlq.reason", "first"},
                                            {"dlq.partition", "x"},
                                            {"dlq.reason", "second"},
                                            {"dlq.partition", "3"}});
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_EQ(read.reason, "second");
  EXPECT_EQ(read.partition, 3);
  EXPECT_THAT(read.malformed, IsEmpty());
}

TEST(ParseDeadLetterTest, OtherHeadersAreIgnored) {
  const Record record =
      dead_letter_record({{"content-type", "application/json"}, {"dlq.replayed_from", "d/0/1"}});
  const ParsedDeadLetter read = parse_dead_letter(record);
  EXPECT_EQ(read.reason, "");
  EXPECT_THAT(read.malformed, IsEmpty());
}

}  // namespace
}  // namespace iw::kafka
