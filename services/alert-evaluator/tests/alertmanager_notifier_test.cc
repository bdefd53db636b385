// The Alertmanager notifier against a stand-in Alertmanager (civetweb on a free loopback port)
// that records what is posted and answers what the test says.
#include "alertmanager_notifier.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_alertmanager.h"
#include "iw/base/time_format.h"
#include "iw/log/logger.h"

namespace iw::alert_evaluator {
namespace {

using namespace std::chrono_literals;
using alerting::AlertEvent;
using alerting::EventStatus;
using alerting::Instant;
using iw::testing::FakeAlertmanager;
using iw::testing::Request;
using Steady = std::chrono::steady_clock;

const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21} + 10h};

AlertEvent firing(const std::string& source, Instant starts_at) {
  AlertEvent event;
  event.labels = {
      {"alertname", "IngestionSourceSilent"}, {"severity", "warning"}, {"source", source}};
  event.annotations = {{"description", "No run from " + source + " for 75 minutes."},
                       {"summary", "Source silent"}};
  event.starts_at = starts_at;
  event.value = 4500;
  event.fingerprint = alerting::fingerprint_of(event.labels);
  return event;
}

AlertEvent resolved(const std::string& source, Instant starts_at, Instant ends_at) {
  AlertEvent event = firing(source, starts_at);
  event.status = EventStatus::kResolved;
  event.ends_at = ends_at;
  return event;
}

// A loopback port of the test's own, held until destroyed (a port taken and released could
// meanwhile go to another test's server, which would then get this test's posts). Listening but
// never accepting: connections succeed and then hang. Not listening: connections are refused.
class HeldPort {
 public:
  enum class Mode { kBlackHole, kRefusing };
  explicit HeldPort(Mode mode) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
        (mode == Mode::kRefusing || listen(fd_, 16) == 0) &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~HeldPort() { close(fd_); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// One alert of a posted body, as Alertmanager would read it.
struct Posted {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;
  std::string ends_at;
  std::vector<std::string> keys;  // every key, in order
};

std::map<std::string, std::string> strings_of(simdjson::ondemand::object object) {
  std::map<std::string, std::string> entries;
  for (auto field : object) {
    entries[std::string(field.unescaped_key().value())] =
        std::string(field.value().get_string().value());
  }
  return entries;
}

// Throws (failing the test) when the body is not an array of objects of strings.
std::vector<Posted> parse_body(const std::string& body) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(body);
  simdjson::ondemand::document document = parser.iterate(padded).value();
  std::vector<Posted> out;
  for (auto element : document.get_array().value()) {
    Posted alert;
    for (auto field : element.get_object().value()) {
      const std::string key(field.unescaped_key().value());
      alert.keys.push_back(key);
      simdjson::ondemand::value value = field.value().value();
      if (key == "labels") alert.labels = strings_of(value.get_object().value());
      if (key == "annotations") alert.annotations = strings_of(value.get_object().value());
      if (key == "startsAt") alert.starts_at = std::string(value.get_string().value());
      if (key == "endsAt") alert.ends_at = std::string(value.get_string().value());
    }
    out.push_back(std::move(alert));
  }
  return out;
}

// "2025-09-21T10:00:00.000Z" as wall time.
std::chrono::system_clock::time_point parse_time(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis),
            7)
      << text;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
}

std::string rfc3339(Instant instant) { return base::format_rfc3339_millis(instant); }

double metric(prometheus::Registry& registry, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& sample : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& pair : sample.label) have[pair.name] = pair.value;
      if (have != labels) continue;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(sample.histogram.sample_count);
      }
      return sample.counter.value;
    }
  }
  return -1;
}

// Polls `done` until it holds or `timeout` passes.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Steady::now() + timeout;
  while (!done()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class AlertmanagerNotifierTest : public ::testing::Test {
 protected:
  AlertmanagerOptions options(std::chrono::milliseconds resend) const {
    return {.url = alertmanager_.url(), .resend_interval = resend};
  }

  // Declared first: outlives the notifiers, which close their connections first.
  FakeAlertmanager alertmanager_;
  prometheus::Registry registry_;
  log::MemorySink sink_;
  log::Logger logger_{"alert-evaluator", sink_};
};

TEST(PostableAlertTest, IsTheAlertmanagerV2ShapeWithTheGivenEnd) {
  AlertEvent event = firing("Power\"BI", kT0);
  event.fingerprint = 42;  // not part of a postable alert
  std::string out;
  alerting::append_postable_alert(out, event, kT0 + 4min);
  EXPECT_EQ(out, R"({"labels":{"alertname":"IngestionSourceSilent","severity":"warning",)"
                 R"("source":"Power\"BI"},"annotations":{"description":)"
                 R"("No run from Power\"BI for 75 minutes.","summary":"Source silent"},)"
                 R"("startsAt":"2025-09-21T10:00:00.000Z","endsAt":"2025-09-21T10:04:00.000Z"})");
}

TEST_F(AlertmanagerNotifierTest, PostsFiringAlertsAtOnceWithADeadlineFourIntervalsAhead) {
  ASSERT_TRUE(alertmanager_.running());
  AlertmanagerNotifier notifier(options(10s), registry_, logger_);
  const auto before = std::chrono::system_clock::now();
  notifier.update({firing("PowerBI", kT0), firing("SAP", kT0 + 1s)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(1));

  const Request request = alertmanager_.requests().front();
  EXPECT_EQ(request.path, "/api/v2/alerts");
  EXPECT_EQ(request.content_type, "application/json");
  EXPECT_FALSE(request.authorization.has_value());
  const std::vector<Posted> alerts = parse_body(request.body);
  ASSERT_EQ(alerts.size(), 2U);
  EXPECT_EQ(alerts[0].keys,
            (std::vector<std::string>{"labels", "annotations", "startsAt", "endsAt"}));
  std::map<std::string, Posted> by_source;
  for (const Posted& alert : alerts) by_source[alert.labels.at("source")] = alert;
  const Posted& power_bi = by_source.at("PowerBI");
  EXPECT_EQ(
      power_bi.labels,
      (std::map<std::string, std::string>{
          {"alertname", "IngestionSourceSilent"}, {"severity", "warning"}, {"source", "PowerBI"}}));
  EXPECT_EQ(power_bi.annotations.at("description"), "No run from PowerBI for 75 minutes.");
  EXPECT_EQ(power_bi.starts_at, "2025-09-21T10:00:00.000Z");
  EXPECT_EQ(by_source.at("SAP").starts_at, "2025-09-21T10:00:01.000Z");
  // endsAt = wall now + 4 × 10 s: Alertmanager resolves it if the re-sends stop.
  const auto ends_at = parse_time(power_bi.ends_at);
  EXPECT_GE(ends_at, std::chrono::floor<std::chrono::milliseconds>(before) + 40s);
  EXPECT_LE(ends_at, std::chrono::system_clock::now() + 40s);

  EXPECT_TRUE(eventually([&] {
    return metric(registry_, "ingestwatch_alertmanager_posts_total", {{"outcome", "success"}}) == 1;
  }));
  EXPECT_EQ(metric(registry_, "ingestwatch_alertmanager_alerts_sent_total"), 2);
  EXPECT_EQ(metric(registry_, "ingestwatch_alertmanager_posts_total", {{"outcome", "error"}}), 0);
  EXPECT_EQ(metric(registry_, "ingestwatch_alertmanager_post_latency_seconds"), 1);
}

TEST_F(AlertmanagerNotifierTest, AnUnchangedSnapshotWaitsForTheResendInterval) {
  AlertmanagerNotifier notifier(options(10s), registry_, logger_);
  notifier.update({firing("PowerBI", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(1));
  for (int i = 0; i < 5; ++i) notifier.update({firing("PowerBI", kT0)}, {});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(alertmanager_.requests().size(), 1U);
  // A new episode (another startsAt) is a change, sent at once.
  notifier.update({firing("PowerBI", kT0 + 1h)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(2));
  EXPECT_EQ(parse_body(alertmanager_.requests()[1].body).at(0).starts_at,
            "2025-09-21T11:00:00.000Z");
}

TEST_F(AlertmanagerNotifierTest, ResendsFiringAlertsEveryIntervalOverOneConnection) {
  AlertmanagerNotifier notifier(options(200ms), registry_, logger_);
  notifier.update({firing("PowerBI", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(4));
  const std::vector<Request> requests = alertmanager_.requests();
  for (std::size_t i = 1; i < 4; ++i) {
    // Never sooner than the interval (the first full round is one interval after the start,
    // so allow for the first post's own time).
    EXPECT_GE(requests[i].at - requests[i - 1].at, 100ms) << i;
    EXPECT_EQ(parse_body(requests[i].body).size(), 1U);
    // Keep-alive: the same client port every time.
    EXPECT_EQ(requests[i].remote_port, requests[0].remote_port) << i;
  }
  // Each re-send pushes the deadline on.
  EXPECT_GT(parse_time(parse_body(requests[3].body)[0].ends_at),
            parse_time(parse_body(requests[0].body)[0].ends_at));
}

TEST_F(AlertmanagerNotifierTest, SendsAResolveWithItsEndForTheRetentionThenDropsIt) {
  AlertmanagerOptions opts = options(150ms);
  opts.resolved_retention = 600ms;
  AlertmanagerNotifier notifier(opts, registry_, logger_);
  notifier.update({firing("PowerBI", kT0), firing("SAP", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(1));
  const auto resolved_handed = Steady::now();
  notifier.update({firing("SAP", kT0)}, {resolved("PowerBI", kT0, kT0 + 5min)});
  EXPECT_EQ(notifier.tracked(), 2U);

  // Sent at once, then with every round while retained.
  ASSERT_TRUE(eventually([&] { return notifier.tracked() == 1; }));
  const auto dropped = Steady::now();
  EXPECT_GE(dropped - resolved_handed, 550ms);
  std::this_thread::sleep_for(400ms);  // more than two rounds without the resolve
  int with_resolve = 0;
  Steady::time_point last_resolve_post{};
  for (const Request& request : alertmanager_.requests()) {
    for (const Posted& alert : parse_body(request.body)) {
      if (alert.labels.at("source") != "PowerBI" || alert.ends_at != rfc3339(kT0 + 5min)) continue;
      EXPECT_EQ(alert.starts_at, rfc3339(kT0));
      ++with_resolve;
      last_resolve_post = request.at;
    }
  }
  EXPECT_GE(with_resolve, 2);  // the prompt post and at least one re-send
  EXPECT_LE(last_resolve_post, dropped);
  // SAP, still firing, goes on being sent.
  const std::size_t seen = alertmanager_.requests().size();
  ASSERT_TRUE(alertmanager_.wait_for(seen + 1));
  const auto last = parse_body(alertmanager_.requests().back().body);
  ASSERT_EQ(last.size(), 1U);
  EXPECT_EQ(last[0].labels.at("source"), "SAP");
}

TEST_F(AlertmanagerNotifierTest, AnAlertFiringAgainIsNotSentAsResolved) {
  AlertmanagerNotifier notifier(options(10s), registry_, logger_);
  notifier.update({firing("PowerBI", kT0 + 10min)}, {resolved("PowerBI", kT0, kT0 + 5min)});
  ASSERT_TRUE(alertmanager_.wait_for(1));
  const auto alerts = parse_body(alertmanager_.requests()[0].body);
  ASSERT_EQ(alerts.size(), 1U);
  EXPECT_EQ(alerts[0].starts_at, rfc3339(kT0 + 10min));
  EXPECT_NE(alerts[0].ends_at, rfc3339(kT0 + 5min));
  EXPECT_EQ(notifier.tracked(), 1U);
}

TEST_F(AlertmanagerNotifierTest, AnAlertLeavingTheFiringSetWithoutAResolveIsNoLongerSent) {
  AlertmanagerNotifier notifier(options(150ms), registry_, logger_);
  notifier.update({firing("PowerBI", kT0), firing("SAP", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(1));
  notifier.update({firing("SAP", kT0)}, {});
  EXPECT_EQ(notifier.tracked(), 1U);
  const std::size_t seen = alertmanager_.requests().size();
  ASSERT_TRUE(alertmanager_.wait_for(seen + 2));
  const auto last = parse_body(alertmanager_.requests().back().body);
  ASSERT_EQ(last.size(), 1U);
  EXPECT_EQ(last[0].labels.at("source"), "SAP");
}

TEST_F(AlertmanagerNotifierTest, PostsAtMost64AlertsAtOnce) {
  AlertmanagerNotifier notifier(options(10s), registry_, logger_);
  std::vector<AlertEvent> many;
  for (int i = 0; i < 100; ++i) many.push_back(firing("source-" + std::to_string(i), kT0));
  notifier.update(std::move(many), {});
  ASSERT_TRUE(alertmanager_.wait_for(2));
  const auto requests = alertmanager_.requests();
  EXPECT_EQ(parse_body(requests[0].body).size() + parse_body(requests[1].body).size(), 100U);
  EXPECT_EQ(parse_body(requests[0].body).size(), 64U);
  EXPECT_TRUE(eventually(
      [&] { return metric(registry_, "ingestwatch_alertmanager_alerts_sent_total") == 100; }));
}

TEST_F(AlertmanagerNotifierTest, AnErrorAnswerIsCountedLoggedAndRetriedNextRound) {
  alertmanager_.answer(500);
  AlertmanagerNotifier notifier(options(200ms), registry_, logger_);
  notifier.update({firing("PowerBI", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(2));  // the prompt post, then the next round
  EXPECT_TRUE(eventually([&] {
    return metric(registry_, "ingestwatch_alertmanager_posts_total", {{"outcome", "error"}}) >= 2;
  }));
  EXPECT_EQ(metric(registry_, "ingestwatch_alertmanager_alerts_sent_total"), 0);
  alertmanager_.answer(200);
  EXPECT_TRUE(eventually([&] {
    return metric(registry_, "ingestwatch_alertmanager_posts_total", {{"outcome", "success"}}) >= 1;
  }));
  EXPECT_GE(metric(registry_, "ingestwatch_alertmanager_alerts_sent_total"), 1);

  const auto lines = sink_.lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find(R"("msg":"alertmanager rejected alerts")"), std::string::npos)
      << lines.front();
  EXPECT_NE(lines.front().find(R"("status":500)"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find("boom"), std::string::npos) << lines.front();
  EXPECT_TRUE(eventually([&] {
    const auto now = sink_.lines();
    return now.back().find("alertmanager accepts alerts again") != std::string::npos;
  }));
}

TEST_F(AlertmanagerNotifierTest, SendsTheBearerTokenAndNeverLogsIt) {
  alertmanager_.answer(401);
  AlertmanagerOptions opts = options(10s);
  opts.bearer_token = config::Secret("t0k3n-never-logged");
  AlertmanagerNotifier notifier(opts, registry_, logger_);
  notifier.update({firing("PowerBI", kT0)}, {});
  ASSERT_TRUE(alertmanager_.wait_for(1));
  EXPECT_EQ(alertmanager_.requests()[0].authorization, "Bearer t0k3n-never-logged");
  ASSERT_TRUE(eventually([&] { return !sink_.lines().empty(); }));
  for (const std::string& line : sink_.lines()) {
    EXPECT_EQ(line.find("t0k3n"), std::string::npos) << line;
  }
}

TEST(AlertmanagerNotifierDownTest, AnUnreachableAlertmanagerIsCountedAndLogged) {
  prometheus::Registry registry;
  log::MemorySink sink;
  const log::Logger logger("alert-evaluator", sink);
  const HeldPort closed(HeldPort::Mode::kRefusing);
  AlertmanagerNotifier notifier({.url = closed.url(), .resend_interval = 100ms}, registry, logger);
  notifier.update({firing("PowerBI", kT0)}, {});
  EXPECT_TRUE(eventually([&] {
    return metric(registry, "ingestwatch_alertmanager_posts_total", {{"outcome", "error"}}) >= 2;
  }));
  EXPECT_EQ(metric(registry, "ingestwatch_alertmanager_posts_total", {{"outcome", "success"}}), 0);
  ASSERT_FALSE(sink.lines().empty());
  EXPECT_NE(sink.lines().front().find(R"("msg":"alertmanager post failed")"), std::string::npos)
      << sink.lines().front();
}

// A post that hangs (Alertmanager accepts nothing) never holds the evaluator's update(): it only
// hands the alerts over under a lock the posting thread never holds across I/O. A blocking
// update() would wait for the request timeout (3 s); the bar is far above what a loaded machine
// needs for a lock and a vector, far below that timeout.
TEST(AlertmanagerNotifierDownTest, AHangingAlertmanagerNeverBlocksUpdate) {
  prometheus::Registry registry;
  log::MemorySink sink;
  const log::Logger logger("alert-evaluator", sink);
  const HeldPort hole(HeldPort::Mode::kBlackHole);
  AlertmanagerNotifier notifier(
      {.url = hole.url(), .resend_interval = 100ms, .request_timeout = 3s}, registry, logger);
  auto slowest = Steady::duration::zero();
  for (int i = 0; i < 50; ++i) {
    // A new episode each time, so every call wakes the thread.
    std::vector<AlertEvent> alerts = {firing("PowerBI", kT0 + std::chrono::seconds(i))};
    const auto started = Steady::now();
    notifier.update(std::move(alerts), {});
    slowest = std::max(slowest, Steady::now() - started);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_LT(slowest, 1s);
}

TEST(AlertmanagerNotifierDownTest, AHangingAlertmanagerTimesOutAndDoesNotHoldUpTheDestructor) {
  const HeldPort hole(HeldPort::Mode::kBlackHole);
  prometheus::Registry registry;
  log::MemorySink sink;
  const log::Logger logger("alert-evaluator", sink);
  {
    AlertmanagerNotifier notifier(
        {.url = hole.url(), .resend_interval = 10s, .request_timeout = 300ms}, registry, logger);
    notifier.update({firing("PowerBI", kT0)}, {});
    EXPECT_TRUE(eventually([&] {
      return metric(registry, "ingestwatch_alertmanager_posts_total", {{"outcome", "error"}}) == 1;
    }));
    const auto started = Steady::now();
    notifier.update({firing("SAP", kT0)}, {});
    EXPECT_LT(Steady::now() - started, 50ms);
  }
  // A post in flight with a long timeout is abandoned on destruction.
  prometheus::Registry other_registry;
  auto notifier = std::make_unique<AlertmanagerNotifier>(
      AlertmanagerOptions{.url = hole.url(), .resend_interval = 10s, .request_timeout = 30s},
      other_registry, logger);
  notifier->update({firing("PowerBI", kT0)}, {});
  std::this_thread::sleep_for(100ms);  // the post is under way
  const auto started = Steady::now();
  notifier.reset();
  EXPECT_LT(Steady::now() - started, 1s);
}

}  // namespace
}  // namespace iw::alert_evaluator
