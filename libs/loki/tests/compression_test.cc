#include "iw/loki/compression.h"

#include <gtest/gtest.h>

#include <random>

namespace iw::loki {
namespace {

std::string sample(std::size_t size) {
  std::mt19937 random(42);
  std::string text;
  // Half repetitive (JSON-like), half random: both code paths of the compressors.
  while (text.size() < size) {
    text += R"({"source":"PowerBI","etat":"SUCCESS","n":)" + std::to_string(random()) + "}";
    text += static_cast<char>(random());
  }
  text.resize(size);
  return text;
}

TEST(SnappyTest, RoundTrips) {
  for (const std::size_t size : {0, 1, 1000, 3 << 20}) {
    const std::string data = sample(size);
    auto back = snappy_uncompress(snappy_compress(data), data.size());
    ASSERT_TRUE(back) << size;
    EXPECT_EQ(*back, data) << size;
  }
}

TEST(SnappyTest, IsTheBlockFormat) {
  // A block starts with the uncompressed length as a varint; the framing format would start with
  // the stream identifier chunk (0xff 06 00 00 "sNaPpY").
  const std::string block = snappy_compress("hello");
  ASSERT_FALSE(block.empty());
  EXPECT_EQ(block[0], 5);
}

TEST(SnappyTest, RefusesBadInputAndTooLargeOutput) {
  const std::string block = snappy_compress(sample(1000));
  const auto too_large = snappy_uncompress(block, 999);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().message(), "snappy block of 1000 bytes, more than the limit of 999");
  EXPECT_FALSE(snappy_uncompress("\xff\xff\xff\xff\xff\xff", 1 << 20));
  EXPECT_FALSE(snappy_uncompress(block.substr(0, block.size() / 2), 1 << 20));
}

TEST(GzipTest, RoundTrips) {
  for (const std::size_t size : {0, 1, 1000, 3 << 20}) {
    const std::string data = sample(size);
    const std::string compressed = gzip_compress(data);
    ASSERT_GE(compressed.size(), 2U);
    EXPECT_EQ(compressed.substr(0, 2), "\x1f\x8b");  // gzip's magic, not zlib's header
    auto back = gzip_uncompress(compressed, data.size());
    ASSERT_TRUE(back) << size << ": " << back.error().message();
    EXPECT_EQ(*back, data) << size;
  }
}

TEST(GzipTest, RefusesBadInputAndTooLargeOutput) {
  const std::string compressed = gzip_compress(sample(100'000));
  const auto too_large = gzip_uncompress(compressed, 99'999);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().message(),
            "gzip data inflates to more than the limit of 99999 bytes");
  const auto truncated = gzip_uncompress(compressed.substr(0, compressed.size() - 10), 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().message(), "truncated gzip data");
  EXPECT_FALSE(gzip_uncompress("not gzip at all", 1 << 20));
}

}  // namespace
}  // namespace iw::loki
