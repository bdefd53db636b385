// ingest-enricher as a process against the real broker of the CTest `kafka` fixture.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "iw/kafka/admin.h"
#include "iw/kafka/producer.h"
#include "iw/log/logger.h"
#include "iw/testing/child_process.h"
#include "iw/testing/http_get.h"
#include "iw/testing/kafka_cluster.h"

namespace iw::enricher {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::random_name;
using iw::testing::read_topic;
using iw::testing::TempDir;
using ::testing::HasSubstr;

constexpr std::size_t kRecords = 10'000;
const char* const kSources[] = {"Zoho", "PowerBI", "Efficy", "SharePoint", "EasyProjects"};

// Every 100th record is bad (an unreadable Debut); every 7th good one FAILED.
bool is_bad(std::size_t i) { return i % 100 == 42; }
bool is_failed(std::size_t i) { return i % 7 == 3; }

std::string raw_record(std::size_t i) {
  const std::string source = kSources[i % 5];
  const std::string debut = is_bad(i) ? "yesterday" : "2025-09-15 10:30:00.000";
  return "{\"ID\": " + std::to_string(i) + ", \"Source\": \"" + source + "\", \"Objet\": \"obj" +
         std::to_string(i % 10) + "\", \"Transformation\": \"" + source +
         "_API_get_data\", \"Etat\": \"" + (is_failed(i) ? "FAILED" : "SUCCESS") +
         "\", \"Debut\": \"" + debut + "\", \"Fin\": \"2025-09-15 10:30:01.154\", " +
         "\"Duree secondes\": 1.154, \"cpu_time\": 0.11, \"memory_used\": 5849088, " +
         "\"Description\": \"\", \"Zone\": \"1-Raw\", \"Entreprise\": \"akonovia\"}";
}

using Deliveries = iw::testing::CountingDeliveries;

class EnricherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = iw::testing::fixture_bootstrap_servers();
    ASSERT_FALSE(bootstrap_.empty());
    client_.bootstrap_servers = bootstrap_;
    client_.logger = &logger_;
    ASSERT_TRUE(iw::testing::create_topics(client_, {{.name = input_, .partitions = 3},
                                                     {.name = output_, .partitions = 3},
                                                     {.name = dlq_, .partitions = 1}}));
  }

  // Records [from, to) of `sources_count` distinct sources ("src-<i % sources_count>").
  void produce_many_sources(std::size_t from, std::size_t to, std::size_t sources_count,
                            const std::string& prefix = "src-") {
    Deliveries deliveries;
    auto producer = kafka::make_producer({.client = client_}, deliveries);
    ASSERT_TRUE(producer.has_value());
    for (std::size_t i = from; i < to; ++i) {
      const std::string source = prefix + std::to_string(i % sources_count);
      std::string value = raw_record(i * 100 + 1);  // never a bad one
      const std::string from_source = "\"Source\": \"" + std::string(kSources[(i * 100 + 1) % 5]);
      value.replace(value.find(from_source), from_source.size(), "\"Source\": \"" + source);
      ASSERT_TRUE(
          (*producer)->produce({.topic = input_, .key = source, .value = value}, i).has_value());
      (*producer)->poll(0ms);
    }
    ASSERT_TRUE((*producer)->flush(60s).has_value());
    ASSERT_EQ(deliveries.failed, 0);
  }

  void produce_input(std::size_t count = kRecords) {
    Deliveries deliveries;
    auto producer = kafka::make_producer({.client = client_}, deliveries);
    ASSERT_TRUE(producer.has_value());
    const std::array<kafka::HeaderView, 2> headers = {
        {{"execution_id", "run-42"},
         {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}};
    for (std::size_t i = 0; i < count; ++i) {
      const std::string value = raw_record(i);
      ASSERT_TRUE(
          (*producer)
              ->produce(
                  {.topic = input_, .key = kSources[i % 5], .value = value, .headers = headers}, i)
              .has_value());
      (*producer)->poll(0ms);
    }
    ASSERT_TRUE((*producer)->flush(60s).has_value());
    ASSERT_EQ(deliveries.failed, 0);
  }

  std::vector<std::string> command(const std::string& transactional_id,
                                   const std::string& delivery = "exactly_once") const {
    return {IW_ENRICHER_PATH,
            "--bootstrap-servers",
            bootstrap_,
            "--input-topic",
            input_,
            "--output-topic",
            output_,
            "--dlq-topic",
            dlq_,
            "--group",
            group_,
            "--transactional-id",
            transactional_id,
            "--delivery",
            delivery};
  }

  // Transactions every 20 ms, or at `transaction_max_bytes` (20000: about 40 records).
  std::vector<std::string> env(std::string transaction_max_bytes = "33554432") const {
    return {"IW_HTTP_LISTEN=127.0.0.1:0",
            "IW_ENRICHER_TRANSACTION_MAX_BYTES=" + transaction_max_bytes,
            "IW_ENRICHER_COMMIT_INTERVAL=20ms"};
  }

  // A killed member stays in the group until its session times out; the broker's minimum
  // keeps a restarted instance from waiting librdkafka's default 45 s for its partitions.
  std::filesystem::path short_session_config() const {
    return temp_.write("enricher.yaml", "kafka:\n  properties:\n    session.timeout.ms: 6000\n");
  }

  // Reads both output topics with read_committed and checks the exact outcome.
  void expect_exactly_once_outcome() {
    const auto enriched = read_topic(bootstrap_, output_, kRecords - kRecords / 100, 120s, 3s);
    const auto dead = read_topic(bootstrap_, dlq_, kRecords / 100, 60s, 1s);
    EXPECT_EQ(enriched.size(), kRecords - kRecords / 100);
    EXPECT_EQ(dead.size(), kRecords / 100);
    std::set<std::string> ids;
    const std::regex id_pattern("\"event\":\\{\"id\":\"([0-9a-f]+)\"");
    for (const auto& r : enriched) {
      std::smatch match;
      ASSERT_TRUE(std::regex_search(r.value, match, id_pattern)) << r.value;
      ids.insert(match[1]);
      EXPECT_EQ(r.headers.at("execution_id"), "run-42");
      // Same trace as the raw record, one hop further.
      EXPECT_THAT(r.headers.at("traceparent"),
                  ::testing::StartsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }
    EXPECT_EQ(ids.size(), enriched.size()) << "duplicate event.id";
    for (const auto& d : dead) {
      EXPECT_EQ(d.headers.at("dlq.reason"), "invalid_timestamp");
      EXPECT_EQ(d.headers.at("dlq.stage"), "enricher");
      EXPECT_EQ(d.headers.at("dlq.topic"), input_);
      EXPECT_THAT(d.value, HasSubstr("\"Debut\": \"yesterday\""));
    }
  }

  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  kafka::ClientOptions client_;
  TempDir temp_;
  std::string bootstrap_;
  const std::string input_ = random_name("raw");
  const std::string output_ = random_name("enriched");
  const std::string dlq_ = random_name("dlq");
  const std::string group_ = random_name("enricher");
};

double metric_sum(const std::string& scrape, const std::string& name) {
  double sum = 0;
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string scrape(ChildProcess& p) {
  const auto port = p.wait_for_port();
  if (!port) return {};
  const auto response = iw::testing::http_get(*port, "/metrics");
  return response ? response->body : std::string();
}

TEST_F(EnricherTest, ExactlyOnceEnrichesEveryGoodRecordOnceAndDeadLettersTheRest) {
  produce_input();
  ChildProcess p(temp_.path(), command(random_name("txn")), env());
  expect_exactly_once_outcome();

  // The business counters match the input exactly, and promtool accepts the exposition.
  std::string metrics;
  for (int i = 0; i < 50; ++i) {
    metrics = scrape(p);
    if (metric_sum(metrics, "ingestion_runs_total") >= 9900) break;
    std::this_thread::sleep_for(100ms);
  }
  std::size_t failed = 0;
  for (std::size_t i = 0; i < kRecords; ++i) failed += !is_bad(i) && is_failed(i);
  EXPECT_EQ(metric_sum(metrics, "ingestion_runs_total"), 9900);
  EXPECT_THAT(metrics, HasSubstr("etat=\"FAILED\""));
  std::regex failed_pattern("ingestion_runs_total\\{[^}]*etat=\"FAILED\"[^}]*\\} ([0-9.e+]+)");
  double failed_counted = 0;
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), failed_pattern), end; it != end;
       ++it) {
    failed_counted += std::stod((*it)[1]);
  }
  EXPECT_EQ(failed_counted, static_cast<double>(failed));
  EXPECT_EQ(metric_sum(metrics, "ingestion_run_duration_seconds_count"), 9900);
  EXPECT_EQ(metric_sum(metrics, "ingestwatch_records_dead_lettered_total"), 100);
  EXPECT_EQ(metric_sum(metrics, "ingestwatch_records_out_total"), 9900);
  const auto file = temp_.write("scrape.txt", metrics);
  const std::string check = "promtool check metrics < '" + file.string() + "' > '" +
                            (temp_.path() / "promtool.out").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << iw::testing::read_file(temp_.path() / "promtool.out");

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0) << p.err();
}

TEST_F(EnricherTest, SurvivesTwoSigkillsMidStreamWithoutLossOrDuplicates) {
  produce_input();
  const std::string txn = random_name("txn");  // the same id across restarts, as in production
  auto with_config = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin() + 1, {"--config", short_session_config().string()});
    return argv;
  };
  for (int kill = 0; kill < 2; ++kill) {
    ChildProcess p(temp_.path(), with_config(command(txn)), env("20000"));
    // Wait until this process has committed a good part of the stream (its metrics start at 0),
    // then kill it without warning.
    bool mid_stream = false;
    for (int i = 0; i < 1200 && !mid_stream; ++i) {
      const double out = metric_sum(scrape(p), "ingestwatch_records_out_total");
      mid_stream = out >= 1000 && out < 4000;
      if (!mid_stream) std::this_thread::sleep_for(25ms);
    }
    EXPECT_TRUE(mid_stream) << "kill " << kill << " did not land mid-stream";
    p.signal(SIGKILL);
    EXPECT_EQ(p.wait(), 128 + SIGKILL);
  }
  ChildProcess last(temp_.path(), with_config(command(txn)), env());
  expect_exactly_once_outcome();
  last.signal(SIGTERM);
  EXPECT_EQ(last.wait(), 0) << last.err();
}

TEST_F(EnricherTest, TwoInstancesShareTheTopicThroughRebalancesWithoutLossOrDuplicates) {
  produce_input();
  ChildProcess a(temp_.path(), command(random_name("txn-a")), env("20000"));
  ASSERT_TRUE(a.wait_for_output("\"msg\":\"partitions assigned\""));
  std::this_thread::sleep_for(300ms);
  ChildProcess b(temp_.path(), command(random_name("txn-b")), env("20000"));
  ASSERT_TRUE(b.wait_for_output("\"msg\":\"partitions assigned\""));
  std::this_thread::sleep_for(500ms);
  a.signal(SIGTERM);  // a second rebalance: b takes everything over
  EXPECT_EQ(a.wait(), 0) << a.err();
  expect_exactly_once_outcome();
  EXPECT_THAT(a.out(), HasSubstr("\"msg\":\"partitions revoked\""));
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait(), 0) << b.err();
}

// Another instance took the transactional id over: the enricher's next transaction is fenced.
// It stops with status 1 and says why once, rather than dying of a signal while it tears down
// (its consumer, leaving the group, used to call back into a producer already destroyed).
TEST_F(EnricherTest, AFencedProducerStopsWithStatusOneAndOneErrorLine) {
  produce_input(1000);
  const std::string txn = random_name("txn");
  ChildProcess p(temp_.path(), command(txn), env("20000"));
  double out = 0;
  for (int i = 0; i < 1200 && out < 990; ++i) {
    out = metric_sum(scrape(p), "ingestwatch_records_out_total");
    if (out < 990) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(out, 990) << p.out();
  ASSERT_TRUE(iw::testing::fence(client_, txn));
  produce_input(1000);
  EXPECT_EQ(p.wait(), 1) << p.out() << p.err();
  const auto stopped = iw::testing::lines_with(p.out(), "\"msg\":\"stopped on error\"");
  ASSERT_EQ(stopped.size(), 1U) << p.out();
  EXPECT_THAT(stopped[0], HasSubstr("\"code\":\"failed_precondition\""));
  EXPECT_THAT(stopped[0], HasSubstr("fenced"));
}

TEST_F(EnricherTest, AtLeastOnceModeDeliversEverythingWhenNothingCrashes) {
  produce_input();
  ChildProcess p(temp_.path(), command(random_name("unused"), "at_least_once"), env());
  expect_exactly_once_outcome();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0) << p.err();
}

}  // namespace
// The source budget: 300 distinct sources, 50 kept. /metrics stays bounded, the other sources'
// runs are counted under source="_other" (nothing lost), the fold is logged once; sources unseen
// for the idle timeout lose their series.
TEST_F(EnricherTest, TheSourceBudgetKeepsMetricsBoundedAndFoldsTheRest) {
  constexpr std::size_t kCount = 3000;
  constexpr std::size_t kDistinct = 300;
  constexpr std::size_t kBudget = 50;
  produce_many_sources(0, kCount, kDistinct);
  std::vector<std::string> environment = env();
  environment.push_back("IW_ENRICHER_METRICS_MAX_SOURCES=" + std::to_string(kBudget));
  environment.push_back("IW_ENRICHER_METRICS_IDLE_TIMEOUT=4s");
  ChildProcess p(temp_.path(), command(random_name("txn")), environment);
  ASSERT_EQ(read_topic(bootstrap_, output_, kCount, 120s, 1s).size(), kCount);

  std::string metrics;
  for (int i = 0; i < 50; ++i) {
    metrics = scrape(p);
    if (metric_sum(metrics, "ingestion_runs_total") >= kCount) break;
    std::this_thread::sleep_for(100ms);
  }
  const std::regex source_pattern("ingestion_run_duration_seconds_count\\{source=\"([^\"]+)\"\\}");
  std::set<std::string> sources;
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), source_pattern), end; it != end;
       ++it) {
    sources.insert((*it)[1]);
  }
  EXPECT_EQ(sources.size(), kBudget + 1) << "the budget, and _other";
  EXPECT_TRUE(sources.contains("_other"));
  EXPECT_EQ(metric_sum(metrics, "ingestion_runs_total"), kCount) << "nothing lost";
  EXPECT_EQ(metric_sum(metrics, "ingestion_run_duration_seconds_count"), kCount);
  const std::regex other_pattern(
      "ingestion_run_duration_seconds_count\\{source=\"_other\"\\} ([0-9.e+]+)");
  std::smatch other;
  ASSERT_TRUE(std::regex_search(metrics, other, other_pattern));
  // Each source has kCount / kDistinct runs; those of the sources over budget are folded.
  EXPECT_EQ(std::stod(other[1]), (kDistinct - kBudget) * (kCount / kDistinct));
  EXPECT_EQ(metric_sum(metrics, "ingestwatch_cardinality_folded_records_total"),
            std::stod(other[1]));
  EXPECT_THAT(metrics, HasSubstr("ingestwatch_cardinality_tracked{kind=\"source\"} 50"));
  // Bounded: the series of the business metrics, however many sources come.
  std::size_t business_series = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    business_series += line.rfind("ingestion_", 0) == 0 ? 1 : 0;
  }
  EXPECT_LT(business_series, (kBudget + 1) * 60) << business_series;

  // Logged once, however many records were folded.
  std::this_thread::sleep_for(200ms);
  const std::string out = p.out() + p.err();
  std::size_t logged = 0;
  for (auto at = out.find("cardinality budget full"); at != std::string::npos;
       at = out.find("cardinality budget full", at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 1u) << out.substr(0, 3000);

  // Idle: after the timeout, a record of a new source makes the old ones' series go.
  std::this_thread::sleep_for(5s);
  produce_many_sources(0, 10, 1, "fresh-");
  for (int i = 0; i < 100; ++i) {
    metrics = scrape(p);
    if (metrics.find("ingestion_run_duration_seconds_count{source=\"fresh-0\"} 10") !=
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_THAT(metrics, HasSubstr("ingestwatch_cardinality_evicted_total{kind=\"source\"} 50"));
  EXPECT_THAT(metrics, HasSubstr("ingestwatch_cardinality_tracked{kind=\"source\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("ingestion_run_duration_seconds_count{source=\"fresh-0\"} 10"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("source=\"src-")));

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0) << p.err();
}

}  // namespace iw::enricher
