// ingest-loki-pusher's throughput into the Loki test receiver next to a raw libcurl loop posting
// the same request bodies to the same receiver (the pusher's baseline: the receiver's ceiling)
// and a raw librdkafka consumer reading the same topic (the "consume only" ceiling), in the same
// run, reported as ratios.
//
//   loki_pusher_throughput BOOTSTRAP PUSHER_BINARY [RECORDS] [ROUNDS]
//
// Realistic enriched runs (iw::loggen records through iw::events::Enricher, natural size, about
// 870 bytes) are made once, and so are the push bodies the pusher makes of them (loki::Batcher
// with the pusher's default limits and lanes, protobuf + snappy). Each round writes the runs to
// a fresh input topic (3 partitions, keyed by source, with the enricher's execution_id and
// traceparent headers) and a fresh dead-letter topic, then measures, interleaved:
//   - raw consume only: a plain librdkafka consumer (fresh group, earliest) reading the topic to
//     the end, timed from its first record to its last;
//   - the raw pusher loop: plain libcurl (one curl_multi, an easy handle per lane) posting the
//     pre-encoded bodies to a fresh test receiver, as many in flight as the pusher
//     (BENCH_LOKI_PUSHER_IN_FLIGHT, default its max_in_flight), a lane's bodies one at a time and
//     in order as the pusher sends them; its CPU is the posting thread's alone;
//   - ingest-loki-pusher as a process, once per body format (protobuf + snappy, the default;
//     JSON; JSON + gzip; BENCH_LOKI_PUSHER_FORMATS), each with a fresh group and a fresh
//     in-process test receiver (iw::loki_receiver, which decodes, validates and stores every
//     entry, as Loki would).
// Lines/s are timed from the first push answered to the last but one (the pusher's last is the
// remainder, sent batch.max_wait after the input ran dry), so start-up and joining the group are
// left out. CPU-seconds are the whole process's up to the last line (the pusher's utime + stime
// from /proc/<pid>/stat; the raw consumer's getrusage() from creating it), per million lines.
// Bytes per line are the request bodies as sent over the entries they carry, next to the
// records' own bytes. The pusher and the receiver run with their defaults (Loki 3's limits);
// every line must be stored once, none dead-lettered or refused, or the bench fails.
#include <curl/curl.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_kafka.h"
#include "iw/events/enricher.h"
#include "iw/loggen/generator.h"
#include "iw/loki/batcher.h"
#include "iw/loki/encode.h"
#include "iw/loki/entry.h"
#include "iw/testing/loki_receiver.h"

extern char** environ;

namespace {

using iw::bench::create_topic;
using iw::bench::median;
using iw::bench::process_cpu_seconds;
using iw::bench::random_suffix;
using iw::bench::self_cpu_seconds;
using iw::bench::set;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Pushes in flight: the pusher's default loki_pusher.max_in_flight, and the raw loop's.
constexpr std::size_t kInFlight = 4;

constexpr std::string_view kExecutionId = "exec-bench-loki-pusher";
constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

struct Record {
  std::string key;
  std::string value;
};

// Enriched runs as ingest-enricher writes them, keyed by source.
std::vector<Record> make_records(std::size_t count) {
  std::vector<Record> records;
  records.reserve(count);
  iw::loggen::Generator generator({.seed = 6, .runs = count});
  iw::events::Enricher enricher({});
  std::string raw;
  std::string enriched;
  while (generator.next(raw)) {
    const auto facts = enricher.enrich(raw, 0,
                                       {.topic = "ingestion-logs",
                                        .offset = static_cast<std::int64_t>(records.size()),
                                        .execution_id = kExecutionId},
                                       enriched);
    if (!facts) {
      std::fprintf(stderr, "enricher refused a generated record: %s\n", raw.c_str());
      std::exit(1);
    }
    records.push_back({std::string(facts->source), enriched});
    raw.clear();
  }
  return records;
}

void fill(const std::string& bootstrap, const std::string& topic,
          const std::vector<Record>& records) {
  char errstr[512];
  std::size_t failures = 0;
  rd_kafka_conf_t* conf = iw::bench::service_producer_conf(bootstrap, &failures);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  for (const Record& r : records) {
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                             RD_KAFKA_V_HEADER("execution_id", kExecutionId.data(),
                                               static_cast<ssize_t>(kExecutionId.size())),
                             RD_KAFKA_V_HEADER("traceparent", kTraceparent.data(),
                                               static_cast<ssize_t>(kTraceparent.size())),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120'000);
  rd_kafka_destroy(rk);
  if (failures > 0) {
    std::fprintf(stderr, "%zu records not written\n", failures);
    std::exit(1);
  }
}

struct Measure {
  double lines_per_second = 0;
  double cpu_seconds_per_million = 0;
  double bytes_per_line = 0;
  /// The in-process test receiver's (this process's) CPU while the pusher ran, for stderr.
  double receiver_cpu_seconds_per_million = 0;
};

// The baseline: plain librdkafka reading the topic to the end, as fast as it can.
Measure raw_consume(const std::string& bootstrap, const std::string& topic, std::size_t count) {
  const double cpu_before = self_cpu_seconds();
  rd_kafka_t* rk = iw::bench::subscribed_consumer(bootstrap, topic, "bench-raw-", false);
  // Timed from the first record on: joining the group is not throughput.
  std::optional<Clock::time_point> first;
  std::size_t seen = 0;
  std::size_t bytes = 0;
  const auto deadline = Clock::now() + 600s;
  while (seen < count) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "raw consumer: %zu of %zu records after 600 s\n", seen, count);
      std::exit(1);
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!first) first = Clock::now();
      ++seen;
      bytes += m->len;
    }
    rd_kafka_message_destroy(m);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - *first).count();
  const double cpu = self_cpu_seconds() - cpu_before;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return {.lines_per_second = static_cast<double>(count - 1) / seconds,
          .cpu_seconds_per_million = cpu * 1e6 / static_cast<double>(count),
          .bytes_per_line = static_cast<double>(bytes) / static_cast<double>(count)};
}

enum class Format { kProtobuf, kJson, kJsonGzip };

// Lines/s in steady state, from the receiver's record of the pushes: from the first push
// answered to the last but one. Entries read before the first answer are start-up; the pusher's
// last batch is the rest cut by batch.max_wait once the input ran dry, which is waiting, not
// throughput.
double steady_lines_per_second(const std::vector<iw::testing::LokiRequest>& requests) {
  if (requests.size() < 3) {
    std::fprintf(stderr, "%zu pushes: give the pusher more records\n", requests.size());
    std::exit(1);
  }
  std::size_t steady = 0;
  for (std::size_t i = 1; i + 1 < requests.size(); ++i) steady += requests[i].accepted;
  const double seconds = std::chrono::duration<double>(requests[requests.size() - 2].answered_at -
                                                       requests.front().answered_at)
                             .count();
  return static_cast<double>(steady) / seconds;
}

// BENCH_LOKI_PUSHER_TIMELINE: each push as answered (ms after the first, entries), to see where
// the pusher waits.
void print_timeline(const std::vector<iw::testing::LokiRequest>& requests) {
  for (const iw::testing::LokiRequest& request : requests) {
    std::fprintf(stderr, "push %8.1f ms %6zu entries\n",
                 std::chrono::duration<double, std::milli>(request.answered_at -
                                                           requests.front().answered_at)
                     .count(),
                 request.entries);
  }
}

std::unique_ptr<iw::testing::LokiReceiver> start_receiver() {
  auto started = iw::testing::LokiReceiver::start();
  if (!started) {
    std::fprintf(stderr, "receiver: %s\n", started.error().message().c_str());
    std::exit(1);
  }
  return std::move(*started);
}

// The request bodies the pusher sends for the records, encoded once: the same entries
// (loki::EntryBuilder, event times), batched as the pusher batches them with its defaults
// (loki::Batcher: 1 MiB, 10 000 entries, streams shared out among `lanes` lanes), protobuf +
// snappy; in the order they were cut, each with its lane.
struct PushBodies {
  std::vector<std::string> bodies;
  std::vector<std::size_t> lanes;
  std::size_t entries = 0;
};

PushBodies push_bodies(const std::vector<Record>& records, std::size_t lanes) {
  iw::loki::EntryBuilder builder;
  iw::loki::BatcherOptions options;
  options.lanes = lanes;
  iw::loki::Batcher batcher(options, iw::base::SystemClock::instance());
  PushBodies out;
  auto take = [&] {
    while (auto batch = batcher.next()) {
      out.bodies.push_back(iw::loki::encode_push(*batch, iw::loki::Encoding::kProtobuf).bytes);
      out.lanes.push_back(batch->lane);
      out.entries += batch->entry_count;
    }
  };
  const auto now = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto entry = builder.enriched_run(
        records[i].value, {.topic = 0, .partition = 0, .offset = static_cast<std::int64_t>(i)},
        now);
    if (!entry || batcher.add(std::move(*entry))) {
      std::fprintf(stderr, "record %zu makes no entry\n", i);
      std::exit(1);
    }
    take();
  }
  batcher.flush();
  take();
  return out;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

// Plain libcurl posting push bodies to a receiver, `lanes` requests at a time on kept-alive
// connections (one curl_multi, one easy handle per lane). As in the pusher, a lane's bodies go
// one at a time and in order (a stream's entries must not overtake each other: the receiver, as
// Loki, refuses entries an hour behind their stream's newest). The raw pusher loop and the floor
// loop post through it.
class LanePoster {
 public:
  LanePoster(const std::string& url, std::size_t lanes, const char* name)
      : name_(name), waiting_(lanes), sending_(lanes), busy_(lanes, false) {
    headers_ = curl_slist_append(nullptr, "Content-Type: application/x-protobuf");
    headers_ = curl_slist_append(headers_, "Expect:");
    multi_ = curl_multi_init();
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      CURL* easy = curl_easy_init();
      curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard);
      curl_easy_setopt(easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(lane));
      handles_.push_back(easy);
    }
  }
  LanePoster(const LanePoster&) = delete;
  LanePoster& operator=(const LanePoster&) = delete;
  ~LanePoster() {
    for (CURL* easy : handles_) {
      curl_multi_remove_handle(multi_, easy);
      curl_easy_cleanup(easy);
    }
    curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_);
  }

  // Queued behind the lane's other bodies; posted at once when the lane is free.
  void post(std::size_t lane, std::string body) {
    waiting_[lane].push_back(std::move(body));
    start(lane);
  }

  // Moves the transfers on, starts each lane's next body when its last one was answered, then
  // waits up to `wait_ms` for the sockets.
  void serve(int wait_ms) {
    int running = 0;
    curl_multi_perform(multi_, &running);
    int queued = 0;
    while (const CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      if ((message->data.result != CURLE_OK || status / 100 != 2) && failed_++ == 0) {
        std::fprintf(stderr, "%s: a push failed: %s, status %ld\n", name_,
                     curl_easy_strerror(message->data.result), status);
      }
      void* lane_pointer = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &lane_pointer);
      const auto lane = reinterpret_cast<std::size_t>(lane_pointer);
      curl_multi_remove_handle(multi_, easy);
      busy_[lane] = false;
      start(lane);
    }
    if (wait_ms > 0 && busy()) curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
  }

  // A body posting or waiting.
  [[nodiscard]] bool busy() const {
    return std::ranges::any_of(busy_, [](bool b) { return b; }) ||
           std::ranges::any_of(waiting_, [](const auto& q) { return !q.empty(); });
  }
  [[nodiscard]] std::size_t failed() const { return failed_; }

 private:
  void start(std::size_t lane) {
    if (busy_[lane] || waiting_[lane].empty()) return;
    sending_[lane] = std::move(waiting_[lane].front());
    waiting_[lane].pop_front();
    CURL* easy = handles_[lane];
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, sending_[lane].data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(sending_[lane].size()));
    curl_multi_add_handle(multi_, easy);
    busy_[lane] = true;
  }

  const char* name_;
  curl_slist* headers_ = nullptr;
  CURLM* multi_ = nullptr;
  std::vector<CURL*> handles_;
  std::vector<std::deque<std::string>> waiting_;
  std::vector<std::string> sending_;
  std::vector<bool> busy_;
  std::size_t failed_ = 0;
};

// The pusher's baseline: the pre-encoded bodies posted to a fresh test receiver as the pusher
// sends them (LanePoster, `in_flight` lanes), as fast as the receiver answers. Its CPU is this
// thread's (the receiver runs in this process too): HTTP alone, the encoding was done before.
Measure raw_push(const PushBodies& bodies, std::size_t in_flight) {
  const std::unique_ptr<iw::testing::LokiReceiver> receiver = start_receiver();
  std::size_t failed = 0;
  double cpu = 0;
  {
    LanePoster poster(receiver->push_url(), in_flight, "raw pusher loop");
    // Copied in before the clock starts: what is timed is posting.
    std::vector<std::vector<std::string>> lane_bodies(in_flight);
    for (std::size_t i = 0; i < bodies.bodies.size(); ++i) {
      lane_bodies[bodies.lanes[i]].push_back(bodies.bodies[i]);
    }
    const double cpu_before = thread_cpu_seconds();
    for (std::size_t lane = 0; lane < in_flight; ++lane) {
      for (std::string& body : lane_bodies[lane]) poster.post(lane, std::move(body));
    }
    while (poster.busy()) poster.serve(100);
    cpu = thread_cpu_seconds() - cpu_before;
    failed = poster.failed();
  }
  if (failed > 0 || receiver->entry_count() != bodies.entries) {
    std::fprintf(stderr, "raw pusher loop: %zu pushes failed, %zu of %zu lines stored\n", failed,
                 receiver->entry_count(), bodies.entries);
    std::exit(1);
  }
  std::size_t body_bytes = 0;
  for (const std::string& body : bodies.bodies) body_bytes += body.size();
  const auto lines = static_cast<double>(bodies.entries);
  return {.lines_per_second = steady_lines_per_second(receiver->requests()),
          .cpu_seconds_per_million = cpu * 1e6 / lines,
          .bytes_per_line = static_cast<double>(body_bytes) / lines};
}

// The floor of any pusher built on this project's encoders: one thread doing only the work a
// pusher cannot avoid, with no bookkeeping at all (no offsets, ledger, dead letters, metrics,
// retries, memory bound): a plain librdkafka consumer (fresh group, earliest; its prefetch as
// large as librdkafka allows, so its 1 s refetch pause after a full queue never starves it),
// each record made an entry (loki::EntryBuilder) and batched (loki::Batcher, the pusher's
// defaults and lanes), each batch encoded (protobuf + snappy) when cut and posted at once as
// the raw pusher loop posts (LanePoster). What is left between it and the raw pusher loop is
// the price of consuming and encoding on this machine; between the pusher and it, the pusher's
// own. CPU: this thread's (the receiver runs in this process, librdkafka's fetch threads are
// not counted).
Measure floor_loop(const std::string& bootstrap, const std::string& topic, std::size_t count,
                   std::size_t in_flight) {
  const std::unique_ptr<iw::testing::LokiReceiver> receiver = start_receiver();
  const double cpu_before = thread_cpu_seconds();
  rd_kafka_t* rk = iw::bench::subscribed_consumer(
      bootstrap, topic, "bench-floor-", false,
      {{"queued.max.messages.kbytes", "2097151"}, {"queued.min.messages", "10000000"}});

  std::size_t failed = 0;
  double cpu = 0;
  {
    LanePoster poster(receiver->push_url(), in_flight, "floor loop");
    iw::loki::EntryBuilder builder;
    iw::loki::BatcherOptions options;
    options.lanes = in_flight;
    iw::loki::Batcher batcher(options, iw::base::SystemClock::instance());
    auto take = [&] {
      while (auto batch = batcher.next()) {
        poster.post(batch->lane,
                    iw::loki::encode_push(*batch, iw::loki::Encoding::kProtobuf).bytes);
      }
    };
    std::size_t seen = 0;
    const auto deadline = Clock::now() + 600s;
    while (seen < count) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "floor loop: %zu of %zu records after 600 s\n", seen, count);
        std::exit(1);
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 10);
      if (m != nullptr && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        auto entry = builder.enriched_run(
            value,
            {.topic = 0, .partition = static_cast<std::int32_t>(m->partition), .offset = m->offset},
            std::chrono::system_clock::now());
        if (!entry || batcher.add(std::move(*entry))) {
          std::fprintf(stderr, "floor loop: record %zu makes no entry\n", seen);
          std::exit(1);
        }
        ++seen;
        take();
      }
      if (m != nullptr) rd_kafka_message_destroy(m);
      poster.serve(0);
    }
    batcher.flush();
    take();
    while (poster.busy()) poster.serve(100);
    cpu = thread_cpu_seconds() - cpu_before;
    failed = poster.failed();
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (failed > 0 || receiver->entry_count() != count) {
    std::fprintf(stderr, "floor loop: %zu pushes failed, %zu of %zu lines stored\n", failed,
                 receiver->entry_count(), count);
    std::exit(1);
  }
  return {.lines_per_second = steady_lines_per_second(receiver->requests()),
          .cpu_seconds_per_million = cpu * 1e6 / static_cast<double>(count)};
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

// How the pusher is run: its pushes in flight (0: the key is not written, for a binary from
// before loki_pusher.max_in_flight, which had one) and YAML appended to its configuration.
struct PusherRun {
  std::size_t in_flight = 0;
  std::string extra_config;
};

Measure pusher(const std::string& bootstrap, const std::string& binary, const std::string& topic,
               const std::string& dlq, std::size_t count, Format format, const PusherRun& run) {
  const std::unique_ptr<iw::testing::LokiReceiver> receiver = start_receiver();

  const std::string suffix = random_suffix();
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string config = (dir / ("iw-bench-loki-pusher-" + suffix + ".yaml")).string();
  const std::string log = (dir / ("iw-bench-loki-pusher-" + suffix + ".log")).string();
  {
    std::ofstream out(config);
    out << "loki_pusher:\n"
        << "  runs_topic: " << topic << "\n"
        << "  alerts_topic: \"\"\n"
        << "  dlq_topic: " << dlq << "\n"
        << "  group_id: bench-loki-pusher-" << suffix << "\n"
        << "  url: http://127.0.0.1:" << receiver->port() << "\n"
        << "  format: " << (format == Format::kProtobuf ? "protobuf" : "json") << "\n"
        << "  gzip: " << (format == Format::kJsonGzip ? "true" : "false") << "\n";
    if (run.in_flight > 0) out << "  max_in_flight: " << run.in_flight << "\n";
    out << run.extra_config << "\n";
  }
  // Everything the child needs, prepared before fork(): only async-signal-safe calls after it.
  std::vector<std::string> args = {binary, "--config", config, "--bootstrap-servers", bootstrap};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string listen = "IW_HTTP_LISTEN=127.0.0.1:0";
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("IW_")) continue;  // only the configuration above
    envp.push_back(*e);
  }
  envp.push_back(listen.data());
  envp.push_back(nullptr);
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  const double receiver_cpu_before = self_cpu_seconds();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(log_fd);

  auto fail = [&](const char* what) {
    std::fprintf(stderr, "ingest-loki-pusher: %s (%zu of %zu lines stored)\n%s\n", what,
                 receiver->entry_count(), count, tail_of(log).c_str());
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    std::exit(1);
  };
  // Waits in short steps, so a pusher that exits or stops making progress (lines dead-lettered
  // or refused never arrive) is noticed soon.
  const auto deadline = Clock::now() + 600s;
  std::size_t stored = 0;
  auto progressed = Clock::now();
  while (!receiver->wait_for_entries(count, 200ms)) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) fail("exited early");
    if (Clock::now() > deadline) fail("did not finish in 600 s");
    if (const std::size_t now = receiver->entry_count(); now != stored) {
      stored = now;
      progressed = Clock::now();
    } else if (Clock::now() - progressed > 30s) {
      fail("no line stored for 30 s (dead-lettered or refused?)");
    }
  }
  const double cpu = process_cpu_seconds(pid);
  const double receiver_cpu = self_cpu_seconds() - receiver_cpu_before;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "ingest-loki-pusher exited with status %d\n%s\n", status,
                 tail_of(log).c_str());
  }
  std::filesystem::remove(config);
  std::filesystem::remove(log);

  // The last push is recorded a moment after its entries are stored.
  std::vector<iw::testing::LokiRequest> requests = receiver->requests();
  auto accepted = [&requests] {
    std::size_t sum = 0;
    for (const auto& request : requests) sum += request.accepted;
    return sum;
  };
  while (accepted() < count) {
    std::this_thread::sleep_for(1ms);
    requests = receiver->requests();
  }
  std::size_t body_bytes = 0;
  std::size_t refused = 0;
  for (const iw::testing::LokiRequest& request : requests) {
    if (request.status / 100 != 2) ++refused;
    body_bytes += request.body_bytes;
  }
  if (refused > 0 || receiver->duplicates() > 0 || receiver->entry_count() != count) {
    std::fprintf(stderr, "receiver: %zu pushes refused, %zu duplicates, %zu of %zu lines\n",
                 refused, receiver->duplicates(), receiver->entry_count(), count);
    std::exit(1);
  }
  if (std::getenv("BENCH_LOKI_PUSHER_TIMELINE") != nullptr) print_timeline(requests);
  return {.lines_per_second = steady_lines_per_second(requests),
          .cpu_seconds_per_million = cpu * 1e6 / static_cast<double>(count),
          .bytes_per_line = static_cast<double>(body_bytes) / static_cast<double>(count),
          .receiver_cpu_seconds_per_million = receiver_cpu * 1e6 / static_cast<double>(count)};
}

struct Series {
  std::vector<double> lines_per_second, cpu_seconds_per_million, bytes_per_line;
  void add(const Measure& m) {
    lines_per_second.push_back(m.lines_per_second);
    cpu_seconds_per_million.push_back(m.cpu_seconds_per_million);
    bytes_per_line.push_back(m.bytes_per_line);
  }
};

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const iw::bench::BenchArgs args =
      iw::bench::parse_bench_args(argc, argv, "PUSHER_BINARY", 50'000);
  const std::string& bootstrap = args.bootstrap;
  const std::string& binary = args.binary;
  const std::size_t count = args.records;
  const int rounds = args.rounds;
  // The pusher's default; BENCH_LOKI_PUSHER_IN_FLIGHT=0 for a binary from before the key.
  const PusherRun run{
      .in_flight = std::stoul(env_or("BENCH_LOKI_PUSHER_IN_FLIGHT", std::to_string(kInFlight))),
      .extra_config = env_or("BENCH_LOKI_PUSHER_EXTRA_CONFIG", "")};
  const std::size_t raw_in_flight = std::max<std::size_t>(run.in_flight, 1);
  const std::string formats = env_or("BENCH_LOKI_PUSHER_FORMATS", "protobuf,json,json_gzip");
  // A broken pipe to the receiver must not kill the bench.
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::vector<Record> records = make_records(count);
  const PushBodies bodies = push_bodies(records, raw_in_flight);

  struct Side {
    Format format;
    const char* key;
    const char* name;
    Series series;
  };
  std::vector<Side> sides;
  for (Side side : {Side{Format::kProtobuf, "protobuf", "protobuf + snappy", {}},
                    Side{Format::kJson, "json", "JSON", {}},
                    Side{Format::kJsonGzip, "json_gzip", "JSON + gzip", {}}}) {
    std::stringstream list(formats);
    for (std::string item; std::getline(list, item, ',');) {
      if (item == side.key) sides.push_back(side);
    }
  }
  Series raw;
  Series raw_post;
  Series floor;
  for (int round = 0; round < rounds; ++round) {
    const std::string suffix = random_suffix();
    const std::string topic = "bench-loki-in-" + suffix;
    const std::string dlq = "bench-loki-dlq-" + suffix;
    create_topic(bootstrap, topic, 3);
    create_topic(bootstrap, dlq, 1);
    fill(bootstrap, topic, records);
    raw.add(raw_consume(bootstrap, topic, count));
    raw_post.add(raw_push(bodies, raw_in_flight));
    floor.add(floor_loop(bootstrap, topic, count, raw_in_flight));
    std::fprintf(stderr,
                 "round %d: raw consume %.0f rec/s, %.2f CPU-s/M; raw pusher loop (%zu in flight) "
                 "%.0f lines/s, %.2f CPU-s/M; floor loop %.0f lines/s, %.2f CPU-s/M",
                 round + 1, raw.lines_per_second.back(), raw.cpu_seconds_per_million.back(),
                 raw_in_flight, raw_post.lines_per_second.back(),
                 raw_post.cpu_seconds_per_million.back(), floor.lines_per_second.back(),
                 floor.cpu_seconds_per_million.back());
    for (Side& side : sides) {
      const Measure m = pusher(bootstrap, binary, topic, dlq, count, side.format, run);
      side.series.add(m);
      std::fprintf(stderr, "; %s %.0f lines/s, %.2f CPU-s/M (receiver %.2f), %.0f B/line",
                   side.name, m.lines_per_second, m.cpu_seconds_per_million,
                   m.receiver_cpu_seconds_per_million, m.bytes_per_line);
    }
    std::fprintf(stderr, "\n");
  }

  const double raw_rate = median(raw.lines_per_second);
  const double raw_cpu = median(raw.cpu_seconds_per_million);
  const double record_bytes = median(raw.bytes_per_line);
  const double post_rate = median(raw_post.lines_per_second);
  const double post_cpu = median(raw_post.cpu_seconds_per_million);
  for (const Side& side : sides) {
    if (side.format != Format::kProtobuf) continue;
    const double rate = median(side.series.lines_per_second);
    const double ratio = rate / post_rate;
    std::printf(
        "| ingest-loki-pusher lines/s into the Loki test receiver, protobuf + snappy (%zu x %.0f B "
        "enriched runs) vs the raw pusher loop (plain libcurl posting the same bodies, "
        "pre-encoded, "
        "%zu in flight, to the same receiver) | %.0f | %.0f | %.3f | >= 0.8 | %s |\n",
        count, record_bytes, raw_in_flight, rate, post_rate, ratio,
        ratio >= 0.8 ? "met" : "MISSED");
    const double cpu = median(side.series.cpu_seconds_per_million);
    std::printf(
        "| ingest-loki-pusher CPU-seconds per million lines, protobuf + snappy (process life to "
        "the "
        "last line) vs the raw pusher loop's (posting only) | %.2f | %.2f | %.2f | <= 8.2 | %s |\n",
        cpu, post_cpu, cpu / post_cpu, cpu <= 8.2 ? "met" : "MISSED");
  }
  const double floor_rate = median(floor.lines_per_second);
  const double floor_cpu = median(floor.cpu_seconds_per_million);
  std::printf(
      "| the floor loop (one thread, no bookkeeping: librdkafka consume -> entry -> protobuf + "
      "snappy -> post, %zu in flight; the least CPU per line a pusher on these encoders needs) "
      "lines/s vs "
      "the raw pusher loop (posting pre-encoded bodies) | %.0f | %.0f | %.3f | — | reported |\n",
      raw_in_flight, floor_rate, post_rate, floor_rate / post_rate);
  std::printf(
      "| the floor loop's CPU-seconds per million lines (its thread: consume, entries, encode, "
      "post) vs the raw pusher loop's (posting only) | %.2f | %.2f | %.2f | — | reported |\n",
      floor_cpu, post_cpu, floor_cpu / post_cpu);
  for (const Side& side : sides) {
    if (side.format != Format::kProtobuf) continue;
    const double rate = median(side.series.lines_per_second);
    std::printf(
        "| ingest-loki-pusher lines/s, protobuf + snappy, vs the floor loop | %.0f | %.0f | %.3f "
        "| — | reported |\n",
        rate, floor_rate, rate / floor_rate);
  }
  for (const Side& side : sides) {
    const double rate = median(side.series.lines_per_second);
    std::printf(
        "| ingest-loki-pusher lines/s into the Loki test receiver, %s (%zu x %.0f B enriched "
        "runs) vs raw librdkafka consume only | %.0f | %.0f | %.3f | — | reported |\n",
        side.name, count, record_bytes, rate, raw_rate, rate / raw_rate);
  }
  for (const Side& side : sides) {
    const double cpu = median(side.series.cpu_seconds_per_million);
    std::printf(
        "| ingest-loki-pusher CPU-seconds per million lines, %s (process life to the last line) "
        "vs raw consume only | %.2f | %.2f | %.2f | — | reported |\n",
        side.name, cpu, raw_cpu, cpu / raw_cpu);
  }
  for (const Side& side : sides) {
    const double bytes = median(side.series.bytes_per_line);
    std::printf(
        "| ingest-loki-pusher request bytes per line, %s vs the record's own bytes | %.0f | %.0f "
        "| %.2f | — | reported |\n",
        side.name, bytes, record_bytes, bytes / record_bytes);
  }
  return 0;
}
