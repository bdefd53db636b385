#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace iw::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< Names lower-cased.
  std::string body;

  /// The value of header `lower_case_name`, or "" when absent.
  [[nodiscard]] std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One HTTP/1.1 request to 127.0.0.1:`port` over a plain socket, read until the server closes.
/// Deliberately minimal (no chunked encoding, no redirects) so the tests see exactly what the
/// server wrote. nullopt when the connection fails or the reply is not HTTP; `error` says why.
std::optional<HttpResponse> http_request(std::uint16_t port, std::string_view method,
                                         std::string_view target, std::string* error = nullptr);

inline std::optional<HttpResponse> http_get(std::uint16_t port, std::string_view target) {
  return http_request(port, "GET", target);
}

}  // namespace iw::testing
