#include "bench_kafka.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

namespace iw::bench {

std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng() % 1'000'000'000);
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "%s: %s\n", key, errstr);
    std::exit(1);
  }
}

void create_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30'000);
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
}

void count_failures(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<std::size_t*>(opaque);
}

rd_kafka_conf_t* service_producer_conf(const std::string& bootstrap, std::size_t* failures) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "enable.idempotence", "true");
  set(conf, "acks", "all");
  set(conf, "linger.ms", "5");
  set(conf, "compression.type", "lz4");
  rd_kafka_conf_set_dr_msg_cb(conf, count_failures);
  rd_kafka_conf_set_opaque(conf, failures);
  return conf;
}

rd_kafka_t* subscribed_consumer(
    const std::string& bootstrap, const std::string& topic, const std::string& group_prefix,
    bool commit_manually, std::initializer_list<std::pair<const char*, const char*>> properties) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", group_prefix + random_suffix());
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.auto.commit", commit_manually ? "false" : "true");
  set(conf, "isolation.level", "read_committed");
  for (const auto& [name, value] : properties) set(conf, name, value);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "consumer: %s\n", errstr);
    std::exit(1);
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  return rk;
}

void commit_transaction(rd_kafka_t* producer, rd_kafka_t* consumer) {
  rd_kafka_topic_partition_list_t* positions = nullptr;
  rd_kafka_assignment(consumer, &positions);
  rd_kafka_position(consumer, positions);
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer);
  rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(producer, positions, group, -1);
  if (error == nullptr) error = rd_kafka_commit_transaction(producer, -1);
  if (error != nullptr) {
    std::fprintf(stderr, "transaction: %s\n", rd_kafka_error_string(error));
    std::exit(1);
  }
  rd_kafka_consumer_group_metadata_destroy(group);
  rd_kafka_topic_partition_list_destroy(positions);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double median_rate(const std::vector<Throughput>& rounds) {
  std::vector<double> values;
  for (const Throughput& t : rounds) values.push_back(t.rate);
  return median(values);
}

double median_cpu(const std::vector<Throughput>& rounds) {
  std::vector<double> values;
  for (const Throughput& t : rounds) values.push_back(t.cpu_per_million);
  return median(values);
}

double cpu_seconds(const rusage& usage) {
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double self_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return cpu_seconds(usage);
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::size_t name_end = text.rfind(')');
  if (name_end == std::string::npos) return 0;
  // After the command name (in parentheses, and it may hold anything): the state is the 3rd
  // field, utime the 14th, stime the 15th.
  std::istringstream fields(text.substr(name_end + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

BenchArgs parse_bench_args(int argc, char** argv, const char* binary_name,
                           std::size_t default_records) {
  BenchArgs args;
  if (argc >= 3) {
    args.bootstrap = argv[1];
    args.binary = argv[2];
    args.records = argc > 3 ? std::stoul(argv[3]) : default_records;
    args.rounds = argc > 4 ? std::stoi(argv[4]) : 3;
  }
  if (argc < 3 || args.records < 2 || args.rounds < 1) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP %s [RECORDS >= 2] [ROUNDS >= 1]\n", argv[0],
                 binary_name);
    std::exit(2);
  }
  return args;
}

std::uint16_t http_port_from_log(const std::string& log) {
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  constexpr std::string_view kField = "\"http_port\":";
  const std::size_t at = s.find(kField);
  std::uint16_t port = 0;
  if (at != std::string::npos) {
    const char* begin = s.data() + at + kField.size();
    std::from_chars(begin, s.data() + s.size(), port);
  }
  return port;
}

std::string http_get_metrics(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    const std::string_view request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t n = 0;
      while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
        answer.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  return answer;
}

double scrape_sum(std::uint16_t port, std::initializer_list<std::string_view> names) {
  const std::string text = http_get_metrics(port);
  double sum = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + at, end - at);
    at = end + 1;
    for (std::string_view name : names) {
      if (line.size() > name.size() && line.starts_with(name) &&
          (line[name.size()] == '{' || line[name.size()] == ' ')) {
        sum += std::strtod(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr);
      }
    }
  }
  return sum;
}

}  // namespace iw::bench
