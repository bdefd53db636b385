// ingest-loki-pusher as a process against the real broker of the CTest `kafka` fixture and the
// Loki test receiver: 10 000 enriched runs (iw::loggen records through the enricher) must all
// reach "Loki", none lost, through an outage of 30 s, a 429 storm and 500s, a 400 refusing three
// lines, and a SIGKILL; memory stays bounded while Loki is down and the topic grows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "alert_events.h"
#include "iw/base/sha256.h"
#include "iw/events/enricher.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/producer.h"
#include "iw/log/logger.h"
#include "iw/loggen/generator.h"
#include "iw/testing/child_process.h"
#include "iw/testing/http_get.h"
#include "iw/testing/kafka_cluster.h"
#include "iw/testing/loki_receiver.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::LokiReceiver;
using iw::testing::random_name;
using iw::testing::read_topic;
using iw::testing::TempDir;

constexpr std::size_t kRuns = 10'000;

// Enriched runs as the enricher writes them, with their keys and event ids.
struct Runs {
  std::vector<std::string> values;
  std::vector<std::string> keys;
  std::vector<std::string> ids;
};

// `first_offset`: the raw offset the first run is enriched with (pipeline.raw.offset); the same
// seed with another one makes the same runs (same event.id) in other lines, as a resend does.
Runs make_runs(std::size_t count, std::uint64_t seed, std::int64_t first_offset = 0) {
  Runs runs;
  loggen::Generator generator({.seed = seed, .runs = count});
  events::Enricher enricher({});
  std::string raw;
  std::string enriched;
  while (generator.next(raw)) {
    const auto facts =
        enricher.enrich(raw, 0,
                        {.topic = "ingestion-logs",
                         .offset = first_offset + static_cast<std::int64_t>(runs.values.size()),
                         .execution_id = "exec-loki-pusher-test"},
                        enriched);
    EXPECT_TRUE(facts.has_value()) << raw;
    if (!facts) continue;
    runs.keys.emplace_back(facts->source);
    runs.ids.emplace_back(facts->event_id);
    runs.values.push_back(enriched);
    raw.clear();
  }
  return runs;
}

// The event.id of an enriched line, "" for other lines.
std::string event_id(std::string_view line) {
  constexpr std::string_view kField = R"("event":{"id":")";
  const auto at = line.find(kField);
  if (at == std::string_view::npos) return {};
  return std::string(line.substr(at + kField.size(), 32));
}

using Deliveries = iw::testing::CountingDeliveries;

// The value of one series in a Prometheus exposition, or -1 when absent.
double series_value(const std::string& exposition, const std::string& series) {
  const std::string prefix = "\n" + series + " ";
  const auto at = exposition.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + prefix.size()));
}

// The end of a process's output, for failure messages.
std::string tail(const std::string& text, std::size_t bytes = 6000) {
  return "\n" + (text.size() > bytes ? text.substr(text.size() - bytes) : text);
}

class LokiPusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = iw::testing::fixture_bootstrap_servers();
    ASSERT_FALSE(bootstrap_.empty());
    client_.bootstrap_servers = bootstrap_;
    client_.logger = &logger_;
    ASSERT_TRUE(iw::testing::create_topics(client_, {{.name = runs_topic_, .partitions = 3},
                                                     {.name = alerts_topic_, .partitions = 1},
                                                     {.name = dlq_topic_, .partitions = 1}}));
    auto producer = kafka::make_producer({.client = client_}, deliveries_);
    ASSERT_TRUE(producer.has_value());
    producer_ = std::move(*producer);
  }

  void start_receiver(testing::LokiReceiverOptions options = {}) {
    auto receiver = LokiReceiver::start(std::move(options));
    ASSERT_TRUE(receiver.has_value());
    receiver_ = std::move(*receiver);
  }

  // Writes runs [from, to) keyed by source, as the enricher does.
  void produce(const Runs& runs, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const std::array<kafka::HeaderView, 2> headers = {{
          {"execution_id", "exec-loki-pusher-test"},
          {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      }};
      ASSERT_TRUE(producer_
                      ->produce({.topic = runs_topic_,
                                 .key = runs.keys[i],
                                 .value = runs.values[i],
                                 .headers = headers},
                                i)
                      .has_value());
      producer_->poll(0ms);
    }
    ASSERT_TRUE(producer_->flush(60s).has_value());
    ASSERT_EQ(deliveries_.failed, 0);
  }

  void produce_alerts(int count) {
    for (int n = 0; n < count; ++n) {
      const std::string value = alert_event(n);
      ASSERT_TRUE(
          producer_->produce({.topic = alerts_topic_, .key = "fp", .value = value}, 0).has_value());
    }
    ASSERT_TRUE(producer_->flush(60s).has_value());
  }

  std::unique_ptr<ChildProcess> pusher(std::vector<std::string> env = {}) {
    env.push_back("IW_HTTP_LISTEN=127.0.0.1:0");
    env.push_back("IW_KAFKA_BOOTSTRAP_SERVERS=" + bootstrap_);
    env.push_back("IW_LOKI_PUSHER_URL=http://127.0.0.1:" + std::to_string(receiver_->port()));
    // Short waits, so faults pass quickly; a killed member leaves the group within 6 s.
    const std::string config = "loki_pusher:\n  runs_topic: " + runs_topic_ +
                               "\n  alerts_topic: " + alerts_topic_ +
                               "\n  dlq_topic: " + dlq_topic_ + "\n  group_id: " + group_ +
                               "\n  backoff:\n    min: 50ms\n    max: 1s\n"
                               "  batch:\n    max_wait: 200ms\n"
                               "  ready_probe_interval: 200ms\n"
                               "kafka:\n  properties:\n    session.timeout.ms: 6000\n";
    const auto file = temp_.write("pusher.yaml", config);
    auto child = std::make_unique<ChildProcess>(
        temp_.path(), std::vector<std::string>{IW_LOKI_PUSHER_PATH, "--config", file.string()},
        std::move(env));
    port_ = child->wait_for_port();
    EXPECT_TRUE(port_.has_value()) << child->out() << child->err();
    return child;
  }

  std::string scrape() {
    const auto response = iw::testing::http_get(*port_, "/metrics");
    return response ? "\n" + response->body : std::string();
  }

  // Event ids stored by the receiver, each with how often it is stored.
  std::map<std::string, int> stored_ids() const {
    std::map<std::string, int> ids;
    for (const auto& entry : receiver_->entries()) {
      const std::string id = event_id(entry.line);
      if (!id.empty()) ++ids[id];
    }
    return ids;
  }

  // Every run of `runs` (up to `count`) stored exactly once.
  void expect_all_stored_once(const Runs& runs, std::size_t count) {
    const auto ids = stored_ids();
    std::size_t missing = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const auto it = ids.find(runs.ids[i]);
      if (it == ids.end()) {
        ++missing;
      } else {
        EXPECT_EQ(it->second, 1) << "stored twice: " << runs.ids[i];
      }
    }
    EXPECT_EQ(missing, 0u) << "runs lost";
    EXPECT_EQ(ids.size(), count);
  }

  // Every run of `runs` (up to `count`) either stored exactly once or in `dead`, not both.
  void expect_all_stored_once_or(const Runs& runs, std::size_t count,
                                 const std::vector<iw::testing::ConsumedRecord>& dead) {
    std::set<std::string> dead_ids;
    for (const auto& record : dead) {
      EXPECT_TRUE(dead_ids.insert(event_id(record.value)).second) << "dead-lettered twice";
    }
    const auto ids = stored_ids();
    for (std::size_t i = 0; i < count; ++i) {
      const auto it = ids.find(runs.ids[i]);
      const bool stored = it != ids.end();
      EXPECT_NE(stored, dead_ids.contains(runs.ids[i])) << runs.ids[i];
      if (stored) {
        EXPECT_EQ(it->second, 1) << "stored twice: " << runs.ids[i];
      }
    }
  }

  void stop(ChildProcess& child) {
    child.signal(SIGTERM);
    EXPECT_EQ(child.wait(), 0) << child.err() << child.out().substr(0, 4000);
  }

  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  std::string bootstrap_;
  kafka::ClientOptions client_;
  Deliveries deliveries_;
  std::unique_ptr<kafka::Producer> producer_;
  TempDir temp_;
  std::unique_ptr<LokiReceiver> receiver_;
  std::optional<std::uint16_t> port_;
  std::string runs_topic_ = random_name("enriched");
  std::string alerts_topic_ = random_name("alerts");
  std::string dlq_topic_ = random_name("dlq");
  std::string group_ = random_name("pusher");
};

TEST_F(LokiPusherTest, EveryRunArrivesThroughA429StormAnd500s) {
  const Runs runs = make_runs(kRuns, 1);
  start_receiver();
  // A storm: 2 answers with Retry-After: 1, then 20 without, then 10 server errors.
  receiver_->fail_next(2, 429, "Ingestion rate limit exceeded for user fake", 1);
  receiver_->fail_next(20, 429, "Ingestion rate limit exceeded for user fake");
  receiver_->fail_next(10, 500, "rpc error: code = Unavailable");
  produce(runs, 0, kRuns);
  produce_alerts(5);
  const auto started = std::chrono::steady_clock::now();
  // One push in flight: the check below, that a failed request is followed by the same batch,
  // holds only then (with several lanes, another lane's push already under way may arrive
  // between a failure and its retry; the lanes have tests of their own).
  auto child = pusher({"IW_LOKI_PUSHER_BACKOFF_MAX=200ms", "IW_LOKI_PUSHER_MAX_IN_FLIGHT=1"});
  ASSERT_TRUE(receiver_->wait_for_entries(kRuns + 5, 90s))
      << receiver_->entry_count() << tail(child->out());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  expect_all_stored_once(runs, kRuns);
  EXPECT_EQ(receiver_->duplicates(), 0u);

  // Every failed request was followed by the same batch again, byte for byte the same size (the
  // receiver does not decode what it fails on purpose).
  const auto requests = receiver_->requests();
  std::size_t failed = 0;
  for (std::size_t i = 0; i + 1 < requests.size(); ++i) {
    if (requests[i].status == 204) continue;
    ++failed;
    EXPECT_EQ(requests[i + 1].body_bytes, requests[i].body_bytes) << i;
  }
  EXPECT_EQ(failed, 32u);

  // The alerts went to their own stream.
  std::size_t alerts = 0;
  for (const auto& entry : receiver_->entries()) {
    if (entry.stream.find(R"(job="ingestion-alerts")") != std::string::npos) {
      ++alerts;
      EXPECT_THAT(entry.stream, ::testing::HasSubstr(R"(status="firing")"));
    }
  }
  EXPECT_EQ(alerts, 5u);

  // The metrics agree, and promtool accepts the exposition.
  std::string metrics;
  for (int attempt = 0; attempt < 50; ++attempt) {
    metrics = scrape();
    if (series_value(metrics, "ingestwatch_records_out_total{topic=\"loki\"}") == kRuns + 5) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(series_value(metrics, "ingestwatch_records_in_total"), kRuns + 5);
  EXPECT_EQ(series_value(metrics, "ingestwatch_records_out_total{topic=\"loki\"}"), kRuns + 5);
  EXPECT_EQ(series_value(metrics, "ingestwatch_loki_entries_pushed_total"), kRuns + 5);
  // Every accepted record's latency, each at least the storm's first backoff long.
  EXPECT_EQ(series_value(metrics, "ingestwatch_record_latency_seconds_count"), kRuns + 5);
  EXPECT_EQ(series_value(metrics, R"(ingestwatch_record_latency_seconds_bucket{le="0.005"})"), 0);
  EXPECT_EQ(series_value(metrics, R"(ingestwatch_loki_pushes_total{outcome="retry",status="429"})"),
            22);
  EXPECT_EQ(series_value(metrics, R"(ingestwatch_loki_pushes_total{outcome="retry",status="500"})"),
            10);
  EXPECT_EQ(series_value(metrics, "ingestwatch_loki_retries_total"), 32);
  EXPECT_EQ(series_value(metrics, "ingestwatch_loki_backoff_seconds"), 0);
  const auto file = temp_.write("scrape.txt", metrics.substr(1));
  const std::string check = "promtool check metrics < '" + file.string() + "' > '" +
                            (temp_.path() / "promtool.out").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << iw::testing::read_file(temp_.path() / "promtool.out");
  const auto ready = iw::testing::http_get(*port_, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  stop(*child);
  EXPECT_TRUE(read_topic(bootstrap_, dlq_topic_, 0, 5s, 1s).empty());
  std::cout << "[ figures  ] " << kRuns << " runs through 32 failed pushes in " << seconds << " s, "
            << requests.size() << " requests\n";
}

TEST_F(LokiPusherTest, A400RefusingThreeLinesDeadLettersThoseAndResendsNothing) {
  const Runs runs = make_runs(kRuns, 2);
  start_receiver();
  // Three runs of one source, read one after the other from its partition: one batch.
  std::set<std::string> refused;
  for (std::size_t i = 4000; i < kRuns && refused.size() < 3; ++i) {
    if (runs.keys[i] == "Efficy") refused.insert(runs.ids[i]);
  }
  ASSERT_EQ(refused.size(), 3u);
  receiver_->reject_lines(
      [refused](std::string_view line) { return refused.contains(event_id(line)); });
  produce(runs, 0, kRuns);
  auto child = pusher();
  ASSERT_TRUE(receiver_->wait_for_entries(kRuns - 3, 60s)) << receiver_->entry_count();
  const auto dead = read_topic(bootstrap_, dlq_topic_, 3, 30s, 2s);
  ASSERT_EQ(dead.size(), 3u);
  std::set<std::string> dead_ids;
  for (const auto& record : dead) {
    dead_ids.insert(event_id(record.value));
    EXPECT_EQ(record.headers.at("dlq.reason"), "out_of_order");
    EXPECT_EQ(record.headers.at("dlq.stage"), "loki-pusher");
    EXPECT_EQ(record.headers.at("dlq.topic"), runs_topic_);
    EXPECT_THAT(record.headers.at("dlq.error"), ::testing::HasSubstr("entry out of order"));
    EXPECT_EQ(record.headers.at("execution_id"), "exec-loki-pusher-test");
    EXPECT_THAT(record.headers.at("traceparent"),
                ::testing::StartsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    EXPECT_EQ(record.key, "Efficy");
    // The record itself, unchanged: the value Kafka holds at dlq.partition/dlq.offset.
    const auto index = std::find(runs.ids.begin(), runs.ids.end(), event_id(record.value));
    ASSERT_NE(index, runs.ids.end());
    EXPECT_EQ(record.value, runs.values[static_cast<std::size_t>(index - runs.ids.begin())]);
  }
  EXPECT_EQ(dead_ids, refused);

  // Nothing was sent twice: one 400, and as many entries sent as there are records.
  std::this_thread::sleep_for(500ms);
  const auto requests = receiver_->requests();
  std::size_t sent = 0;
  std::size_t bad_requests = 0;
  for (const auto& request : requests) {
    sent += request.entries;
    bad_requests += request.status == 400 ? 1 : 0;
  }
  EXPECT_EQ(bad_requests, 1u);
  EXPECT_EQ(sent, kRuns);
  EXPECT_EQ(receiver_->duplicates(), 0u);
  EXPECT_EQ(receiver_->entry_count(), kRuns - 3);
  const auto ids = stored_ids();
  for (const std::string& id : refused) EXPECT_FALSE(ids.contains(id));

  std::string metrics;
  for (int attempt = 0; attempt < 50; ++attempt) {
    metrics = scrape();
    if (series_value(metrics,
                     R"(ingestwatch_records_dead_lettered_total{reason="out_of_order"})") == 3) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(
      series_value(metrics,
                   R"(ingestwatch_loki_rejected_entries_total{by="loki",reason="out_of_order"})"),
      3);
  EXPECT_EQ(
      series_value(metrics, R"(ingestwatch_records_dead_lettered_total{reason="out_of_order"})"),
      3);
  EXPECT_EQ(
      series_value(metrics,
                   R"(ingestwatch_loki_pushes_total{outcome="partly_rejected",status="400"})"),
      1);
  stop(*child);
}

// Loki's active-stream limit (429 "Maximum active stream limit exceeded ..."): the streams it
// refuses are dead-lettered as stream_limit after a few tries; the others all arrive, and nothing
// waits for ever behind the refused ones.
TEST_F(LokiPusherTest, TheStreamLimitDeadLettersRefusedStreamsWhileOthersArrive) {
  constexpr std::size_t kCount = 3000;
  constexpr std::size_t kStreams = 4;
  const Runs runs = make_runs(kCount, 5);
  // The runs span days of event time: the streams stored by a request the limit answered are
  // sent again alone, and Loki would refuse their entries more than an hour behind as too far
  // behind (docs/LOKI_PUSHER.md). Not what this test is about: a wide window.
  start_receiver({.ordering_window = std::chrono::hours{24 * 365}, .max_active_streams = kStreams});
  produce(runs, 0, kCount);
  const auto started = std::chrono::steady_clock::now();
  auto child = pusher({"IW_LOKI_PUSHER_STREAM_LIMIT_MAX_ATTEMPTS=2"});

  // Every run is stored once or dead-lettered: poll until the two add up.
  std::vector<iw::testing::ConsumedRecord> dead;
  const auto deadline = started + 90s;
  while (std::chrono::steady_clock::now() < deadline) {
    dead = read_topic(bootstrap_, dlq_topic_, 0, 3s, 1s);
    if (receiver_->entry_count() + dead.size() >= kCount) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(receiver_->entry_count() + dead.size(), kCount)
      << receiver_->entry_count() << " stored, " << dead.size() << " dead" << tail(child->out());
  ASSERT_GT(dead.size(), 0u) << "the runs of more than " << kStreams << " streams";

  // The receiver holds kStreams streams; no run is both stored and dead-lettered.
  std::set<std::string> streams;
  for (const auto& entry : receiver_->entries()) streams.insert(entry.stream);
  EXPECT_EQ(streams.size(), kStreams);
  expect_all_stored_once_or(runs, kCount, dead);
  for (const auto& record : dead) {
    EXPECT_EQ(record.headers.at("dlq.reason"), "stream_limit");
    EXPECT_EQ(record.headers.at("dlq.stage"), "loki-pusher");
    EXPECT_THAT(record.headers.at("dlq.error"),
                ::testing::HasSubstr("Maximum active stream limit exceeded"));
  }

  std::string metrics;
  for (int attempt = 0; attempt < 50; ++attempt) {
    metrics = scrape();
    if (series_value(metrics,
                     R"(ingestwatch_records_dead_lettered_total{reason="stream_limit"})") ==
        static_cast<double>(dead.size())) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(
      series_value(metrics, R"(ingestwatch_records_dead_lettered_total{reason="stream_limit"})"),
      static_cast<double>(dead.size()));
  EXPECT_EQ(
      series_value(metrics,
                   R"(ingestwatch_loki_rejected_entries_total{by="loki",reason="stream_limit"})"),
      static_cast<double>(dead.size()));
  EXPECT_GT(series_value(metrics,
                         R"(ingestwatch_loki_pushes_total{outcome="stream_limited",status="429"})"),
            0);
  EXPECT_EQ(series_value(metrics, R"(ingestwatch_records_out_total{topic="loki"})"),
            static_cast<double>(kCount - dead.size()));
  const auto ready = iw::testing::http_get(*port_, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  stop(*child);
  std::cout << "[ figures  ] " << kCount << " runs, " << kStreams
            << " streams allowed: " << receiver_->entry_count() << " stored, " << dead.size()
            << " dead-lettered as stream_limit in " << seconds << " s, "
            << receiver_->requests().size() << " requests\n";
}

// A producer resend: the same raw runs again, enriched at other offsets (other lines, the same
// event.id). Each run is stored once; the copies are counted, not pushed.
TEST_F(LokiPusherTest, ARunSentTwiceIsStoredOnce) {
  constexpr std::size_t kCount = 2000;
  constexpr std::size_t kResent = 500;
  const Runs runs = make_runs(kCount, 6);
  const Runs resent = make_runs(kResent, 6, 1'000'000);
  ASSERT_EQ(resent.ids[0], runs.ids[0]);
  ASSERT_NE(resent.values[0], runs.values[0]);
  start_receiver();
  produce(runs, 0, kCount);
  produce(resent, 0, kResent);
  auto child = pusher();
  ASSERT_TRUE(receiver_->wait_for_entries(kCount, 60s)) << receiver_->entry_count();
  std::string metrics;
  for (int attempt = 0; attempt < 100; ++attempt) {
    metrics = scrape();
    if (series_value(metrics, "ingestwatch_duplicate_records_total") == kResent) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(series_value(metrics, "ingestwatch_duplicate_records_total"), kResent);
  EXPECT_EQ(series_value(metrics, "ingestwatch_records_in_total"), kCount + kResent);
  std::this_thread::sleep_for(500ms);
  expect_all_stored_once(runs, kCount);
  EXPECT_EQ(receiver_->entry_count(), kCount);
  stop(*child);
  EXPECT_TRUE(read_topic(bootstrap_, dlq_topic_, 0, 3s, 1s).empty());
}

TEST_F(LokiPusherTest, RecordsRefusedBeforeSendingAreDeadLetteredAtOnce) {
  const Runs runs = make_runs(50, 8);
  start_receiver();
  produce(runs, 0, runs.values.size());
  ASSERT_TRUE(producer_->produce({.topic = runs_topic_, .key = "Zoho", .value = "{\"oops\":1"}, 0)
                  .has_value());
  std::string huge = alert_event(1);
  huge.replace(huge.find(R"("summary":"s")"), 13, R"("summary":")" + std::string(5000, 'x') + "\"");
  ASSERT_TRUE(
      producer_->produce({.topic = alerts_topic_, .key = "fp", .value = huge}, 0).has_value());
  ASSERT_TRUE(producer_->flush(30s).has_value());
  produce_alerts(1);
  auto child = pusher({"IW_LOKI_PUSHER_LIMITS_MAX_LINE_BYTES=4096"});
  ASSERT_TRUE(receiver_->wait_for_entries(51, 60s)) << receiver_->entry_count();
  std::map<std::string, std::string> reasons;  // dlq.topic -> dlq.reason
  for (const auto& record : read_topic(bootstrap_, dlq_topic_, 2, 30s, 1s)) {
    reasons[record.headers.at("dlq.topic")] = record.headers.at("dlq.reason");
    EXPECT_EQ(record.headers.at("dlq.stage"), "loki-pusher");
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{runs_topic_, "invalid_record"},
                                                         {alerts_topic_, "line_too_long"}}));
  std::string metrics;
  for (int attempt = 0; attempt < 50; ++attempt) {
    metrics = scrape();
    if (series_value(metrics,
                     R"(ingestwatch_records_dead_lettered_total{reason="line_too_long"})") == 1) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(series_value(
                metrics,
                R"(ingestwatch_loki_rejected_entries_total{by="pusher",reason="invalid_record"})"),
            1);
  EXPECT_EQ(series_value(
                metrics,
                R"(ingestwatch_loki_rejected_entries_total{by="pusher",reason="line_too_long"})"),
            1);
  EXPECT_EQ(
      series_value(metrics, R"(ingestwatch_records_dead_lettered_total{reason="invalid_record"})"),
      1);
  EXPECT_EQ(receiver_->entry_count(), 51u);
  stop(*child);
}

// Enriched runs too large for the pipeline, written straight to the runs topic by another client
// (the topic set to take them): 1.1 MB, 2 MiB and 20 MiB ones, above loki_pusher.max_record_bytes,
// and one of 999 800 bytes under it, longer than Loki takes (line_too_long) and whose whole dead
// letter Kafka refuses. Each is dead-lettered as oversized_record (its head, size and hash); the
// runs around them are stored, and the pusher goes on.
TEST_F(LokiPusherTest, OversizedRecordsAreDeadLetteredAndTheRestStored) {
  const Runs runs = make_runs(50, 9);
  start_receiver();
  runs_topic_ = random_name("enriched-big");
  ASSERT_TRUE(iw::testing::create_topics(
      client_,
      {{.name = runs_topic_, .partitions = 1, .config = {{"max.message.bytes", "33554432"}}}}));
  const std::vector<std::size_t> sizes = {999'800, 1'100'000, 2 * 1024 * 1024, 20 * 1024 * 1024};
  std::map<std::string, std::string> sha256_by_size;
  {
    Deliveries deliveries;
    kafka::ClientOptions big_client = client_;
    big_client.properties = {{"message.max.bytes", "33554432"}, {"batch.size", "33554432"}};
    auto producer = kafka::make_producer({.client = big_client}, deliveries);
    ASSERT_TRUE(producer.has_value());
    for (std::size_t i = 0; i < runs.values.size(); ++i) {
      ASSERT_TRUE((*producer)->produce(
          {.topic = runs_topic_, .key = runs.keys[i], .value = runs.values[i]}, 0));
      if (i % 12 != 5 || i / 12 >= sizes.size()) continue;
      std::string big = runs.values[i];
      const std::string field = R"("description":")";
      const auto at = big.find(field);
      ASSERT_NE(at, std::string::npos) << big;
      // Its own event.id, as a raw record of its own would have: the pusher drops a second
      // record with an id it has already taken as a resend.
      const auto id_at = big.find(R"("event":{"id":")");
      ASSERT_NE(id_at, std::string::npos) << big;
      big[id_at + std::string_view(R"("event":{"id":")").size()] ^= 1;
      big.insert(at + field.size(), sizes[i / 12] - big.size(), 'x');
      sha256_by_size[std::to_string(big.size())] = base::to_hex(base::sha256(big));
      ASSERT_TRUE((*producer)->produce({.topic = runs_topic_, .key = "Zoho", .value = big}, 0));
    }
    ASSERT_TRUE((*producer)->flush(60s));
    ASSERT_EQ(deliveries.failed, 0);
  }
  ASSERT_EQ(sha256_by_size.size(), sizes.size());
  auto child = pusher();
  ASSERT_TRUE(receiver_->wait_for_entries(runs.values.size(), 120s)) << receiver_->entry_count();
  const auto dead = read_topic(bootstrap_, dlq_topic_, sizes.size(), 60s, 1s);
  ASSERT_EQ(dead.size(), sizes.size());
  for (const auto& d : dead) {
    EXPECT_EQ(d.headers.at("dlq.reason"), "oversized_record");
    EXPECT_EQ(d.headers.at("dlq.stage"), "loki-pusher");
    EXPECT_EQ(d.value.size(), 4096U);
    const std::string size = d.headers.at("dlq.original_size");
    ASSERT_TRUE(sha256_by_size.contains(size)) << size;
    EXPECT_EQ(d.headers.at("dlq.sha256"), sha256_by_size[size]);
    if (size == "999800") {
      EXPECT_THAT(d.headers.at("dlq.error"), ::testing::HasSubstr("line_too_long"));
    } else {
      EXPECT_THAT(d.headers.at("dlq.error"),
                  ::testing::HasSubstr("above the stage's max_record_bytes (1000000)"));
    }
  }
  expect_all_stored_once(runs, runs.values.size());
  stop(*child);
}

TEST_F(LokiPusherTest, ReceiverDownFor30SecondsLosesNothing) {
  const Runs runs = make_runs(kRuns, 3);
  start_receiver();
  produce(runs, 0, kRuns / 2);
  auto child = pusher();
  ASSERT_TRUE(receiver_->wait_for_entries(1000, 60s));
  receiver_->go_down();
  const auto down_since = std::chrono::steady_clock::now();
  // The topic keeps growing during the outage.
  produce(runs, kRuns / 2, kRuns);
  // Not ready, backing off, while Loki is away.
  bool unready = false;
  double backoff = 0;
  while (std::chrono::steady_clock::now() - down_since < 30s) {
    const auto ready = iw::testing::http_get(*port_, "/readyz");
    if (ready && ready->status == 503 && ready->body.find("loki") != std::string::npos) {
      unready = true;
    }
    backoff = std::max(backoff, series_value(scrape(), "ingestwatch_loki_backoff_seconds"));
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(unready);
  EXPECT_GT(backoff, 0);
  const std::size_t before = receiver_->entry_count();
  EXPECT_LT(before, kRuns);
  ASSERT_TRUE(receiver_->come_back().has_value());
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(receiver_->wait_for_entries(kRuns, 60s)) << receiver_->entry_count();
  std::cout << "[ figures  ] caught up " << kRuns - before << " runs "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count()
            << " s after a 30 s outage\n";
  expect_all_stored_once(runs, kRuns);
  const auto ready = iw::testing::http_get(*port_, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  stop(*child);
  // The push in flight when Loki went away may have been stored with its answer lost. Sent
  // again, its entries more than an hour older than their stream's newest are refused as too
  // far behind (these runs span days of event time; live ones would not): dead-lettered all
  // the same, saying Loki probably has them — and it does.
  const auto ids = stored_ids();
  const auto dead = read_topic(bootstrap_, dlq_topic_, 0, 5s, 1s);
  std::cout << "[ figures  ] " << dead.size()
            << " runs dead-lettered as too far behind after the outage, all stored in Loki\n";
  for (const auto& record : dead) {
    EXPECT_EQ(record.headers.at("dlq.reason"), "too_far_behind");
    EXPECT_THAT(record.headers.at("dlq.error"),
                ::testing::HasSubstr("Loki has probably stored this entry"));
    EXPECT_TRUE(ids.contains(event_id(record.value)));
  }
}

TEST_F(LokiPusherTest, SigkillMidStreamThenRestartResendsIdenticalEntries) {
  const Runs runs = make_runs(kRuns, 4);
  // The runs span 200 hours of event time and a restart sends again what was pushed since the
  // last commit: a Loki whose ordering window is that wide deduplicates them (same stream,
  // timestamp and line); with Loki's default 1 h window they would be refused as too far behind
  // and dead-lettered instead (docs/LOKI_PUSHER.md).
  start_receiver({.ordering_window = std::chrono::hours{24 * 365}});
  receiver_->set_delay(20ms);
  produce(runs, 0, kRuns);
  {
    auto child =
        pusher({"IW_LOKI_PUSHER_BATCH_MAX_ENTRIES=100", "IW_LOKI_PUSHER_LIMITS_MAX_BEHIND=0s"});
    ASSERT_TRUE(receiver_->wait_for_entries(3000, 60s));
    child->signal(SIGKILL);
    EXPECT_EQ(child->wait(), 128 + SIGKILL);
  }
  const std::size_t before = receiver_->entry_count();
  EXPECT_LT(before, kRuns) << "the kill came too late to be mid-stream";
  receiver_->set_delay(0ms);
  auto restarted = pusher({"IW_LOKI_PUSHER_LIMITS_MAX_BEHIND=0s"});
  ASSERT_TRUE(receiver_->wait_for_entries(kRuns, 60s)) << receiver_->entry_count();
  std::this_thread::sleep_for(1s);  // anything sent again arrives too
  // Entries sent again carried the same timestamp and line: stored once.
  EXPECT_GT(receiver_->duplicates(), 0u) << "nothing was sent again after the kill";
  expect_all_stored_once(runs, kRuns);
  EXPECT_EQ(receiver_->entry_count(), kRuns);
  std::cout << "[ figures  ] " << before << " runs stored before the kill, "
            << receiver_->duplicates() << " sent again after the restart\n";
  stop(*restarted);
  EXPECT_TRUE(read_topic(bootstrap_, dlq_topic_, 0, 5s, 1s).empty());
}

TEST_F(LokiPusherTest, SigtermPushesWhatWasReadStoresItsOffsetsAndLeaves) {
  // 100 more runs than the first part pushes: the last ones come later, in event time too.
  const Runs runs = make_runs(kRuns + 100, 6);
  start_receiver();
  receiver_->set_delay(100ms);
  produce(runs, 0, kRuns);
  {
    // A drain timeout well above what pushing them takes, even on a loaded machine (the 10 s
    // default was once cut short with 712 runs to go): this part is about what the drain
    // pushes, the next one about its timeout.
    auto child = pusher({"IW_LOKI_PUSHER_DRAIN_TIMEOUT=120s"});
    ASSERT_TRUE(receiver_->wait_for_entries(1000, 60s));
    // Most of the runs are read and waiting for the slow receiver: the drain pushes them. Every
    // run read first: on a loaded machine the first thousand were sometimes stored before the
    // rest was read (2 runs in 5 with the pusher of fc687ad), and the drain pushes only what
    // was read.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (series_value(scrape(), "ingestwatch_records_in_total") < kRuns) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      std::this_thread::sleep_for(10ms);
    }
    stop(*child);
  }
  EXPECT_EQ(receiver_->entry_count(), kRuns);
  expect_all_stored_once(runs, kRuns);
  const std::size_t requests = receiver_->requests().size();
  receiver_->set_delay(0ms);

  // Loki away at the next stop: the drain gives up after its timeout, stores nothing it could
  // not push, and the next start sends those runs.
  receiver_->go_down();
  produce(runs, kRuns, kRuns + 100);
  {
    auto child = pusher({"IW_LOKI_PUSHER_DRAIN_TIMEOUT=1s"});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (series_value(scrape(), "ingestwatch_records_in_total") < 100) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      std::this_thread::sleep_for(100ms);
    }
    const auto stopping = std::chrono::steady_clock::now();
    stop(*child);
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 4s);
    EXPECT_THAT(child->out(), ::testing::HasSubstr(R"("entries_not_pushed":100)"));
  }
  ASSERT_TRUE(receiver_->come_back().has_value());
  auto child = pusher();
  ASSERT_TRUE(receiver_->wait_for_entries(kRuns + 100, 60s)) << receiver_->entry_count();
  std::this_thread::sleep_for(1s);
  expect_all_stored_once(runs, kRuns + 100);
  // Only the 100 new runs: the first 10 000 were not read again.
  std::size_t sent = 0;
  const auto all = receiver_->requests();
  for (std::size_t i = requests; i < all.size(); ++i) sent += all[i].entries;
  EXPECT_EQ(sent, 100u);
  EXPECT_EQ(receiver_->duplicates(), 0u);
  stop(*child);
}

TEST_F(LokiPusherTest, MemoryStaysBoundedWhileLokiIsDownAndTheTopicGrows) {
  constexpr std::size_t kMany = 100'000;
  start_receiver();
  receiver_->go_down();
  // Started before the runs are made: the peak RSS of a child counts the address space it
  // shared with this process until it exec'd.
  auto child = pusher({"IW_LOKI_PUSHER_MAX_PENDING_BYTES=4194304"});
  const Runs runs = make_runs(kMany, 5);
  std::size_t bytes = 0;
  for (const auto& value : runs.values) bytes += value.size();
  // The topic grows by ~90 MB while Loki is away.
  produce(runs, 0, kMany);
  // Paused: every partition of both topics, the pending bytes within the limit and one record.
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    metrics = scrape();
    if (series_value(metrics, "ingestwatch_loki_paused_partitions") == 4) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(series_value(metrics, "ingestwatch_loki_paused_partitions"), 4) << metrics;
  std::this_thread::sleep_for(3s);
  metrics = scrape();
  const double read_while_down = series_value(metrics, "ingestwatch_records_in_total");
  EXPECT_LT(read_while_down, static_cast<double>(kMany) / 10);
  EXPECT_LE(series_value(metrics, "ingestwatch_loki_pending_bytes"), (4 << 20) + 10'000);
  const double rss_down = series_value(metrics, "process_resident_memory_bytes");
  EXPECT_EQ(iw::testing::http_get(*port_, "/readyz")->status, 503);

  // Loki is back: everything arrives, still within the limit.
  ASSERT_TRUE(receiver_->come_back().has_value());
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(receiver_->wait_for_entries(kMany, 120s)) << receiver_->entry_count();
  const double catch_up =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
  expect_all_stored_once(runs, kMany);
  metrics = scrape();
  const double cpu = series_value(metrics, "process_cpu_seconds_total");
  const double pushes = series_value(metrics, "ingestwatch_loki_push_latency_seconds_count");
  const double push_seconds = series_value(metrics, "ingestwatch_loki_push_latency_seconds_sum");
  stop(*child);
  ASSERT_TRUE(child->peak_rss_bytes().has_value());
  const double peak = static_cast<double>(*child->peak_rss_bytes());
  std::cout << "[ figures  ] topic " << bytes / (1 << 20) << " MiB (" << kMany
            << " runs); read while Loki was down: " << read_while_down
            << " records; RSS while paused " << rss_down / (1 << 20) << " MiB; peak RSS "
            << peak / (1 << 20) << " MiB; caught up in " << catch_up << " s ("
            << static_cast<double>(kMany) / catch_up << " lines/s); " << cpu << " CPU s in all; "
            << pushes << " pushes, " << push_seconds / pushes * 1000 << " ms each on average\n";
  // librdkafka, curl and the process itself take ~20 MiB; the pending limit (4 MiB), the
  // consumer's prefetch (8 MiB) and a batch being encoded the rest. The topic itself (~90 MB)
  // must not fit.
  EXPECT_LT(peak, 64.0 * (1 << 20));
}

}  // namespace
}  // namespace iw::loki_pusher
