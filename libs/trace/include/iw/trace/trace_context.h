#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace iw::trace {

/// A fast, non-cryptographic random source for ids (splitmix64). Ids only need to be unique,
/// not secret; seed it once from std::random_device.
class IdGenerator {
 public:
  explicit IdGenerator(std::uint64_t seed) : state_(seed) {}
  /// Seeded from std::random_device.
  IdGenerator();
  std::uint64_t next();

 private:
  std::uint64_t state_;
};

/// A W3C Trace Context `traceparent` value: "00-<32 hex trace id>-<16 hex span id>-<2 hex
/// flags>". Kept as text in a fixed buffer so stamping one on every record allocates nothing.
class TraceParent {
 public:
  static constexpr std::size_t kSize = 55;

  /// A new trace (a record entering the pipeline), sampled.
  [[nodiscard]] static TraceParent start(IdGenerator& ids) { return start(ids, true); }
  /// A new trace whose flags say whether it is sampled ("-01") or not ("-00"): every later
  /// stage follows that decision (docs/TRACING.md).
  [[nodiscard]] static TraceParent start(IdGenerator& ids, bool sampled);
  /// Parses a header value; nullopt when it is not a valid version-00 traceparent.
  [[nodiscard]] static std::optional<TraceParent> parse(std::string_view text);

  /// The same trace, one hop further: a new span id, same trace id and flags.
  [[nodiscard]] TraceParent child(IdGenerator& ids) const;
  /// The hop after a record's `traceparent` header value: its child, or a new sampled trace
  /// when the value is empty or does not parse (a dead letter, a replay).
  [[nodiscard]] static TraceParent child_of_or_start(std::string_view traceparent,
                                                     IdGenerator& ids);

  [[nodiscard]] std::string_view text() const { return {text_.data(), kSize}; }
  [[nodiscard]] std::string_view trace_id() const { return text().substr(3, 32); }
  [[nodiscard]] std::string_view span_id() const { return text().substr(36, 16); }
  /// The W3C "sampled" flag (the lowest bit of the flags).
  [[nodiscard]] bool sampled() const;
  /// The same ids with the sampled flag set or cleared (the other flags kept).
  [[nodiscard]] TraceParent with_sampled(bool sampled) const;

 private:
  TraceParent() = default;
  std::array<char, kSize> text_{};
};

/// A random (version 4) UUID in its 36-character text form, e.g. for execution ids.
class Uuid {
 public:
  static constexpr std::size_t kSize = 36;
  [[nodiscard]] static Uuid random(IdGenerator& ids);
  [[nodiscard]] std::string_view text() const { return {text_.data(), kSize}; }

 private:
  std::array<char, kSize> text_{};
};

}  // namespace iw::trace
