#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "iw/log/logger.h"
#include "iw/otlp/tracer.h"

namespace iw::otlp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One request as the receiver read it.
struct Received {
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A tiny OTLP/HTTP collector on 127.0.0.1 and a port of its own, kept bound until its end. It
// reads each request (Content-Length bodies, keep-alive) and either answers with the next
// canned status (200 when none is left) or, once hang() was called, accepts and reads and never
// answers: a collector that is up but stuck. Thread-safe.
class Receiver {
 public:
  Receiver() : listen_fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{
        .sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
    socklen_t size = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (listen_fd_ >= 0 && ::bind(listen_fd_, generic, size) == 0 &&
        ::listen(listen_fd_, 64) == 0 && ::getsockname(listen_fd_, generic, &size) == 0) {
      port_ = ntohs(address.sin_port);
      acceptor_ = std::thread([this] { accept_loop(); });
    }
  }
  ~Receiver() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (const int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    changed_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& handler : handlers_) handler.join();
    for (const int fd : connections_) ::close(fd);
    ::close(listen_fd_);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& authority_prefix = "") const {
    return "http://" + authority_prefix + "127.0.0.1:" + std::to_string(port_) + "/v1/traces";
  }
  void answer_next(std::vector<int> statuses) {
    std::lock_guard lock(mu_);
    canned_.insert(canned_.end(), statuses.begin(), statuses.end());
  }
  void answer_always(int status) {
    std::lock_guard lock(mu_);
    always_ = status;
  }
  void hang() {
    std::lock_guard lock(mu_);
    hanging_ = true;
  }
  [[nodiscard]] std::vector<Received> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  [[nodiscard]] bool wait_for_requests(std::size_t count, std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
  }

 private:
  void accept_loop() {
    while (true) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      std::lock_guard lock(mu_);
      if (fd < 0 || stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      connections_.push_back(fd);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[16 * 1024];
    while (true) {
      std::size_t header_end = 0;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      Received request = parse_head(buffer.substr(0, header_end));
      const std::size_t length = std::stoul(request.headers["content-length"]);
      buffer.erase(0, header_end + 4);
      while (buffer.size() < length) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);

      int status = 200;
      {
        std::unique_lock lock(mu_);
        requests_.push_back(std::move(request));
        changed_.notify_all();
        if (hanging_) {
          changed_.wait(lock, [this] { return stopping_; });
          return;
        }
        if (!canned_.empty()) {
          status = canned_.front();
          canned_.pop_front();
        } else if (always_ != 0) {
          status = always_;
        }
      }
      const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                                 " X\r\nContent-Type: application/json\r\nContent-Length: "
                                 "2\r\n\r\n{}";
      if (::write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size())) return;
    }
  }

  static Received parse_head(const std::string& head) {
    Received request;
    std::size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const std::size_t space = first.find(' ');
    request.target = first.substr(space + 1, first.rfind(' ') - space - 1);
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::ranges::transform(name, name.begin(), [](unsigned char c) { return std::tolower(c); });
      request.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    return request;
  }

  int listen_fd_;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<int> canned_;
  int always_ = 0;
  bool hanging_ = false;
  bool stopping_ = false;
  std::vector<Received> requests_;
  std::vector<int> connections_;
  std::vector<std::thread> handlers_;
  std::thread acceptor_;
};

Span make_span(int i) {
  char span_id[17];
  std::snprintf(span_id, sizeof span_id, "%016x", i);
  return Span{.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
              .span_id = span_id,
              .parent_span_id = "b7ad6b7169203331",
              .name = "enrich",
              .kind = SpanKind::kConsumer,
              .start = base::TimePoint(std::chrono::seconds(1'700'000'000)),
              .end = base::TimePoint(std::chrono::seconds(1'700'000'001)),
              .attributes = {{"messaging.kafka.offset", std::int64_t{i}}}};
}

ExporterOptions options_for(const std::string& url) {
  return ExporterOptions{.endpoint = url,
                         .headers = {{"x-api-key", "s3cret-value"}},
                         .max_queue_spans = 64,
                         .max_batch_spans = 4,
                         .schedule_delay = 1h,  // only full batches and shutdown send
                         .export_timeout = 60s,
                         .resource = {.service_name = "ingest-enricher",
                                      .service_version = "9.9.9",
                                      .host_name = "box",
                                      .extra = {}},
                         .retry_backoff = 10ms};
}

// The span ids of a request body, in order; empty when it is not an OTLP/JSON request.
std::vector<std::string> span_ids(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::array spans;
  if (parser.parse(body).at_pointer("/resourceSpans/0/scopeSpans/0/spans").get(spans) !=
      simdjson::SUCCESS) {
    return {};
  }
  std::vector<std::string> ids;
  for (const simdjson::dom::element span : spans) {
    std::string_view id;
    if (span["spanId"].get(id) == simdjson::SUCCESS) ids.emplace_back(id);
  }
  return ids;
}

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout = 60s) {
  const auto until = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(BatchExporterTest, FullBatchesArriveWithTheResourceAndShutdownSendsTheRest) {
  Receiver receiver;
  ASSERT_NE(receiver.port(), 0);
  BatchExporter exporter(options_for(receiver.url()));

  for (int i = 0; i < 10; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(receiver.wait_for_requests(2));
  exporter.shutdown(30s);

  const std::vector<Received> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3U);
  std::vector<std::string> ids;
  for (const Received& request : requests) {
    EXPECT_EQ(request.target, "/v1/traces");
    EXPECT_EQ(request.headers.at("content-type"), "application/json");
    EXPECT_EQ(request.headers.at("x-api-key"), "s3cret-value");
    EXPECT_NE(
        request.body.find(R"({"key":"service.name","value":{"stringValue":"ingest-enricher"}})"),
        std::string::npos);
    for (auto& id : span_ids(request.body)) ids.push_back(std::move(id));
  }
  EXPECT_EQ(span_ids(requests[0].body).size(), 4U);
  EXPECT_EQ(span_ids(requests[1].body).size(), 4U);
  EXPECT_EQ(span_ids(requests[2].body).size(), 2U);
  ASSERT_EQ(ids.size(), 10U);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ids[static_cast<std::size_t>(i)], make_span(i).span_id);
  const ExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.exported, 10U);
  EXPECT_EQ(stats.dropped_queue_full, 0U);
  EXPECT_EQ(stats.dropped_export_failed, 0U);
  EXPECT_EQ(stats.dropped_shutdown, 0U);
}

TEST(BatchExporterTest, TheScheduleDelaySendsAPartialBatch) {
  Receiver receiver;
  ExporterOptions options = options_for(receiver.url());
  options.max_batch_spans = 512;
  options.schedule_delay = 50ms;
  BatchExporter exporter(std::move(options));

  for (int i = 0; i < 3; ++i) exporter.submit(make_span(i));

  ASSERT_TRUE(eventually([&] { return exporter.stats().exported == 3; }));
  ASSERT_EQ(receiver.requests().size(), 1U);
  EXPECT_EQ(span_ids(receiver.requests()[0].body).size(), 3U);
}

TEST(BatchExporterTest, A503IsRetriedOnceThenTheBatchIsDroppedAndLoggedOnceWithoutSecrets) {
  Receiver receiver;
  receiver.answer_always(503);
  log::MemorySink sink;
  const log::Logger logger("test", sink);
  ExporterOptions options = options_for(receiver.url("user:pa55word@") + "?token=t0ken");
  options.logger = &logger;
  BatchExporter exporter(std::move(options));

  for (int i = 0; i < 8; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(eventually([&] { return exporter.stats().dropped_export_failed == 8; }));
  exporter.shutdown(30s);

  EXPECT_EQ(receiver.requests().size(), 4U);  // two batches, each sent twice
  EXPECT_EQ(exporter.stats().exported, 0U);
  EXPECT_EQ(exporter.stats().dropped_shutdown, 0U);
  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 1U);  // four failures of one kind within a minute
  EXPECT_NE(lines[0].find("\"status\":503"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("http://127.0.0.1:" + std::to_string(receiver.port()) + "/v1/traces"),
            std::string::npos)
      << lines[0];
  for (const char* secret : {"pa55word", "t0ken", "s3cret-value"}) {
    EXPECT_EQ(lines[0].find(secret), std::string::npos) << lines[0];
  }
}

TEST(BatchExporterTest, ABatchThatSucceedsOnItsRetryIsExported) {
  Receiver receiver;
  receiver.answer_next({429});
  BatchExporter exporter(options_for(receiver.url()));

  for (int i = 0; i < 4; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(eventually([&] { return exporter.stats().exported == 4; }));

  EXPECT_EQ(receiver.requests().size(), 2U);
  EXPECT_EQ(exporter.stats().dropped_export_failed, 0U);
}

TEST(BatchExporterTest, A400IsDroppedWithoutARetry) {
  Receiver receiver;
  receiver.answer_always(400);
  BatchExporter exporter(options_for(receiver.url()));

  for (int i = 0; i < 4; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(eventually([&] { return exporter.stats().dropped_export_failed == 4; }));
  exporter.shutdown(30s);

  EXPECT_EQ(receiver.requests().size(), 1U);
}

TEST(BatchExporterTest, ACollectorThatNeverAnswersNeitherHoldsSubmitNorShutdown) {
  Receiver receiver;
  receiver.hang();
  ExporterOptions options = options_for(receiver.url());
  options.max_queue_spans = 100;
  options.max_batch_spans = 10;
  options.export_timeout = 300s;  // far beyond this test: only shutdown's deadline ends the hang
  BatchExporter exporter(std::move(options));

  // The first batch goes out and hangs: the queue is empty again and the sender stuck.
  for (int i = 0; i < 10; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(receiver.wait_for_requests(1));

  const auto submitting = Clock::now();
  for (int i = 0; i < 10'000; ++i) exporter.submit(make_span(i));
  // Far below the export timeout a waiting submit would take; a loaded machine gets its margin.
  EXPECT_LT(Clock::now() - submitting, 60s);
  EXPECT_EQ(exporter.stats().dropped_queue_full, 9'900U);

  const auto stopping = Clock::now();
  exporter.shutdown(200ms);
  EXPECT_LT(Clock::now() - stopping, 60s);

  const ExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.exported, 0U);
  EXPECT_EQ(stats.dropped_queue_full, 9'900U);
  EXPECT_EQ(stats.dropped_export_failed, 0U);
  EXPECT_EQ(stats.dropped_shutdown, 110U);  // the batch in flight and the queue
  EXPECT_EQ(receiver.requests().size(), 1U);
}

TEST(BatchExporterTest, ASpanSubmittedAfterShutdownIsCounted) {
  Receiver receiver;
  BatchExporter exporter(options_for(receiver.url()));
  exporter.shutdown(1s);
  exporter.submit(make_span(1));
  exporter.shutdown(1s);  // a second call does nothing
  EXPECT_EQ(exporter.stats().dropped_shutdown, 1U);
  EXPECT_TRUE(receiver.requests().empty());
}

TEST(BatchExporterTest, TheDestructorShutsDownWhenNobodyDid) {
  Receiver receiver;
  receiver.hang();
  const auto started = Clock::now();
  {
    BatchExporter exporter(options_for(receiver.url()));
    for (int i = 0; i < 4; ++i) exporter.submit(make_span(i));
    ASSERT_TRUE(receiver.wait_for_requests(1));
  }
  EXPECT_LT(Clock::now() - started, 60s);
}

TEST(BatchExporterTest, AnUnreachableCollectorCountsExportFailedAfterTheRetry) {
  // A port bound but not listening refuses connections, and stays ours for the whole test.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{
      .sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
  socklen_t size = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  log::MemorySink sink;
  const log::Logger logger("test", sink);
  ExporterOptions options =
      options_for("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/v1/traces");
  options.logger = &logger;
  BatchExporter exporter(std::move(options));

  for (int i = 0; i < 4; ++i) exporter.submit(make_span(i));
  ASSERT_TRUE(eventually([&] { return exporter.stats().dropped_export_failed == 4; }));
  exporter.shutdown(1s);
  ::close(fd);

  ASSERT_EQ(sink.lines().size(), 1U);
  EXPECT_NE(sink.lines()[0].find("cannot be reached"), std::string::npos) << sink.lines()[0];
}

}  // namespace
}  // namespace iw::otlp
