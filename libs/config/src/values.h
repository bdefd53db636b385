#pragma once

// Helpers shared by declaration (schema.cc), loading (loader.cc) and printing (config.cc).

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "iw/config/schema.h"

namespace iw::config::detail {

/// Text that stands in for a secret wherever a value would otherwise be printed.
inline constexpr std::string_view kRedacted = "<redacted>";

/// 'text', with control characters escaped so a message stays on one line.
std::string quote_for_message(std::string_view text);

/// "text" as a YAML double-quoted scalar.
std::string yaml_quote(std::string_view text);

/// A value in YAML flow syntax, for dump() and help().
std::string format_value(const Value& value);

/// "a string", "an integer", ... for "expected <phrase>, got ..." messages.
std::string_view expected_phrase(Type type);

/// Parses text (a YAML scalar or an env var) as the key's type. String lists are
/// comma-separated. Properties cannot be parsed from text. The error is the full message
/// without the key path; it never contains the text of a secret key.
std::expected<Value, std::string> parse_text(const KeySpec& spec, std::string_view text);

struct Problem {
  std::string suffix;  // appended to the key path: "[2]" for list elements, ".<key>" entries
  std::string message;
};

/// Runs the built-in checks (min, max, one_of), the validators and, for properties when
/// `check_entries` is set, the property check on every entry. Messages never contain the
/// value of a secret.
std::vector<Problem> check_value(const KeySpec& spec, const Value& value,
                                 bool check_entries = true);

/// Replaces every occurrence of `secret` in `message` with kRedacted.
std::string scrub(std::string message, std::string_view secret);

/// Aborts via IW_CHECK on declarations that only conflict once the whole schema is known
/// (env var names, `_file` siblings of secrets).
void check_declarations(const Schema& schema);

}  // namespace iw::config::detail
