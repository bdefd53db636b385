#include "iw/log/logger.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::log {
namespace {

template <typename Number>
void append_number(std::string& out, Number value) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void append_value(std::string& out, const Field::Value& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          base::append_json_string(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          // JSON has no NaN or infinities; write them as strings rather than break the line.
          if (std::isfinite(v)) {
            append_number(out, v);
          } else {
            base::append_json_string(out, std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"));
          }
        } else {
          append_number(out, v);
        }
      },
      value);
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

std::optional<Level> parse_level(std::string_view text) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (level_name(level) == text) return level;
  }
  return std::nullopt;
}

void StdoutSink::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

void MemorySink::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemorySink::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

Logger::Logger(std::string service, Sink& sink, const base::Clock& clock, Level min_level)
    : service_(std::move(service)), sink_(sink), clock_(clock), min_level_(min_level) {}

std::string Logger::format(Level level, std::string_view msg, Fields fields,
                           std::optional<std::uint64_t> suppressed) const {
  std::string line;
  line.reserve(128 + msg.size() + fields.size() * 24);
  line += "{\"ts\":\"";
  base::append_rfc3339_millis(line, clock_.now());
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"service\":";
  base::append_json_string(line, service_);
  line += ",\"msg\":";
  base::append_json_string(line, msg);
  for (const Field& field : fields) {
    line.push_back(',');
    base::append_json_string(line, field.key());
    line.push_back(':');
    append_value(line, field.value());
  }
  if (suppressed) {
    line += ",\"suppressed\":";
    append_number(line, *suppressed);
  }
  line += "}\n";
  return line;
}

void Logger::write(Level level, std::string_view msg, Fields fields,
                   std::optional<std::uint64_t> suppressed) const {
  sink_.write(format(level, msg, fields, suppressed));
}

void Logger::log(Level level, std::string_view msg, Fields fields) const {
  if (!enabled(level)) return;
  write(level, msg, fields, std::nullopt);
}

RateLimitedLog::RateLimitedLog(const Logger& logger, std::uint32_t burst,
                               std::chrono::nanoseconds period)
    : logger_(logger), burst_(burst), period_(period) {}

bool RateLimitedLog::log(Level level, std::string_view msg, Fields fields) {
  if (!logger_.enabled(level)) return false;
  std::optional<std::uint64_t> suppressed;
  {
    std::lock_guard lock(mutex_);
    const auto now = logger_.clock().monotonic_now();
    if (written_in_window_ == 0 || now - window_start_ >= period_) {
      window_start_ = now;
      written_in_window_ = 0;
    }
    if (written_in_window_ >= burst_) {
      ++suppressed_;
      return false;
    }
    ++written_in_window_;
    if (suppressed_ > 0) suppressed = std::exchange(suppressed_, 0);
  }
  logger_.write(level, msg, fields, suppressed);
  return true;
}

}  // namespace iw::log
