#pragma once

#include <string>
#include <string_view>

namespace iw::base {

/// Appends `text` to `out` as a JSON string literal, quotes included. Control characters are
/// escaped; bytes that are not valid UTF-8 are replaced by U+FFFD so the output is always valid
/// JSON, whatever the input (log fields often carry bytes from bad records).
void append_json_string(std::string& out, std::string_view text);

}  // namespace iw::base
