#include "iw/http/curl_setup.h"

#include <algorithm>
#include <mutex>

namespace iw::http {
namespace {

std::size_t keep_capped(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<CappedBody*>(user);
  const std::size_t bytes = size * count;
  const std::size_t room = body->max_bytes - std::min(body->text.size(), body->max_bytes);
  body->text.append(data, std::min(bytes, room));
  return bytes;
}

}  // namespace

void init_once() {
  static std::once_flag done;
  std::call_once(done, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void set_common_options(CURL* easy, const CommonOptions& options, CappedBody* body) {
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &keep_capped);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, body);
}

}  // namespace iw::http
