#include "iw/base/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace iw::base {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PiecesMakeTheWhole) {
  Sha256 hash;
  hash.update("a");
  hash.update("");
  hash.update("bc");
  EXPECT_EQ(hash.digest(), sha256("abc"));
  // digest() leaves the state as it was: more bytes may follow.
  hash.update("d");
  EXPECT_EQ(hash.digest(), sha256("abcd"));
  hash.reset();
  hash.update("xyz");
  EXPECT_EQ(hash.digest(), sha256("xyz"));
}

TEST(Sha256Test, ACopyContinuesFromTheSameState) {
  Sha256 upto;
  upto.update("ab");
  Sha256 more = upto;
  more.update("c");
  EXPECT_EQ(upto.digest(), sha256("ab"));
  EXPECT_EQ(more.digest(), sha256("abc"));
  upto = more;
  upto.update("d");
  EXPECT_EQ(upto.digest(), sha256("abcd"));
  EXPECT_EQ(more.digest(), sha256("abc"));
}

}  // namespace
}  // namespace iw::base
