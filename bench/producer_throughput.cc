// ingest-producer's throughput next to a raw librdkafka produce loop, measured in the same run
// against the same broker, reported as a ratio because these machines are shared and noisy.
//
//   producer_throughput BOOTSTRAP PRODUCER_BINARY [RECORDS] [ROUNDS]
//
// All sides publish the same ~500-byte generated records with the same librdkafka settings
// (idempotent, acks=all, linger.ms=5, 16 MB queue, lz4, a delivery-report callback), each
// round to fresh topics. Two raw baselines produce from memory: one writes exactly the records
// ingest-producer writes (key, value and the three headers BRIEF §1 puts on every record), the
// other only key and value. The first is the bar's baseline, since it produces the same output;
// the second shows what the headers themselves cost. ingest-producer is timed as a whole
// process, start-up included, reading the records from a file. CPU-seconds per million records:
// ingest-producer's whole life (wait4's rusage), the raw loops' own (getrusage) from creating the
// client to the last record delivered.
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_kafka.h"
#include "iw/loggen/generator.h"

namespace {

using iw::bench::create_topic;
using iw::bench::random_suffix;
using iw::bench::set;
using iw::bench::Throughput;

using Clock = std::chrono::steady_clock;

struct Record {
  std::string key;
  std::string value;
};

// The compression both sides use: ingest-producer's own default (lz4) unless the bench is
// told otherwise, so the two sides always run the same client settings.
const char* compression() {
  const char* chosen = std::getenv("IW_BENCH_COMPRESSION");
  return chosen != nullptr ? chosen : "lz4";
}

// The baseline: the loop librdkafka's own examples/producer.c runs, with the same settings.
// With `headers`, it stamps the three headers every ingestwatch record carries.
Throughput raw_librdkafka(const std::string& bootstrap, const std::vector<Record>& records,
                          bool headers) {
  const std::string topic = "bench-raw-" + random_suffix();
  create_topic(bootstrap, topic, 3);
  char errstr[512];
  // Exactly the client settings ingest-producer uses.
  std::size_t failures = 0;
  rd_kafka_conf_t* conf = iw::bench::service_producer_conf(bootstrap, &failures);
  set(conf, "queue.buffering.max.kbytes", "16384");
  set(conf, "compression.type", compression());
  const double cpu_before = iw::bench::self_cpu_seconds();
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  // Through a topic handle, as ingest-producer produces: by name, librdkafka 2.0 looks the
  // topic up under its client-wide lock for every record, which slows the loop 10-20 %.
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const std::string execution_id = "2f1c8a0e-5d0b-4c1e-9a57-3f6d2b7c9e11";
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto start = Clock::now();
  for (const Record& r : records) {
    while (true) {
      rd_kafka_headers_t* hdrs = nullptr;
      if (headers) {
        hdrs = rd_kafka_headers_new(3);
        rd_kafka_header_add(hdrs, "execution_id", -1, execution_id.data(),
                            static_cast<ssize_t>(execution_id.size()));
        rd_kafka_header_add(hdrs, "traceparent", -1, traceparent.data(),
                            static_cast<ssize_t>(traceparent.size()));
        rd_kafka_header_add(hdrs, "content-type", -1, "application/json", -1);
      }
      const rd_kafka_resp_err_t err =
          rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120'000);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = iw::bench::self_cpu_seconds() - cpu_before;
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  if (failures > 0) {
    std::fprintf(stderr, "raw librdkafka: %zu records not delivered\n", failures);
    std::exit(1);
  }
  const auto count = static_cast<double>(records.size());
  return {.rate = count / seconds, .cpu_per_million = cpu * 1e6 / count};
}

Throughput ingest_producer(const std::string& bootstrap, const std::string& binary,
                           const std::string& file, std::size_t count) {
  const std::string topic = "bench-producer-" + random_suffix();
  create_topic(bootstrap, topic, 3);
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    // Quiet: the bench reads only the exit status.
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    setenv("IW_HTTP_LISTEN", "127.0.0.1:0", 1);
    const std::string config =
        std::string("kafka:\n  properties:\n    compression.type: ") + compression() + "\n";
    const std::string config_file = file + ".yaml";
    std::ofstream(config_file) << config;
    execl(binary.c_str(), binary.c_str(), "--config", config_file.c_str(), "--bootstrap-servers",
          bootstrap.c_str(), "--topic", topic.c_str(), file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = iw::bench::cpu_seconds(usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "ingest-producer failed (status %d)\n", status);
    std::exit(1);
  }
  return {.rate = static_cast<double>(count) / seconds,
          .cpu_per_million = cpu * 1e6 / static_cast<double>(count)};
}

}  // namespace

int main(int argc, char** argv) {
  const iw::bench::BenchArgs args =
      iw::bench::parse_bench_args(argc, argv, "PRODUCER_BINARY", 500'000);
  const std::string& bootstrap = args.bootstrap;
  const std::string& binary = args.binary;
  const std::size_t count = args.records;
  const int rounds = args.rounds;

  iw::loggen::Generator generator({.seed = 7, .runs = count, .target_record_bytes = 500});
  std::vector<Record> records;
  records.reserve(count);
  const std::string file =
      (std::filesystem::temp_directory_path() / ("iw-bench-" + random_suffix() + ".ndjson"))
          .string();
  {
    std::ofstream out(file, std::ios::binary);
    std::string line;
    while (generator.next(line)) {
      // The key the producer will find: the Source value, written as "Source": "<name>".
      const std::size_t at = line.find("\"Source\": \"") + 11;
      records.push_back({line.substr(at, line.find('"', at) - at), line});
      out << line << '\n';
      line.clear();
    }
  }

  // A discarded warm-up: the broker's first transactional/idempotent client pays for loading
  // coordinator state, which would otherwise land on whichever side runs first.
  (void)raw_librdkafka(bootstrap, std::vector<Record>(records.begin(), records.begin() + 1000),
                       false);
  std::vector<Throughput> raw;
  std::vector<Throughput> raw_headers;
  std::vector<Throughput> ours;
  for (int round = 0; round < rounds; ++round) {
    // Rotate the order, so neither a burst of load elsewhere on the machine nor the broker's
    // state after the previous side favours one side.
    for (int slot = 0; slot < 3; ++slot) {
      switch ((slot + round) % 3) {
        case 0:
          raw.push_back(raw_librdkafka(bootstrap, records, false));
          break;
        case 1:
          ours.push_back(ingest_producer(bootstrap, binary, file, count));
          break;
        default:
          raw_headers.push_back(raw_librdkafka(bootstrap, records, true));
      }
    }
    std::fprintf(stderr,
                 "round %d: raw %.0f rec/s, raw+headers %.0f rec/s, ingest-producer %.0f rec/s; "
                 "CPU-s per million %.2f, %.2f, %.2f\n",
                 round + 1, raw.back().rate, raw_headers.back().rate, ours.back().rate,
                 raw.back().cpu_per_million, raw_headers.back().cpu_per_million,
                 ours.back().cpu_per_million);
  }
  std::filesystem::remove(file);
  const auto rate = iw::bench::median_rate;
  const auto cpu = iw::bench::median_cpu;
  const double ratio = rate(ours) / rate(raw_headers);
  std::printf(
      "| ingest-producer records/s (%zu x 500 B) vs raw librdkafka writing the same records "
      "(key, value, the 3 headers) | %.0f | %.0f | %.2f | >= 0.80 | %s |\n",
      count, rate(ours), rate(raw_headers), ratio, ratio >= 0.8 ? "met" : "MISSED");
  std::printf(
      "| ingest-producer vs raw librdkafka writing key and value only (no headers) | %.0f | %.0f "
      "| %.2f | - | the 3 headers alone cost %.0f %% |\n",
      rate(ours), rate(raw), rate(ours) / rate(raw), 100.0 * (1.0 - rate(raw_headers) / rate(raw)));
  std::printf(
      "| ingest-producer CPU-seconds per million records (whole process: start-up, reading the "
      "file) vs raw librdkafka writing the same records from memory | %.2f | %.2f | %.2f | - | "
      "reported |\n",
      cpu(ours), cpu(raw_headers), cpu(ours) / cpu(raw_headers));
  return 0;
}
