#pragma once

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>

namespace iw::http {

/// How one transfer ended.
struct TransferResult {
  /// CURLE_OK when an answer came, whatever its status (CURLINFO_RESPONSE_CODE on the easy
  /// handle has it).
  CURLcode code = CURLE_OK;
  /// Empty when `code` is CURLE_OK. Else "interrupted" once RequestLoop::interrupt() was called;
  /// else libcurl's own words for this transfer (its error buffer: the host, the port, the
  /// elapsed time); else curl_easy_strerror(code).
  std::string error;
  /// From the start of the transfer to its end.
  std::chrono::duration<double> elapsed{0};
};

/// Runs the transfers of an easy handle, one at a time, through a multi handle of its own rather
/// than curl_easy_perform(), for two reasons: the multi handle keeps the connection alive from
/// one transfer to the next, and interrupt() can end a transfer that hangs at once
/// (curl_multi_wakeup()) instead of waiting for its timeout. run() is called from one thread at
/// a time; interrupt() from any.
class RequestLoop {
 public:
  /// Sets up libcurl's global state if nothing has yet. Aborts when libcurl cannot create the
  /// multi handle (out of memory).
  RequestLoop();
  /// Every easy handle given to run() must be cleaned up first: the connection it used belongs
  /// to the multi handle.
  ~RequestLoop();
  RequestLoop(const RequestLoop&) = delete;
  RequestLoop& operator=(const RequestLoop&) = delete;

  /// Performs `easy`'s transfer as it is set up, to its end or until interrupt(). The handle's
  /// CURLOPT_ERRORBUFFER is the loop's during the transfer and unset after.
  TransferResult run(CURL* easy);
  /// From any thread: ends the transfer in flight at once and makes every later run() return
  /// at once, with error "interrupted". For shutdown.
  void interrupt();

 private:
  CURLM* multi_ = nullptr;
  std::atomic<bool> interrupted_{false};
  std::array<char, CURL_ERROR_SIZE> error_text_{};
};

}  // namespace iw::http
