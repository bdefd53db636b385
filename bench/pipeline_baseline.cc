// The raw librdkafka side of the end-to-end benchmark (bench/pipeline_bench.py), and the tools
// that benchmark measures both sides with. One subcommand per process, so that the benchmark
// can time each process and read its CPU and peak RSS the way it reads the services'.
//
//   pipeline_baseline gen PREFIX COUNT...
//       Writes PREFIX-0.ndjson, PREFIX-1.ndjson, ... with COUNT records each: one iw::loggen
//       sequence (seed 23, every job once a minute, ~500-byte records) cut into files, so each
//       file follows the previous one in event time; the last record ends 2 minutes before now
//       (Loki refuses entries from the future, and per stream older than an hour behind).
//   pipeline_baseline measure OUT COMMAND [ARG...]
//       Runs COMMAND as a child, waits for it and writes "CPU_SECONDS PEAK_RSS_KIB" (its
//       utime + stime and ru_maxrss) to OUT; exits with its status. The benchmark starts every
//       one-shot process through it: Linux carries the memory high-water mark of the image a
//       process exec'd from into its ru_maxrss, and a child of the Python benchmark would
//       show Python's; a child of this small process starts from this process's few MiB.
//   pipeline_baseline topics BOOTSTRAP NAME...
//       Creates each topic with 3 partitions (as the stack's ingestion-logs), replication 1.
//   pipeline_baseline produce BOOTSTRAP TOPIC FILE [RATE]
//       The raw producer: each line of FILE keyed by its Source, with the three headers every
//       ingest-producer record carries (execution_id, a new traceparent, content-type), the
//       settings ingest-producer uses (idempotent, acks=all, linger.ms=5, lz4, 16 MB queue),
//       through a topic handle; at most RATE records/s, spread evenly as ingest-producer's
//       --rate does (0 or none: as fast as possible). Exit 0 once every record is delivered.
//   pipeline_baseline relay BOOTSTRAP IN OUT COUNT eos|alo
//       The raw middle hop: consume IN (a fresh group), produce key, value, headers and the
//       record's timestamp to OUT, until COUNT records are relayed and settled. eos: inside
//       transactions committed once 100 ms old, with the consumer's offsets sent to each
//       (ingest-enricher's default enricher.commit_interval; its 16 MiB
//       enricher.transaction_max_bytes is not reached in 100 ms here); alo: idempotent
//       producer, auto-commit. Prints "ready" once it owns every partition of IN.
//   pipeline_baseline sink BOOTSTRAP TOPIC COUNT timestamp|pipeline OUT_TSV [TIMEOUT_S]
//       The bench consumer at the end of the pipe: every partition of TOPIC assigned at its end
//       (read_committed), "ready" printed, then COUNT records read. For each it notes when it
//       was read (wall clock) and when its raw record was created (Kafka CreateTime): with
//       `timestamp`, the record's own timestamp (the raw relay keeps the raw one); with
//       `pipeline`, the enriched record's pipeline.raw.{topic,partition,offset}, whose
//       timestamps are read from that raw topic afterwards. Writes "created_ms read_us" lines
//       to OUT_TSV and one JSON summary line to stdout. Exit 1 on timeout (default 600 s).
#include <librdkafka/rdkafka.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_kafka.h"
#include "bench_records.h"
#include "iw/loggen/generator.h"

namespace {

using iw::bench::commit_transaction;
using iw::bench::random_suffix;
using iw::bench::set;
using iw::bench::subscribed_consumer;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pipeline_baseline: %s\n", what.c_str());
  std::exit(1);
}

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// This process's peak RSS (VmHWM, KiB), for its log: exact, where the benchmark samples it.
long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// --------------------------------------------------------------------------------- measure

int measure(int argc, char** argv) {
  if (argc < 4) die("usage: measure OUT COMMAND [ARG...]");
  const pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the benchmark kills this process on a timeout
    execv(argv[3], argv + 3);
    std::perror(argv[3]);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
  }
  const double cpu = iw::bench::cpu_seconds(usage);
  std::ofstream(argv[2]) << cpu << ' ' << usage.ru_maxrss << '\n';
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ------------------------------------------------------------------------------------- gen

int gen(int argc, char** argv) {
  if (argc < 4) die("usage: gen PREFIX COUNT...");
  const std::string prefix = argv[2];
  std::vector<std::size_t> counts;
  std::size_t total = 0;
  for (int i = 3; i < argc; ++i) total += counts.emplace_back(std::stoul(argv[i]));
  iw::loggen::Generator generator(iw::bench::recent_minute_cycles(total));
  std::string line;
  for (std::size_t file = 0; file < counts.size(); ++file) {
    std::ofstream out(prefix + "-" + std::to_string(file) + ".ndjson", std::ios::binary);
    for (std::size_t i = 0; i < counts[file] && generator.next(line); ++i) {
      out << line << '\n';
      line.clear();
    }
    if (!out) die("cannot write " + prefix + "-" + std::to_string(file) + ".ndjson");
  }
  return 0;
}

// --------------------------------------------------------------------------------- produce

int produce(int argc, char** argv) {
  if (argc < 5) die("usage: produce BOOTSTRAP TOPIC FILE [RATE]");
  const std::string bootstrap = argv[2];
  const std::string topic_name = argv[3];
  const double rate = argc > 5 ? std::stod(argv[5]) : 0.0;
  std::ifstream in(argv[4], std::ios::binary);
  if (!in) die(std::string("cannot read ") + argv[4]);

  char errstr[512];
  std::size_t failures = 0;
  rd_kafka_conf_t* conf = iw::bench::service_producer_conf(bootstrap, &failures);
  set(conf, "queue.buffering.max.kbytes", "16384");
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) die(errstr);
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, topic_name.c_str(), nullptr);

  const std::string execution_id = "2f1c8a0e-5d0b-4c1e-9a57-" + random_suffix();
  std::mt19937_64 ids{std::random_device{}()};
  char traceparent[64];
  const auto interval = rate > 0 ? std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / rate))
                                 : std::chrono::nanoseconds{0};
  auto next_slot = Clock::now();
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (rate > 0) {
      // One record per interval from the first on, no catching up in bursts after a stall: the
      // pace ingest-producer's RateLimiter keeps (max_burst 1).
      const auto now = Clock::now();
      if (next_slot > now) {
        while (Clock::now() < next_slot) {
          rd_kafka_poll(rk, 0);
          std::this_thread::sleep_until(std::min(next_slot, Clock::now() + 1ms));
        }
      } else {
        next_slot = now;
      }
      next_slot += interval;
    }
    const std::size_t at = line.find("\"Source\": \"");
    if (at == std::string::npos) die("a record without Source");
    const std::size_t from = at + 11;
    const std::string_view key(line.data() + from, line.find('"', from) - from);
    std::snprintf(traceparent, sizeof traceparent, "00-%016llx%016llx-%016llx-01",
                  static_cast<unsigned long long>(ids()), static_cast<unsigned long long>(ids()),
                  static_cast<unsigned long long>(ids()));
    while (true) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(3);
      rd_kafka_header_add(headers, "execution_id", -1, execution_id.data(),
                          static_cast<ssize_t>(execution_id.size()));
      rd_kafka_header_add(headers, "traceparent", -1, traceparent, -1);
      rd_kafka_header_add(headers, "content-type", -1, "application/json", -1);
      void* key_data = const_cast<char*>(key.data());
      const std::size_t key_size = key.size();
      void* value = line.data();
      const std::size_t value_size = line.size();
      const rd_kafka_resp_err_t err =
          rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value, value_size),
                            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(headers);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(rd_kafka_err2str(err));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
    ++count;
  }
  rd_kafka_flush(rk, 120'000);
  const int outstanding = rd_kafka_outq_len(rk);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  std::fprintf(stderr, "produce: %zu records, %zu failed, %d outstanding; VmHWM %ld kB\n", count,
               failures, outstanding, vm_hwm_kib());
  return failures == 0 && outstanding == 0 ? 0 : 1;
}

// ----------------------------------------------------------------------------------- relay

void check(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  const std::string text = std::string(what) + ": " + rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  die(text);
}

int partition_count(rd_kafka_t* rk, const std::string& topic_name) {
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, topic_name.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  int partitions = 0;
  for (int attempt = 0; attempt < 50 && partitions == 0; ++attempt) {
    if (rd_kafka_metadata(rk, 0, topic, &metadata, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        partitions = metadata->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(metadata);
    }
    if (partitions == 0) std::this_thread::sleep_for(100ms);
  }
  rd_kafka_topic_destroy(topic);
  if (partitions == 0) die("no partitions for " + topic_name);
  return partitions;
}

int relay(int argc, char** argv) {
  if (argc < 7) die("usage: relay BOOTSTRAP IN OUT COUNT eos|alo");
  const std::string bootstrap = argv[2];
  const std::string input = argv[3];
  const std::string output = argv[4];
  const std::size_t count = std::stoul(argv[5]);
  const bool eos = std::string_view(argv[6]) == "eos";

  char errstr[512];
  std::size_t failures = 0;
  rd_kafka_conf_t* pconf = iw::bench::service_producer_conf(bootstrap, &failures);
  if (eos) set(pconf, "transactional.id", "bench-relay-" + random_suffix());
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
  if (producer == nullptr) die(errstr);
  if (eos) check(rd_kafka_init_transactions(producer, 60'000), "init transactions");
  rd_kafka_topic_t* topic = rd_kafka_topic_new(producer, output.c_str(), nullptr);

  rd_kafka_t* consumer = subscribed_consumer(bootstrap, input, "bench-relay-", eos);
  const int partitions = partition_count(consumer, input);

  std::size_t seen = 0;
  bool ready = false;
  std::size_t in_transaction = 0;
  Clock::time_point transaction_start{};
  const auto started = Clock::now();
  while (seen < count) {
    if (!ready) {
      rd_kafka_topic_partition_list_t* assigned = nullptr;
      rd_kafka_assignment(consumer, &assigned);
      ready = assigned->cnt == partitions;
      rd_kafka_topic_partition_list_destroy(assigned);
      if (ready) {
        std::printf("ready\n");
        std::fflush(stdout);
      } else if (Clock::now() - started > 120s) {
        die("no assignment of " + input + " within 120 s");
      }
    }
    int timeout_ms = 100;
    if (eos && in_transaction > 0) {
      const auto left = transaction_start + 100ms - Clock::now();
      timeout_ms = static_cast<int>(
          std::max<std::int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, timeout_ms);
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (eos && in_transaction == 0) {
          check(rd_kafka_begin_transaction(producer), "begin");
          transaction_start = Clock::now();
        }
        rd_kafka_headers_t* in_headers = nullptr;
        rd_kafka_headers_t* headers = nullptr;
        if (rd_kafka_message_headers(m, &in_headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          headers = rd_kafka_headers_copy(in_headers);
        }
        const std::int64_t timestamp = rd_kafka_message_timestamp(m, nullptr);
        while (true) {
          void* key = m->key;
          const std::size_t key_size = m->key_len;
          void* value = m->payload;
          const std::size_t value_size = m->len;
          const rd_kafka_resp_err_t err = rd_kafka_producev(
              producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
              RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
          if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
          if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(rd_kafka_err2str(err));
          rd_kafka_poll(producer, 10);
        }
        rd_kafka_poll(producer, 0);
        ++seen;
        if (eos) ++in_transaction;
      }
      rd_kafka_message_destroy(m);
    }
    if (eos && in_transaction > 0 && Clock::now() - transaction_start >= 100ms) {
      commit_transaction(producer, consumer);
      in_transaction = 0;
    }
  }
  if (eos && in_transaction > 0) commit_transaction(producer, consumer);
  rd_kafka_flush(producer, 120'000);
  if (!eos) rd_kafka_commit(consumer, nullptr, 0);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  std::fprintf(stderr, "relay: %zu records, %zu failed; VmHWM %ld kB\n", seen, failures,
               vm_hwm_kib());
  return failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------------ sink

rd_kafka_t* make_reader(const std::string& bootstrap) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", "bench-sink-" + random_suffix());  // never joined nor committed
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "isolation.level", "read_committed");
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) die(errstr);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

std::int64_t number_after(std::string_view text, std::string_view field, std::size_t from) {
  const std::size_t at = text.find(field, from);
  if (at == std::string_view::npos) return -1;
  return std::strtoll(text.data() + at + field.size(), nullptr, 10);
}

struct Read {
  std::int32_t partition;  // of the raw record; -1 with `timestamp`
  std::int64_t offset;     // of the raw record; its CreateTime (ms) with `timestamp`
  std::int64_t read_us;
};

int sink(int argc, char** argv) {
  if (argc < 7) die("usage: sink BOOTSTRAP TOPIC COUNT timestamp|pipeline OUT_TSV [TIMEOUT_S]");
  const std::string bootstrap = argv[2];
  const std::string topic = argv[3];
  const std::size_t count = std::stoul(argv[4]);
  const bool pipeline = std::string_view(argv[5]) == "pipeline";
  const std::string out_path = argv[6];
  const auto timeout = std::chrono::seconds(argc > 7 ? std::stol(argv[7]) : 600);

  rd_kafka_t* rk = make_reader(bootstrap);
  const int partitions = partition_count(rk, topic);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) die(rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = high;
  }
  rd_kafka_assign(rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<Read> reads;
  reads.reserve(count);
  std::string raw_topic;
  const auto deadline = Clock::now() + timeout;
  while (reads.size() < count && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    const std::int64_t now = wall_us();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!pipeline) {
        reads.push_back({-1, rd_kafka_message_timestamp(m, nullptr), now});
      } else {
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        const std::size_t raw = value.find("\"raw\":{\"topic\":\"", value.find("\"pipeline\":"));
        if (raw == std::string_view::npos) die("an enriched record without pipeline.raw");
        const std::size_t name = raw + 16;
        if (raw_topic.empty()) raw_topic = value.substr(name, value.find('"', name) - name);
        reads.push_back({static_cast<std::int32_t>(number_after(value, "\"partition\":", raw)),
                         number_after(value, "\"offset\":", raw), now});
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, nullptr);
  const bool complete = reads.size() == count;

  // With `pipeline`: the raw records' CreateTimes, read from the raw topic afterwards.
  if (pipeline && !reads.empty()) {
    std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> span;  // first, last offset
    for (const Read& r : reads) {
      auto [it, fresh] = span.try_emplace(r.partition, r.offset, r.offset);
      it->second.first = std::min(it->second.first, r.offset);
      it->second.second = std::max(it->second.second, r.offset);
    }
    std::map<std::int32_t, std::vector<std::int64_t>> created;
    rd_kafka_topic_partition_list_t* raw =
        rd_kafka_topic_partition_list_new(static_cast<int>(span.size()));
    for (const auto& [p, range] : span) {
      rd_kafka_topic_partition_list_add(raw, raw_topic.c_str(), p)->offset = range.first;
      created[p].assign(static_cast<std::size_t>(range.second - range.first + 1), -1);
    }
    rd_kafka_assign(rk, raw);
    rd_kafka_topic_partition_list_destroy(raw);
    std::size_t open = span.size();
    const auto raw_deadline = Clock::now() + 120s;
    while (open > 0 && Clock::now() < raw_deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const auto& range = span[m->partition];
        if (m->offset >= range.first && m->offset <= range.second) {
          created[m->partition][static_cast<std::size_t>(m->offset - range.first)] =
              rd_kafka_message_timestamp(m, nullptr);
          if (m->offset == range.second) --open;
        }
      }
      rd_kafka_message_destroy(m);
    }
    for (Read& r : reads) {
      r.offset = created[r.partition][static_cast<std::size_t>(r.offset - span[r.partition].first)];
      if (r.offset < 0) die("a raw record's timestamp was not found");
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);

  std::ofstream out(out_path);
  std::vector<double> latencies;
  latencies.reserve(reads.size());
  std::int64_t last_read = 0;
  for (const Read& r : reads) {
    out << r.offset << ' ' << r.read_us << '\n';
    latencies.push_back(static_cast<double>(r.read_us - r.offset * 1000) / 1000.0);
    last_read = std::max(last_read, r.read_us);
  }
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies.empty() ? 0.0
                             : latencies[std::min(latencies.size() - 1,
                                                  static_cast<std::size_t>(q * latencies.size()))];
  };
  std::printf(
      "{\"count\":%zu,\"complete\":%s,\"last_read_us\":%lld,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f}\n",
      reads.size(), complete ? "true" : "false", static_cast<long long>(last_read), at(0.5),
      at(0.99), latencies.empty() ? 0.0 : latencies.back());
  std::fprintf(stderr, "sink: %zu records; VmHWM %ld kB\n", reads.size(), vm_hwm_kib());
  return complete ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "measure") return measure(argc, argv);
  if (command == "gen") return gen(argc, argv);
  if (command == "topics" && argc > 3) {
    for (int i = 3; i < argc; ++i) iw::bench::create_topic(argv[2], argv[i], 3);
    return 0;
  }
  if (command == "produce") return produce(argc, argv);
  if (command == "relay") return relay(argc, argv);
  if (command == "sink") return sink(argc, argv);
  std::fprintf(stderr,
               "usage: %s measure|gen|topics|produce|relay|sink ... (see the source's header)\n",
               argv[0]);
  return 2;
}
