#include "iw/metrics/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "iw/metrics/readiness.h"
#include "iw/testing/http_get.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace iw::metrics {
namespace {

using ::iw::testing::http_get;
using ::iw::testing::http_request;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kLoopbackAnyPort = "127.0.0.1:0";

HttpServer start_or_die(const prometheus::Collectable& metrics, const Readiness& readiness,
                        HttpServerOptions options = {.listen_address = kLoopbackAnyPort}) {
  auto server = HttpServer::start(std::move(options), metrics, readiness);
  if (!server) throw std::runtime_error(server.error().to_string());
  return std::move(*server);
}

class HttpServerTest : public ::testing::Test {
 protected:
  prometheus::Registry registry_;
  Readiness readiness_;
};

TEST_F(HttpServerTest, PortZeroBindsAFreePort) {
  const HttpServer server = start_or_die(registry_, readiness_);
  EXPECT_NE(server.bound_port(), 0);
  EXPECT_EQ(server.listen_address(), kLoopbackAnyPort);
}

TEST_F(HttpServerTest, MetricsServesTheRegistryAsCollectedPerScrape) {
  auto& counter = prometheus::BuildCounter()
                      .Name("iw_test_events_total")
                      .Help("Events seen by the test.")
                      .Register(registry_)
                      .Add({});
  counter.Increment(3);
  const HttpServer server = start_or_die(registry_, readiness_);

  auto response = http_get(server.bound_port(), "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->header("content-length"), std::to_string(response->body.size()));
  EXPECT_THAT(response->body, HasSubstr("# TYPE iw_test_events_total counter\n"));
  EXPECT_THAT(response->body, HasSubstr("\niw_test_events_total 3\n"));

  counter.Increment();
  response = http_get(server.bound_port(), "/metrics");
  ASSERT_TRUE(response);
  EXPECT_THAT(response->body, HasSubstr("\niw_test_events_total 4\n"));
}

TEST_F(HttpServerTest, QueryStringDoesNotChangeTheEndpoint) {
  const HttpServer server = start_or_die(registry_, readiness_);
  const auto response = http_get(server.bound_port(), "/metrics?name[]=up");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, HealthzIsOk) {
  const HttpServer server = start_or_die(registry_, readiness_);
  auto response = http_get(server.bound_port(), "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok\n");
  EXPECT_EQ(response->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response->header("cache-control"), "no-store");
}

TEST_F(HttpServerTest, ReadyzIs503WithTheReasonUntilEveryCheckPasses) {
  Readiness readiness({"kafka", "loki"});
  const HttpServer server = start_or_die(registry_, readiness);

  auto response = http_get(server.bound_port(), "/readyz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "not ready: kafka: pending; loki: pending\n");

  readiness.set_not_ready("kafka", "partitions not assigned");
  readiness.set_ready("loki");
  response = http_get(server.bound_port(), "/readyz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "not ready: kafka: partitions not assigned\n");

  readiness.set_ready("kafka");
  response = http_get(server.bound_port(), "/readyz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ready\n");

  // Readiness can be lost again, e.g. on a rebalance.
  readiness.set_not_ready("kafka", "rebalancing");
  response = http_get(server.bound_port(), "/readyz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "not ready: kafka: rebalancing\n");
}

TEST_F(HttpServerTest, UnknownPathsAre404) {
  const HttpServer server = start_or_die(registry_, readiness_);
  for (const char* path :
       {"/", "/metricsx", "/metrics/", "/healthz/x", "/favicon.ico", "/../metrics/x", "/READYZ"}) {
    SCOPED_TRACE(path);
    const auto response = http_get(server.bound_port(), path);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 404);
    EXPECT_EQ(response->body, "not found\n");
  }
}

TEST_F(HttpServerTest, OtherMethodsAre405) {
  const HttpServer server = start_or_die(registry_, readiness_);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    SCOPED_TRACE(method);
    const auto response = http_request(server.bound_port(), method, "/metrics");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 405);
    EXPECT_EQ(response->header("allow"), "GET, HEAD");
  }
  const auto unknown = http_request(server.bound_port(), "POST", "/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(HttpServerTest, HeadAnswersWithoutABody) {
  const HttpServer server = start_or_die(registry_, readiness_);
  const auto response = http_request(server.bound_port(), "HEAD", "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-length"), "3");
  EXPECT_EQ(response->body, "");
}

TEST_F(HttpServerTest, SecondServerOnTheSamePortFailsNamingTheAddress) {
  const HttpServer first = start_or_die(registry_, readiness_);
  const std::string address = "127.0.0.1:" + std::to_string(first.bound_port());

  const auto second = HttpServer::start({.listen_address = address}, registry_, readiness_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), base::ErrorCode::kUnavailable);
  EXPECT_THAT(second.error().message(), StartsWith("cannot listen on " + address + ": "));
  EXPECT_THAT(second.error().message(), HasSubstr("Address already in use"));

  // The first server is unaffected.
  const auto response = http_get(first.bound_port(), "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, AddressThatIsNotLocalFails) {
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface, and needs no DNS.
  const auto server = HttpServer::start({.listen_address = "192.0.2.1:0"}, registry_, readiness_);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code(), base::ErrorCode::kUnavailable);
  EXPECT_THAT(server.error().message(), StartsWith("cannot listen on 192.0.2.1:0: "));
  EXPECT_THAT(server.error().message(), HasSubstr("Cannot assign requested address"));
}

class MalformedAddressTest : public HttpServerTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(MalformedAddressTest, IsInvalidInputNamingTheAddress) {
  const std::string address = GetParam();
  const auto server = HttpServer::start({.listen_address = address}, registry_, readiness_);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_THAT(server.error().message(), StartsWith("listen address \"" + address + "\": "));
}

INSTANTIATE_TEST_SUITE_P(Addresses, MalformedAddressTest,
                         ::testing::Values("", "9464", "127.0.0.1", ":9464", "127.0.0.1:",
                                           "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:abc",
                                           "127.0.0.1:80s", "127.0.0.1:1,127.0.0.1:2", "[::1]:9464",
                                           "::1:9464", "local host:80"));

TEST_F(HttpServerTest, StopsPromptlyInTheDestructor) {
  std::uint16_t port = 0;
  std::chrono::steady_clock::time_point stopping;
  {
    const HttpServer server = start_or_die(registry_, readiness_);
    port = server.bound_port();
    // Right after serving, civetweb's listener is at the start of a 2 s poll: the worst case
    // for a stop that waits for it.
    ASSERT_TRUE(http_get(port, "/healthz"));
    stopping = std::chrono::steady_clock::now();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(1));
  std::string error;
  EXPECT_FALSE(http_request(port, "GET", "/healthz", &error));
  EXPECT_THAT(error, HasSubstr("Connection refused"));
}

TEST_F(HttpServerTest, MovedServerKeepsServing) {
  HttpServer original = start_or_die(registry_, readiness_);
  const std::uint16_t port = original.bound_port();
  const HttpServer moved = std::move(original);
  EXPECT_EQ(moved.bound_port(), port);
  const auto response = http_get(port, "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, ConcurrentScrapesAllSucceed) {
  auto& counter = prometheus::BuildCounter()
                      .Name("iw_test_ticks_total")
                      .Help("Ticks.")
                      .Register(registry_)
                      .Add({});
  const HttpServer server = start_or_die(registry_, readiness_);
  std::atomic<bool> stop{false};
  std::jthread writer([&] {
    while (!stop) counter.Increment();
  });
  std::atomic<int> ok{0};
  {
    std::vector<std::jthread> clients;
    for (int c = 0; c < 8; ++c) {
      clients.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          const auto response = http_get(server.bound_port(), i % 2 ? "/metrics" : "/readyz");
          if (response && response->status == 200) ++ok;
        }
      });
    }
  }
  stop = true;
  EXPECT_EQ(ok, 8 * 25);
}

// A Collectable that fails, as a broken custom collector might.
class ThrowingCollectable final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    throw std::runtime_error("collector exploded");
  }
};

TEST_F(HttpServerTest, ExceptionFromCollectIs500AndReported) {
  const ThrowingCollectable broken;
  std::mutex mu;
  std::vector<std::string> errors;
  const HttpServer server =
      start_or_die(broken, readiness_,
                   {.listen_address = kLoopbackAnyPort, .on_error = [&](std::string_view message) {
                      std::lock_guard lock(mu);
                      errors.emplace_back(message);
                    }});

  const auto response = http_get(server.bound_port(), "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, "internal error\n");
  {
    std::lock_guard lock(mu);
    EXPECT_THAT(errors, ::testing::Contains("request failed: collector exploded"));
  }

  // The server survives it.
  const auto health = http_get(server.bound_port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace iw::metrics
