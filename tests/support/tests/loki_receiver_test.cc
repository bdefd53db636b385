#include "iw/testing/loki_receiver.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <thread>

#include "iw/loki/compression.h"
#include "iw/loki/encode.h"
#include "iw/loki/push_policy.h"
#include "iw/loki/push_response.h"

namespace iw::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'757'932'200 * kSecond;  // 2025-09-15T10:30:00Z
constexpr std::string_view kZoho = R"({etat="FAILED", job="ingestion-logs", source="Zoho"})";
constexpr std::string_view kPowerBi = R"({etat="SUCCESS", job="ingestion-logs", source="PowerBI"})";

struct Response {
  long status = 0;  // 0: no connection
  CURLcode code = CURLE_OK;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::size_t append_header(char* data, std::size_t size, std::size_t count, void* out) {
  const std::string_view line(data, size * count);
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.remove_suffix(1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = std::string(value);
  }
  return size * count;
}

// One request through libcurl, as the pusher will make them.
Response request(const std::string& url, const std::string* body,
                 const std::vector<std::string>& headers = {}) {
  CURL* curl = curl_easy_init();
  Response response;
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &append_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  response.code = curl_easy_perform(curl);
  if (response.code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return response;
}

Response push(const LokiReceiver& receiver, const loki::PushBody& body,
              std::vector<std::string> headers = {}) {
  headers.push_back("Content-Type: " + std::string(body.content_type));
  if (!body.content_encoding.empty()) {
    headers.push_back("Content-Encoding: " + std::string(body.content_encoding));
  }
  return request(receiver.push_url(), &body.bytes, headers);
}

Response push(const LokiReceiver& receiver, const loki::Batch& batch,
              loki::Encoding encoding = loki::Encoding::kProtobuf) {
  return push(receiver, loki::encode_push(batch, encoding));
}

loki::Batch batch(std::vector<std::tuple<std::string_view, std::int64_t, std::string>> entries) {
  loki::Batch b;
  for (auto& [labels, ts, line] : entries) {
    auto it = std::ranges::find(b.streams, labels, &loki::BatchStream::labels);
    if (it == b.streams.end()) {
      b.streams.push_back({.labels = std::string(labels), .entries = {}});
      it = b.streams.end() - 1;
    }
    it->entries.push_back({.timestamp_ns = ts, .line = std::move(line), .ref = {}});
    ++b.entry_count;
  }
  return b;
}

std::unique_ptr<LokiReceiver> start(LokiReceiverOptions options = {}) {
  auto receiver = LokiReceiver::start(std::move(options));
  EXPECT_TRUE(receiver) << receiver.error().to_string();
  return receiver ? std::move(*receiver) : nullptr;
}

TEST(GoTimeTest, FormatsAsGoDoes) {
  EXPECT_EQ(go_time_string(kT0), "2025-09-15 10:30:00 +0000 UTC");
  EXPECT_EQ(go_time_string(kT0 + 500'000'000), "2025-09-15 10:30:00.5 +0000 UTC");
  EXPECT_EQ(go_time_string(kT0 + 1), "2025-09-15 10:30:00.000000001 +0000 UTC");
  EXPECT_EQ(go_time_string(-1), "1969-12-31 23:59:59.999999999 +0000 UTC");
  EXPECT_EQ(go_rfc3339(kT0 + 999'999'999), "2025-09-15T10:30:00Z");
}

TEST(LokiReceiverTest, StoresEveryEncoding) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0, "protobuf"}})).status, 204);
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0 + 1, "json"}}), loki::Encoding::kJson).status, 204);
  EXPECT_EQ(push(*receiver, batch({{kPowerBi, kT0, "gzip é"}}), loki::Encoding::kJsonGzip).status,
            204);
  const auto entries = receiver->entries();
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].stream, kZoho);
  EXPECT_EQ(entries[0].timestamp_ns, kT0);
  EXPECT_EQ(entries[0].line, "protobuf");
  EXPECT_EQ(entries[1].line, "json");
  EXPECT_EQ(entries[2].stream, kPowerBi);
  EXPECT_EQ(entries[2].line, "gzip é");
  const auto requests = receiver->requests();
  ASSERT_EQ(requests.size(), 3U);
  EXPECT_EQ(requests[0].content_type, "application/x-protobuf");
  EXPECT_EQ(requests[2].content_encoding, "gzip");
  EXPECT_EQ(requests[2].accepted, 1U);
  // In the order answered, each once handled (what the benchmark times pushes with).
  EXPECT_GE(requests[0].answered_at, before);
  EXPECT_GE(requests[2].answered_at, requests[0].answered_at);
  EXPECT_LE(requests[2].answered_at, std::chrono::steady_clock::now());
}

TEST(LokiReceiverTest, RecordsTheTraceIdInEveryEncoding) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const auto id =
      loki::TraceId::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  int n = 0;
  for (const auto encoding :
       {loki::Encoding::kProtobuf, loki::Encoding::kJson, loki::Encoding::kJsonGzip}) {
    loki::Batch traced = batch({{kZoho, kT0 + n, "traced"}, {kZoho, kT0 + n, "not traced"}});
    traced.streams[0].entries[0].trace_id = id;
    EXPECT_EQ(push(*receiver, traced, encoding).status, 204);
    ++n;
  }
  const auto entries = receiver->entries();
  ASSERT_EQ(entries.size(), 6U);
  for (std::size_t i = 0; i < entries.size(); i += 2) {
    EXPECT_EQ(entries[i].line, "traced");
    EXPECT_EQ(entries[i].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") << i;
    EXPECT_EQ(entries[i + 1].trace_id, "") << i;
  }
}

TEST(LokiReceiverTest, ExactDuplicatesAreStoredOnce) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const loki::Batch b = batch({{kZoho, kT0, "a"}, {kZoho, kT0, "b"}, {kZoho, kT0 + 1, "a"}});
  EXPECT_EQ(push(*receiver, b).status, 204);
  EXPECT_EQ(push(*receiver, b).status, 204);
  EXPECT_EQ(receiver->entry_count(), 3U);
  EXPECT_EQ(receiver->duplicates(), 3U);
}

TEST(LokiReceiverTest, DistributorRejectionsAreReadBackEntryByEntry) {
  base::FakeClock clock(base::TimePoint{std::chrono::nanoseconds{kT0}});
  auto receiver = start({.max_line_bytes = 5, .max_entry_age = hours{1}, .clock = &clock});
  ASSERT_TRUE(receiver);
  const loki::Batch b = batch({{kZoho, kT0 - 2 * 3600 * kSecond, "old"},
                               {kZoho, kT0, "fine"},
                               {kZoho, kT0 + 1, "too long"},
                               {kPowerBi, kT0, "fine"}});
  const Response response = push(*receiver, b);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            "1 errors like: entry for stream '" + std::string(kZoho) +
                "' has timestamp too old: 2025-09-15T08:30:00Z, oldest acceptable timestamp is: "
                "2025-09-15T09:30:00Z; 1 errors like: Max entry size '5' bytes exceeded for "
                "stream '" +
                std::string(kZoho) + "' while adding an entry with length '8' bytes\n");
  EXPECT_EQ(receiver->entry_count(), 2U);
  const loki::Rejections r = loki::interpret_rejection(b, response.body);
  EXPECT_FALSE(r.unrecognized);
  ASSERT_EQ(r.entries.size(), 2U);
  EXPECT_EQ(r.entries[0].entry, 0U);
  EXPECT_EQ(r.entries[0].reason, loki::Reason::kTooOld);
  EXPECT_EQ(r.entries[1].entry, 2U);
  EXPECT_EQ(r.entries[1].reason, loki::Reason::kLineTooLong);
}

TEST(LokiReceiverTest, LabelRules) {
  auto receiver = start({.label_limits = {.max_labels = 2}});
  ASSERT_TRUE(receiver);
  const Response too_many = push(*receiver, batch({{kZoho, kT0, "x"}}));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(too_many.body,
            "entry for stream '" + std::string(kZoho) + "' has 3 label names; limit 2\n");
  const std::string json = R"({"streams":[{"stream":{"bad-name":"x"},"values":[["1","line"]]}]})";
  const Response bad_name =
      request(receiver->push_url(), &json, {"Content-Type: application/json"});
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_TRUE(bad_name.body.starts_with(R"(Error parsing labels '{bad-name="x"}' with error: )"))
      << bad_name.body;
  EXPECT_EQ(receiver->entry_count(), 0U);
}

TEST(LokiReceiverTest, OrderingWindowPerStream) {
  auto receiver = start({.ordering_window = hours{1}});
  ASSERT_TRUE(receiver);
  ASSERT_EQ(push(*receiver, batch({{kZoho, kT0, "newest"}})).status, 204);
  const loki::Batch late = batch({{kZoho, kT0 - 3601 * kSecond, "too late"},
                                  {kZoho, kT0 - 3600 * kSecond, "just in"},
                                  {kPowerBi, kT0 - 10 * 3600 * kSecond, "other stream"}});
  const Response response = push(*receiver, late);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            "entry with timestamp 2025-09-15 09:29:59 +0000 UTC ignored, reason: 'entry too far "
            "behind, entry timestamp is: 2025-09-15T09:29:59Z, oldest acceptable timestamp is: "
            "2025-09-15T09:30:00Z',\nuser 'fake', total ignored: 1 out of 2 for stream: " +
                std::string(kZoho) + "\n");
  EXPECT_EQ(receiver->entry_count(), 3U);
  const loki::Rejections r = loki::interpret_rejection(late, response.body);
  ASSERT_EQ(r.entries.size(), 1U);
  EXPECT_EQ(r.entries[0].reason, loki::Reason::kTooFarBehind);
  EXPECT_TRUE(r.entries[0].certain);
}

TEST(LokiReceiverTest, OrderedWritesRefuseAnythingOlder) {
  auto receiver = start({.unordered_writes = false});
  ASSERT_TRUE(receiver);
  ASSERT_EQ(push(*receiver, batch({{kZoho, kT0, "a"}})).status, 204);
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0, "same time"}})).status, 204);
  const Response response = push(*receiver, batch({{kZoho, kT0 - 1, "older"}}));
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(response.body.find("reason: 'entry out of order'") != std::string::npos);
}

TEST(LokiReceiverTest, RejectsChosenLinesAndStoresTheRest) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  receiver->reject_lines([](std::string_view line) { return line.starts_with("bad"); });
  const loki::Batch b = batch({{kZoho, kT0, "bad 1"},
                               {kZoho, kT0 + 1, "good"},
                               {kPowerBi, kT0, "bad 2"},
                               {kPowerBi, kT0 + 5, "bad 3"}});
  const Response response = push(*receiver, b);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(receiver->entry_count(), 1U);
  const loki::Rejections r = loki::interpret_rejection(b, response.body);
  EXPECT_FALSE(r.unrecognized) << response.body;
  ASSERT_EQ(r.entries.size(), 3U) << response.body;
  for (const loki::RejectedEntry& e : r.entries) {
    EXPECT_TRUE(b.streams[e.stream].entries[e.entry].line.starts_with("bad"));
    EXPECT_EQ(e.reason, loki::Reason::kOutOfOrder);
    EXPECT_TRUE(e.certain);
  }
  receiver->reject_lines(nullptr);
  EXPECT_EQ(push(*receiver, b).status, 204);
}

TEST(LokiReceiverTest, StreamLimitRefusesNewStreamsWith429AndStoresTheOthers) {
  auto receiver = start({.max_active_streams = 1});
  ASSERT_TRUE(receiver);
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0, "z1"}})).status, 204);
  const Response response = push(*receiver, batch({{kZoho, kT0 + 1, "z2"}, {kPowerBi, kT0, "p"}}));
  EXPECT_EQ(response.status, 429);
  // Loki 3's words, naming the stream; the pusher recognises them.
  EXPECT_TRUE(response.body.starts_with(
      "Maximum active stream limit exceeded when trying to create stream {etat=\"SUCCESS\""))
      << response.body;
  EXPECT_EQ(loki::classify(429, response.body), loki::Verdict::kStreamLimited);
  EXPECT_EQ(receiver->entry_count(), 2U);  // z1, and z2 of the existing stream
  EXPECT_EQ(receiver->stream_limited(), 1U);
}

TEST(LokiReceiverTest, LokisOwnReportingLosesAllButTheLastStream) {
  auto receiver = start({.loki_error_reporting = true});
  ASSERT_TRUE(receiver);
  receiver->reject_lines([](std::string_view line) { return line == "bad"; });
  const Response response = push(*receiver, batch({{kZoho, kT0, "bad"}, {kPowerBi, kT0, "bad"}}));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body.find(std::string(kZoho)), std::string::npos) << response.body;
  EXPECT_NE(response.body.find(std::string(kPowerBi)), std::string::npos) << response.body;
}

TEST(LokiReceiverTest, CannedFailuresStoreNothing) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  receiver->fail_next(1, 429, "Ingestion rate limit exceeded", 7);
  receiver->fail_next(1, 500, "internal");
  const loki::Batch b = batch({{kZoho, kT0, "x"}});
  Response limited = push(*receiver, b);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["retry-after"], "7");
  EXPECT_EQ(limited.body, "Ingestion rate limit exceeded\n");
  EXPECT_EQ(push(*receiver, b).status, 500);
  EXPECT_EQ(receiver->entry_count(), 0U);
  EXPECT_EQ(push(*receiver, b).status, 204);
  EXPECT_EQ(receiver->entry_count(), 1U);
}

TEST(LokiReceiverTest, TenantAndAuthorization) {
  auto receiver = start({.tenant = "team-a", .authorization = "Bearer s3cret"});
  ASSERT_TRUE(receiver);
  const loki::PushBody body =
      loki::encode_push(batch({{kZoho, kT0, "x"}}), loki::Encoding::kProtobuf);
  EXPECT_EQ(push(*receiver, body, {"X-Scope-OrgID: team-a"}).status, 401);
  EXPECT_EQ(push(*receiver, body, {"Authorization: Bearer s3cret"}).body, "no org id\n");
  EXPECT_EQ(push(*receiver, body, {"Authorization: Bearer s3cret", "X-Scope-OrgID: team-a"}).status,
            204);
  EXPECT_EQ(receiver->requests().back().tenant, "team-a");
}

TEST(LokiReceiverTest, AnswersSlowlyWhenTold) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  receiver->set_delay(milliseconds{300});
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0, "x"}})).status, 204);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, milliseconds{300});
}

// What a client of a receiver that is down sees: a transfer that fails without an HTTP status.
bool transport_error(const Response& response) {
  return response.status == 0 &&
         (response.code == CURLE_GOT_NOTHING || response.code == CURLE_SEND_ERROR ||
          response.code == CURLE_RECV_ERROR);
}

// errno of binding another TCP socket to 127.0.0.1:`port` (0 when it could).
int bind_errno(std::uint16_t port, bool reuse_address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int on = 1;
  if (reuse_address) (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int result = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = result == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

// A client that keeps its connection alive between pushes, as the pusher's does.
class KeptAliveClient {
 public:
  KeptAliveClient() : curl_(curl_easy_init()) {}
  ~KeptAliveClient() { curl_easy_cleanup(curl_); }
  KeptAliveClient(const KeptAliveClient&) = delete;
  KeptAliveClient& operator=(const KeptAliveClient&) = delete;

  Response push(const LokiReceiver& receiver, const loki::Batch& batch) {
    const loki::PushBody body = loki::encode_push(batch, loki::Encoding::kProtobuf);
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/x-protobuf");
    list = curl_slist_append(list, "Expect:");
    Response response;
    const std::string url = receiver.push_url();
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.bytes.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.bytes.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10'000L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &append_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response.body);
    response.code = curl_easy_perform(curl_);
    if (response.code == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
    }
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &new_connections_);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(list);
    return response;
  }
  /// Connections the last push opened (0: it went over the kept-alive one).
  [[nodiscard]] long new_connections() const { return new_connections_; }

 private:
  CURL* curl_;
  long new_connections_ = 0;
};

TEST(LokiReceiverTest, GoesDownWithoutGivingItsPortAway) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const std::uint16_t port = receiver->port();
  KeptAliveClient kept_alive;
  ASSERT_EQ(kept_alive.push(*receiver, batch({{kZoho, kT0, "before"}})).status, 204);
  ASSERT_EQ(kept_alive.push(*receiver, batch({{kZoho, kT0 + 1, "before, again"}})).status, 204);
  ASSERT_EQ(kept_alive.new_connections(), 0) << "the connection was not kept alive";

  receiver->go_down();
  // Still bound and listening: nothing else can take the port, with SO_REUSEADDR or without.
  EXPECT_EQ(bind_errno(port, false), EADDRINUSE);
  EXPECT_EQ(bind_errno(port, true), EADDRINUSE);
  // New connections, the kept-alive one, bodies small and large, /ready: no answer at all.
  const Response small = push(*receiver, batch({{kZoho, kT0 + 2, "while down"}}));
  EXPECT_TRUE(transport_error(small)) << small.status << " " << curl_easy_strerror(small.code);
  const Response kept = kept_alive.push(*receiver, batch({{kZoho, kT0 + 3, "while down"}}));
  EXPECT_TRUE(transport_error(kept)) << kept.status << " " << curl_easy_strerror(kept.code);
  const Response large =
      push(*receiver, batch({{kZoho, kT0 + 4, std::string(4 << 20, 'x')}}), loki::Encoding::kJson);
  EXPECT_TRUE(transport_error(large)) << large.status << " " << curl_easy_strerror(large.code);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const Response ready = request(url + "/ready", nullptr);
  EXPECT_TRUE(transport_error(ready)) << ready.status << " " << curl_easy_strerror(ready.code);
  EXPECT_EQ(receiver->entry_count(), 2u);
  EXPECT_EQ(receiver->requests().size(), 2u) << "refused requests are not recorded";
  // Each reached this receiver; the kept-alive push maybe twice (libcurl sends it again once,
  // on a new connection, when a kept-alive one closes without answering).
  EXPECT_GE(receiver->refused(), 4u);
  EXPECT_EQ(bind_errno(port, true), EADDRINUSE);

  ASSERT_TRUE(receiver->come_back());
  EXPECT_EQ(receiver->port(), port);
  EXPECT_EQ(push(*receiver, batch({{kZoho, kT0 + 5, "after"}})).status, 204);
  EXPECT_EQ(kept_alive.push(*receiver, batch({{kZoho, kT0 + 6, "after, again"}})).status, 204);
  EXPECT_EQ(request(url + "/ready", nullptr).status, 200);
  ASSERT_TRUE(receiver->wait_for_entries(4, milliseconds{100}));
  const auto entries = receiver->entries();
  EXPECT_EQ(entries[2].line, "after");
  EXPECT_EQ(entries[3].line, "after, again");
}

TEST(LokiReceiverTest, GoingDownAnswersWhatIsBeingHandled) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  receiver->set_delay(milliseconds{300});
  std::thread slow([&] {
    EXPECT_EQ(push(*receiver, batch({{kZoho, kT0, "in flight"}})).status, 204);
  });
  while (receiver->entry_count() == 0) std::this_thread::sleep_for(milliseconds{1});
  receiver->go_down();
  EXPECT_EQ(receiver->requests().size(), 1u) << "go_down() returned before the answer";
  slow.join();
  receiver->set_delay(milliseconds{0});
  EXPECT_TRUE(transport_error(push(*receiver, batch({{kZoho, kT0 + 1, "while down"}}))));
  EXPECT_EQ(receiver->entry_count(), 1u);
}

TEST(LokiReceiverTest, GoesDownAndComesBackAtOnce) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    receiver->go_down();
    EXPECT_TRUE(transport_error(push(*receiver, batch({{kZoho, kT0 + i, "down"}}))));
    ASSERT_TRUE(receiver->come_back());
    EXPECT_EQ(push(*receiver, batch({{kZoho, kT0 + i, "up"}})).status, 204);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds{5});
  EXPECT_EQ(receiver->entry_count(), 20u);
  EXPECT_EQ(receiver->refused(), 20u);
}

TEST(LokiReceiverTest, BadRequests) {
  auto receiver = start();
  ASSERT_TRUE(receiver);
  const std::string garbage = "not snappy";
  EXPECT_EQ(
      request(receiver->push_url(), &garbage, {"Content-Type: application/x-protobuf"}).status,
      400);
  EXPECT_EQ(request(receiver->push_url(), &garbage, {"Content-Type: application/json"}).status,
            400);
  const Response deflate = request(receiver->push_url(), &garbage,
                                   {"Content-Type: application/json", "Content-Encoding: br"});
  EXPECT_EQ(deflate.body, "Content-Encoding \"br\" not supported\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(receiver->port());
  EXPECT_EQ(request(url + "/other", &garbage).status, 404);
  EXPECT_EQ(request(receiver->push_url(), nullptr).status, 405);
  EXPECT_EQ(request(url + "/ready", nullptr).status, 200);
  EXPECT_EQ(receiver->entry_count(), 0U);
}

}  // namespace
}  // namespace iw::testing
