// ingest-enricher's throughput next to raw librdkafka consume -> produce passthroughs measured
// in the same run, against the same broker, reported as ratios.
//
//   enricher_throughput BOOTSTRAP ENRICHER_BINARY [RECORDS] [ROUNDS]
//
// An input topic (3 partitions) is filled once with ~500-byte realistic run records. Each
// round then drains it from the beginning, with fresh groups and output topics:
//   - raw at-least-once: consume, produce the same bytes with the same key, store nothing
//     per record (auto-commit), poll like librdkafka's examples;
//   - raw exactly-once: the same inside transactions committed once 100 ms old or holding
//     16 MiB of input, with the offsets sent to each transaction, as the enricher does by
//     default (enricher.commit_interval, enricher.transaction_max_bytes);
//   - ingest-enricher in each delivery mode, as a process;
//   - two more raw at-least-once loops for the table's explanatory rows: one that writes what
//     the enricher writes (enriched records made beforehand, ~2x the input, with the three
//     headers) instead of the input, which is the part of the gap the output itself costs;
//     and the bar's baseline until 2026-11, which produced by topic name;
//   - the seed's design (bench/seed_enricher.py: a Python consumer that parses each record,
//     builds the enriched JSON, updates prometheus_client metrics and republishes with
//     confluent-kafka, Debian's packages on /usr/bin/python3), as a process, at least once:
//     the peer ingest-enricher is measured against (bars: 6x at least once, 5x exactly once).
// Every side is timed from its first consumed record to the last one settled, so start-up and
// joining the consumer group, which are not throughput, count for none of them. CPU-seconds per
// million records: a process's (the services, the seed) utime + stime from /proc/<pid>/stat,
// its whole life up to the last record settled; a raw loop's, this process's getrusage() from
// creating its clients to its last record flushed (the bench does nothing else meanwhile).
// Producer settings are the same everywhere (idempotent, acks=all, linger.ms=5, lz4), and so is
// the way of producing: through a topic handle, as kafka::Producer does. Producing by topic
// name makes librdkafka (2.0) look the topic up under its client-wide write lock for every
// record, which its broker threads then wait on: a passthrough so written runs 1.3-4x slower.
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_kafka.h"
#include "bench_records.h"
#include "iw/events/enricher.h"
#include "iw/loggen/generator.h"

namespace {

using iw::bench::commit_transaction;
using iw::bench::create_topic;
using iw::bench::http_port_from_log;
using iw::bench::random_suffix;
using iw::bench::scrape_sum;
using iw::bench::set;
using iw::bench::subscribed_consumer;
using iw::bench::Throughput;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

rd_kafka_t* make_producer(const std::string& bootstrap, std::size_t* failures,
                          const std::string& transactional_id) {
  char errstr[512];
  rd_kafka_conf_t* conf = iw::bench::service_producer_conf(bootstrap, failures);
  if (!transactional_id.empty()) set(conf, "transactional.id", transactional_id);
  return rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
}

// The input: `count` runs of ~500 B, hourly cycles, the last ending 2 minutes ago. (From the
// generator's fixed start, runs beyond about 530 000 ended in the future in December 2026 and
// were dead-lettered instead of enriched, fewer of them each day.)
iw::loggen::GeneratorOptions raw_runs(std::size_t count) {
  return iw::bench::ending_recently({.seed = 11, .runs = count, .target_record_bytes = 500});
}

void fill(const std::string& bootstrap, const std::string& topic,
          const iw::loggen::GeneratorOptions& runs) {
  std::size_t failures = 0;
  rd_kafka_t* rk = make_producer(bootstrap, &failures, "");
  iw::loggen::Generator generator(runs);
  std::string line;
  while (generator.next(line)) {
    const std::size_t at = line.find("\"Source\": \"") + 11;
    const std::string key = line.substr(at, line.find('"', at) - at);
    while (rd_kafka_producev(
               rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
               RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(line.data(), line.size()),
               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
    line.clear();
  }
  rd_kafka_flush(rk, 120'000);
  rd_kafka_destroy(rk);
  if (failures > 0) std::exit(1);
}

// What the enricher writes for the first records of the input: enriched records and the
// headers they carry (execution_id empty, as the input has none; a traceparent of its own).
struct Output {
  std::string value;
  std::string traceparent;
};

std::vector<Output> enricher_output(const iw::loggen::GeneratorOptions& runs, std::size_t count) {
  iw::events::Enricher enricher({});
  iw::loggen::Generator generator(runs);
  std::mt19937_64 ids{7};
  std::vector<Output> out;
  std::string line;
  std::string enriched;
  char traceparent[64];
  while (out.size() < count && generator.next(line)) {
    const auto facts = enricher.enrich(line, 0,
                                       {.topic = "bench-raw-in",
                                        .partition = static_cast<std::int32_t>(out.size() % 3),
                                        .offset = static_cast<std::int64_t>(out.size() / 3),
                                        .processed_at = iw::base::TimePoint{}},
                                       enriched);
    if (!facts) std::exit(1);
    std::snprintf(traceparent, sizeof traceparent, "00-%016llx%016llx-%016llx-01",
                  static_cast<unsigned long long>(ids()), static_cast<unsigned long long>(ids()),
                  static_cast<unsigned long long>(ids()));
    out.push_back({enriched, traceparent});
    line.clear();
  }
  return out;
}

enum class Writes {
  kInput,           // the record consumed, through a topic handle: the bar's baseline
  kInputByName,     // the same, producing by topic name
  kEnricherOutput,  // what the enricher writes instead (key kept), through a topic handle
};

// One record out for the record `m` consumed. The RD_KAFKA_V_* macros cast their arguments
// without parentheses; keep them plain.
rd_kafka_resp_err_t produce(rd_kafka_t* producer, rd_kafka_topic_t* topic, const std::string& name,
                            const rd_kafka_message_t* m, Writes writes,
                            const std::vector<Output>* output_records, std::size_t seen) {
  void* key = m->key;
  const std::size_t key_size = m->key_len;
  if (writes == Writes::kInputByName) {
    return rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_END);
  }
  if (writes == Writes::kInput) {
    return rd_kafka_producev(
        producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_END);
  }
  const Output& out = (*output_records)[seen % output_records->size()];
  void* value = const_cast<char*>(out.value.data());
  const std::size_t value_size = out.value.size();
  rd_kafka_headers_t* headers = rd_kafka_headers_new(3);
  rd_kafka_header_add(headers, "execution_id", -1, "", 0);
  rd_kafka_header_add(headers, "traceparent", -1, out.traceparent.data(),
                      static_cast<ssize_t>(out.traceparent.size()));
  rd_kafka_header_add(headers, "content-type", -1, "application/json", -1);
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
                        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
  return err;
}

Throughput raw_passthrough(const std::string& bootstrap, const std::string& input,
                           std::size_t count, bool transactional, Writes writes = Writes::kInput,
                           const std::vector<Output>* output_records = nullptr) {
  const double cpu_before = iw::bench::self_cpu_seconds();
  const std::string output = "bench-raw-out-" + random_suffix();
  create_topic(bootstrap, output, 3);
  std::size_t failures = 0;
  rd_kafka_t* producer =
      make_producer(bootstrap, &failures, transactional ? "bench-" + random_suffix() : "");
  if (transactional) rd_kafka_init_transactions(producer, 60'000);
  rd_kafka_topic_t* topic = writes == Writes::kInputByName
                                ? nullptr
                                : rd_kafka_topic_new(producer, output.c_str(), nullptr);
  rd_kafka_t* consumer = subscribed_consumer(bootstrap, input, "bench-", transactional);
  // Timed from the first record on, like the enricher: joining the group is not throughput.
  std::optional<Clock::time_point> start;
  std::size_t seen = 0;
  std::size_t in_transaction = 0;
  std::size_t transaction_bytes = 0;
  Clock::time_point transaction_start;
  while (seen < count) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (!start) start = Clock::now();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (transactional && in_transaction == 0) {
        rd_kafka_begin_transaction(producer);
        transaction_start = Clock::now();
        transaction_bytes = 0;
      }
      while (produce(producer, topic, output, m, writes, output_records, seen) ==
             RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 10);
      }
      rd_kafka_poll(producer, 0);
      ++seen;
      if (transactional) {
        ++in_transaction;
        transaction_bytes += m->len + m->key_len;
      }
    }
    rd_kafka_message_destroy(m);
    if (transactional && in_transaction > 0 &&
        (Clock::now() - transaction_start >= 100ms || transaction_bytes >= 16 * 1024 * 1024)) {
      commit_transaction(producer, consumer);
      in_transaction = 0;
    }
  }
  if (transactional && in_transaction > 0) commit_transaction(producer, consumer);
  rd_kafka_flush(producer, 120'000);
  const double seconds = std::chrono::duration<double>(Clock::now() - *start).count();
  const double cpu = iw::bench::self_cpu_seconds() - cpu_before;
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (topic != nullptr) rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  if (failures > 0) std::exit(1);
  return {.rate = static_cast<double>(count) / seconds,
          .cpu_per_million = cpu * 1e6 / static_cast<double>(count)};
}

// Runs `command` (an enricher: ingest-enricher or the seed's design) as a process reading
// `input` into fresh topics and group; `stdout_log` takes its stdout, where it names its HTTP
// port ("http_port":N). Timed from the first record taken to the last one settled (written or
// dead-lettered), as seen in its own metrics, polled every `poll` (a GET of /metrics).
Throughput enricher_process(const std::string& name, std::vector<std::string> command,
                            std::size_t count, std::chrono::milliseconds poll) {
  const std::string log =
      (std::filesystem::temp_directory_path() / ("iw-bench-enricher-" + random_suffix())).string();
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    setenv("IW_HTTP_LISTEN", "127.0.0.1:0", 1);
    std::vector<char*> argv;
    for (std::string& arg : command) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::uint16_t port = 0;
  std::optional<Clock::time_point> first;
  double seconds = 0;
  double cpu = 0;
  while (true) {
    std::this_thread::sleep_for(port == 0 || !first ? 10ms : poll);
    if (std::chrono::duration<double>(Clock::now() - start).count() > 900) {
      std::fprintf(stderr, "%s did not finish\n", name.c_str());
      kill(pid, SIGKILL);
      std::exit(1);
    }
    if (port == 0) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        std::fprintf(stderr, "%s exited before its first record (its stdout: %s)\n", name.c_str(),
                     log.c_str());
        std::exit(1);
      }
      port = http_port_from_log(log);
      continue;
    }
    if (!first) {
      if (scrape_sum(port, {"ingestwatch_records_in_total"}) > 0) first = Clock::now();
      continue;
    }
    if (scrape_sum(port,
                   {"ingestwatch_records_out_total", "ingestwatch_records_dead_lettered_total"}) >=
        static_cast<double>(count)) {
      seconds = std::chrono::duration<double>(Clock::now() - *first).count();
      cpu = iw::bench::process_cpu_seconds(pid);
      break;
    }
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove(log);
  return {.rate = static_cast<double>(count) / seconds,
          .cpu_per_million = cpu * 1e6 / static_cast<double>(count)};
}

Throughput ingest_enricher(const std::string& bootstrap, const std::string& binary,
                           const std::string& input, std::size_t count, const char* delivery) {
  const std::string suffix = random_suffix();
  return enricher_process(std::string("ingest-enricher ") + delivery,
                          {binary, "--bootstrap-servers", bootstrap, "--input-topic", input,
                           "--output-topic", "bench-enriched-" + suffix, "--dlq-topic",
                           "bench-dlq-" + suffix, "--group", "bench-enricher-" + suffix,
                           "--transactional-id", "bench-txn-" + suffix, "--delivery", delivery},
                          count, 10ms);
}

// The seed's design (bench/seed_enricher.py) on Debian's python3, where scripts/setup installs
// python3-confluent-kafka and python3-prometheus-client; IW_BENCH_SEED_PYTHON and
// IW_BENCH_SEED_ENRICHER override the interpreter and the script.
struct Seed {
  std::string python;
  std::string script;
};

std::optional<Seed> seed_design() {
  const char* python = std::getenv("IW_BENCH_SEED_PYTHON");
  const char* script = std::getenv("IW_BENCH_SEED_ENRICHER");
  Seed seed{python != nullptr ? python : "/usr/bin/python3",
            script != nullptr ? script : IW_SEED_ENRICHER};
  const std::string probe =
      seed.python + " -c 'import confluent_kafka, prometheus_client' >/dev/null 2>&1";
  if (!std::filesystem::exists(seed.script) || std::system(probe.c_str()) != 0) {
    return std::nullopt;
  }
  return seed;
}

// Its metrics are rendered by Python, under its GIL: polled every 100 ms rather than 10 (its
// runs last seconds, so the timing error stays under 1 %).
Throughput seed_enricher(const std::string& bootstrap, const Seed& seed, const std::string& input,
                         std::size_t count) {
  const std::string suffix = random_suffix();
  return enricher_process(
      "the seed's design",
      {seed.python, seed.script, "--bootstrap-servers", bootstrap, "--input-topic", input,
       "--output-topic", "bench-seed-" + suffix, "--dlq-topic", "bench-seed-dlq-" + suffix,
       "--group", "bench-seed-" + suffix, "--http-listen", "127.0.0.1:0"},
      count, 100ms);
}

}  // namespace

int main(int argc, char** argv) {
  const iw::bench::BenchArgs args =
      iw::bench::parse_bench_args(argc, argv, "ENRICHER_BINARY", 300'000);
  const std::string& bootstrap = args.bootstrap;
  const std::string& binary = args.binary;
  const std::size_t count = args.records;
  const int rounds = args.rounds;
  const std::string input = "bench-raw-in-" + random_suffix();
  create_topic(bootstrap, input, 3);
  const iw::loggen::GeneratorOptions runs = raw_runs(count);
  fill(bootstrap, input, runs);

  // 4096 distinct records, cycled: as varied within a producer batch as the real output.
  const std::vector<Output> output_records =
      enricher_output(runs, std::min<std::size_t>(count, 4096));

  const std::optional<Seed> seed = seed_design();
  if (!seed) {
    std::fprintf(stderr,
                 "the seed's design is not run: its python3 (/usr/bin/python3, or "
                 "IW_BENCH_SEED_PYTHON) cannot import confluent_kafka and prometheus_client "
                 "(scripts/setup installs them), or bench/seed_enricher.py is not there\n");
  }
  std::vector<Throughput> raw_alo, raw_eos, ours_alo, ours_eos, shaped_alo, by_name_alo, seed_alo;
  for (int round = 0; round < rounds; ++round) {
    raw_alo.push_back(raw_passthrough(bootstrap, input, count, false));
    ours_alo.push_back(ingest_enricher(bootstrap, binary, input, count, "at_least_once"));
    shaped_alo.push_back(
        raw_passthrough(bootstrap, input, count, false, Writes::kEnricherOutput, &output_records));
    by_name_alo.push_back(raw_passthrough(bootstrap, input, count, false, Writes::kInputByName));
    raw_eos.push_back(raw_passthrough(bootstrap, input, count, true));
    ours_eos.push_back(ingest_enricher(bootstrap, binary, input, count, "exactly_once"));
    if (seed) seed_alo.push_back(seed_enricher(bootstrap, *seed, input, count));
    std::fprintf(stderr,
                 "round %d: raw %.0f / enricher %.0f / raw writing the enricher's output %.0f / "
                 "raw by topic name %.0f rec/s at least once; raw %.0f / enricher %.0f rec/s "
                 "exactly once; the seed's design %.0f rec/s. CPU-s per million: %.2f / %.2f / "
                 "%.2f / %.2f; %.2f / %.2f; %.2f\n",
                 round + 1, raw_alo.back().rate, ours_alo.back().rate, shaped_alo.back().rate,
                 by_name_alo.back().rate, raw_eos.back().rate, ours_eos.back().rate,
                 seed ? seed_alo.back().rate : 0.0, raw_alo.back().cpu_per_million,
                 ours_alo.back().cpu_per_million, shaped_alo.back().cpu_per_million,
                 by_name_alo.back().cpu_per_million, raw_eos.back().cpu_per_million,
                 ours_eos.back().cpu_per_million, seed ? seed_alo.back().cpu_per_million : 0.0);
  }
  const auto rate = iw::bench::median_rate;
  const auto cpu = iw::bench::median_cpu;
  const auto verdict = [](double ratio, double bar) { return ratio >= bar ? "met" : "MISSED"; };
  const double alo = rate(ours_alo) / rate(raw_alo);
  const double eos = rate(ours_eos) / rate(raw_eos);
  const double shaped = rate(ours_alo) / rate(shaped_alo);
  const double eos_alo = rate(ours_eos) / rate(ours_alo);
  std::printf(
      "| ingest-enricher records/s at least once (%zu x 500 B) vs raw consume->produce | %.0f | "
      "%.0f | %.2f | >= 0.70 | %s |\n",
      count, rate(ours_alo), rate(raw_alo), alo, verdict(alo, 0.7));
  std::printf(
      "| raw consume->produce writing the enricher's output (enriched records, ~2x the input, "
      "3 headers) vs raw consume->produce | %.0f | %.0f | %.2f | - | the output alone |\n",
      rate(shaped_alo), rate(raw_alo), rate(shaped_alo) / rate(raw_alo));
  std::printf(
      "| ingest-enricher at least once vs raw consume->produce writing the enricher's output | "
      "%.0f | %.0f | %.2f | >= 0.90 | %s: decoding, enriching, bookkeeping |\n",
      rate(ours_alo), rate(shaped_alo), shaped, verdict(shaped, 0.9));
  std::printf(
      "| ingest-enricher at least once vs raw consume->produce by topic name (the baseline "
      "until 2026-11) | %.0f | %.0f | %.2f | - | |\n",
      rate(ours_alo), rate(by_name_alo), rate(ours_alo) / rate(by_name_alo));
  std::printf(
      "| ingest-enricher records/s exactly once vs raw transactional consume->produce | %.0f | "
      "%.0f | %.2f | - | |\n",
      rate(ours_eos), rate(raw_eos), eos);
  std::printf(
      "| ingest-enricher exactly once vs ingest-enricher at least once | %.0f | %.0f | %.2f | "
      ">= 0.85 | %s |\n",
      rate(ours_eos), rate(ours_alo), eos_alo, verdict(eos_alo, 0.85));
  if (seed) {
    const double seed_rate = rate(seed_alo);
    std::printf(
        "| ingest-enricher at least once vs the seed's design (bench/seed_enricher.py: Python, "
        "confluent-kafka, prometheus_client) | %.0f | %.0f | %.2f | >= 6 | %s |\n",
        rate(ours_alo), seed_rate, rate(ours_alo) / seed_rate,
        verdict(rate(ours_alo) / seed_rate, 6));
    std::printf(
        "| ingest-enricher exactly once vs the seed's design | %.0f | %.0f | %.2f | >= 5 | %s "
        "|\n",
        rate(ours_eos), seed_rate, rate(ours_eos) / seed_rate,
        verdict(rate(ours_eos) / seed_rate, 5));
  } else {
    std::printf(
        "| ingest-enricher vs the seed's design (bench/seed_enricher.py) | - | - | - | >= 6, "
        ">= 5 | NOT RUN: python3-confluent-kafka or python3-prometheus-client missing "
        "(scripts/setup) |\n");
  }
  // CPU: a service's process life up to its last record settled (/proc/<pid>/stat); a raw
  // loop's, this process's CPU from creating its clients to its last record flushed.
  std::printf(
      "| ingest-enricher CPU-seconds per million records at least once vs raw consume->produce "
      "writing the enricher's output | %.2f | %.2f | %.2f | - | reported |\n",
      cpu(ours_alo), cpu(shaped_alo), cpu(ours_alo) / cpu(shaped_alo));
  std::printf(
      "| ingest-enricher CPU-seconds per million records exactly once vs raw transactional "
      "consume->produce | %.2f | %.2f | %.2f | - | reported |\n",
      cpu(ours_eos), cpu(raw_eos), cpu(ours_eos) / cpu(raw_eos));
  if (seed) {
    std::printf(
        "| the seed's design CPU-seconds per million records vs ingest-enricher at least once "
        "| %.2f | %.2f | %.2f | - | reported |\n",
        cpu(seed_alo), cpu(ours_alo), cpu(seed_alo) / cpu(ours_alo));
  }
  return 0;
}
