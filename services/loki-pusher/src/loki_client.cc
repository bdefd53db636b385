#include "loki_client.h"

#include <curl/curl.h>

#include <algorithm>

#include "iw/base/check.h"
#include "iw/http/curl_setup.h"
#include "iw/http/request_loop.h"

namespace iw::loki_pusher {
namespace {

// Enough for Loki's longest 400s: ten refused entries listed per stream, many streams.
constexpr std::size_t kMaxBodyKept = 1 << 20;

std::string strip_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

curl_slist* append(curl_slist* list, const std::string& header) {
  curl_slist* grown = curl_slist_append(list, header.c_str());
  IW_CHECK(grown != nullptr, "libcurl could not build the request headers");
  return grown;
}

}  // namespace

struct LokiClient::Impl {
  explicit Impl(LokiClientOptions opts);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  HttpResult perform(curl_slist* headers);
  curl_slist* common_headers() const;

  const LokiClientOptions options;
  std::string push_url;
  std::string ready_url;
  // Before `easy`, so it is destroyed after it: the connection is the loop's.
  http::RequestLoop loop;
  CURL* easy = nullptr;
  http::CappedBody response{kMaxBodyKept};
};

LokiClient::Impl::Impl(LokiClientOptions opts) : options(std::move(opts)) {
  const std::string base = strip_slashes(options.url);
  if (base.ends_with(options.push_path)) {
    push_url = base;
    ready_url = base.substr(0, base.size() - options.push_path.size()) + options.ready_path;
  } else {
    push_url = base + options.push_path;
    ready_url = base + options.ready_path;
  }
  easy = curl_easy_init();
  IW_CHECK(easy != nullptr, "libcurl could not create a handle");

  http::set_common_options(easy,
                           {.user_agent = options.user_agent,
                            .connect_timeout = options.connect_timeout,
                            .request_timeout = options.request_timeout},
                           &response);
  if (!options.username.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(easy, CURLOPT_USERNAME, options.username.c_str());
    // libcurl copies the string; the Secret keeps the only other copy.
    const std::string password(options.password.reveal());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, password.c_str());
  }
  if (!options.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, options.cert_file.c_str());
  }
  if (!options.key_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, options.key_file.c_str());
  if (options.insecure_skip_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

LokiClient::Impl::~Impl() { curl_easy_cleanup(easy); }

curl_slist* LokiClient::Impl::common_headers() const {
  curl_slist* headers = nullptr;
  if (!options.tenant.empty()) headers = append(headers, "X-Scope-OrgID: " + options.tenant);
  if (options.username.empty() && !options.bearer_token.empty()) {
    headers =
        append(headers, "Authorization: Bearer " + std::string(options.bearer_token.reveal()));
  }
  return headers;
}

HttpResult LokiClient::Impl::perform(curl_slist* headers) {
  HttpResult result;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  response.text.clear();
  const http::TransferResult transfer = loop.run(easy);
  result.elapsed = transfer.elapsed;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (transfer.code != CURLE_OK) {
    result.error = transfer.error;
    return result;
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result.status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    result.retry_after = std::chrono::seconds{retry_after};
  }
  result.body = std::move(response.text);
  response.text = std::string();
  return result;
}

LokiClient::LokiClient(LokiClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

LokiClient::~LokiClient() = default;

HttpResult LokiClient::push(const loki::PushBody& body) {
  curl_slist* headers = impl_->common_headers();
  headers = append(headers, "Content-Type: " + std::string(body.content_type));
  if (!body.content_encoding.empty()) {
    headers = append(headers, "Content-Encoding: " + std::string(body.content_encoding));
  }
  // A body over 1 kB would otherwise wait for "100 Continue", which servers may never send.
  headers = append(headers, "Expect:");
  curl_easy_setopt(impl_->easy, CURLOPT_URL, impl_->push_url.c_str());
  curl_easy_setopt(impl_->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(impl_->easy, CURLOPT_POSTFIELDS, body.bytes.data());
  curl_easy_setopt(impl_->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(body.bytes.size()));
  return impl_->perform(headers);
}

HttpResult LokiClient::ready() {
  curl_easy_setopt(impl_->easy, CURLOPT_URL, impl_->ready_url.c_str());
  curl_easy_setopt(impl_->easy, CURLOPT_HTTPGET, 1L);
  return impl_->perform(impl_->common_headers());
}

void LokiClient::interrupt() { impl_->loop.interrupt(); }

const std::string& LokiClient::push_url() const { return impl_->push_url; }

}  // namespace iw::loki_pusher
