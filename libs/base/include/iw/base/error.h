#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace iw::base {

/// What went wrong, phrased as what the caller should do about it. Every error on the data
/// path carries one, so a caller can decide between dead-lettering, retrying and giving up
/// without inspecting messages.
enum class ErrorCode {
  /// The input itself is bad; the same input will fail again. Count it and dead-letter it.
  kInvalidInput,
  /// A dependency is unreachable or overloaded; back off and retry the same operation.
  kUnavailable,
  /// The operation ran out of time; retrying may succeed.
  kTimeout,
  /// A multi-step operation (e.g. a Kafka transaction) failed part-way and was rolled back;
  /// retry the whole operation from its start, not the last step.
  kAborted,
  /// The system is not in a state that allows the operation (bad credentials, missing topic,
  /// fenced producer). Retrying will not help until something changes.
  kFailedPrecondition,
  /// A named thing does not exist.
  kNotFound,
  /// A bug or an unexpected failure of a library; not retryable.
  kInternal,
};

/// Whether retrying the same operation can help.
[[nodiscard]] constexpr bool is_retryable(ErrorCode code) {
  return code == ErrorCode::kUnavailable || code == ErrorCode::kTimeout ||
         code == ErrorCode::kAborted;
}

/// Stable snake_case name of a code, suitable for metric labels and log fields.
[[nodiscard]] std::string_view code_name(ErrorCode code);

/// An error code plus a human-readable message. Cheap to move; messages never contain secrets.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] ErrorCode code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  [[nodiscard]] bool retryable() const { return is_retryable(code_); }

  /// The same error with "context: " prepended to the message.
  [[nodiscard]] Error with_context(std::string_view context) const&;
  [[nodiscard]] Error with_context(std::string_view context) &&;

  /// "code_name: message", for logs and test failure output.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Error&, const Error&) = default;

 private:
  ErrorCode code_;
  std::string message_;
};

/// A value or the reason there is none. The data path returns these instead of throwing.
template <typename T>
using Result = std::expected<T, Error>;

/// Success or an error, for operations without a value.
using Status = std::expected<void, Error>;

/// Shorthand for returning an error from a function returning Result<T> or Status.
[[nodiscard]] inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(std::in_place, code, std::move(message));
}

}  // namespace iw::base
