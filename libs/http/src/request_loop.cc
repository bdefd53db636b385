#include "iw/http/request_loop.h"

#include <cstdio>

#include "iw/base/check.h"
#include "iw/http/curl_setup.h"

namespace iw::http {

RequestLoop::RequestLoop() {
  init_once();
  multi_ = curl_multi_init();
  IW_CHECK(multi_ != nullptr, "libcurl could not create a handle");
}

RequestLoop::~RequestLoop() { curl_multi_cleanup(multi_); }

TransferResult RequestLoop::run(CURL* easy) {
  const auto started = std::chrono::steady_clock::now();
  error_text_[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_text_.data());
  // Left as is when the transfer ends neither with a result nor with a multi error: interrupted.
  CURLcode code = CURLE_ABORTED_BY_CALLBACK;
  if (const CURLMcode added = curl_multi_add_handle(multi_, easy); added != CURLM_OK) {
    std::snprintf(error_text_.data(), error_text_.size(), "%s", curl_multi_strerror(added));
    code = CURLE_FAILED_INIT;
  } else {
    CURLMcode multi_code = CURLM_OK;
    while (!interrupted_) {
      int running = 0;
      multi_code = curl_multi_perform(multi_, &running);
      if (multi_code != CURLM_OK || running == 0) break;
      // Returns on socket activity, curl's own timers, or curl_multi_wakeup().
      multi_code = curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
      if (multi_code != CURLM_OK) break;
    }
    int queued = 0;
    while (const CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
        code = message->data.result;
      }
    }
    if (code == CURLE_ABORTED_BY_CALLBACK && multi_code != CURLM_OK) {
      std::snprintf(error_text_.data(), error_text_.size(), "%s", curl_multi_strerror(multi_code));
      code = CURLE_FAILED_INIT;
    }
    curl_multi_remove_handle(multi_, easy);
  }
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  TransferResult result{
      .code = code, .error = {}, .elapsed = std::chrono::steady_clock::now() - started};
  if (code != CURLE_OK) {
    result.error = interrupted_             ? std::string("interrupted")
                   : error_text_[0] != '\0' ? std::string(error_text_.data())
                                            : std::string(curl_easy_strerror(code));
  }
  return result;
}

void RequestLoop::interrupt() {
  interrupted_ = true;
  curl_multi_wakeup(multi_);
}

}  // namespace iw::http
