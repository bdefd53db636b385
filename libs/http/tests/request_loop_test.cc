#include "iw/http/request_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "iw/http/curl_setup.h"
#include "iw/testing/loki_receiver.h"

namespace iw::http {
namespace {

using namespace std::chrono_literals;

// A loopback socket the test keeps until its end, so that no other test's server can take the
// port and answer in its place. Bound only, it refuses connections; listening but never
// accepting, connections succeed and the request then waits for an answer that never comes.
class LoopbackSocket {
 public:
  enum class State { kBoundOnly, kListening };
  explicit LoopbackSocket(State state) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{
        .sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
    socklen_t size = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    const bool ready = fd_ >= 0 && ::bind(fd_, generic, size) == 0 &&
                       (state == State::kBoundOnly || ::listen(fd_, 8) == 0) &&
                       ::getsockname(fd_, generic, &size) == 0;
    if (ready) port_ = ntohs(address.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

std::string url_of(std::uint16_t port, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

// An easy handle set up as the services set up theirs, for a GET of `url`.
class Request {
 public:
  explicit Request(const std::string& url, std::chrono::milliseconds timeout = 10s)
      : easy_(curl_easy_init()) {
    set_common_options(
        easy_,
        {.user_agent = "request-loop-test", .connect_timeout = timeout, .request_timeout = timeout},
        &body_);
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
  }
  ~Request() { curl_easy_cleanup(easy_); }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  [[nodiscard]] CURL* easy() const { return easy_; }
  [[nodiscard]] const std::string& body() const { return body_.text; }
  [[nodiscard]] long status() const {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
  [[nodiscard]] long new_connections() const {
    long count = 0;
    curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &count);
    return count;
  }

 private:
  CappedBody body_{1024};
  CURL* easy_;
};

std::unique_ptr<testing::LokiReceiver> start_receiver() {
  auto receiver = testing::LokiReceiver::start();
  EXPECT_TRUE(receiver.has_value());
  return receiver ? std::move(*receiver) : nullptr;
}

TEST(RequestLoopTest, RunsATransferToItsAnswer) {
  const auto receiver = start_receiver();
  ASSERT_NE(receiver, nullptr);
  // The loop is declared first: a handle is cleaned up before the loop that ran it.
  RequestLoop loop;
  Request request(url_of(receiver->port(), "/ready"));

  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(request.status(), 200);
  EXPECT_GT(result.elapsed.count(), 0.0);
}

TEST(RequestLoopTest, KeepsTheConnectionFromOneTransferToTheNext) {
  const auto receiver = start_receiver();
  ASSERT_NE(receiver, nullptr);
  RequestLoop loop;
  Request request(url_of(receiver->port(), "/ready"));

  ASSERT_EQ(loop.run(request.easy()).code, CURLE_OK);
  EXPECT_EQ(request.new_connections(), 1);
  ASSERT_EQ(loop.run(request.easy()).code, CURLE_OK);
  EXPECT_EQ(request.new_connections(), 0);
  EXPECT_EQ(request.status(), 200);
}

TEST(RequestLoopTest, AnErrorStatusIsAnAnswer) {
  const auto receiver = start_receiver();
  ASSERT_NE(receiver, nullptr);
  RequestLoop loop;
  Request request(url_of(receiver->port(), "/no/such/path"));

  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(request.status(), 404);
}

TEST(RequestLoopTest, ARefusedConnectionSaysWhereInLibcurlsWords) {
  const LoopbackSocket refusing(LoopbackSocket::State::kBoundOnly);
  ASSERT_NE(refusing.port(), 0);
  RequestLoop loop;
  Request request(url_of(refusing.port()));

  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_COULDNT_CONNECT);
  // The transfer's own text, not curl_easy_strerror()'s generic one.
  EXPECT_NE(result.error, curl_easy_strerror(CURLE_COULDNT_CONNECT));
  EXPECT_NE(result.error.find("127.0.0.1 port " + std::to_string(refusing.port())),
            std::string::npos)
      << result.error;
  EXPECT_EQ(request.status(), 0);
}

TEST(RequestLoopTest, AnUnansweredRequestEndsAtItsTimeout) {
  const LoopbackSocket silent(LoopbackSocket::State::kListening);
  ASSERT_NE(silent.port(), 0);
  RequestLoop loop;
  Request request(url_of(silent.port()), 300ms);

  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_OPERATION_TIMEDOUT);
  EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
  // libcurl times the transfer from its own start, a little after ours: a margin, not an exact
  // bound (299.6 ms was seen).
  EXPECT_GE(result.elapsed, 250ms);
}

TEST(RequestLoopTest, EachTransferHasItsOwnErrorText) {
  const LoopbackSocket refusing(LoopbackSocket::State::kBoundOnly);
  const auto receiver = start_receiver();
  ASSERT_NE(refusing.port(), 0);
  ASSERT_NE(receiver, nullptr);
  RequestLoop loop;
  Request request(url_of(refusing.port()));

  ASSERT_NE(loop.run(request.easy()).error, "");
  curl_easy_setopt(request.easy(), CURLOPT_URL, url_of(receiver->port(), "/ready").c_str());
  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_OK);
  EXPECT_EQ(result.error, "");
}

TEST(RequestLoopTest, AHandleTheLoopCannotTakeFailsWithLibcurlsReason) {
  const auto receiver = start_receiver();
  ASSERT_NE(receiver, nullptr);
  RequestLoop loop;
  Request request(url_of(receiver->port(), "/ready"));
  // Already in another multi handle: the loop's cannot add it.
  CURLM* other = curl_multi_init();
  ASSERT_EQ(curl_multi_add_handle(other, request.easy()), CURLM_OK);

  const TransferResult result = loop.run(request.easy());

  EXPECT_EQ(result.code, CURLE_FAILED_INIT);
  EXPECT_EQ(result.error, curl_multi_strerror(CURLM_ADDED_ALREADY));
  curl_multi_remove_handle(other, request.easy());
  curl_multi_cleanup(other);
}

TEST(RequestLoopTest, InterruptEndsAHangingTransferAtOnceAndEveryLaterOne) {
  const LoopbackSocket silent(LoopbackSocket::State::kListening);
  ASSERT_NE(silent.port(), 0);
  RequestLoop loop;
  Request request(url_of(silent.port()), 60s);

  std::thread interrupter([&] {
    std::this_thread::sleep_for(200ms);
    loop.interrupt();
  });
  const TransferResult hung = loop.run(request.easy());
  interrupter.join();

  EXPECT_EQ(hung.code, CURLE_ABORTED_BY_CALLBACK);
  EXPECT_EQ(hung.error, "interrupted");
  // The interrupter's 200 ms started before run() did, so no lower bound holds exactly; far below
  // the 60 s timeout, a loaded machine gets its margin.
  EXPECT_LT(hung.elapsed, 10s);

  const TransferResult later = loop.run(request.easy());
  EXPECT_EQ(later.code, CURLE_ABORTED_BY_CALLBACK);
  EXPECT_EQ(later.error, "interrupted");
  EXPECT_LT(later.elapsed, 1s);
}

}  // namespace
}  // namespace iw::http
