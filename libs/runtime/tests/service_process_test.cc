// Drives iw_demo_service, a service built on the runtime like the real ones, as a process.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "iw/testing/http_get.h"

extern char** environ;

namespace iw::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

constexpr std::string_view kSecret = "s3cr3t-t0ken-never-printed";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class DemoProcess {
 public:
  DemoProcess(const fs::path& dir, std::vector<std::string> args,
              std::vector<std::string> extra_env = {})
      : out_(dir / "stdout"), err_(dir / "stderr") {
    std::vector<std::string> argv_strings = {IW_DEMO_SERVICE_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("IW_")) continue;  // keep the test hermetic
      env_strings.emplace_back(*e);
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
  }

  ~DemoProcess() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for the process to end (killing it after `limit`); returns its exit code.
  int wait(std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exit_code_) {
      int status = 0;
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        ADD_FAILURE() << "process did not stop within the limit";
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    return *exit_code_;
  }

  // The HTTP port from the "started" log line, once it appears.
  std::optional<std::uint16_t> wait_for_port(std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string out = read_file(out_);
      const auto at = out.find("\"http_port\":");
      if (at != std::string::npos) {
        return static_cast<std::uint16_t>(std::stoi(out.substr(at + 12)));
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  void signal(int signo) { kill(pid_, signo); }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  fs::path out_;
  fs::path err_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

class ServiceProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("iw-runtime-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    secret_file_ = dir_ / "token";
    std::ofstream(secret_file_) << kSecret << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_config(std::string_view name, std::string_view yaml) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << yaml;
    return path;
  }

  std::string good_config() {
    return "log:\n  level: info\nhttp:\n  listen: 127.0.0.1:0\n"
           "demo:\n  greeting: bonjour\n  token_file: " +
           secret_file_.string() +
           "\nkafka:\n  properties:\n    linger.ms: 5\n    sasl.password_file: " +
           secret_file_.string() + "\n";
  }

  fs::path dir_;
  fs::path secret_file_;
};

TEST_F(ServiceProcessTest, HelpListsEveryKeyWithoutSecrets) {
  DemoProcess p(dir_ / "", {"--help"}, {"IW_DEMO_TOKEN=" + std::string(kSecret)});
  ASSERT_EQ(p.wait(), 0);
  const std::string out = p.out();
  for (const char* key :
       {"--config", "--check-config", "log.level", "http.listen", "kafka.bootstrap_servers",
        "kafka.properties", "demo.greeting", "demo.token", "IW_DEMO_GREETING"}) {
    EXPECT_THAT(out, HasSubstr(key));
  }
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, VersionNamesTheBinary) {
  DemoProcess p(dir_, {"--version"});
  ASSERT_EQ(p.wait(), 0);
  EXPECT_THAT(p.out(), ::testing::StartsWith("iw-demo-service 0."));
}

TEST_F(ServiceProcessTest, UnknownOptionIsAUsageError) {
  DemoProcess p(dir_, {"--frobnicate"});
  EXPECT_EQ(p.wait(), 2);
  EXPECT_THAT(p.err(), HasSubstr("unknown option --frobnicate"));
}

TEST_F(ServiceProcessTest, EveryConfigProblemIsReportedWithFileLineColumnAndKey) {
  const fs::path config = write_config("bad.yaml",
                                       "http:\n"
                                       "  listen: 127.0.0.1:0\n"
                                       "  lisen: 1\n"
                                       "demo:\n"
                                       "  interval: soon\n"
                                       "  token_file: " +
                                           secret_file_.string() +
                                           "\n"
                                           "kafka:\n"
                                           "  properties:\n"
                                           "    linger.ms: soon\n"
                                           "    enable.auto.commit: true\n");
  DemoProcess p(dir_, {"--config", config.string()});
  EXPECT_EQ(p.wait(), 2);
  const std::string err = p.err();
  const std::string file = config.string();
  EXPECT_THAT(err, HasSubstr(file + ":3:3: http.lisen: unknown key, did you mean 'http.listen'?"));
  EXPECT_THAT(err, HasSubstr(file + ":5:13: demo.interval: "));
  // A missing key points at the mapping that should hold it.
  EXPECT_THAT(err, HasSubstr(file + ":5:3: demo.greeting: required key missing"));
  EXPECT_THAT(err, HasSubstr(file + ":9:5: kafka.properties.linger.ms: "));
  EXPECT_THAT(err, HasSubstr(file + ":10:5: kafka.properties.enable.auto.commit: managed by"));
  EXPECT_THAT(err, HasSubstr("5 configuration problems"));
  EXPECT_THAT(err + p.out(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, FlagsSetTheirKeysAndWinOverEnvAndFile) {
  const fs::path config = write_config("good.yaml", good_config());
  DemoProcess p(dir_, {"--config", config.string(), "--greeting=salut", "--slow", "--check-config"},
                {"IW_DEMO_GREETING=hello"});
  ASSERT_EQ(p.wait(), 0) << p.err();
  EXPECT_THAT(p.out(), HasSubstr("greeting: \"salut\"  # flag --greeting"));
  EXPECT_THAT(p.out(), HasSubstr("slow: true  # flag --slow"));

  DemoProcess bad(dir_ / "", {"--greeting"});
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_THAT(bad.err(), HasSubstr("--greeting needs a value (TEXT)"));
}

TEST_F(ServiceProcessTest, CheckConfigPrintsTheEffectiveConfigWithSecretsRedacted) {
  const fs::path config = write_config("good.yaml", good_config());
  DemoProcess p(dir_, {"--config", config.string(), "--check-config"});
  ASSERT_EQ(p.wait(), 0) << p.err();
  const std::string out = p.out();
  EXPECT_THAT(out, HasSubstr("bonjour"));
  EXPECT_THAT(out, HasSubstr("<redacted>"));
  EXPECT_THAT(p.err(), HasSubstr("configuration OK"));
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, ServesMetricsThatPromtoolAcceptsAndDrainsOnSigterm) {
  const fs::path config = write_config("good.yaml", good_config());
  DemoProcess p(dir_, {"--config", config.string()});
  const auto port = p.wait_for_port();
  ASSERT_TRUE(port.has_value()) << p.out() << p.err();

  // Ready once the service says so; alive from the start.
  std::optional<testing::HttpResponse> ready;
  for (int i = 0; i < 100 && (!ready || ready->status != 200); ++i) {
    ready = testing::http_get(*port, "/readyz");
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 200);
  auto health = testing::http_get(*port, "/healthz");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);

  auto scrape = testing::http_get(*port, "/metrics");
  ASSERT_TRUE(scrape.has_value());
  ASSERT_EQ(scrape->status, 200);
  for (const char* name : {"demo_loops_total", "demo_turn_duration_seconds_bucket",
                           "process_resident_memory_bytes", "ingestwatch_build_info{"}) {
    EXPECT_THAT(scrape->body, HasSubstr(name));
  }
  const fs::path scraped = dir_ / "scrape.txt";
  std::ofstream(scraped) << scrape->body;
  const std::string check = "promtool check metrics < '" + scraped.string() + "' > '" +
                            (dir_ / "promtool.out").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_file(dir_ / "promtool.out");

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0) << p.err();
  const std::string out = p.out();
  EXPECT_THAT(out, HasSubstr("\"msg\":\"draining\""));
  EXPECT_THAT(out, HasSubstr("\"msg\":\"stopped\",\"signal\":15"));
  EXPECT_THAT(out, HasSubstr("\"token_set\":true"));
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
  // Every stdout line is one JSON object with the fixed leading keys.
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_THAT(line, ::testing::MatchesRegex(
                          R"(\{"ts":"[0-9T:.Z-]+","level":"[a-z]+","service":"demo","msg":.*\})"));
  }
}

TEST_F(ServiceProcessTest, BusyPortIsAStartupFailure) {
  const fs::path config = write_config("good.yaml", good_config());
  DemoProcess first(dir_ / "", {"--config", config.string()});
  const auto port = first.wait_for_port();
  ASSERT_TRUE(port.has_value());
  const fs::path second_dir = dir_ / "second";
  fs::create_directories(second_dir);
  DemoProcess second(second_dir, {"--config", config.string()},
                     {"IW_HTTP_LISTEN=127.0.0.1:" + std::to_string(*port)});
  EXPECT_EQ(second.wait(), 1);
  EXPECT_THAT(second.out(), HasSubstr("cannot start http server"));
  first.signal(SIGINT);
  EXPECT_EQ(first.wait(), 0);
}

}  // namespace
}  // namespace iw::runtime
