#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace iw::http {

/// A response body as libcurl delivers it: the first `max_bytes` kept, the rest read and
/// dropped (an error answer says enough in its first bytes; a huge one must not grow memory).
struct CappedBody {
  explicit CappedBody(std::size_t max) : max_bytes(max) {}
  std::string text;
  std::size_t max_bytes;
};

struct CommonOptions {
  std::string user_agent;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{10'000};
};

/// libcurl's global state, set up once per process before the first handle (not thread-safe
/// in every libcurl build, so every client goes through here).
void init_once();

/// The settings every client's easy handle has: http and https only, the user agent, the
/// timeouts, no signals (they belong to the service: SIGTERM drains it), TCP keep-alive and the
/// body into `body`, which must outlive the handle's transfers. libcurl's error text is the
/// RequestLoop's (request_loop.h).
void set_common_options(CURL* easy, const CommonOptions& options, CappedBody* body);

}  // namespace iw::http
