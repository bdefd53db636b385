#include "iw/testing/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace iw::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> lines_with(std::string_view text, std::string_view needle) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::string_view line = text.substr(0, text.find('\n'));
    if (line.find(needle) != std::string_view::npos) out.emplace_back(line);
    text.remove_prefix(std::min(text.size(), line.size() + 1));
  }
  return out;
}

ChildProcess::ChildProcess(const fs::path& dir, std::vector<std::string> argv_strings,
                           std::vector<std::string> extra_env) {
  static int counter = 0;
  const std::string stem = std::to_string(getpid()) + "-" + std::to_string(++counter);
  out_ = dir / (stem + ".stdout");
  err_ = dir / (stem + ".stderr");
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("IW_")) continue;
    env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
  if (rc != 0) pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

namespace {

// The process's VmHWM (its own peak resident set) while it runs; nullopt once it has exited.
std::optional<std::uint64_t> high_water_rss(pid_t pid) {
  const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("VmHWM:");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(status.substr(at + 6)) * 1024;  // kB
}

}  // namespace

int ChildProcess::wait(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::optional<std::uint64_t> high_water;
  while (!exit_code_) {
    if (const auto rss = high_water_rss(pid_)) high_water = std::max(high_water.value_or(0), *rss);
    int status = 0;
    rusage usage{};
    const pid_t done = wait4(pid_, &status, WNOHANG, &usage);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // ru_maxrss also counts the address space shared with this process before exec.
      peak_rss_ = high_water ? *high_water
                             : static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux: kB
    } else if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      ADD_FAILURE() << "process " << pid_ << " did not stop within the limit";
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  return *exit_code_;
}

std::optional<std::uint16_t> ChildProcess::wait_for_port(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = out();
    const auto at = text.find("\"http_port\":");
    if (at != std::string::npos) return static_cast<std::uint16_t>(std::stoi(text.substr(at + 12)));
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

bool ChildProcess::wait_for_output(const std::string& text, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (out().find(text) != std::string::npos) return true;
    // Exited (without reaping it, so wait() still gets its status): no more output coming.
    siginfo_t info{};
    if (pid_ <= 0 || exit_code_ ||
        (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid != 0)) {
      return out().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void ChildProcess::signal(int signo) {
  if (pid_ > 0 && !exit_code_) kill(pid_, signo);
}

std::string ChildProcess::out() const { return read_file(out_); }
std::string ChildProcess::err() const { return read_file(err_); }

TempDir::TempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("iw-" + std::string(info != nullptr ? info->name() : "test") + "-" +
           std::to_string(getpid()) + "-" + std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path TempDir::write(const std::string& name, std::string_view content) const {
  const fs::path file = path_ / name;
  std::ofstream(file, std::ios::binary) << content;
  return file;
}

ConfigRun start_with_config(const std::string& binary, std::string_view yaml,
                            std::vector<std::string> args, std::vector<std::string> extra_env) {
  const TempDir dir;
  ConfigRun run{.file = dir.write("config.yaml", yaml).string()};
  args.insert(args.begin(), {binary, "--config", run.file});
  extra_env.emplace_back("IW_HTTP_LISTEN=127.0.0.1:0");
  ChildProcess process(dir.path(), std::move(args), std::move(extra_env));
  run.status = process.wait();
  run.out = process.out();
  run.err = process.err();
  return run;
}

ConfigRun check_config(const std::string& binary, std::string_view yaml,
                       std::vector<std::string> args, std::vector<std::string> extra_env) {
  args.insert(args.begin(), "--check-config");
  return start_with_config(binary, yaml, std::move(args), std::move(extra_env));
}

}  // namespace iw::testing
