#include "report.h"

#include <gtest/gtest.h>

namespace iw::dlq {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// 2025-09-15T10:30:00Z
const base::TimePoint kT0{std::chrono::seconds{1757932200}};

kafka::Record enricher_record(std::string error = "Debut: expected a timestamp, got 'hier'") {
  return kafka::Record::owned("ingestion-logs-dlq", 0, 12, "PowerBI", R"({"Source":"PowerBI"})",
                              {{"execution_id", "e-1"},
                               {"dlq.reason", "invalid_timestamp"},
                               {"dlq.error", std::move(error)},
                               {"dlq.stage", "enricher"},
                               {"dlq.topic", "ingestion-logs"},
                               {"dlq.partition", "2"},
                               {"dlq.offset", "42"},
                               {"dlq.ts", "2025-09-15T10:30:00.000Z"}},
                              kT0);
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
                              kT0);
}

TEST(PrintableTest, ControlCharactersBecomeSpacesAndBadBytesQuestionMarks) {
  EXPECT_EQ(printable("a\tb\nc\r\x7f"), "a b c  ");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(printable("x\xff\xfey"), "x??y");
  EXPECT_EQ(printable("\xc3"), "?") << "a sequence cut short";
}

TEST(PrintableTest, CutsLongTextInCharactersEndingInDots) {
  EXPECT_EQ(printable("abcdef", 6), "abcdef");
  EXPECT_EQ(printable("abcdefg", 6), "abc...");
  EXPECT_EQ(printable("abcdefg", 0), "abcdefg");
  EXPECT_EQ(printable("abcdefg", 2), "..");
  // Characters, not bytes: "é" is one and is never split.
  EXPECT_EQ(printable("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5),
            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  EXPECT_EQ(printable("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5),
            "\xc3\xa9\xc3\xa9...");
  EXPECT_EQ(printable(std::string(200, 'x'), kErrorColumnChars).size(), kErrorColumnChars);
}

TEST(Utf8Test, AcceptsWellFormedTextOnly) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain"));
  EXPECT_TRUE(is_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_utf8("\xc0\x80")) << "overlong";
  EXPECT_FALSE(is_utf8("\xe0\x80\x80")) << "overlong";
  EXPECT_FALSE(is_utf8("\xed\xa0\x80")) << "surrogate";
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80")) << "past U+10FFFF";
  EXPECT_FALSE(is_utf8("\xe2\x82")) << "truncated";
  EXPECT_FALSE(is_utf8("\x80"));
}

TEST(Base64Test, MatchesRfc4648) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64("\xff\xfe"), "//4=");
}

TEST(TableTest, OneRowPerRecordUnderTheHeading) {
  EXPECT_EQ(table_header(),
            "DLQ         DEAD-LETTERED             STAGE        REASON              "
            "ORIGIN                          KEY           ERROR\n");
  const kafka::Record e = enricher_record();
  EXPECT_EQ(table_row(DeadLetter::from(e)),
            "0/12        2025-09-15T10:30:00.000Z  enricher     invalid_timestamp   "
            "ingestion-logs/2/42             PowerBI       Debut: expected a timestamp, got "
            "'hier'\n");
  const kafka::Record p = producer_record();
  EXPECT_EQ(table_row(DeadLetter::from(p)),
            "1/3         2025-09-15T10:31:00.000Z  producer     invalid_json        "
            "/data/logs.ndjson:2             -             expected a JSON value\n");
}

TEST(TableTest, TheErrorIsCutAndKeptOnOneLine) {
  const kafka::Record e = enricher_record("line one\nline two " + std::string(100, 'x'));
  const std::string row = table_row(DeadLetter::from(e));
  const std::string error = row.substr(row.find("line one"));
  EXPECT_EQ(error, "line one line two " + std::string(kErrorColumnChars - 18 - 3, 'x') + "...\n");
}

TEST(TableTest, MissingHeadersShowAsDashesAndTheKafkaTimestamp) {
  const kafka::Record bare = kafka::Record::owned("dlq", 0, 7, std::nullopt, "x", {}, kT0);
  EXPECT_EQ(table_row(DeadLetter::from(bare)),
            "0/7         2025-09-15T10:30:00.000Z  -            -                   "
            "-                               -             -\n");
}

TEST(JsonLineTest, CarriesThePositionKeyEveryHeaderAndTheValue) {
  const kafka::Record record =
      kafka::Record::owned("dlq", 1, 5, "Po\"wer", "{\"a\":1}\n",
                           {{"execution_id", "e-1"}, {"dlq.error", "tab\there"}}, kT0);
  EXPECT_EQ(json_line(record),
            R"({"partition":1,"offset":5,"timestamp":"2025-09-15T10:30:00.000Z","key":"Po\"wer",)"
            R"("headers":{"execution_id":"e-1","dlq.error":"tab\there"},"value":"{\"a\":1}\n"})"
            "\n");
}

TEST(JsonLineTest, ANullKeyAndBytesThatAreNotUtf8) {
  const kafka::Record record = kafka::Record::owned("dlq", 0, 0, std::nullopt, "a\xff", {}, kT0);
  EXPECT_EQ(json_line(record),
            R"({"partition":0,"offset":0,"timestamp":"2025-09-15T10:30:00.000Z","key":null,)"
            "\"headers\":{},\"value\":\"a\xef\xbf\xbd\",\"value_base64\":\"Yf8=\"}\n");
}

TEST(TallyTest, TotalsByReasonAndStageLargestFirst) {
  Tally tally;
  EXPECT_EQ(tally.totals_text(), "0 records\n");
  tally.add("enricher", "invalid_timestamp");
  EXPECT_EQ(tally.totals_text(),
            "1 record\nby reason: invalid_timestamp 1\nby stage: enricher 1\n");
  tally.add("producer", "invalid_json");
  tally.add("producer", "missing_source");
  tally.add("enricher", "invalid_timestamp");
  tally.add("", "");
  EXPECT_EQ(tally.total(), 5u);
  EXPECT_EQ(tally.totals_text(),
            "5 records\n"
            "by reason: invalid_timestamp 2, - 1, invalid_json 1, missing_source 1\n"
            "by stage: enricher 2, producer 2, - 1\n");
}

TEST(TallyTest, SummaryByStageAndReason) {
  Tally tally;
  tally.add("producer", "invalid_json");
  tally.add("enricher", "invalid_timestamp");
  tally.add("enricher", "invalid_timestamp");
  tally.add("loki-pusher", "loki_rejected");
  EXPECT_EQ(tally.summary_table(),
            "STAGE        REASON              RECORDS\n"
            "enricher     invalid_timestamp         2\n"
            "loki-pusher  loki_rejected             1\n"
            "producer     invalid_json              1\n"
            "total                                  4\n");
  EXPECT_EQ(tally.summary_json(),
            R"({"total":4,"counts":[)"
            R"({"stage":"enricher","reason":"invalid_timestamp","records":2},)"
            R"({"stage":"loki-pusher","reason":"loki_rejected","records":1},)"
            R"({"stage":"producer","reason":"invalid_json","records":1}]})"
            "\n");
  EXPECT_EQ(Tally().summary_json(), "{\"total\":0,\"counts\":[]}\n");
}

}  // namespace
}  // namespace iw::dlq
