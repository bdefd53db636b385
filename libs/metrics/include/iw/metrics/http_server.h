#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "iw/base/error.h"
#include "prometheus/collectable.h"

namespace iw::metrics {

class Readiness;

/// How the HTTP endpoint listens.
struct HttpServerOptions {
  /// "host:port" with an IPv4 address or a host name; port 0 picks a free port (see
  /// HttpServer::bound_port()). "0.0.0.0:9464" listens on every interface; nothing is bound
  /// unless named here. IPv6 is not supported by the civetweb build this links against.
  std::string listen_address = "127.0.0.1:9464";
  /// Request threads. Scrapes and probes are rare and fast; two keep a slow client from
  /// blocking a probe.
  int threads = 2;
  /// Receives the web server's own run-time error messages (one line each, e.g. a client that
  /// went away mid-response) and exceptions thrown by `metrics`, so the service can log them
  /// its way; dropped when empty. Called from server threads, possibly concurrently.
  std::function<void(std::string_view message)> on_error = nullptr;
};

/// Serves, over plain HTTP/1.1:
///   GET /metrics  200, Prometheus text format 0.0.4 of `metrics`, collected per request
///   GET /healthz  200 "ok" while the process can answer at all
///   GET /readyz   200 "ready", or 503 with Readiness::Report::text as the body
/// HEAD works wherever GET does; other methods get 405, other paths 404. Bodies are
/// text/plain and end with a newline.
///
/// The destructor stops serving, waiting for in-flight requests (milliseconds, not civetweb's
/// usual up-to-2 s). Movable, not copyable; a moved-from server may only be destroyed or
/// assigned to.
class HttpServer {
 public:
  /// Binds and starts serving, or explains why not, e.g. "cannot listen on 127.0.0.1:9464:
  /// cannot bind to 127.0.0.1:9464: 98 (Address already in use)" (kUnavailable), or
  /// kInvalidInput for a malformed address or thread count. Start-up tier: print and exit.
  /// `metrics` and `readiness` are not owned and must outlive the server.
  [[nodiscard]] static base::Result<HttpServer> start(HttpServerOptions options,
                                                      const prometheus::Collectable& metrics,
                                                      const Readiness& readiness);

  HttpServer(HttpServer&&) noexcept;
  HttpServer& operator=(HttpServer&&) noexcept;
  ~HttpServer();

  /// The TCP port actually listened on; differs from the configured one when that was 0.
  [[nodiscard]] std::uint16_t bound_port() const;
  /// The address as configured ("127.0.0.1:0"), for log lines.
  [[nodiscard]] const std::string& listen_address() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::metrics
