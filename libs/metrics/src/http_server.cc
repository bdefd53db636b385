#include "iw/metrics/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "iw/base/check.h"
#include "iw/metrics/readiness.h"
#include "prometheus/text_serializer.h"

namespace iw::metrics {
namespace {

using base::ErrorCode;

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

// civetweb reads "host:port,host:port" and port suffixes ("s" for TLS, "r" for redirect) from the
// same string; checking the shape here keeps a typo from silently turning into one of those,
// and gives an error that says what was expected instead of civetweb's "invalid port spec".
base::Status validate_listen_address(std::string_view address) {
  auto invalid = [&](std::string_view why) {
    return base::fail(ErrorCode::kInvalidInput,
                      "listen address \"" + std::string(address) + "\": " + std::string(why));
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return invalid("expected host:port, e.g. 0.0.0.0:9464");
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.empty()) return invalid("missing host; use 0.0.0.0 to listen on every interface");
  if (host.front() == '[' || host.find(':') != std::string_view::npos) {
    return invalid("IPv6 addresses are not supported");
  }
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return invalid("host must be an IPv4 address or a host name");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return invalid("port must be a number from 0 to 65535");
  }
  return {};
}

// An address at which this host reaches a socket listening on `host`:`port`, or nullopt when
// the host cannot be resolved to IPv4 here.
std::optional<sockaddr_in> local_address(std::string_view listen_address, std::uint16_t port) {
  const std::string host(listen_address.substr(0, listen_address.rfind(':')));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
      return std::nullopt;
    }
    address.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
    freeaddrinfo(found);
  }
  if (address.sin_addr.s_addr == htonl(INADDR_ANY)) {
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  return address;
}

// Opens and drops a connection without waiting for it: enough to make the listening socket
// readable.
void poke(const sockaddr_in& address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  close(fd);
}

int respond(mg_connection* conn, int status, const char* content_type, std::string_view body,
            bool head, const char* allow = nullptr) {
  const std::string length = std::to_string(body.size());
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type, -1);
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  // Probes and scrapes must see the current state, never a proxy's copy.
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (allow != nullptr) mg_response_header_add(conn, "Allow", allow, -1);
  mg_response_header_send(conn);
  if (!head && !body.empty()) mg_write(conn, body.data(), body.size());
  return status;
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions opts, const prometheus::Collectable& m, const Readiness& r)
      : options(std::move(opts)), metrics(m), readiness(r) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();

  static int on_begin_request(mg_connection* conn);
  static int on_log_message(const mg_connection* conn, const char* message);
  int handle(mg_connection* conn, const mg_request_info& request) const;
  void log(std::string message);

  const HttpServerOptions options;
  const prometheus::Collectable& metrics;
  const Readiness& readiness;
  mg_context* context = nullptr;
  std::uint16_t port = 0;
  // Where a local connection reaches the listening socket; see ~Impl().
  std::optional<sockaddr_in> wake_address;

  std::mutex log_mu;
  // While starting, civetweb's messages are the only place the real cause of a failure is
  // written (mg_start2 itself only says "Failed to setup server ports"), so keep them for the
  // error; afterwards they go to options.on_error.
  bool starting = true;
  std::vector<std::string> startup_messages;
};

HttpServer::Impl::~Impl() {
  if (context == nullptr) return;
  // mg_stop() waits for in-flight requests, so no callback can see a dangling Impl afterwards.
  // It also waits for civetweb's listener thread to notice the stop flag, which that thread
  // checks only between polls of up to 2 s (SOCKET_TIMEOUT_QUANTUM, fixed when civetweb is
  // built): measured, every stop after the first request took 1-2 s. A connection to the
  // listening socket ends the poll at once; the listener checks the flag before accepting, so
  // connections made after the flag is set are never served. Poke until mg_stop() returns,
  // since the first pokes may land before it sets the flag.
  std::atomic<bool> stopped{false};
  std::jthread waker;
  if (wake_address) {
    try {
      waker = std::jthread([this, &stopped] {
        while (!stopped.load()) {
          poke(*wake_address);
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      });
    } catch (const std::system_error&) {
      // No thread to spare: stop the slow way rather than not at all.
    }
  }
  mg_stop(context);
  stopped = true;
}

int HttpServer::Impl::on_begin_request(mg_connection* conn) {
  const mg_request_info* request = mg_get_request_info(conn);
  auto* impl = static_cast<Impl*>(request->user_data);
  // An exception must not unwind through civetweb's C frames.
  try {
    return impl->handle(conn, *request);
  } catch (const std::exception& e) {
    impl->log(std::string("request failed: ") + e.what());
  } catch (...) {
    impl->log("request failed: unknown exception");
  }
  return respond(conn, 500, kTextContentType, "internal error\n", false);
}

int HttpServer::Impl::on_log_message(const mg_connection* conn, const char* message) {
  if (conn == nullptr || message == nullptr) return 1;
  auto* impl = static_cast<Impl*>(mg_get_user_data(mg_get_context(conn)));
  if (impl != nullptr) impl->log(message);
  // Non-zero: civetweb writes nothing itself (no error_log_file is configured anyway).
  return 1;
}

void HttpServer::Impl::log(std::string message) {
  {
    std::lock_guard lock(log_mu);
    if (starting) {
      startup_messages.push_back(std::move(message));
      return;
    }
  }
  if (options.on_error) options.on_error(message);
}

int HttpServer::Impl::handle(mg_connection* conn, const mg_request_info& request) const {
  const std::string_view method = request.request_method ? request.request_method : "";
  // local_uri is decoded, without the query string, and null for absolute-form targets that
  // name another host.
  const std::string_view path = request.local_uri ? request.local_uri : "";
  const bool head = method == "HEAD";

  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return respond(conn, 404, kTextContentType, "not found\n", head);
  }
  if (method != "GET" && !head) {
    return respond(conn, 405, kTextContentType, "method not allowed\n", false, "GET, HEAD");
  }
  if (path == "/metrics") {
    const std::string body = prometheus::TextSerializer().Serialize(metrics.Collect());
    return respond(conn, 200, kMetricsContentType, body, head);
  }
  if (path == "/healthz") return respond(conn, 200, kTextContentType, "ok\n", head);
  Readiness::Report report = readiness.report();
  report.text += '\n';
  return respond(conn, report.ready ? 200 : 503, kTextContentType, report.text, head);
}

base::Result<HttpServer> HttpServer::start(HttpServerOptions options,
                                           const prometheus::Collectable& metrics,
                                           const Readiness& readiness) {
  if (auto valid = validate_listen_address(options.listen_address); !valid) {
    return std::unexpected(std::move(valid).error());
  }
  if (options.threads < 1) {
    return base::fail(
        ErrorCode::kInvalidInput,
        "HTTP server threads: " + std::to_string(options.threads) + " is not a positive number");
  }

  // civetweb wants mg_init_library() once, before anything else, and says it is not
  // thread-safe; call_once gives both even when several servers start concurrently.
  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });

  auto impl = std::make_unique<Impl>(std::move(options), metrics, readiness);
  const std::string threads = std::to_string(impl->options.threads);
  std::array<const char*, 9> config = {
      "listening_ports",
      impl->options.listen_address.c_str(),
      "num_threads",
      threads.c_str(),
      // A client that connects and stalls holds one of very few threads; free it well inside
      // Prometheus' default 10 s scrape timeout.
      "request_timeout_ms",
      "5000",
      // No document_root: nothing on disk is ever served.
      "enable_keep_alive",
      "no",
      nullptr,
  };
  mg_callbacks callbacks{};
  callbacks.begin_request = &Impl::on_begin_request;
  callbacks.log_message = &Impl::on_log_message;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = impl.get();
  init.configuration_options = config.data();
  std::array<char, 256> error_text{};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text.data();
  error.text_buffer_size = error_text.size();

  impl->context = mg_start2(&init, &error);
  std::vector<std::string> startup_messages;
  {
    std::lock_guard lock(impl->log_mu);
    impl->starting = false;
    startup_messages = std::move(impl->startup_messages);
  }
  if (impl->context == nullptr) {
    std::string detail;
    for (const std::string& message : startup_messages) {
      if (message == error_text.data()) continue;  // The summary adds nothing to the cause.
      if (!detail.empty()) detail += "; ";
      detail += message;
    }
    if (detail.empty()) detail = error_text.data();
    return base::fail(ErrorCode::kUnavailable,
                      "cannot listen on " + impl->options.listen_address + ": " + detail);
  }
  mg_server_port port{};
  IW_CHECK(mg_get_server_ports(impl->context, 1, &port) == 1,
           "civetweb started without a listening port");
  impl->port = static_cast<std::uint16_t>(port.port);
  impl->wake_address = local_address(impl->options.listen_address, impl->port);
  return HttpServer(std::move(impl));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::HttpServer(HttpServer&&) noexcept = default;
HttpServer& HttpServer::operator=(HttpServer&&) noexcept = default;
HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::bound_port() const { return impl_->port; }

const std::string& HttpServer::listen_address() const { return impl_->options.listen_address; }

}  // namespace iw::metrics
