#include "iw/testing/kafka_cluster.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
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

// The ports of the listeners of the broker kafka-local runs in `dir`, from the last
// "listeners=NAME://host:port,..." line of its server.properties (client and controller).
std::vector<std::uint16_t> listener_ports(const std::string& dir) {
  std::ifstream in(dir + "/server.properties");
  std::string line;
  std::string listeners;
  while (std::getline(in, line)) {
    if (line.starts_with("listeners=")) {
      listeners = line.substr(std::string_view("listeners=").size());
    }
  }
  std::vector<std::uint16_t> ports;
  std::string_view rest = listeners;
  while (!rest.empty()) {
    const std::string_view listener = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), listener.size() + 1));
    const std::size_t colon = listener.rfind(':');
    if (colon == std::string_view::npos) continue;
    std::uint16_t port = 0;
    const char* end = listener.data() + listener.size();
    const auto parsed = std::from_chars(listener.data() + colon + 1, end, port);
    if (parsed.ec == std::errc() && port != 0) ports.push_back(port);
  }
  return ports;
}

// The local port of a listening TCP socket (IPv4 or IPv6), 0 for any other descriptor.
std::uint16_t listening_port(int fd) {
  int listening = 0;
  socklen_t length = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
    return 0;
  }
  sockaddr_storage address{};
  length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return 0;
}

// Copies into this process the sockets process `pid` listens on at `ports` (pidfd_getfd(), which
// needs ptrace rights over it); none when it cannot. Its other descriptors are not kept.
std::vector<int> take_listening_sockets(pid_t pid, const std::vector<std::uint16_t>& ports) {
  // Through syscall(): Debian 12's <sys/pidfd.h> declares its functions without extern "C".
  std::vector<int> taken;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return taken;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    std::error_code ignored;
    if (!std::filesystem::read_symlink(entry.path(), ignored).string().starts_with("socket:")) {
      continue;
    }
    int target = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), target).ec != std::errc()) continue;
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, target, 0));
    if (fd < 0) continue;
    if (std::ranges::find(ports, listening_port(fd)) != ports.end()) {
      taken.push_back(fd);
    } else {
      close(fd);  // a connection of the broker's must end with it
    }
  }
  close(pidfd);
  return taken;
}

// A socket bound to 127.0.0.1:`port` and not listening, so connections are refused; -1 when the
// port cannot be bound. SO_REUSEADDR, as the broker's own, lets the restarted broker bind and
// listen beside it, while binds without it, and any bind to port 0, never get the port.
int bind_not_listening(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

base::Status create_topics(const kafka::ClientOptions& client,
                           const std::vector<kafka::TopicSpec>& topics) {
  auto admin = kafka::make_admin(client);
  if (!admin) return std::unexpected(admin.error());
  return (*admin)->create_topics(topics, std::chrono::seconds{30});
}

base::Status fence(const kafka::ClientOptions& client, const std::string& transactional_id) {
  CountingDeliveries deliveries;
  auto producer =
      kafka::make_producer({.client = client, .transactional_id = transactional_id}, deliveries);
  if (!producer) return std::unexpected(producer.error());
  return (*producer)->init_transactions(std::chrono::seconds{60});
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

namespace {

// Says, when a read comes up short, whether the broker holds the missing records (end offsets
// above the reader's position: the reader stalled) or not (they were never written), and which
// errors the reader saw, so that a failure in CI can be told apart without a rerun.
void describe_short_read(kafka::Consumer& consumer, const std::string& topic, std::size_t got,
                         std::size_t expected, std::size_t errors, const std::string& last_error) {
  std::string text = "read_topic(" + topic + "): " + std::to_string(got) + " of " +
                     std::to_string(expected) + " records; " + std::to_string(errors) +
                     " consumer errors" + (errors > 0 ? " (last: " + last_error + ")" : "");
  const std::vector<kafka::TopicPartition> assigned = consumer.assignment();
  const auto positions = consumer.positions_of(assigned);
  const auto marks = consumer.watermarks(assigned, std::chrono::seconds{5});
  for (std::size_t i = 0; i < assigned.size(); ++i) {
    text += "; partition " + std::to_string(assigned[i].partition) + ": position " +
            (positions[i] ? std::to_string(*positions[i]) : std::string("none"));
    if (marks) {
      text +=
          ", offsets " + std::to_string((*marks)[i].low) + ".." + std::to_string((*marks)[i].high);
    }
  }
  if (assigned.empty()) text += "; no partition assigned";
  if (!marks) text += "; end offsets unknown: " + marks.error().to_string();
  std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace

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
  std::size_t errors = 0;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= expected && std::chrono::steady_clock::now() - last_arrival > quiet) break;
    auto polled = (*consumer)->poll(std::chrono::milliseconds{100});
    if (!polled) {
      ++errors;
      last_error = polled.error().to_string();
      continue;
    }
    if (!*polled) continue;
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
  if (out.size() < expected)
    describe_short_read(**consumer, topic, out.size(), expected, errors, last_error);
  (*consumer)->close();
  return out;
}

OwnBroker::OwnBroker(const std::vector<std::string>& properties) {
  dir_ = (std::filesystem::temp_directory_path() / random_name("iw-broker")).string();
  std::string props;
  for (const std::string& property : properties) props += " --prop '" + property + "'";
  bootstrap_ = run_and_capture(std::string(IW_KAFKA_LOCAL) + " start --dir '" + dir_ +
                               "' --owner-pid " + std::to_string(getpid()) + " --ttl 900" + props);
  EXPECT_FALSE(bootstrap_.empty()) << "could not start a broker in " << dir_;
}

OwnBroker::~OwnBroker() {
  (void)run_and_capture(std::string(IW_KAFKA_LOCAL) + " stop --dir '" + dir_ + "' 2>/dev/null");
  release_ports();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void OwnBroker::crash() {
  release_ports();
  const std::vector<std::uint16_t> ports = listener_ports(dir_);
  // The broker's listening sockets, taken before the kill: they outlive it, so the ports are
  // never free. kafka-local writes the broker's pid to DIR/kafka.pid.
  pid_t pid = 0;
  {
    std::ifstream in(dir_ + "/kafka.pid");
    in >> pid;
  }
  if (pid > 0) held_ports_ = take_listening_sockets(pid, ports);
  (void)run_and_capture(std::string(IW_KAFKA_LOCAL) + " crash --dir '" + dir_ + "' 2>/dev/null");
  std::vector<std::uint16_t> held;
  for (const int fd : held_ports_) {
    held.push_back(listening_port(fd));
    // No longer listening, still bound (the broker bound these ports by number): connections
    // are refused, as by a crashed broker, and those queued meanwhile are reset.
    (void)shutdown(fd, SHUT_RD);
  }
  for (const std::uint16_t port : ports) {
    if (std::ranges::find(held, port) != held.end()) continue;
    if (const int fd = bind_not_listening(port); fd >= 0) held_ports_.push_back(fd);
  }
}

void OwnBroker::restart() {
  const std::string address =
      run_and_capture(std::string(IW_KAFKA_LOCAL) + " restart --dir '" + dir_ + "' --owner-pid " +
                      std::to_string(getpid()) + " --ttl 900");
  EXPECT_EQ(address, bootstrap_);
  release_ports();
}

void OwnBroker::release_ports() {
  for (const int fd : held_ports_) close(fd);
  held_ports_.clear();
}

}  // namespace iw::testing
