#include "iw/base/sha256.h"

#include <openssl/evp.h>

#include "iw/base/check.h"

namespace iw::base {

// EVP is OpenSSL 3's supported interface; the low-level SHA256_* calls are deprecated.
struct Sha256::State {
  State() : ctx(EVP_MD_CTX_new()) {
    IW_CHECK(ctx != nullptr, "EVP_MD_CTX_new failed");
    IW_CHECK(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
  }
  explicit State(const State& other) : ctx(EVP_MD_CTX_new()) {
    IW_CHECK(ctx != nullptr && EVP_MD_CTX_copy_ex(ctx, other.ctx) == 1, "SHA-256 copy failed");
  }
  ~State() { EVP_MD_CTX_free(ctx); }
  State& operator=(const State&) = delete;

  EVP_MD_CTX* ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(const Sha256& other) : state_(std::make_unique<State>(*other.state_)) {}
Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) state_ = std::make_unique<State>(*other.state_);
  return *this;
}
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view bytes) {
  if (bytes.empty()) return;
  IW_CHECK(EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) == 1, "SHA-256 update failed");
}

void Sha256::reset() {
  IW_CHECK(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
}

Sha256::Digest Sha256::digest() const {
  // Finishing consumes the context: finish a copy, so more bytes may still follow.
  State copy(*state_);
  Digest out{};
  unsigned int size = 0;
  IW_CHECK(EVP_DigestFinal_ex(copy.ctx, out.data(), &size) == 1 && size == out.size(),
           "SHA-256 final failed");
  return out;
}

Sha256::Digest sha256(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.digest();
}

std::string to_hex(const Sha256::Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (const std::uint8_t byte : digest) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xF];
  }
  return out;
}

}  // namespace iw::base
