// ingest-alert-evaluator as a process against the real broker of the CTest `kafka` fixture:
// data/scenarios/ enriched into the input topic must yield exactly the alert events of
// data/scenarios/expected.yaml, each once, also across a SIGKILL and restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "fake_alertmanager.h"
#include "iw/alerting/alert_event.h"
#include "iw/base/time_format.h"
#include "iw/events/enricher.h"
#include "iw/events/timestamp.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/producer.h"
#include "iw/log/logger.h"
#include "iw/testing/child_process.h"
#include "iw/testing/http_get.h"
#include "iw/testing/kafka_cluster.h"

namespace iw::alert_evaluator {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::random_name;
using iw::testing::read_topic;
using iw::testing::TempDir;

const std::filesystem::path kScenarios = std::filesystem::path(IW_DATA_DIR) / "scenarios";

// An alert event reduced to what must match: status, alertname, key labels and instants.
struct Event {
  std::string status, alertname, key, starts_at, ends_at;
  friend auto operator<=>(const Event&, const Event&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Event& e) {
    return out << e.status << " " << e.alertname << "{" << e.key << "} " << e.starts_at << " "
               << e.ends_at;
  }
};

// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ", as the events carry them.
double epoch_seconds(const std::string& rfc3339) {
  std::tm tm{};
  int millis = 0;
  EXPECT_EQ(std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis),
            7)
      << rfc3339;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + millis / 1000.0;
}

std::string key_of(const alerting::Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (name == "alertname" || name == "severity") continue;
    out += (out.empty() ? "" : ",") + name + "=" + value;
  }
  return out;
}

// Every event expected.yaml implies: a firing per episode, a resolve per resolved one.
std::multiset<Event> expected_events(const std::set<std::string>& scenarios) {
  std::multiset<Event> out;
  const YAML::Node expected = YAML::LoadFile((kScenarios / "expected.yaml").string());
  for (const YAML::Node& alert : expected["alerts"]) {
    if (!scenarios.contains(alert["scenario"].Scalar())) continue;
    alerting::Labels labels;
    for (const auto& label : alert["labels"]) {
      labels.emplace_back(label.first.Scalar(), label.second.Scalar());
    }
    std::sort(labels.begin(), labels.end());
    const std::string name = alert["alertname"].Scalar();
    const std::string starts = alert["starts_at"].Scalar();
    out.insert({"firing", name, key_of(labels), starts, "0001-01-01T00:00:00.000Z"});
    if (!alert["resolved_at"].IsNull()) {
      out.insert({"resolved", name, key_of(labels), starts, alert["resolved_at"].Scalar()});
    }
  }
  return out;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using Deliveries = iw::testing::CountingDeliveries;

class AlertEvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override { connect(iw::testing::fixture_bootstrap_servers()); }

  void connect(const std::string& bootstrap) {
    bootstrap_ = bootstrap;
    ASSERT_FALSE(bootstrap_.empty());
    client_.bootstrap_servers = bootstrap_;
    client_.logger = &logger_;
    ASSERT_TRUE(iw::testing::create_topics(client_, {{.name = input_, .partitions = 3},
                                                     {.name = alerts_, .partitions = 3},
                                                     {.name = dlq_, .partitions = 1}}));
  }

  // Enriches the scenario files as the enricher does and writes them keyed by source, plus
  // `bad` unreadable records.
  void produce_scenarios(const std::vector<std::string>& files, int bad = 0) {
    events::Enricher enricher({});
    std::vector<std::pair<std::string, std::string>> records;
    std::string enriched;
    for (const std::string& file : files) {
      std::istringstream lines(read_text(kScenarios / file));
      std::string line;
      while (std::getline(lines, line)) {
        const auto facts = enricher.enrich(line, 0, {.topic = "ingestion-logs"}, enriched);
        ASSERT_TRUE(facts.has_value()) << line;
        records.emplace_back(std::string(facts->source), enriched);
      }
    }
    for (int i = 0; i < bad; ++i) records.emplace_back("ScenarioFailure", "{\"oops\":1");
    produce(records);
  }

  // Enriches raw records as the enricher does (without its future check: these stand for
  // records written straight to the input) and writes each with its key.
  void produce_raw(const std::vector<std::pair<std::string, std::string>>& keyed_lines) {
    events::Enricher enricher({});
    std::vector<std::pair<std::string, std::string>> records;
    std::string enriched;
    for (const auto& [key, line] : keyed_lines) {
      ASSERT_TRUE(enricher.enrich(line, 0, {.topic = "ingestion-logs"}, enriched)) << line;
      records.emplace_back(key, enriched);
    }
    produce(records);
  }

  // Writes each value with its key to the input topic.
  void produce(const std::vector<std::pair<std::string, std::string>>& keyed_values) {
    Deliveries deliveries;
    auto producer = kafka::make_producer({.client = client_}, deliveries);
    ASSERT_TRUE(producer.has_value());
    std::uint64_t n = 0;
    for (const auto& [key, value] : keyed_values) {
      ASSERT_TRUE(
          (*producer)->produce({.topic = input_, .key = key, .value = value}, n++).has_value());
      (*producer)->poll(0ms);
    }
    ASSERT_TRUE((*producer)->flush(60s).has_value());
    ASSERT_EQ(deliveries.failed, 0);
  }

  // The value of a counter without labels on the evaluator's /metrics.
  static double counter(const std::string& body, const std::string& name) {
    const std::regex series("\\n" + name + " ([0-9.e+]+)");
    std::smatch match;
    return std::regex_search(body, match, series) ? std::stod(match[1]) : -1;
  }

  std::vector<std::string> command(const std::string& idle_speed) const {
    return {IW_EVALUATOR_PATH,
            "--config",
            config_.string(),
            "--bootstrap-servers",
            bootstrap_,
            "--input-topic",
            input_,
            "--output-topic",
            alerts_,
            "--group",
            group_,
            "--transactional-id",
            "evaluator-" + group_,
            "--idle-speed",
            idle_speed};
  }

  std::multiset<Event> read_events(std::size_t expected, std::chrono::milliseconds quiet) {
    std::multiset<Event> out;
    for (const auto& record : read_topic(bootstrap_, alerts_, expected, 120s, quiet)) {
      const auto event = alerting::parse_alert_event(record.value);
      EXPECT_TRUE(event.has_value()) << record.value;
      if (!event) continue;
      std::string alertname;
      for (const auto& [name, value] : event->labels) {
        if (name == "alertname") alertname = value;
      }
      // Keyed by source: a source's events stay in one partition, in order.
      std::string source;
      for (const auto& [name, value] : event->labels) {
        if (name == "source") source = value;
      }
      EXPECT_EQ(record.key, source);
      out.insert({event->status == alerting::EventStatus::kFiring ? "firing" : "resolved",
                  alertname, key_of(event->labels), base::format_rfc3339_millis(event->starts_at),
                  event->ends_at ? base::format_rfc3339_millis(*event->ends_at)
                                 : "0001-01-01T00:00:00.000Z"});
    }
    return out;
  }

  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  std::string bootstrap_;
  kafka::ClientOptions client_;
  TempDir temp_;
  std::string input_ = random_name("enriched");
  std::string alerts_ = random_name("alerts");
  std::string dlq_ = random_name("dlq");
  std::string group_ = random_name("evaluator");
  // A killed member stays in the group until its session times out; the broker's minimum keeps
  // the restarted instance from waiting 45 s for its partitions.
  std::filesystem::path config_ =
      temp_.write("evaluator.yaml", "alert_evaluator:\n  dlq_topic: " + dlq_ +
                                        "\nkafka:\n  properties:\n    session.timeout.ms: 6000\n");
};

const std::vector<std::string> kAllScenarios = {
    "rule1-failure-detected.ndjson", "rule2-high-failure-rate.ndjson",
    "rule3-source-silent.ndjson",    "rule4-latency-p95.ndjson",
    "rule5-resource-overuse.ndjson", "rule6-object-error-burst.ndjson"};

TEST_F(AlertEvaluatorTest, ScenariosYieldExactlyTheExpectedAlertEvents) {
  produce_scenarios(kAllScenarios, /*bad=*/2);
  const auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  ASSERT_EQ(expected.size(), 38U);
  // Once the input is read, event time runs at 100000 × wall pace, so the silences at the end
  // of every scenario (75 min after its last run) come within a second.
  ChildProcess evaluator(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  const auto events = read_events(expected.size(), 3s);
  EXPECT_EQ(events, expected);

  // The metrics agree with the topic, and promtool accepts the exposition.
  const auto port = evaluator.wait_for_port();
  ASSERT_TRUE(port);
  std::size_t firing = 0;
  for (const Event& e : expected) firing += e.status == "firing";
  const std::regex to_firing(
      "ingestwatch_alert_transitions_total\\{[^}]*to=\"firing\"[^}]*\\} ([0-9.e+]+)");
  // The ALERTS-like gauge: every scenario source ends silent, six sources.
  const std::regex silent_gauge(
      "ingestwatch_alerts\\{[^}]*alertname=\"IngestionSourceSilent\"[^}]*alertstate=\"firing\"");
  std::optional<iw::testing::HttpResponse> metrics;
  double counted = 0;
  std::ptrdiff_t silent = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {  // the gauge is refreshed every second
    metrics = iw::testing::http_get(*port, "/metrics");
    ASSERT_TRUE(metrics);
    const std::string& body = metrics->body;
    counted = 0;
    for (std::sregex_iterator it(body.begin(), body.end(), to_firing), end; it != end; ++it) {
      counted += std::stod((*it)[1]);
    }
    silent = std::distance(std::sregex_iterator(body.begin(), body.end(), silent_gauge),
                           std::sregex_iterator());
    if (silent == 6) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(counted, static_cast<double>(firing));
  EXPECT_EQ(silent, 6);
  // The time to recover: one observation per resolve, of endsAt - startsAt.
  double resolves = 0, recovery_seconds = 0;
  for (const Event& e : expected) {
    if (e.status != "resolved") continue;
    resolves += 1;
    recovery_seconds += epoch_seconds(e.ends_at) - epoch_seconds(e.starts_at);
  }
  const auto sum_of = [&](const std::string& name) {
    const std::regex series(name + "\\{[^}]*\\} ([0-9.e+]+)");
    double sum = 0;
    for (std::sregex_iterator it(metrics->body.begin(), metrics->body.end(), series), end;
         it != end; ++it) {
      sum += std::stod((*it)[1]);
    }
    return sum;
  };
  EXPECT_GT(resolves, 0);
  EXPECT_EQ(sum_of("ingestwatch_alert_firing_duration_seconds_count"), resolves);
  EXPECT_NEAR(sum_of("ingestwatch_alert_firing_duration_seconds_sum"), recovery_seconds, 1e-3);
  const auto file = temp_.write("scrape.txt", metrics->body);
  const std::string check = "promtool check metrics < '" + file.string() + "' > '" +
                            (temp_.path() / "promtool.out").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << iw::testing::read_file(temp_.path() / "promtool.out");

  evaluator.signal(SIGTERM);
  EXPECT_EQ(evaluator.wait(), 0) << evaluator.err();
  // The unreadable records were dead-lettered, not evaluated.
  const auto dead = read_topic(bootstrap_, dlq_, 2, 30s, 1s);
  ASSERT_EQ(dead.size(), 2U);
  EXPECT_EQ(dead[0].headers.at("dlq.stage"), "alert-evaluator");
  EXPECT_EQ(dead[0].headers.at("dlq.reason"), "invalid_enriched_record");
}

TEST_F(AlertEvaluatorTest, ALookbackThatReachesTheStartReplaysEverything) {
  produce_scenarios(kAllScenarios);
  const auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  auto argv = command("100000");
  argv.insert(argv.end(), {"--replay-lookback", "1h"});
  ChildProcess evaluator(temp_.path(), argv, {"IW_HTTP_LISTEN=127.0.0.1:0"});
  EXPECT_EQ(read_events(expected.size(), 3s), expected);
  evaluator.signal(SIGTERM);
  EXPECT_EQ(evaluator.wait(), 0) << evaluator.err();
}

// `line` with its Source renamed and its Debut and Fin moved by `shift`.
std::string skewed(const std::string& line, const std::string& source, std::chrono::minutes shift) {
  std::string out = std::regex_replace(line, std::regex(R"("Source": "[^"]*")"),
                                       R"("Source": ")" + source + R"(")");
  for (const std::string field : {"Debut", "Fin"}) {
    const std::regex pattern("\"" + field + R"re(": "([^"]*)")re");
    std::smatch match;
    EXPECT_TRUE(std::regex_search(out, match, pattern)) << line;
    const auto at = events::parse_timestamp(match[1].str(), events::TimeZone::utc());
    EXPECT_TRUE(at.has_value()) << match[1];
    out = std::regex_replace(
        out, pattern,
        "\"" + field + "\": \"" +
            base::format_rfc3339_millis(at.value_or(base::TimePoint{}) + shift) + "\"");
  }
  return out;
}

// An event of `from`'s source told of `to` instead, `shift` later.
Event moved(const Event& event, const std::string& from, const std::string& to,
            std::chrono::hours shift) {
  const auto later = [&](const std::string& at) {
    if (at.starts_with("0001-")) return at;
    const auto parsed = base::parse_rfc3339_millis(at);
    EXPECT_TRUE(parsed.has_value()) << at;
    return base::format_rfc3339_millis(parsed.value_or(alerting::Instant{}) + shift);
  };
  Event out = event;
  out.key = std::regex_replace(out.key, std::regex("source=" + from), "source=" + to);
  out.starts_at = later(event.starts_at);
  out.ends_at = later(event.ends_at);
  return out;
}

// Issue #15: one skewed connector clock blinded the others' alerts. Into the scenarios' input
// go, on ScenarioFailure's partition and interleaved with its runs, a copy of its runs from a
// connector whose clock runs 2 h fast, one run 30 min ahead, and runs dated 2030 and 2261
// (written straight to the input: the evaluator dead-letters those as future_timestamp). Every
// scenario's alert events are exactly what they are without them; the fast connector gets its
// own alerts, 2 h later, and the run 30 min ahead its own silence.
TEST_F(AlertEvaluatorTest, SkewedClocksChangeNoOtherSourcesAlertEvents) {
  produce_scenarios({"rule2-high-failure-rate.ndjson", "rule3-source-silent.ndjson",
                     "rule4-latency-p95.ndjson", "rule5-resource-overuse.ndjson",
                     "rule6-object-error-burst.ndjson"});
  std::vector<std::pair<std::string, std::string>> lines;
  std::istringstream rule1(read_text(kScenarios / "rule1-failure-detected.ndjson"));
  std::string first_line;
  for (std::string line; std::getline(rule1, line);) {
    if (first_line.empty()) first_line = line;
    lines.emplace_back("ScenarioFailure", line);
    lines.emplace_back("ScenarioFailure", skewed(line, "Skewed2h", std::chrono::hours(2)));
    if (lines.size() == 10) {
      lines.emplace_back("ScenarioFailure", skewed(line, "Ahead30m", std::chrono::minutes(30)));
    }
  }
  // The first run with a typo'd year, as connectors' people type them.
  const auto dated = [&](const std::string& source, const std::string& year) {
    return std::regex_replace(skewed(first_line, source, std::chrono::minutes(0)),
                              std::regex("2025-09-21"), year + "-09-21");
  };
  lines.emplace_back("ScenarioFailure", dated("Typo2030", "2030"));
  lines.emplace_back("ScenarioFailure", dated("Typo2261", "2261"));
  produce_raw(lines);

  auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  for (const Event& e : expected_events({"rule1-failure-detected.ndjson"})) {
    expected.insert(moved(e, "ScenarioFailure", "Skewed2h", std::chrono::hours(2)));
  }
  ChildProcess evaluator(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  // The run 30 min ahead goes silent too: one more event, whose instant follows from its run.
  auto events = read_events(expected.size() + 1, 3s);
  std::size_t ahead = 0;
  for (auto it = events.begin(); it != events.end();) {
    if (it->key == "source=Ahead30m") {
      EXPECT_EQ(it->alertname, "IngestionSourceSilent");
      ++ahead;
      it = events.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_EQ(ahead, 1U);
  EXPECT_EQ(events, expected);
  const auto port = evaluator.wait_for_port();
  ASSERT_TRUE(port);
  const auto metrics = iw::testing::http_get(*port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(counter(metrics->body, "ingestwatch_alert_late_runs_total"), 0);
  evaluator.signal(SIGTERM);
  EXPECT_EQ(evaluator.wait(), 0) << evaluator.err();
  const auto dead = read_topic(bootstrap_, dlq_, 2, 30s, 1s);
  ASSERT_EQ(dead.size(), 2U);
  for (const auto& record : dead) {
    EXPECT_EQ(record.headers.at("dlq.reason"), "future_timestamp");
    EXPECT_EQ(record.headers.at("dlq.stage"), "alert-evaluator");
  }
}

// A producer that crashed sends what it had sent again: the same raw records, so the same
// event.ids. Each run counts once in the windows, and the copies are counted.
TEST_F(AlertEvaluatorTest, AProducerResendIsCountedOnce) {
  produce_scenarios(kAllScenarios);
  produce_scenarios({"rule1-failure-detected.ndjson", "rule2-high-failure-rate.ndjson"});
  std::size_t resent = 0;
  for (const std::string file :
       {"rule1-failure-detected.ndjson", "rule2-high-failure-rate.ndjson"}) {
    std::istringstream lines(read_text(kScenarios / file));
    for (std::string line; std::getline(lines, line);) ++resent;
  }
  const auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  ChildProcess evaluator(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  EXPECT_EQ(read_events(expected.size(), 3s), expected);
  const auto port = evaluator.wait_for_port();
  ASSERT_TRUE(port);
  const auto metrics = iw::testing::http_get(*port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(counter(metrics->body, "ingestwatch_duplicate_records_total"),
            static_cast<double>(resent));
  evaluator.signal(SIGTERM);
  EXPECT_EQ(evaluator.wait(), 0) << evaluator.err();
}

// Another instance took the transactional id over: the evaluator's next transaction is fenced.
// It stops with status 1 and says why once, rather than dying of a signal while it tears down
// (its consumer, leaving the group, used to call back into a producer already destroyed).
TEST_F(AlertEvaluatorTest, AFencedProducerStopsWithStatusOneAndOneErrorLine) {
  const std::vector<std::string> first(kAllScenarios.begin(), kAllScenarios.begin() + 3);
  const std::vector<std::string> second(kAllScenarios.begin() + 3, kAllScenarios.end());
  produce_scenarios(first);
  ChildProcess evaluator(temp_.path(), command("1"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  ASSERT_GE(read_events(10, 2s).size(), 10U);  // its transactions commit
  ASSERT_TRUE(iw::testing::fence(client_, "evaluator-" + group_));
  produce_scenarios(second);
  EXPECT_EQ(evaluator.wait(), 1) << evaluator.out() << evaluator.err();
  const auto stopped = iw::testing::lines_with(evaluator.out(), "\"msg\":\"stopped on error\"");
  ASSERT_EQ(stopped.size(), 1U) << evaluator.out();
  EXPECT_THAT(stopped[0], ::testing::HasSubstr("\"code\":\"failed_precondition\""));
  EXPECT_THAT(stopped[0], ::testing::HasSubstr("fenced"));
}

TEST_F(AlertEvaluatorTest, SigkillAndRestartWritesTheSameTransitionsOnce) {
  const std::vector<std::string> first(kAllScenarios.begin(), kAllScenarios.begin() + 3);
  const std::vector<std::string> second(kAllScenarios.begin() + 3, kAllScenarios.end());
  produce_scenarios(first);
  {
    // Wall pace while idle: the first half's episodes come out, the final silences do not.
    ChildProcess evaluator(temp_.path(), command("1"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
    const auto some = read_events(10, 2s);
    ASSERT_GE(some.size(), 10U);
    evaluator.signal(SIGKILL);
    evaluator.wait();
  }
  produce_scenarios(second);
  ChildProcess restarted(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  const auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  const auto events = read_events(expected.size(), 3s);
  // Equal multisets: nothing missing, nothing twice, every startsAt as the first run wrote it.
  EXPECT_EQ(events, expected);
  restarted.signal(SIGTERM);
  EXPECT_EQ(restarted.wait(), 0) << restarted.err();
}

// On a broker of its own with Kafka's default group.initial.rebalance.delay.ms (3 s; the
// fixture's broker has 0): the alert history's reader waits that long for its partitions. A
// restarted evaluator must still read the whole history before it evaluates: it writes no
// transition again and posts no old alert to Alertmanager.
class DefaultRebalanceDelayTest : public AlertEvaluatorTest {
 protected:
  void SetUp() override {
    broker_.emplace(std::vector<std::string>{"group.initial.rebalance.delay.ms=3000"});
    connect(broker_->bootstrap());
  }
  std::optional<iw::testing::OwnBroker> broker_;
};

TEST_F(DefaultRebalanceDelayTest, ARestartRewritesNoTransitionAndRepostsNothing) {
  iw::testing::FakeAlertmanager alertmanager;
  ASSERT_TRUE(alertmanager.running());
  config_ = temp_.write("evaluator.yaml", "alert_evaluator:\n  dlq_topic: " + dlq_ +
                                              "\n  alertmanager_url: " + alertmanager.url() +
                                              "\nkafka:\n  properties:\n"
                                              "    session.timeout.ms: 6000\n");
  produce_scenarios(kAllScenarios);
  const auto expected = expected_events({kAllScenarios.begin(), kAllScenarios.end()});
  {
    ChildProcess evaluator(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
    ASSERT_EQ(read_events(expected.size(), 3s), expected);
    evaluator.signal(SIGTERM);
    ASSERT_EQ(evaluator.wait(), 0) << evaluator.err();
  }
  const std::size_t posted_before = alertmanager.requests().size();

  ChildProcess restarted(temp_.path(), command("100000"), {"IW_HTTP_LISTEN=127.0.0.1:0"});
  ASSERT_TRUE(restarted.wait_for_output("\"msg\":\"rebuilding from the input\"", 60s))
      << restarted.out();
  const auto read = iw::testing::lines_with(restarted.out(), "\"msg\":\"alert history read\"");
  ASSERT_FALSE(read.empty());
  EXPECT_THAT(read[0], ::testing::HasSubstr("\"events\":" + std::to_string(expected.size())));
  std::smatch wait;
  ASSERT_TRUE(std::regex_search(read[0], wait, std::regex("\"assignment_wait_ms\":([0-9]+)")));
  EXPECT_GE(std::stoi(wait[1]), 2500) << "the broker's rebalance delay was not in effect";
  // The replay runs to the end of the input (a few hundred runs at idle speed 100000), then
  // notifies: time enough for a transition written twice, or an old alert posted.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(read_events(expected.size(), 3s), expected) << "a transition was written again";

  // Alertmanager hears only of what is firing now: no episode that had ended, as firing or as
  // resolved again.
  std::set<std::string> open_episodes;  // "alertname|startsAt" of the episodes never resolved
  std::multiset<std::pair<std::string, std::string>> ends;
  for (const Event& e : expected) ends.insert({e.alertname + "|" + e.key, e.starts_at});
  for (const Event& e : expected) {
    if (e.status == "firing" && ends.count({e.alertname + "|" + e.key, e.starts_at}) == 1) {
      open_episodes.insert(e.alertname + "|" + e.starts_at);
    }
  }
  const auto requests = alertmanager.requests();
  for (std::size_t i = posted_before; i < requests.size(); ++i) {
    const YAML::Node alerts = YAML::Load(requests[i].body);
    for (const YAML::Node& alert : alerts) {
      const std::string name = alert["labels"]["alertname"].as<std::string>();
      const double starts = epoch_seconds(alert["startsAt"].as<std::string>());
      const double ends_at = epoch_seconds(alert["endsAt"].as<std::string>());
      EXPECT_GT(ends_at, static_cast<double>(std::time(nullptr)))
          << "an alert resolved before the restart was posted again: " << requests[i].body;
      bool open = false;
      for (const std::string& episode : open_episodes) {
        const auto bar = episode.find('|');
        open = open ||
               (episode.substr(0, bar) == name && epoch_seconds(episode.substr(bar + 1)) == starts);
      }
      EXPECT_TRUE(open) << "not an episode firing now: " << requests[i].body;
    }
  }
  restarted.signal(SIGTERM);
  EXPECT_EQ(restarted.wait(), 0) << restarted.err();
}

}  // namespace
}  // namespace iw::alert_evaluator
