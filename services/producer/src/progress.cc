#include "progress.h"

#include <cstdarg>
#include <cstdio>

namespace iw::producer {
namespace {

using std::chrono::duration;

double seconds(std::chrono::nanoseconds d) { return duration<double>(d).count(); }

double rate(std::uint64_t count, std::chrono::nanoseconds elapsed) {
  const double s = seconds(elapsed);
  return s > 0 ? static_cast<double>(count) / s : 0.0;
}

// printf into a std::string; the attribute keeps -Wformat checking the arguments.
__attribute__((format(printf, 2, 3))) void append_line(std::string& out, const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  out += line;
  out += '\n';
}

std::string with_thousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

}  // namespace

ProgressReporter::ProgressReporter(const log::Logger& logger,
                                   std::chrono::milliseconds log_interval, bool terminal)
    : logger_(logger), log_interval_(log_interval), terminal_(terminal) {}

void ProgressReporter::update(const RunTotals& totals, base::MonotonicTime now) {
  // A terminal gets a lively bar; logs get a line only now and then.
  const auto interval = terminal_ ? std::chrono::milliseconds{200} : log_interval_;
  if (last_ && now - *last_ < interval) return;
  const bool first = !last_.has_value();
  last_ = now;
  if (first && !terminal_) return;  // nothing worth a line yet
  const double per_second = rate(totals.read, totals.elapsed);
  if (terminal_) {
    constexpr int kWidth = 28;
    double fraction = 0;
    if (totals.input_size && *totals.input_size > 0) {
      fraction = static_cast<double>(totals.bytes_read) / static_cast<double>(*totals.input_size);
    }
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %3.0f%%  %s read  %s sent  %s invalid  %.0f rec/s   ", bar.c_str(),
                 fraction * 100, with_thousands(totals.read).c_str(),
                 with_thousands(totals.sent).c_str(), with_thousands(totals.invalid).c_str(),
                 per_second);
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  logger_.info("progress", {{"read", totals.read},
                            {"sent", totals.sent},
                            {"invalid", totals.invalid},
                            {"failed", totals.failed},
                            {"in_flight", totals.in_flight},
                            {"bytes_read", totals.bytes_read},
                            {"records_per_second", per_second}});
}

void ProgressReporter::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r%*s\r", 100, "");
  std::fflush(stderr);
  drawn_ = false;
}

std::string format_summary(const RunTotals& totals, const std::string& input,
                           const std::string& topic, const std::string& dlq_topic, bool dry_run,
                           bool interrupted) {
  std::string out;
  append_line(out, "ingest-producer: %s in %.1f s%s", dry_run ? "checked" : "done",
              seconds(totals.elapsed), interrupted ? " (stopped early on request)" : "");
  append_line(out, "  read     %12s records (%.1f MB) from %s", with_thousands(totals.read).c_str(),
              static_cast<double>(totals.bytes_read) / 1e6, input.c_str());
  if (totals.passes > 1)
    append_line(out, "           %12s passes over the input",
                with_thousands(totals.passes).c_str());
  if (dry_run) {
    append_line(out, "  valid    %12s", with_thousands(totals.read - totals.invalid).c_str());
  } else {
    append_line(out, "  sent     %12s to %s (%.0f records/s)", with_thousands(totals.sent).c_str(),
                topic.c_str(), rate(totals.sent, totals.elapsed));
  }
  append_line(out, "  invalid  %12s (dead-lettered to %s: %s)",
              with_thousands(totals.invalid).c_str(), dlq_topic.c_str(),
              with_thousands(totals.dead_lettered).c_str());
  if (!dry_run) {
    append_line(out, "  failed   %12s not delivered%s", with_thousands(totals.failed).c_str(),
                totals.possibly_persisted > 0
                    ? (" (" + with_thousands(totals.possibly_persisted) +
                       " of them timed out in flight and may be in the topic)")
                          .c_str()
                    : "");
  }
  return out;
}

void log_summary(const log::Logger& logger, const RunTotals& totals, std::string_view execution_id,
                 bool dry_run, bool interrupted) {
  logger.info("summary", {{"read", totals.read},
                          {"sent", totals.sent},
                          {"invalid", totals.invalid},
                          {"dead_lettered", totals.dead_lettered},
                          {"failed", totals.failed},
                          {"possibly_persisted", totals.possibly_persisted},
                          {"passes", totals.passes},
                          {"seconds", seconds(totals.elapsed)},
                          {"records_per_second", rate(totals.read, totals.elapsed)},
                          {"execution_id", execution_id},
                          {"dry_run", dry_run},
                          {"interrupted", interrupted}});
}

}  // namespace iw::producer
