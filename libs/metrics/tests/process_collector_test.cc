#include "iw/metrics/process_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "prometheus/metric_type.h"

namespace iw::metrics {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// A fake /proc/<pid> and /proc/stat, so parsing is checked against exact, known values.
class FakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(::testing::TempDir()) /
            (std::string("iw_proc_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "pid" / "fd");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const fs::path& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }

  // Values by metric name; each family has exactly one sample.
  std::map<std::string, double> collect() {
    const ProcessCollector collector(root_ / "pid", root_ / "stat");
    std::map<std::string, double> out;
    for (const auto& family : collector.Collect()) {
      EXPECT_EQ(family.metric.size(), 1u) << family.name;
      EXPECT_FALSE(family.help.empty()) << family.name;
      const auto& metric = family.metric.at(0);
      out[family.name] = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                        : metric.gauge.value;
    }
    return out;
  }

  fs::path root_;
};

// Field 2 of the real file is the command name in parentheses; it may contain spaces and ')'.
constexpr const char* kStat =
    "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 "
    "250 150 0 0 20 0 7 0 "  // utime=250 stime=150 ... num_threads=7 itrealvalue=0
    "360000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";

TEST_F(FakeProcTest, ReadsEveryValue) {
  write("pid/stat", kStat);
  write("pid/limits",
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max cpu time              unlimited            unlimited            seconds   \n"
        "Max open files            1024                 524288               files     \n"
        "Max locked memory         8388608              8388608              bytes     \n");
  write("stat", "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1700000000\nprocesses 7\n");
  for (const char* fd : {"0", "1", "2", "5"}) write(fs::path("pid/fd") / fd, "");

  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::map<std::string, double> values = collect();
  EXPECT_DOUBLE_EQ(values.at("process_cpu_seconds_total"), 400 / ticks);
  EXPECT_DOUBLE_EQ(values.at("process_threads"), 7);
  EXPECT_DOUBLE_EQ(values.at("process_start_time_seconds"), 1700000000 + 360000 / ticks);
  EXPECT_DOUBLE_EQ(values.at("process_virtual_memory_bytes"), 104857600);
  EXPECT_DOUBLE_EQ(values.at("process_resident_memory_bytes"), 2560 * page);
  EXPECT_DOUBLE_EQ(values.at("process_max_fds"), 1024);
  EXPECT_DOUBLE_EQ(values.at("process_open_fds"), 4);
  EXPECT_EQ(values.size(), 7u);
}

TEST_F(FakeProcTest, MissingFilesLeaveTheirMetricsOut) {
  fs::remove_all(root_ / "pid");
  EXPECT_THAT(collect(), IsEmpty());
}

TEST_F(FakeProcTest, MalformedStatLeavesOnlyWhatCouldBeRead) {
  write("pid/stat", "4242 (truncated) S 1 2 3\n");
  write("pid/limits",
        "Max open files            4096                 4096                 files\n");
  write("stat", "btime 1700000000\n");
  write("pid/fd/0", "");
  const std::map<std::string, double> values = collect();
  std::vector<std::string> names;
  for (const auto& [name, value] : values) names.push_back(name);
  EXPECT_THAT(names, UnorderedElementsAre("process_open_fds", "process_max_fds"));
}

TEST(ProcessCollectorTest, ReadsTheRealProcess) {
  const ProcessCollector collector;
  std::map<std::string, prometheus::MetricType> types;
  for (const auto& family : collector.Collect()) types[family.name] = family.type;
  using prometheus::MetricType;
  EXPECT_EQ(types, (std::map<std::string, MetricType>{
                       {"process_cpu_seconds_total", MetricType::Counter},
                       {"process_max_fds", MetricType::Gauge},
                       {"process_open_fds", MetricType::Gauge},
                       {"process_resident_memory_bytes", MetricType::Gauge},
                       {"process_start_time_seconds", MetricType::Gauge},
                       {"process_threads", MetricType::Gauge},
                       {"process_virtual_memory_bytes", MetricType::Gauge},
                   }));
}

}  // namespace
}  // namespace iw::metrics
