#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "iw/config/config.h"
#include "iw/loki/encode.h"

namespace iw::loki_pusher {

struct LokiClientOptions {
  /// Loki's base URL ("http://127.0.0.1:3100"); pushes go to <url><push_path>, the readiness
  /// probe to <url><ready_path>. A URL already ending in push_path is taken as is.
  std::string url;
  /// Loki's own paths by default. Other stores that take Loki's push protocol serve it
  /// elsewhere: VictoriaLogs at /insert/loki/api/v1/push (with ?disable_message_parsing=1, so
  /// the line is kept whole) and its readiness at /insert/loki/ready.
  std::string push_path = "/loki/api/v1/push";
  std::string ready_path = "/ready";
  /// X-Scope-OrgID, when not empty.
  std::string tenant;
  /// Basic auth when `username` is not empty; else a bearer token when not empty; else none.
  /// Never logged.
  std::string username;
  config::Secret password;
  config::Secret bearer_token;
  /// TLS (https URLs): a CA bundle to trust instead of the system's, a client certificate and
  /// key (PEM), and, for tests only, no verification at all.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  std::chrono::milliseconds connect_timeout{5'000};
  /// The whole request, connection included.
  std::chrono::milliseconds request_timeout{10'000};
  std::string user_agent = "ingestwatch";
};

/// The answer to one request.
struct HttpResult {
  /// 0 when no answer came (connection refused or reset, DNS, TLS, timeout); `error` says why.
  long status = 0;
  std::string error;
  /// The start of the answer's body (up to 1 MiB: a 400 lists refused entries).
  std::string body;
  /// Retry-After, as seconds or an HTTP date.
  std::optional<std::chrono::milliseconds> retry_after;
  /// From the start of the request to the end of the answer.
  std::chrono::duration<double> elapsed{0};
};

/// POSTs push bodies to Loki through libcurl: one easy handle, so the connection is kept alive
/// between pushes, with the options' timeouts, TLS settings and headers. Used by one thread at a
/// time, except interrupt().
class LokiClient {
 public:
  explicit LokiClient(LokiClientOptions options);
  ~LokiClient();
  LokiClient(const LokiClient&) = delete;
  LokiClient& operator=(const LokiClient&) = delete;

  /// One push of `body` (its Content-Type and Content-Encoding sent along).
  HttpResult push(const loki::PushBody& body);
  /// GET <url>/ready (Loki answers 200 once it can take pushes).
  HttpResult ready();
  /// From any thread: ends the request in flight at once (its result has error "interrupted")
  /// and makes every later one return that at once. For shutdown.
  void interrupt();

  [[nodiscard]] const std::string& push_url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::loki_pusher
