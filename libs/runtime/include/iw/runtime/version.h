#pragma once

#include <string_view>

namespace iw::runtime {

/// The release version of this build, e.g. "0.1.0".
[[nodiscard]] std::string_view version();
/// The source revision it was built from, or "unknown" outside a git checkout.
[[nodiscard]] std::string_view commit();

}  // namespace iw::runtime
