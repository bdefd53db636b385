#include "iw/metrics/process_collector.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace iw::metrics {
namespace {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  // procfs files report size 0, so read until EOF rather than by size.
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (true) {
    pos = text.find_first_not_of(" \t\n", pos);
    if (pos == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t\n", pos), text.size());
    fields.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

// The fields of /proc/<pid>/stat we export (proc(5)).
struct ProcStat {
  unsigned long long utime_ticks = 0;
  unsigned long long stime_ticks = 0;
  long long threads = 0;
  unsigned long long start_ticks_after_boot = 0;
  unsigned long long vsize_bytes = 0;
  long long rss_pages = 0;
};

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // Field 2 is the command name in parentheses and may itself hold spaces and ')', so count
  // fields from the last ')'.
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  const std::vector<std::string_view> fields = split_whitespace(text.substr(close + 1));
  // fields[0] is field 3 (state); proc(5) numbers fields from 1.
  constexpr std::size_t kLastField = 24;  // rss
  if (fields.size() < kLastField - 2) return std::nullopt;
  auto field = [&](std::size_t number) { return fields[number - 3]; };
  const auto utime = parse_number<unsigned long long>(field(14));
  const auto stime = parse_number<unsigned long long>(field(15));
  const auto threads = parse_number<long long>(field(20));
  const auto start = parse_number<unsigned long long>(field(22));
  const auto vsize = parse_number<unsigned long long>(field(23));
  const auto rss = parse_number<long long>(field(24));
  if (!utime || !stime || !threads || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{.utime_ticks = *utime,
                  .stime_ticks = *stime,
                  .threads = *threads,
                  .start_ticks_after_boot = *start,
                  .vsize_bytes = *vsize,
                  .rss_pages = *rss};
}

// The soft limit from the "Max open files" row of /proc/<pid>/limits.
std::optional<double> parse_max_open_files(std::string_view limits) {
  constexpr std::string_view kRow = "Max open files";
  const std::size_t row = limits.find(kRow);
  if (row == std::string_view::npos) return std::nullopt;
  std::string_view line = limits.substr(row + kRow.size());
  line = line.substr(0, line.find('\n'));
  const std::vector<std::string_view> columns = split_whitespace(line);
  if (columns.empty()) return std::nullopt;
  // "unlimited" cannot occur for open files on Linux; treat it, like any surprise, as unknown.
  const auto soft = parse_number<unsigned long long>(columns[0]);
  if (!soft) return std::nullopt;
  return static_cast<double>(*soft);
}

std::optional<double> parse_boot_time(std::string_view proc_stat) {
  std::size_t pos = 0;
  while (pos < proc_stat.size()) {
    const std::size_t end = std::min(proc_stat.find('\n', pos), proc_stat.size());
    const std::vector<std::string_view> columns =
        split_whitespace(proc_stat.substr(pos, end - pos));
    if (columns.size() == 2 && columns[0] == "btime") {
      const auto seconds = parse_number<unsigned long long>(columns[1]);
      if (!seconds) return std::nullopt;
      return static_cast<double>(*seconds);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<double> count_open_fds(const std::filesystem::path& fd_dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(fd_dir, ec);
  if (ec) return std::nullopt;
  // Like other Prometheus clients, this includes the descriptor used to list the directory.
  double count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++count;
  }
  if (ec) return std::nullopt;
  return count;
}

double clock_ticks_per_second() {
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : 100.0;  // 100 is the Linux ABI value.
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{
      .name = std::move(name), .help = std::move(help), .type = type, .metric = {metric}};
}

}  // namespace

ProcessCollector::ProcessCollector() : ProcessCollector("/proc/self", "/proc/stat") {}

ProcessCollector::ProcessCollector(std::filesystem::path proc_pid,
                                   const std::filesystem::path& proc_stat)
    : proc_pid_(std::move(proc_pid)) {
  const std::optional<std::string> stat_text = read_file(proc_pid_ / "stat");
  const std::optional<std::string> boot_text = read_file(proc_stat);
  if (!stat_text || !boot_text) return;
  const std::optional<ProcStat> stat = parse_proc_stat(*stat_text);
  const std::optional<double> boot_time = parse_boot_time(*boot_text);
  if (!stat || !boot_time) return;
  start_time_seconds_ =
      *boot_time + static_cast<double>(stat->start_ticks_after_boot) / clock_ticks_per_second();
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  families.reserve(7);

  const std::optional<std::string> stat_text = read_file(proc_pid_ / "stat");
  if (const std::optional<ProcStat> stat = stat_text ? parse_proc_stat(*stat_text) : std::nullopt) {
    const double ticks = clock_ticks_per_second();
    const long page_size = sysconf(_SC_PAGESIZE);
    families.push_back(family(
        "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        MetricType::Counter, static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks));
    families.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              MetricType::Gauge,
                              static_cast<double>(stat->rss_pages) *
                                  static_cast<double>(page_size > 0 ? page_size : 4096)));
    families.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, static_cast<double>(stat->vsize_bytes)));
    families.push_back(family("process_threads", "Number of OS threads in the process.",
                              MetricType::Gauge, static_cast<double>(stat->threads)));
  }
  if (start_time_seconds_) {
    families.push_back(family("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, *start_time_seconds_));
  }
  if (const std::optional<double> open = count_open_fds(proc_pid_ / "fd")) {
    families.push_back(
        family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *open));
  }
  const std::optional<std::string> limits = read_file(proc_pid_ / "limits");
  if (const std::optional<double> max = limits ? parse_max_open_files(*limits) : std::nullopt) {
    families.push_back(family("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, *max));
  }
  return families;
}

}  // namespace iw::metrics
