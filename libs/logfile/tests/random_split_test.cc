// Randomised checks: files built from known records must split back into exactly those
// records, whatever the chunking; arbitrary bytes must split the same way under any chunking
// and never lose text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "iw/logfile/splitter.h"
#include "split_util.h"

namespace iw::logfile {
namespace {

using testing::Rec;

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uniform(1, 100) <= percent; }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(uniform(0, static_cast<int>(items.size()) - 1))];
  }

  // Whitespace between tokens; newlines only where a line break is allowed.
  std::string space(bool newlines) {
    static const std::vector<std::string> kFlat = {"", "", "", " ", "  ", "\t"};
    static const std::vector<std::string> kLines = {"", "", " ", "\n", "\n  ", "\r\n\t", " \n"};
    return pick(newlines ? kLines : kFlat);
  }

  std::string string_literal() {
    static const std::vector<std::string> kPieces = {
        "a",    "Zoho", " ",   "{",   "}",       "[", "]",  ",", ":",        "\\\"",
        "\\\\", "\\n",  "\\/", "\\t", "\\u00e9", "é", "中", "😀", "\\\\\\\"", "x y"};
    std::string out = "\"";
    const int pieces = uniform(0, 8);
    for (int i = 0; i < pieces; ++i) out += pick(kPieces);
    return out + "\"";
  }

  std::string scalar() {
    static const std::vector<std::string> kScalars = {"0",       "-12",  "3.25",  "1e10",
                                                      "-0.5E-3", "true", "false", "null"};
    return pick(kScalars);
  }

  std::string value(int depth, bool newlines) {
    const int kind = depth >= 3 ? uniform(2, 3) : uniform(0, 3);
    if (kind == 0) return object(depth, newlines);
    if (kind == 1) {
      std::string out = "[" + space(newlines);
      const int n = uniform(0, 4);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out += space(newlines) + "," + space(newlines);
        out += value(depth + 1, newlines);
      }
      return out + space(newlines) + "]";
    }
    if (kind == 2) return string_literal();
    return scalar();
  }

  std::string object(int depth, bool newlines) {
    std::string out = "{" + space(newlines);
    const int n = uniform(0, 5);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += space(newlines) + "," + space(newlines);
      out +=
          string_literal() + space(newlines) + ":" + space(newlines) + value(depth + 1, newlines);
    }
    return out + space(newlines) + "}";
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

std::uint64_t line_at(const std::string& text, std::size_t offset) {
  return 1 + static_cast<std::uint64_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// Like testing::split, but every feed hands over a random number of bytes (at most a chunk).
std::vector<Rec> split_randomly(std::string_view input, ReaderOptions options,
                                std::mt19937_64& rng) {
  RecordSplitter splitter(options);
  std::vector<Rec> records;
  std::size_t fed = 0;
  for (std::size_t calls = 0; calls < 16 * (input.size() + 16); ++calls) {
    if (auto record = splitter.next()) {
      records.push_back(testing::copy(*record));
      continue;
    }
    if (splitter.at_end()) return records;
    if (fed < input.size()) {
      const std::span<char> space = splitter.input_space();
      const std::size_t most = std::min(space.size(), input.size() - fed);
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, most)(rng);
      std::copy_n(input.data() + fed, n, space.data());
      splitter.commit(n);
      fed += n;
    } else {
      splitter.finish();
    }
  }
  ADD_FAILURE() << "the splitter did not reach the end";
  return records;
}

std::size_t random_chunk(Generator& gen) {
  return static_cast<std::size_t>(gen.chance(50) ? gen.uniform(1, 16) : gen.uniform(17, 4096));
}

TEST(RandomSplitTest, NdjsonFilesSplitIntoTheirRecords) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Generator gen(seed);
    std::string file = gen.chance(20) ? "\xEF\xBB\xBF" : "";
    std::vector<Rec> expected;
    const int records = gen.uniform(0, 40);
    for (int i = 0; i < records; ++i) {
      while (gen.chance(15)) file += gen.pick(std::vector<std::string>{"\n", " \r\n", "\t \n"});
      file += gen.space(false);
      const std::string record = gen.object(0, false);
      expected.push_back(Rec{record, line_at(file, file.size()), file.size(), std::nullopt});
      file += record + gen.space(false);
      if (i + 1 < records || gen.chance(70)) file += gen.chance(30) ? "\r\n" : "\n";
    }
    const ReaderOptions options{.chunk_bytes = random_chunk(gen)};
    ASSERT_EQ(split_randomly(file, options, gen.rng()), expected) << file;
  }
}

TEST(RandomSplitTest, ArrayFilesSplitIntoTheirElements) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Generator gen(seed);
    const bool pretty = gen.chance(50);
    std::string file = gen.chance(20) ? "\xEF\xBB\xBF" : "";
    file += gen.space(true) + "[" + gen.space(pretty);
    std::vector<Rec> expected;
    const int records = gen.uniform(0, 40);
    for (int i = 0; i < records; ++i) {
      if (i > 0) file += gen.space(pretty) + "," + gen.space(pretty);
      const std::string record = gen.chance(80) ? gen.object(0, pretty) : gen.value(0, pretty);
      expected.push_back(Rec{record, line_at(file, file.size()), file.size(), std::nullopt});
      file += record;
    }
    file += gen.space(pretty) + "]" + gen.space(true);
    const ReaderOptions options{.chunk_bytes = random_chunk(gen)};
    ASSERT_EQ(split_randomly(file, options, gen.rng()), expected) << file;
  }
}

// Arbitrary text: whatever comes out must not depend on chunking, must be the input's own
// bytes at the reported position, and every byte that is not whitespace or array punctuation
// must belong to some record.
TEST(RandomSplitTest, ArbitraryBytesSplitConsistently) {
  static const std::string kAlphabet = "{}[]\",\\ \n\rab1:é{}[],\"  ";
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Generator gen(seed);
    std::string input = gen.chance(50) ? "[" : "";
    const int size = gen.uniform(0, 200);
    for (int i = 0; i < size; ++i) {
      input += kAlphabet[static_cast<std::size_t>(gen.uniform(0, int(kAlphabet.size()) - 1))];
    }
    const bool small_max = gen.chance(30);
    const ReaderOptions options{
        .format = gen.pick(
            std::vector<Format>{Format::kAuto, Format::kAuto, Format::kNdjson, Format::kJsonArray}),
        .max_record_bytes = small_max ? static_cast<std::size_t>(gen.uniform(1, 12)) : 1000,
        .chunk_bytes = 1000};
    const std::vector<Rec> reference = testing::split(input, options, 1000);
    ASSERT_EQ(split_randomly(input, {options.format, options.max_record_bytes, 1}, gen.rng()),
              reference)
        << input;
    ASSERT_EQ(split_randomly(input, {options.format, options.max_record_bytes, 5}, gen.rng()),
              reference)
        << input;

    std::vector<bool> covered(input.size(), false);
    for (const Rec& rec : reference) {
      ASSERT_LE(rec.offset + rec.bytes.size(), input.size()) << input;
      EXPECT_EQ(input.substr(rec.offset, rec.bytes.size()), rec.bytes) << input;
      EXPECT_EQ(rec.line, line_at(input, rec.offset)) << input;
      EXPECT_LE(rec.bytes.size(), options.max_record_bytes);
      // Only a record cut at the limit may end in whitespace.
      if (!rec.bytes.empty() && rec.bytes.size() < options.max_record_bytes) {
        EXPECT_FALSE(rec.bytes.front() == ' ' || rec.bytes.front() == '\n') << input;
        EXPECT_FALSE(rec.bytes.back() == ' ' || rec.bytes.back() == '\n' ||
                     rec.bytes.back() == '\r')
            << input;
      }
      for (std::size_t i = 0; i < rec.bytes.size(); ++i) covered[rec.offset + i] = true;
    }
    if (small_max) continue;  // skipped parts of oversized records are not covered
    for (std::size_t i = 0; i < input.size(); ++i) {
      const char c = input[i];
      if (covered[i] || c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      EXPECT_TRUE(c == '[' || c == ']' || c == ',')
          << "byte " << i << " ('" << c << "') of \"" << input << "\" is in no record";
    }
  }
}

}  // namespace
}  // namespace iw::logfile
