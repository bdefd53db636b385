#include "iw/logfile/splitter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "split_util.h"

namespace iw::logfile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Rec;
using testing::split;
using testing::split_every_way;

constexpr std::optional<Problem> kOk;
constexpr std::optional<Problem> kOversized = Problem::kOversized;
constexpr std::optional<Problem> kTruncated = Problem::kTruncated;
constexpr std::optional<Problem> kUnexpected = Problem::kUnexpectedContent;

ReaderOptions with_max(std::size_t max_record_bytes, Format format = Format::kAuto) {
  return ReaderOptions{.format = format, .max_record_bytes = max_record_bytes};
}

// --- names ---------------------------------------------------------------------------------

TEST(ProblemTest, NamesAreStableSnakeCaseCodes) {
  EXPECT_EQ(problem_name(Problem::kOversized), "oversized_record");
  EXPECT_EQ(problem_name(Problem::kTruncated), "truncated_record");
  EXPECT_EQ(problem_name(Problem::kUnexpectedContent), "unexpected_content");
  EXPECT_THAT(std::string(describe(Problem::kTruncated)), ::testing::HasSubstr("ends"));
  const RawRecord record{.bytes = "{", .line = 3, .byte_offset = 42, .problem = kTruncated};
  EXPECT_EQ(describe(record),
            "line 3, byte 42: the input ends inside this record or before the JSON array's "
            "closing ']'");
}

TEST(FormatTest, NamesRoundTrip) {
  for (const Format format : {Format::kAuto, Format::kNdjson, Format::kJsonArray}) {
    EXPECT_EQ(parse_format(format_name(format)), format);
  }
  EXPECT_EQ(format_name(Format::kJsonArray), "json_array");
  EXPECT_EQ(parse_format("NDJSON"), std::nullopt);
  EXPECT_EQ(parse_format("array"), std::nullopt);
}

// --- detection -----------------------------------------------------------------------------

TEST(DetectTest, BracketMeansArrayAnythingElseNdjson) {
  Format format = Format::kAuto;
  split_every_way("[1]", {}, &format);
  EXPECT_EQ(format, Format::kJsonArray);
  split_every_way(" \r\n\t [1]", {}, &format);
  EXPECT_EQ(format, Format::kJsonArray);
  split_every_way("\xEF\xBB\xBF\n[1]", {}, &format);
  EXPECT_EQ(format, Format::kJsonArray);
  split_every_way("{\"a\":1}\n", {}, &format);
  EXPECT_EQ(format, Format::kNdjson);
  split_every_way("\xEF\xBB\xBF{}", {}, &format);
  EXPECT_EQ(format, Format::kNdjson);
}

TEST(DetectTest, EmptyOrBlankInputHasNoRecordsAndCountsAsNdjson) {
  for (const std::string_view input : {"", " ", "\n\n\r\n \t", "\xEF\xBB\xBF", "\xEF\xBB\xBF \n"}) {
    Format format = Format::kAuto;
    EXPECT_THAT(split_every_way(input, {}, &format), IsEmpty()) << input;
    EXPECT_EQ(format, Format::kNdjson);
  }
  Format format = Format::kAuto;
  EXPECT_THAT(split_every_way("  ", {.format = Format::kJsonArray}, &format), IsEmpty());
  EXPECT_EQ(format, Format::kJsonArray);
}

TEST(DetectTest, APartialBomIsContent) {
  EXPECT_THAT(split_every_way("\xEF\xBB"), ElementsAre(Rec{"\xEF\xBB", 1, 0, kOk}));
  EXPECT_THAT(split_every_way("\xEF\xBBx\n"), ElementsAre(Rec{"\xEF\xBBx", 1, 0, kOk}));
}

TEST(DetectTest, DetectFormatWaitsForTheFirstSignificantByte) {
  RecordSplitter splitter({});
  EXPECT_FALSE(splitter.detect_format());
  splitter.feed("\xEF\xBB");
  EXPECT_FALSE(splitter.detect_format());
  EXPECT_EQ(splitter.format(), Format::kAuto);
  splitter.feed("\xBF \n ");
  EXPECT_FALSE(splitter.detect_format());
  splitter.feed("[{}]");
  EXPECT_TRUE(splitter.detect_format());
  EXPECT_EQ(splitter.format(), Format::kJsonArray);
  const auto record = splitter.next();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(testing::copy(*record), (Rec{"{}", 2, 7, kOk}));
}

// --- NDJSON --------------------------------------------------------------------------------

TEST(NdjsonTest, OneRecordPerLineWithExactPositions) {
  EXPECT_THAT(split_every_way("{\"a\":1}\n{\"b\":2}\n"),
              ElementsAre(Rec{"{\"a\":1}", 1, 0, kOk}, Rec{"{\"b\":2}", 2, 8, kOk}));
}

TEST(NdjsonTest, SkipsBlankLinesAndTrimsWhitespaceAndCarriageReturns) {
  const std::string input =
      "\xEF\xBB\xBF{\"a\":1}\r\n"  // 0..11: BOM, record at 3, CRLF
      "\r\n"                       // 12..13: blank line 2
      "   \t \n"                   // 14..19: whitespace-only line 3
      "  {\"b\": 2} \t\r\n"        // 20..33: line 4, record at 22
      "\n"                         // 34: line 5
      "{\"c\":3}";                 // 35: line 6, no final newline
  EXPECT_THAT(split_every_way(input),
              ElementsAre(Rec{"{\"a\":1}", 1, 3, kOk}, Rec{"{\"b\": 2}", 4, 22, kOk},
                          Rec{"{\"c\":3}", 6, 35, kOk}));
}

TEST(NdjsonTest, LinesAreRecordsWhateverTheyHold) {
  // The reader only splits; the caller's parser decides what is valid.
  EXPECT_THAT(
      split_every_way("not json\n{\"a\": }\n[1,\n"),
      ElementsAre(Rec{"not json", 1, 0, kOk}, Rec{"{\"a\": }", 2, 9, kOk}, Rec{"[1,", 3, 17, kOk}));
}

TEST(NdjsonTest, ForcedNdjsonTreatsABracketLineAsARecord) {
  EXPECT_THAT(split_every_way("[1,\n2]\n", {.format = Format::kNdjson}),
              ElementsAre(Rec{"[1,", 1, 0, kOk}, Rec{"2]", 2, 4, kOk}));
}

TEST(NdjsonTest, OversizedLineIsReportedOnceWithItsFirstBytesAndTheRestSkipped) {
  const std::string input =
      "0123456789\n"                    // exactly the limit: fine
      "{\"a\":\"abcdefghijklmnop\"}\n"  // 11: 24 bytes, oversized
      "  x  \n";                        // 36: line 3, record at 38
  EXPECT_THAT(split_every_way(input, with_max(10)),
              ElementsAre(Rec{"0123456789", 1, 0, kOk}, Rec{"{\"a\":\"abcd", 2, 11, kOversized},
                          Rec{"x", 3, 38, kOk}));
}

TEST(NdjsonTest, TrailingWhitespaceDoesNotMakeALineOversized) {
  const std::string spaces(300, ' ');
  const std::string input = "0123456789" + spaces + "\r\n12" + spaces;
  EXPECT_THAT(split_every_way(input, with_max(10)),
              ElementsAre(Rec{"0123456789", 1, 0, kOk}, Rec{"12", 2, 312, kOk}));
}

TEST(NdjsonTest, TextAfterLongWhitespaceMakesALineOversized) {
  const std::string input = "abc" + std::string(100, ' ') + "x\nok\n";
  EXPECT_THAT(split_every_way(input, with_max(10)),
              ElementsAre(Rec{"abc       ", 1, 0, kOversized}, Rec{"ok", 2, 105, kOk}));
  EXPECT_THAT(split_every_way("abc" + std::string(100, ' ') + "x", with_max(10)),
              ElementsAre(Rec{"abc       ", 1, 0, kOversized}));
}

TEST(NdjsonTest, OversizedLastLineWithoutNewline) {
  EXPECT_THAT(split_every_way("{}\n0123456789A", with_max(10)),
              ElementsAre(Rec{"{}", 1, 0, kOk}, Rec{"0123456789", 2, 3, kOversized}));
}

// --- JSON array ----------------------------------------------------------------------------

TEST(ArrayTest, ElementsWithExactPositions) {
  const std::string input =
      "[\n"                  // 0..1
      "  {\"a\": 1},\n"      // 2..13: element at 4, line 2
      "  {\"b\": [2, 3]}\n"  // 14..30: element at 16, line 3
      "]\n";
  EXPECT_THAT(split_every_way(input),
              ElementsAre(Rec{"{\"a\": 1}", 2, 4, kOk}, Rec{"{\"b\": [2, 3]}", 3, 16, kOk}));
}

TEST(ArrayTest, BomCountsInOffsets) {
  EXPECT_THAT(split_every_way("\xEF\xBB\xBF[{},{}]"),
              ElementsAre(Rec{"{}", 1, 4, kOk}, Rec{"{}", 1, 7, kOk}));
}

TEST(ArrayTest, BracketsCommasAndQuotesInsideStringsDoNotCount) {
  const std::string input = R"([{"a":"}]\",{[","b\\":"\\"},"x]\"y,{",{"c":"\u00e9 é"}])";
  EXPECT_THAT(split_every_way(input),
              ElementsAre(Rec{R"({"a":"}]\",{[","b\\":"\\"})", 1, 1, kOk},
                          Rec{R"("x]\"y,{")", 1, 28, kOk}, Rec{R"({"c":"\u00e9 é"})", 1, 38, kOk}));
}

TEST(ArrayTest, ScalarsStringsAndNestedValues) {
  const std::string input = "[1, -2.5e3,true ,null\n,\"s\",[[1,[2]],{}],{\"a\":[{}]}]";
  EXPECT_THAT(split_every_way(input),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"-2.5e3", 1, 4, kOk}, Rec{"true", 1, 11, kOk},
                          Rec{"null", 1, 17, kOk}, Rec{"\"s\"", 2, 23, kOk},
                          Rec{"[[1,[2]],{}]", 2, 27, kOk}, Rec{"{\"a\":[{}]}", 2, 40, kOk}));
}

TEST(ArrayTest, EmptyArraysAndEmptyElementsYieldNothing) {
  EXPECT_THAT(split_every_way("[]"), IsEmpty());
  EXPECT_THAT(split_every_way(" [ \n ] \n"), IsEmpty());
  EXPECT_THAT(split_every_way("[,1,,2,]"), ElementsAre(Rec{"1", 1, 2, kOk}, Rec{"2", 1, 5, kOk}));
}

TEST(ArrayTest, InvalidElementsAreStillEmittedWhole) {
  EXPECT_THAT(split_every_way(R"([{"a": }, {"b"::[1,]}, tru])"),
              ElementsAre(Rec{R"({"a": })", 1, 1, kOk}, Rec{R"({"b"::[1,]})", 1, 10, kOk},
                          Rec{"tru", 1, 23, kOk}));
  // Brackets are counted, not matched: a mismatched closer still closes a level.
  EXPECT_THAT(split_every_way(R"([{"a":[}], 2])"),
              ElementsAre(Rec{R"({"a":[}])", 1, 1, kOk}, Rec{"2", 1, 11, kOk}));
}

TEST(ArrayTest, RawNewlinesInsideStringsStillCountAsLines) {
  EXPECT_THAT(
      split_every_way("[\"a\nb\", \"c\\\nd\", 1]"),
      ElementsAre(Rec{"\"a\nb\"", 1, 1, kOk}, Rec{"\"c\\\nd\"", 2, 8, kOk}, Rec{"1", 3, 16, kOk}));
}

TEST(ArrayTest, MissingCommaMakesTheNextElementUnexpectedContent) {
  EXPECT_THAT(split_every_way(R"([{"a":1} {"b":2}, {"c":3}])"),
              ElementsAre(Rec{R"({"a":1})", 1, 1, kOk}, Rec{R"({"b":2})", 1, 9, kUnexpected},
                          Rec{R"({"c":3})", 1, 18, kOk}));
  EXPECT_THAT(
      split_every_way(R"([1{"a":2},3])"),
      ElementsAre(Rec{"1", 1, 1, kOk}, Rec{R"({"a":2})", 1, 2, kUnexpected}, Rec{"3", 1, 10, kOk}));
}

TEST(ArrayTest, StrayTextRunsToTheNextTopLevelCommaOrBracket) {
  EXPECT_THAT(split_every_way("[{\"a\":1} garbage here ,{\"c\":3}]"),
              ElementsAre(Rec{"{\"a\":1}", 1, 1, kOk}, Rec{"garbage here", 1, 9, kUnexpected},
                          Rec{"{\"c\":3}", 1, 23, kOk}));
  // Structure inside the stretch is tracked, so its brackets and strings do not end it.
  EXPECT_THAT(split_every_way(R"([1 x{"b":[1,2]}"],"
, 2])"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{R"(x{"b":[1,2]}"],")", 1, 3, kUnexpected},
                          Rec{"2", 2, 22, kOk}));
}

TEST(ArrayTest, StrayClosersAreUnexpectedContent) {
  EXPECT_THAT(split_every_way("[}, 1]"),
              ElementsAre(Rec{"}", 1, 1, kUnexpected}, Rec{"1", 1, 4, kOk}));
  EXPECT_THAT(split_every_way("[1}]"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"}", 1, 2, kUnexpected}));
  EXPECT_THAT(split_every_way("[{}}}, 2]"),
              ElementsAre(Rec{"{}", 1, 1, kOk}, Rec{"}}", 1, 3, kUnexpected}, Rec{"2", 1, 7, kOk}));
}

TEST(ArrayTest, TextAfterTheClosingBracketIsOneUnexpectedRecord) {
  EXPECT_THAT(split_every_way("[1]\n[2]\n"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"[2]", 2, 4, kUnexpected}));
  EXPECT_THAT(split_every_way("[1] x, y \n ] z \n\n"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"x, y \n ] z", 1, 4, kUnexpected}));
  EXPECT_THAT(split_every_way("[1]  \n\t\r\n"), ElementsAre(Rec{"1", 1, 1, kOk}));
}

TEST(ArrayTest, ForcedArrayWithoutBracketIsOneUnexpectedRecord) {
  EXPECT_THAT(split_every_way("{\"a\":1}\n{\"b\":2}\n", {.format = Format::kJsonArray}),
              ElementsAre(Rec{"{\"a\":1}\n{\"b\":2}", 1, 0, kUnexpected}));
}

TEST(ArrayTest, EndOfInputInsideAnElementTruncatesIt) {
  EXPECT_THAT(split_every_way("[{\"a\":1},\n {\"b\":[2, "),
              ElementsAre(Rec{"{\"a\":1}", 1, 1, kOk}, Rec{"{\"b\":[2,", 2, 11, kTruncated}));
  EXPECT_THAT(split_every_way("[1, 2"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"2", 1, 4, kTruncated}));
  EXPECT_THAT(split_every_way("[\"abc"), ElementsAre(Rec{"\"abc", 1, 1, kTruncated}));
  EXPECT_THAT(split_every_way("[{\"a\":\"x\\"), ElementsAre(Rec{"{\"a\":\"x\\", 1, 1, kTruncated}));
}

TEST(ArrayTest, EndOfInputBetweenElementsIsAnEmptyTruncatedRecord) {
  EXPECT_THAT(split_every_way("["), ElementsAre(Rec{"", 1, 1, kTruncated}));
  EXPECT_THAT(split_every_way("[{\"a\":1}"),
              ElementsAre(Rec{"{\"a\":1}", 1, 1, kOk}, Rec{"", 1, 8, kTruncated}));
  EXPECT_THAT(split_every_way("[{\"a\":1},  \n  "),
              ElementsAre(Rec{"{\"a\":1}", 1, 1, kOk}, Rec{"", 2, 14, kTruncated}));
  // The scalar was ended by the newline, so it is whole; the array is not.
  EXPECT_THAT(split_every_way("[1, 2\n"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"2", 1, 4, kOk}, Rec{"", 2, 6, kTruncated}));
}

TEST(ArrayTest, EndOfInputInsideUnexpectedContentReportsBoth) {
  EXPECT_THAT(split_every_way("[1 oops {"),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"oops {", 1, 3, kUnexpected},
                          Rec{"", 1, 9, kTruncated}));
}

TEST(ArrayTest, OversizedElementIsReportedOnceAndSkippedByStructure) {
  // The skipped part holds brackets, commas and quotes inside a string: still tracked.
  const std::string input = R"([{"a":"]]]],,,\",}}}}"}, "0123456789", 12345678901, {"b":1}])";
  EXPECT_THAT(
      split_every_way(input, with_max(8)),
      ElementsAre(Rec{R"({"a":"]])", 1, 1, kOversized}, Rec{R"("0123456)", 1, 25, kOversized},
                  Rec{"12345678", 1, 39, kOversized}, Rec{R"({"b":1})", 1, 52, kOk}));
}

TEST(ArrayTest, ElementOfExactlyTheLimitIsFine) {
  EXPECT_THAT(split_every_way(R"([{"a":12}])", with_max(8)),
              ElementsAre(Rec{R"({"a":12})", 1, 1, kOk}));
}

TEST(ArrayTest, OversizedAndTruncatedReportsBoth) {
  EXPECT_THAT(split_every_way(R"([{"a":"0123456789)", with_max(8)),
              ElementsAre(Rec{R"({"a":"01)", 1, 1, kOversized}, Rec{"", 1, 17, kTruncated}));
}

TEST(ArrayTest, OversizedUnexpectedContentStaysUnexpected) {
  EXPECT_THAT(split_every_way("[1 abcdefghijklmnop, 2] zyxwvutsrqponm", with_max(8)),
              ElementsAre(Rec{"1", 1, 1, kOk}, Rec{"abcdefgh", 1, 3, kUnexpected},
                          Rec{"2", 1, 21, kOk}, Rec{"zyxwvuts", 1, 24, kUnexpected}));
}

// --- the splitter's own contract -----------------------------------------------------------

TEST(SplitterTest, BufferIsFixedAtConstruction) {
  RecordSplitter splitter({.max_record_bytes = 100, .chunk_bytes = 10});
  EXPECT_EQ(splitter.buffer_bytes(), 100u + 10u + RecordSplitter::kReadablePadding);
  EXPECT_EQ(splitter.input_space().size(), 10u);
}

TEST(SplitterTest, CountsConsumedBytesAndRestartsAfterReset) {
  RecordSplitter splitter({});
  const std::string input = "{\"a\":1}\n{\"b\":2}\n";
  EXPECT_EQ(splitter.feed(input), input.size());
  ASSERT_TRUE(splitter.next().has_value());
  EXPECT_EQ(splitter.bytes_consumed(), 8u);
  ASSERT_TRUE(splitter.next().has_value());
  EXPECT_FALSE(splitter.next().has_value());
  EXPECT_TRUE(splitter.needs_input());
  EXPECT_FALSE(splitter.at_end());
  splitter.finish();
  EXPECT_FALSE(splitter.next().has_value());
  EXPECT_TRUE(splitter.at_end());
  EXPECT_EQ(splitter.bytes_consumed(), input.size());

  splitter.reset();
  EXPECT_EQ(splitter.format(), Format::kAuto);
  splitter.feed("[7]");
  splitter.finish();
  const auto record = splitter.next();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(testing::copy(*record), (Rec{"7", 1, 1, kOk}));
  EXPECT_EQ(splitter.format(), Format::kJsonArray);
}

TEST(SplitterTest, FeedTakesAtMostOneChunk) {
  RecordSplitter splitter({.chunk_bytes = 4});
  const std::string_view input = "{\"a\":1}\n";
  EXPECT_EQ(splitter.feed(input), 4u);
  EXPECT_FALSE(splitter.next().has_value());
  EXPECT_EQ(splitter.feed(input.substr(4)), 4u);
  const auto record = splitter.next();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->bytes, "{\"a\":1}");
}

TEST(SplitterDeathTest, InputBeforeTheSplitterAskedForItAborts) {
  EXPECT_DEATH(
      {
        RecordSplitter splitter({.max_record_bytes = 4, .chunk_bytes = 4});
        splitter.feed("{\"a\"");
        splitter.feed(":1}\n");
        splitter.feed("more");
      },
      "next\\(\\) asked for input");
}

}  // namespace
}  // namespace iw::logfile
