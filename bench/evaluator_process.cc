// ingest-alert-evaluator's CPU per record as a process, next to a raw librdkafka read_committed
// consumer reading the same topic in the same run, reported as a ratio.
//
//   evaluator_process BOOTSTRAP EVALUATOR_BINARY [RECORDS] [ROUNDS]
//
// An input topic (3 partitions) is filled once with what the enricher writes: realistic runs
// (iw::loggen, ~500 bytes raw, one-minute cycles, the last ending 2 minutes before now, as
// bench/pipeline_bench.py sends them) through iw::events::Enricher, keyed by source, with the
// enricher's three headers, in transactions committed every 100 ms (the enricher's default).
// Each round then reads it from the beginning, interleaved:
//   - raw consume: a plain librdkafka consumer (fresh group, read_committed, auto-commit);
//   - ingest-alert-evaluator as a process, as the local stack runs it (bench/pipeline_bench.py,
//     scripts/stack): its defaults (exactly once, event-time clock, the six built-in rules),
//     tracing off (OTEL_SDK_DISABLED=true), posting to an Alertmanager (a stand-in in this
//     process that answers 200 to every request), with fresh output topics and group.
// Both are timed from their first record to their last: the raw consumer's CPU is this
// process's getrusage() over that span (it does nothing else meanwhile); the evaluator's is its
// utime + stime from /proc/<pid>/stat read when its first record is counted in its /metrics and
// when its group's committed offsets reach the end of every partition (asked of the broker every
// 20 ms; no scrape of the evaluator meanwhile). Start-up, the group join and the replay of the
// (empty) alert history count for neither. IW_BENCH_EVALUATOR_OTHER names another build of the
// evaluator to run in every round as well (before/after comparisons), with rows of its own.
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench_kafka.h"
#include "bench_records.h"
#include "iw/events/enricher.h"
#include "iw/loggen/generator.h"

namespace {

using iw::bench::create_topic;
using iw::bench::http_port_from_log;
using iw::bench::random_suffix;
using iw::bench::scrape_sum;
using iw::bench::set;
using iw::bench::Throughput;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The offset after the last record of each partition, from the fill's delivery reports.
using Ends = std::map<std::int32_t, std::int64_t>;

void note_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* ends = static_cast<Ends*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "fill: %s\n", rd_kafka_err2str(m->err));
    std::exit(1);
  }
  std::int64_t& end = (*ends)[m->partition];
  end = std::max(end, m->offset + 1);
}

void check(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  std::fprintf(stderr, "%s: %s\n", what, rd_kafka_error_string(error));
  std::exit(1);
}

// Fills `topic` with `count` enriched records as the enricher writes them; returns the ends.
Ends fill(const std::string& bootstrap, const std::string& topic, std::size_t count) {
  Ends ends;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "linger.ms", "5");
  set(conf, "compression.codec", "lz4");
  set(conf, "transactional.id", "bench-fill-" + random_suffix());
  rd_kafka_conf_set_dr_msg_cb(conf, note_delivery);
  rd_kafka_conf_set_opaque(conf, &ends);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "fill: %s\n", errstr);
    std::exit(1);
  }
  check(rd_kafka_init_transactions(rk, 60'000), "init_transactions");
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);

  // The runs pipeline_baseline gen writes for bench/pipeline_bench.py.
  iw::loggen::Generator generator(iw::bench::recent_minute_cycles(count));
  iw::events::Enricher enricher({});
  std::mt19937_64 ids{7};
  std::string line;
  std::string enriched;
  char traceparent[64];
  std::size_t made = 0;
  auto transaction_start = Clock::now();
  check(rd_kafka_begin_transaction(rk), "begin_transaction");
  while (generator.next(line)) {
    const auto facts = enricher.enrich(line, 0,
                                       {.topic = "ingestion-logs-raw",
                                        .partition = static_cast<std::int32_t>(made % 3),
                                        .offset = static_cast<std::int64_t>(made / 3),
                                        .processed_at = iw::base::TimePoint::clock::now()},
                                       enriched);
    if (!facts) std::exit(1);
    std::snprintf(traceparent, sizeof traceparent, "00-%016llx%016llx-%016llx-01",
                  static_cast<unsigned long long>(ids()), static_cast<unsigned long long>(ids()),
                  static_cast<unsigned long long>(ids()));
    const std::string key(facts->source);
    rd_kafka_headers_t* headers = rd_kafka_headers_new(3);
    rd_kafka_header_add(headers, "execution_id", -1, "", 0);
    rd_kafka_header_add(headers, "traceparent", -1, traceparent, -1);
    rd_kafka_header_add(headers, "content-type", -1, "application/json", -1);
    void* key_data = const_cast<char*>(key.data());
    const std::size_t key_size = key.size();
    void* value = enriched.data();
    const std::size_t value_size = enriched.size();
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value, value_size),
                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "fill: %s\n", rd_kafka_err2str(err));
      std::exit(1);
    }
    rd_kafka_poll(rk, 0);
    line.clear();
    ++made;
    if (Clock::now() - transaction_start >= 100ms) {
      check(rd_kafka_commit_transaction(rk, -1), "commit_transaction");
      check(rd_kafka_begin_transaction(rk), "begin_transaction");
      transaction_start = Clock::now();
    }
  }
  check(rd_kafka_commit_transaction(rk, -1), "commit_transaction");
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  if (made != count) {
    std::fprintf(stderr, "fill: %zu records made of %zu\n", made, count);
    std::exit(1);
  }
  return ends;
}

Throughput raw_consume(const std::string& bootstrap, const std::string& input, std::size_t count) {
  rd_kafka_t* consumer = iw::bench::subscribed_consumer(bootstrap, input, "bench-raw-", false);
  std::optional<Clock::time_point> start;
  double cpu_start = 0;
  std::size_t seen = 0;
  std::size_t bytes = 0;
  while (seen < count) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (!start) {
      start = Clock::now();
      cpu_start = iw::bench::self_cpu_seconds();
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++seen;
      bytes += m->len;  // touched, as a reader would
    }
    rd_kafka_message_destroy(m);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - *start).count();
  const double cpu = iw::bench::self_cpu_seconds() - cpu_start;
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (bytes == 0) std::exit(1);
  return {.rate = static_cast<double>(count) / seconds,
          .cpu_per_million = cpu * 1e6 / static_cast<double>(count)};
}

// Alertmanager's stand-in: answers 200 with an empty body to every request on every connection
// (HTTP/1.1 keep-alive, Content-Length bodies), until the process ends.
class Alertmanager {
 public:
  Alertmanager() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      std::perror("alertmanager stand-in");
      std::exit(1);
    }
    port_ = ntohs(address.sin_port);
    std::thread([this] {
      while (true) {
        const int connection = accept(listener_, nullptr, nullptr);
        if (connection < 0) return;
        std::thread(serve, connection).detach();
      }
    }).detach();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] static std::size_t requests() { return requests_.load(); }

 private:
  static void serve(int connection) {
    std::string buffer;
    char chunk[16384];
    while (true) {
      const auto head_end = buffer.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        std::smatch match;
        const std::string head = buffer.substr(0, head_end);
        static const std::regex kLength("[Cc]ontent-[Ll]ength: *([0-9]+)");
        if (std::regex_search(head, match, kLength)) length = std::stoul(match[1]);
        if (buffer.size() >= head_end + 4 + length) {
          buffer.erase(0, head_end + 4 + length);
          ++requests_;
          static constexpr std::string_view kAnswer =
              "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
          if (write(connection, kAnswer.data(), kAnswer.size()) < 0) break;
          continue;
        }
      }
      const ssize_t got = read(connection, chunk, sizeof chunk);
      if (got <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(got));
    }
    close(connection);
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  static inline std::atomic<std::size_t> requests_{0};
};

// Whether `group` has committed the end of every partition of `topic`.
bool committed_to_end(rd_kafka_t* admin, const std::string& topic, const Ends& ends) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(3);
  for (const auto& [partition, end] : ends) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  }
  bool done = rd_kafka_committed(admin, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; done && i < list->cnt; ++i) {
    done = list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
           list->elems[i].offset >= ends.at(list->elems[i].partition);
  }
  rd_kafka_topic_partition_list_destroy(list);
  return done;
}

Throughput evaluator(const std::string& bootstrap, const std::string& binary,
                     const std::string& input, const Ends& ends, std::size_t count,
                     const std::string& alertmanager_url) {
  const std::string suffix = random_suffix();
  const std::string group = "bench-evaluator-" + suffix;
  const std::string log =
      (std::filesystem::temp_directory_path() / ("iw-bench-evaluator-" + suffix)).string();
  std::vector<std::string> command = {binary,
                                      "--bootstrap-servers",
                                      bootstrap,
                                      "--input-topic",
                                      input,
                                      "--output-topic",
                                      "bench-alerts-" + suffix,
                                      "--group",
                                      group,
                                      "--transactional-id",
                                      "bench-evaluator-txn-" + suffix};
  const auto started = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    setenv("IW_HTTP_LISTEN", "127.0.0.1:0", 1);
    setenv("OTEL_SDK_DISABLED", "true", 1);
    setenv("IW_ALERT_EVALUATOR_DLQ_TOPIC", ("bench-evaluator-dlq-" + suffix).c_str(), 1);
    setenv("IW_ALERT_EVALUATOR_ALERTMANAGER_URL", alertmanager_url.c_str(), 1);
    std::vector<char*> argv;
    for (std::string& arg : command) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // A consumer handle of the evaluator's group, only to ask for its committed offsets.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", group);
  set(conf, "enable.auto.commit", "false");
  rd_kafka_t* admin = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (admin == nullptr) std::exit(1);

  std::uint16_t port = 0;
  std::optional<Clock::time_point> first;
  double cpu_first = 0;
  double seconds = 0;
  double cpu = 0;
  while (true) {
    std::this_thread::sleep_for(first ? 20ms : 10ms);
    if (Clock::now() - started > 300s || waitpid(pid, nullptr, WNOHANG) == pid) {
      std::fprintf(stderr, "ingest-alert-evaluator exited or did not finish (its stdout: %s)\n",
                   log.c_str());
      kill(pid, SIGKILL);
      std::exit(1);
    }
    if (port == 0) {
      port = http_port_from_log(log);
      continue;
    }
    if (!first) {
      if (scrape_sum(port, {"ingestwatch_records_in_total"}) > 0) {
        first = Clock::now();
        cpu_first = iw::bench::process_cpu_seconds(pid);
      }
      continue;
    }
    if (committed_to_end(admin, input, ends)) {
      seconds = std::chrono::duration<double>(Clock::now() - *first).count();
      cpu = iw::bench::process_cpu_seconds(pid) - cpu_first;
      break;
    }
  }
  const double in = scrape_sum(port, {"ingestwatch_records_in_total"});
  const double events = scrape_sum(port, {"ingestwatch_records_out_total"});
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  rd_kafka_destroy(admin);
  if (in < static_cast<double>(count)) {
    std::fprintf(stderr, "ingest-alert-evaluator counted %.0f records in of %zu (log: %s)\n", in,
                 count, log.c_str());
    std::exit(1);
  }
  std::filesystem::remove(log);
  std::fprintf(stderr, "ingest-alert-evaluator: %.0f alert events written\n", events);
  return {.rate = static_cast<double>(count) / seconds,
          .cpu_per_million = cpu * 1e6 / static_cast<double>(count)};
}

}  // namespace

int main(int argc, char** argv) {
  const iw::bench::BenchArgs args =
      iw::bench::parse_bench_args(argc, argv, "EVALUATOR_BINARY", 200'000);
  const std::string input = "bench-enriched-" + random_suffix();
  create_topic(args.bootstrap, input, 3);
  const Ends ends = fill(args.bootstrap, input, args.records);
  const Alertmanager alertmanager;

  // Another build of the evaluator (a before/after comparison), run in every round too.
  const char* other_binary = std::getenv("IW_BENCH_EVALUATOR_OTHER");
  std::vector<Throughput> raw, ours, other;
  for (int round = 0; round < args.rounds; ++round) {
    raw.push_back(raw_consume(args.bootstrap, input, args.records));
    ours.push_back(
        evaluator(args.bootstrap, args.binary, input, ends, args.records, alertmanager.url()));
    if (other_binary != nullptr) {
      other.push_back(
          evaluator(args.bootstrap, other_binary, input, ends, args.records, alertmanager.url()));
      std::fprintf(stderr, "round %d: %s %.2f CPU-s/M (%.1fx the raw consumer)\n", round + 1,
                   other_binary, other.back().cpu_per_million,
                   other.back().cpu_per_million / raw.back().cpu_per_million);
    }
    std::fprintf(stderr,
                 "round %d: raw consume %.0f rec/s, %.2f CPU-s/M; ingest-alert-evaluator %.0f "
                 "rec/s, %.2f CPU-s/M (%.1fx); %zu Alertmanager requests so far\n",
                 round + 1, raw.back().rate, raw.back().cpu_per_million, ours.back().rate,
                 ours.back().cpu_per_million,
                 ours.back().cpu_per_million / raw.back().cpu_per_million,
                 Alertmanager::requests());
  }
  const auto rate = iw::bench::median_rate;
  const auto cpu = iw::bench::median_cpu;
  std::printf(
      "| ingest-alert-evaluator records/s (%zu enriched records, exactly once) vs raw "
      "read_committed consume | %.0f | %.0f | %.2f | - | reported |\n",
      args.records, rate(ours), rate(raw), rate(ours) / rate(raw));
  std::printf(
      "| ingest-alert-evaluator CPU-seconds per million records vs raw read_committed consume | "
      "%.2f | %.2f | %.2f | - | reported |\n",
      cpu(ours), cpu(raw), cpu(ours) / cpu(raw));
  if (!other.empty()) {
    std::printf(
        "| ingest-alert-evaluator CPU-seconds per million records vs %s (IW_BENCH_EVALUATOR_OTHER) "
        "| %.2f | %.2f | %.2f | - | reported |\n",
        other_binary, cpu(ours), cpu(other), cpu(ours) / cpu(other));
    std::printf(
        "| %s CPU-seconds per million records vs raw read_committed consume | %.2f | %.2f "
        "| %.2f | - | reported |\n",
        other_binary, cpu(other), cpu(raw), cpu(other) / cpu(raw));
  }
  return 0;
}
