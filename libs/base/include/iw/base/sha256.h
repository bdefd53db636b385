#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace iw::base {

/// A SHA-256 computed piece by piece (OpenSSL's libcrypto), so a value too large to keep can
/// still be named by its hash: the oversized records' `dlq.sha256` (docs/DLQ.md). Copyable: a
/// copy continues from the same state, which lets a caller keep a hash "up to here" while it
/// feeds bytes it may still take back.
class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view bytes);
  /// Back to the hash of nothing.
  void reset();
  /// The digest of everything fed so far; the state is left as it was.
  [[nodiscard]] Digest digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The SHA-256 of `bytes`.
[[nodiscard]] Sha256::Digest sha256(std::string_view bytes);
/// 64 lowercase hex digits.
[[nodiscard]] std::string to_hex(const Sha256::Digest& digest);

}  // namespace iw::base
