#include "iw/testing/kafka_cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "iw/kafka/consumer.h"
#include "iw/log/logger.h"

namespace iw::testing {

namespace {

// Runs a command and returns the last line it printed on stdout ("" on failure).
std::string run_and_capture(const std::string& command) {
  std::string last;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return last;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    last = line;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
  }
  if (pclose(pipe) != 0) return {};
  return last;
}

}  // namespace

base::Status create_topics(const kafka::ClientOptions& client,
                           const std::vector<kafka::TopicSpec>& topics) {
  auto admin = kafka::make_admin(client);
  if (!admin) return std::unexpected(admin.error());
  return (*admin)->create_topics(topics, std::chrono::seconds{30});
}

std::string fixture_bootstrap_servers() {
  const char* file = std::getenv("IW_TEST_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr) return {};
  std::ifstream in(file);
  std::string address;
  std::getline(in, address);
  return address;
}

std::string random_name(std::string_view prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(prefix) + "-" + suffix;
}

std::vector<ConsumedRecord> read_topic(const std::string& bootstrap, const std::string& topic,
                                       std::size_t expected, std::chrono::milliseconds limit,
                                       std::chrono::milliseconds quiet) {
  static log::MemorySink sink;
  static const log::Logger logger("test-reader", sink);
  kafka::ConsumerOptions options;
  options.client.bootstrap_servers = bootstrap;
  options.client.logger = &logger;
  options.group_id = random_name("reader");
  options.commit_mode = kafka::CommitMode::kManual;
  auto consumer = kafka::make_consumer(options);
  std::vector<ConsumedRecord> out;
  if (!consumer) {
    ADD_FAILURE() << consumer.error().to_string();
    return out;
  }
  EXPECT_TRUE((*consumer)->subscribe({topic}).has_value());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto last_arrival = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= expected && std::chrono::steady_clock::now() - last_arrival > quiet) break;
    auto polled = (*consumer)->poll(std::chrono::milliseconds{100});
    if (!polled || !*polled) continue;
    const kafka::Record& r = **polled;
    ConsumedRecord item{std::string(r.topic()), r.partition(),          r.offset(),
                        std::nullopt,           std::string(r.value()), {}};
    if (r.key()) item.key = std::string(*r.key());
    for (std::size_t i = 0; i < r.header_count(); ++i) {
      item.headers[std::string(r.header_at(i).key)] = std::string(r.header_at(i).value);
    }
    out.push_back(std::move(item));
    last_arrival = std::chrono::steady_clock::now();
  }
  (*consumer)->close();
  return out;
}

OwnBroker::OwnBroker() {
  dir_ = (std::filesystem::temp_directory_path() / random_name("iw-broker")).string();
  bootstrap_ = run_and_capture(std::string(IW_KAFKA_LOCAL) + " start --dir '" + dir_ +
                               "' --owner-pid " + std::to_string(getpid()) + " --ttl 900");
  EXPECT_FALSE(bootstrap_.empty()) << "could not start a broker in " << dir_;
}

OwnBroker::~OwnBroker() {
  (void)run_and_capture(std::string(IW_KAFKA_LOCAL) + " stop --dir '" + dir_ + "' 2>/dev/null");
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void OwnBroker::crash() {
  (void)run_and_capture(std::string(IW_KAFKA_LOCAL) + " crash --dir '" + dir_ + "' 2>/dev/null");
}

void OwnBroker::restart() {
  const std::string address =
      run_and_capture(std::string(IW_KAFKA_LOCAL) + " restart --dir '" + dir_ + "' --owner-pid " +
                      std::to_string(getpid()) + " --ttl 900");
  EXPECT_EQ(address, bootstrap_);
}

}  // namespace iw::testing
