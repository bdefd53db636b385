#pragma once

// A stand-in Alertmanager (civetweb on a free loopback port) that records what is posted and
// answers what the test says: for the notifier's tests and the evaluator's broker tests.

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace iw::testing {

using Steady = std::chrono::steady_clock;

// What the stand-in Alertmanager saw of one request.
struct Request {
  std::string path;
  std::string body;
  std::string content_type;
  std::optional<std::string> authorization;
  int remote_port = 0;
  Steady::time_point at;
};

class FakeAlertmanager {
 public:
  FakeAlertmanager() {
    static std::once_flag init;
    std::call_once(init, [] { mg_init_library(0); });
    const char* options[] = {
        "listening_ports",       "127.0.0.1:0", "num_threads", "4", "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "5000",        nullptr};
    mg_callbacks callbacks{};
    context_ = mg_start(&callbacks, this, options);
    if (context_ == nullptr) return;
    mg_set_request_handler(context_, "/", &FakeAlertmanager::handle, this);
    mg_server_port port{};
    if (mg_get_server_ports(context_, 1, &port) == 1) port_ = port.port;
  }
  ~FakeAlertmanager() {
    if (context_ == nullptr) return;
    // civetweb's listener checks for a stop between polls of up to 2 s; a connection wakes it.
    std::atomic<bool> stopped{false};
    std::jthread waker([&] {
      while (!stopped) {
        poke();
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
      }
    });
    mg_stop(context_);
    stopped = true;
  }
  FakeAlertmanager(const FakeAlertmanager&) = delete;
  FakeAlertmanager& operator=(const FakeAlertmanager&) = delete;

  [[nodiscard]] bool running() const { return port_ != 0; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void answer(int status) { status_ = status; }

  [[nodiscard]] std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits until at least `count` requests have come in; false on timeout.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
  }

 private:
  static int handle(mg_connection* conn, void* self_ptr) {
    auto* self = static_cast<FakeAlertmanager*>(self_ptr);
    const mg_request_info* info = mg_get_request_info(conn);
    Request request;
    request.path = info->local_uri != nullptr ? info->local_uri : "";
    request.remote_port = info->remote_port;
    std::array<char, 4096> buffer{};
    for (int n; (n = mg_read(conn, buffer.data(), buffer.size())) > 0;) {
      request.body.append(buffer.data(), static_cast<std::size_t>(n));
    }
    if (const char* type = mg_get_header(conn, "Content-Type")) request.content_type = type;
    if (const char* auth = mg_get_header(conn, "Authorization")) request.authorization = auth;
    request.at = Steady::now();
    const int status = self->status_;
    const std::string answer = status == 200 ? "" : "boom\n";
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Length", std::to_string(answer.size()).c_str(), -1);
    mg_response_header_send(conn);
    if (!answer.empty()) mg_write(conn, answer.data(), answer.size());
    {
      std::lock_guard lock(self->mutex_);
      self->requests_.push_back(std::move(request));
    }
    self->arrived_.notify_all();
    return status;
  }

  void poke() const {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    (void)connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    close(fd);
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
  std::atomic<int> status_{200};
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Request> requests_;
};

}  // namespace iw::testing
