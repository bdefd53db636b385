#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::base {
namespace {

std::string json(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json("plain"), "\"plain\"");
  EXPECT_EQ(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
  EXPECT_EQ(json(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonEscapeTest, KeepsValidUtf8) { EXPECT_EQ(json("échec — 失败 😀"), "\"échec — 失败 😀\""); }

TEST(JsonEscapeTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(json("a\xff"
                 "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(json("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");                  // overlong '/'
  EXPECT_EQ(json("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
  EXPECT_EQ(json("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");                  // truncated
}

// The escaping as it was until 2026-12, one byte at a time: the reference the span-wise one must
// match byte for byte (the enriched records' golden files depend on it).
std::size_t reference_utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t lead = byte(i);
  const auto cont = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
  if (lead >= 0xC2 && lead <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (lead == 0xE0 && byte(i + 1) < 0xA0) return 0;
    if (lead == 0xED && byte(i + 1) >= 0xA0) return 0;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (lead == 0xF0 && byte(i + 1) < 0x90) return 0;
    if (lead == 0xF4 && byte(i + 1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

std::string reference_json(std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    if (c >= 0x80) {
      const std::size_t n = reference_utf8_length(text, i);
      out += n == 0 ? std::string_view("\xEF\xBF\xBD") : text.substr(i, n);
      i += n == 0 ? 1 : n;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

TEST(JsonEscapeTest, EveryByteAloneAndBetweenTextAsTheByteWiseEscaping) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    for (const std::string& text :
         {std::string(1, c), "ab" + std::string(1, c) + "cd", std::string(3, c)}) {
      EXPECT_EQ(json(text), reference_json(text)) << "byte " << b;
    }
  }
}

// Random strings: mostly ASCII (long runs), some of every byte, valid and broken UTF-8.
TEST(JsonEscapeTest, RandomStringsAsTheByteWiseEscaping) {
  std::mt19937 random(20261206);
  const std::string_view pieces[] = {"\xC3\xA9", "\xE5\xA4\xB1", "\xF0\x9F\x98\x80", "\xE2\x82",
                                     "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 64);
    for (int k = 0; k < length; ++k) {
      const unsigned kind = random() % 10;
      if (kind < 6) {
        text.push_back(static_cast<char>(0x20 + random() % 0x60));
      } else if (kind < 8) {
        text.push_back(static_cast<char>(random() % 256));
      } else {
        text += pieces[random() % std::size(pieces)];
      }
    }
    ASSERT_EQ(json(text), reference_json(text)) << "round " << round;
  }
}

TEST(TimeFormatTest, FormatsUtcWithMilliseconds) {
  using namespace std::chrono;
  // 2025-09-15T10:30:01.154Z
  const TimePoint t = sys_days{2025y / September / 15} + 10h + 30min + 1s + 154ms + 999us;
  EXPECT_EQ(format_rfc3339_millis(t), "2025-09-15T10:30:01.154Z");
  EXPECT_EQ(format_rfc3339_millis(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(TimeFormatTest, TruncatesTowardsThePastBeforeTheEpoch) {
  using namespace std::chrono;
  EXPECT_EQ(format_rfc3339_millis(TimePoint{} - 1ms), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, ParsesBackWhatItFormats) {
  using namespace std::chrono;
  for (const TimePoint t : {TimePoint{}, TimePoint{} - 1ms,
                            TimePoint{sys_days{2025y / September / 15} + 10h + 30min + 1s + 154ms},
                            TimePoint{sys_days{2199y / December / 31} + 86'399'999ms}}) {
    EXPECT_EQ(parse_rfc3339_millis(format_rfc3339_millis(t)), t) << format_rfc3339_millis(t);
  }
  // Fewer fraction digits, or none, are the same instants.
  EXPECT_EQ(parse_rfc3339_millis("2025-09-15T10:30:01.15Z"),
            parse_rfc3339_millis("2025-09-15T10:30:01.150Z"));
  EXPECT_EQ(parse_rfc3339_millis("2025-09-15T10:30:01Z"),
            parse_rfc3339_millis("2025-09-15T10:30:01.000Z"));
}

TEST(TimeFormatTest, ParsesNothingElse) {
  for (const std::string_view text :
       {"", "yesterday", "2025-09-15 10:30:01.154Z", "2025-09-15T10:30:01.154",
        "2025-09-15T10:30:01.154+02:00", "2025-09-15T10:30:01.1543Z", "2025-09-15T10:30:01.Z",
        "2025-02-30T10:30:01.154Z", "2025-09-15T24:00:00.000Z", "2025-09-15T10:30:01.154Zx"}) {
    EXPECT_FALSE(parse_rfc3339_millis(text)) << text;
  }
}

}  // namespace
}  // namespace iw::base
