#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "iw/base/clock.h"

namespace iw::log {

enum class Level { kDebug, kInfo, kWarn, kError };

[[nodiscard]] std::string_view level_name(Level level);
/// "debug", "info", "warn" or "error"; nullopt for anything else.
[[nodiscard]] std::optional<Level> parse_level(std::string_view text);

/// One key/value of a log line. Keys are constant text chosen by the caller; values are
/// escaped. Holds views: build fields in the call expression, never store them.
class Field {
 public:
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

  Field(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  Field(std::string_view key, const char* value) : key_(key), value_(std::string_view(value)) {}
  Field(std::string_view key, const std::string& value)
      : key_(key), value_(std::string_view(value)) {}
  Field(std::string_view key, bool value) : key_(key), value_(value) {}
  Field(std::string_view key, double value) : key_(key), value_(value) {}
  Field(std::string_view key, std::int64_t value) : key_(key), value_(value) {}
  Field(std::string_view key, std::int32_t value)
      : key_(key), value_(static_cast<std::int64_t>(value)) {}
  Field(std::string_view key, std::uint64_t value) : key_(key), value_(value) {}
  Field(std::string_view key, std::uint32_t value)
      : key_(key), value_(static_cast<std::uint64_t>(value)) {}

  [[nodiscard]] std::string_view key() const { return key_; }
  [[nodiscard]] const Value& value() const { return value_; }

 private:
  std::string_view key_;
  Value value_;
};

using Fields = std::initializer_list<Field>;

/// Where finished lines go. Each call gets one complete line, newline included.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(std::string_view line) = 0;
};

/// Writes to stdout, one line at a time under a lock so lines from threads never interleave.
class StdoutSink final : public Sink {
 public:
  void write(std::string_view line) override;

 private:
  std::mutex mutex_;
};

/// Keeps lines in memory, for tests.
class MemorySink final : public Sink {
 public:
  void write(std::string_view line) override;
  [[nodiscard]] std::vector<std::string> lines() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// A JSON-lines logger. Every line has the same leading keys — `ts` (RFC 3339, UTC, ms),
/// `level`, `service`, `msg` — then the caller's fields. `msg` is constant text; anything that
/// varies goes into fields so lines can be grouped and searched. Thread-safe.
class Logger {
 public:
  Logger(std::string service, Sink& sink, const base::Clock& clock = base::SystemClock::instance(),
         Level min_level = Level::kInfo);

  void log(Level level, std::string_view msg, Fields fields = {}) const;
  void debug(std::string_view msg, Fields fields = {}) const { log(Level::kDebug, msg, fields); }
  void info(std::string_view msg, Fields fields = {}) const { log(Level::kInfo, msg, fields); }
  void warn(std::string_view msg, Fields fields = {}) const { log(Level::kWarn, msg, fields); }
  void error(std::string_view msg, Fields fields = {}) const { log(Level::kError, msg, fields); }

  [[nodiscard]] bool enabled(Level level) const { return level >= min_level_; }
  void set_level(Level level) { min_level_ = level; }
  [[nodiscard]] const base::Clock& clock() const { return clock_; }

  /// The line `log` would write, without writing it. Exposed for tests and golden files.
  [[nodiscard]] std::string format(Level level, std::string_view msg, Fields fields,
                                   std::optional<std::uint64_t> suppressed = std::nullopt) const;

 private:
  friend class RateLimitedLog;
  void write(Level level, std::string_view msg, Fields fields,
             std::optional<std::uint64_t> suppressed) const;

  std::string service_;
  Sink& sink_;
  const base::Clock& clock_;
  Level min_level_;
};

/// A logger for events that can repeat once per record (a bad record, a retry): at most `burst`
/// lines per `period`; the lines dropped in between are counted and reported as `suppressed` on
/// the next line that gets through, so nothing is hidden, only folded. Thread-safe.
class RateLimitedLog {
 public:
  RateLimitedLog(const Logger& logger, std::uint32_t burst, std::chrono::nanoseconds period);

  /// Returns true when the line was written.
  bool log(Level level, std::string_view msg, Fields fields = {});
  bool warn(std::string_view msg, Fields fields = {}) { return log(Level::kWarn, msg, fields); }
  bool error(std::string_view msg, Fields fields = {}) { return log(Level::kError, msg, fields); }

 private:
  const Logger& logger_;
  const std::uint32_t burst_;
  const std::chrono::nanoseconds period_;
  std::mutex mutex_;
  base::MonotonicTime window_start_{};
  std::uint32_t written_in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace iw::log
