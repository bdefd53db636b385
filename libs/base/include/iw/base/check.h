#pragma once

#include <source_location>
#include <string_view>

namespace iw::base {

/// Aborts the process with a message naming the broken invariant and where it was checked.
[[noreturn]] void check_failed(std::string_view condition, std::string_view message,
                               std::source_location where);

}  // namespace iw::base

/// Invariants that, when broken, mean a bug: print and abort. Always on, including release
/// builds; the conditions are cheap. Not for input validation (return an Error instead).
#define IW_CHECK(condition, message)                                                    \
  do {                                                                                  \
    if (!(condition)) [[unlikely]] {                                                    \
      ::iw::base::check_failed(#condition, (message), std::source_location::current()); \
    }                                                                                   \
  } while (false)
