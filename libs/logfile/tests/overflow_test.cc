// Records longer than max_record_bytes: their head is kept, the rest is hashed and counted as it
// goes by, and the record comes out with its whole size and SHA-256, however the input is
// chunked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "iw/base/sha256.h"
#include "iw/logfile/splitter.h"
#include "split_util.h"

namespace iw::logfile {
namespace {

struct Seen {
  std::string head;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
  std::optional<Problem> problem;
  std::optional<std::uint64_t> size;
  std::string sha256;

  friend bool operator==(const Seen&, const Seen&) = default;
  friend void PrintTo(const Seen& seen, std::ostream* os) {
    *os << "{\"" << seen.head << "\", line " << seen.line << ", offset " << seen.offset << ", "
        << (seen.problem ? problem_name(*seen.problem) : "ok") << ", size "
        << (seen.size ? std::to_string(*seen.size) : "-") << ", " << seen.sha256 << "}";
  }
};

std::vector<Seen> split(std::string_view input, std::size_t max, std::size_t chunk) {
  std::vector<Seen> out;
  testing::for_each_record(input, {.max_record_bytes = max}, chunk, [&](const RawRecord& record) {
    Seen seen{std::string(record.bytes),
              record.line,
              record.byte_offset,
              record.problem,
              std::nullopt,
              ""};
    if (record.overflow) {
      seen.size = record.overflow->size;
      seen.sha256 = base::to_hex(record.overflow->sha256);
    }
    out.push_back(std::move(seen));
  });
  return out;
}

Seen oversized(std::string_view whole, std::size_t max, std::uint64_t line, std::uint64_t offset,
               Problem problem = Problem::kOversized) {
  return {std::string(whole.substr(0, max)), line, offset, problem, whole.size(),
          base::to_hex(base::sha256(whole))};
}

Seen ok(std::string_view bytes, std::uint64_t line, std::uint64_t offset) {
  return {std::string(bytes), line, offset, std::nullopt, std::nullopt, ""};
}

// Every chunk size from one byte to more than the input: the same records.
void expect_for_every_chunking(std::string_view input, std::size_t max,
                               const std::vector<Seen>& expected) {
  for (std::size_t chunk = 1; chunk <= input.size() + 1; ++chunk) {
    EXPECT_EQ(split(input, max, chunk), expected) << "chunk_bytes " << chunk;
  }
}

TEST(OverflowTest, AnOversizedLineComesWithItsWholeSizeAndHash) {
  const std::string big = "{\"a\":\"" + std::string(60, 'x') + " y z\"}";
  const std::string input = "{}\n" + big + "  \r\n{\"b\":1}\n";
  expect_for_every_chunking(
      input, 10,
      {ok("{}", 1, 0), oversized(big, 10, 2, 3), ok("{\"b\":1}", 3, 3 + big.size() + 4)});
}

TEST(OverflowTest, WhitespacePastTheLimitThenTextIsPartOfTheRecord) {
  const std::string big = "abc" + std::string(40, ' ') + "\t x";
  expect_for_every_chunking(big + "\nok\n", 10,
                            {oversized(big, 10, 1, 0), ok("ok", 2, big.size() + 1)});
}

TEST(OverflowTest, TrailingWhitespacePastTheLimitIsNotPartOfTheRecord) {
  const std::string big = "abcdefghijkl";
  expect_for_every_chunking(big + std::string(30, ' ') + "\r\n", 10, {oversized(big, 10, 1, 0)});
  // Only whitespace past the limit: not oversized at all.
  expect_for_every_chunking("abc" + std::string(30, ' ') + "\nok", 10,
                            {ok("abc", 1, 0), ok("ok", 2, 34)});
}

TEST(OverflowTest, AnOversizedLastLineWithoutANewline) {
  const std::string big(25, 'q');
  expect_for_every_chunking("{}\n" + big, 10, {ok("{}", 1, 0), oversized(big, 10, 2, 3)});
}

TEST(OverflowTest, ArrayElementsByStructure) {
  const std::string element = R"({"a":"]],[{ \"x"  ,  "b": [1, 2, 3]})";
  const std::string input = "[" + element + ",\n {\"c\":1}]";
  expect_for_every_chunking(
      input, 12, {oversized(element, 12, 1, 1), ok("{\"c\":1}", 2, 1 + element.size() + 3)});
}

TEST(OverflowTest, UnexpectedContentStaysUnexpected) {
  const std::string stray = "oops this is not an element at all";
  expect_for_every_chunking(
      "[{}" + stray + "]", 8,
      {ok("{}", 1, 1), oversized(stray, 8, 1, 3, Problem::kUnexpectedContent)});
}

// A record of 20 MB in a splitter whose buffer holds 1 KiB + 4 KiB: the hash is the whole's.
TEST(OverflowTest, ARecordManyTimesTheBufferIsHashedWhole) {
  constexpr std::size_t kSize = 20 * 1024 * 1024;
  RecordSplitter splitter({.max_record_bytes = 1024, .chunk_bytes = 4096});
  base::Sha256 expected;
  std::string piece(4096, 'z');
  piece[0] = '{';
  std::size_t fed = 0;
  std::optional<RawRecord> got;
  std::vector<std::string> after;
  bool newline_sent = false;
  while (true) {
    if (auto record = splitter.next()) {
      if (!got) {
        got = *record;
        got->bytes = {};  // a view, valid only until the next call
        EXPECT_EQ(record->bytes.substr(0, 5), "{zzzz");
        EXPECT_EQ(record->bytes.size(), 1024U);
      } else {
        after.emplace_back(record->bytes);
      }
      continue;
    }
    if (splitter.at_end()) break;
    if (fed < kSize) {
      const std::string_view chunk =
          std::string_view(piece).substr(0, std::min(piece.size(), kSize - fed));
      const std::size_t n = splitter.feed(chunk);
      expected.update(chunk.substr(0, n));
      fed += n;
      piece[0] = 'z';
    } else if (!newline_sent) {
      ASSERT_EQ(splitter.feed("\n{\"next\":1}\n"), 12U);
      newline_sent = true;
    } else {
      splitter.finish();
    }
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->problem, Problem::kOversized);
  ASSERT_TRUE(got->overflow.has_value());
  EXPECT_EQ(got->overflow->size, kSize);
  EXPECT_EQ(got->overflow->sha256, expected.digest());
  EXPECT_THAT(after, ::testing::ElementsAre("{\"next\":1}"));
  EXPECT_EQ(splitter.buffer_bytes(), 1024U + 4096U + RecordSplitter::kReadablePadding);
}

}  // namespace
}  // namespace iw::logfile
