#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iw::testing {

/// A program run by a test: stdout and stderr go to files in `dir`, the environment is the
/// test's own minus every IW_* variable (so tests stay hermetic) plus `extra_env`. Killed in the
/// destructor if still running, so a failing test never leaves it behind.
class ChildProcess {
 public:
  ChildProcess(const std::filesystem::path& dir, std::vector<std::string> argv,
               std::vector<std::string> extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Waits for the exit (SIGKILL after `limit`, reported as a test failure); returns the exit
  /// status, or 128 + signal.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds{60});
  /// The HTTP port from the service's "started" log line, once it appears.
  std::optional<std::uint16_t> wait_for_port(std::chrono::milliseconds limit = std::chrono::seconds{
                                                 20});
  /// Waits until stdout contains `text`; false after `limit` or if the process exited first.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds limit = std::chrono::seconds{30});

  void signal(int signo);
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  /// Peak resident set size in bytes, known once the process was waited for: its VmHWM as last
  /// read by wait() before the exit (every 10 ms), so the process's own memory only. (The
  /// kernel's ru_maxrss, the fallback when no reading was possible, also counts this test's
  /// address space, which the child shared until it exec'd.)
  [[nodiscard]] std::optional<std::uint64_t> peak_rss_bytes() const { return peak_rss_; }

 private:
  std::filesystem::path out_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::optional<std::uint64_t> peak_rss_;
};

/// The lines of `text` (a process's output) that contain `needle`, in order.
[[nodiscard]] std::vector<std::string> lines_with(std::string_view text, std::string_view needle);

/// The whole content of a file ("" when unreadable).
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

/// A fresh directory under the system temp dir, named after the running test; removed by the
/// destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

/// What `BINARY --config FILE ARGS...` did, FILE holding the YAML given.
struct ConfigRun {
  int status = -1;
  std::string out;   ///< stdout: the effective configuration (YAML) of a passing --check-config
  std::string err;   ///< stderr: one problem a line and their count, or "configuration OK"
  std::string file;  ///< FILE, as the problems name it
};

/// Runs a service with `yaml` (written to a file in a fresh directory, where the process also
/// runs) as its configuration, `args` and `extra_env` plus IW_HTTP_LISTEN=127.0.0.1:0; the
/// environment is otherwise the test's minus every IW_* variable, as for ChildProcess. For
/// configurations the service refuses: one it accepts runs until wait()'s limit.
[[nodiscard]] ConfigRun start_with_config(const std::string& binary, std::string_view yaml,
                                          std::vector<std::string> args = {},
                                          std::vector<std::string> extra_env = {});

/// start_with_config() with --check-config.
[[nodiscard]] ConfigRun check_config(const std::string& binary, std::string_view yaml,
                                     std::vector<std::string> args = {},
                                     std::vector<std::string> extra_env = {});

}  // namespace iw::testing
