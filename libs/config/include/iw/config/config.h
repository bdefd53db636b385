#pragma once

#include <cstdint>
#include <expected>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include "iw/config/schema.h"

namespace iw::config {

namespace detail {
class Loader;
}  // namespace detail

/// A credential. Deliberately not printable and not convertible: the only way to the text is
/// reveal(), which makes every use visible in review.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  [[nodiscard]] std::string_view reveal() const { return value_; }
  [[nodiscard]] bool empty() const { return value_.empty(); }

  /// GoogleTest would otherwise dump the object's bytes, and with them the secret, when an
  /// assertion involving a Secret fails.
  friend void PrintTo(const Secret&, std::ostream* os);

 private:
  std::string value_;
};

/// One problem found while loading. Never contains the value of a secret.
///
/// Problems in a YAML file carry the file name and a 1-based line and column:
///   - a bad value points at the value, an unknown or duplicate key or a properties entry
///     rejected by its check at the key;
///   - a missing key points at the mapping that should contain it (its nearest ancestor
///     present in the file), or 1:1 when there is none;
///   - a YAML syntax error points where yaml-cpp stopped.
/// Problems in env vars have file "env:<VAR>" and line = column = 0; problems in command-line
/// overrides have the flag as file ("--rate") and line = column = 0. Problems with no key
/// (an unreadable config file) have an empty key_path.
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;
  std::string message;

  /// `<file>[:<line>:<column>]: [<key_path>: ]<message>`, the position omitted when line is 0:
  ///   enricher.yaml:12:5: kafka.group_id: required key missing
  ///   env:IW_METRICS_PORT: metrics.port: expected an integer, got 'x'
  ///   /etc/iw/enricher.yaml: cannot read config file: No such file or directory
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

/// One to_string() per line, each line ending in '\n'.
[[nodiscard]] std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics);

/// Where a key's effective value came from.
enum class Source { kUnset, kDefault, kFile, kEnv, kCommandLine };

/// The loaded, validated values of a Schema. Independent of the Schema's lifetime.
///
/// Getters take a declared path and return the effective value (env over file over default).
/// Asking for an undeclared path, with the wrong type, a secret through a non-secret getter,
/// or a key without value (see has()) is a programming error and aborts via IW_CHECK.
class Config {
 public:
  [[nodiscard]] const std::string& get_string(std::string_view path) const;
  [[nodiscard]] std::int64_t get_int(std::string_view path) const;
  [[nodiscard]] double get_number(std::string_view path) const;
  [[nodiscard]] bool get_bool(std::string_view path) const;
  [[nodiscard]] Duration get_duration(std::string_view path) const;
  [[nodiscard]] const std::vector<std::string>& get_string_list(std::string_view path) const;
  /// Properties always have a value (empty unless set or defaulted). Entries read from
  /// `<key>_file` appear under `<key>` with the file's content.
  [[nodiscard]] const std::map<std::string, std::string>& get_properties(
      std::string_view path) const;
  /// The only getter for keys declared secret().
  [[nodiscard]] const Secret& get_secret(std::string_view path) const;

  /// False only for optional keys without default that no source set.
  [[nodiscard]] bool has(std::string_view path) const;
  [[nodiscard]] Source source(std::string_view path) const;

  /// A settings struct filled from the keys bound to its fields (Binder<S>): S{} first, then
  /// each bound key that has a value, in declaration order. Keys without value leave their
  /// field as S's initialiser set it.
  template <class S>
  [[nodiscard]] S read() const {
    S settings{};
    fill(typeid(S), &settings);
    return settings;
  }

  /// The effective configuration as YAML, nested by section in declaration order, for
  /// --check-config. Secrets and sensitive properties entries print as <redacted>; values from
  /// defaults and env vars carry a trailing comment ("# default", "# env IW_X"); unset keys
  /// print as "~  # not set".
  [[nodiscard]] std::string dump() const;

 private:
  friend class detail::Loader;

  struct Entry {
    std::string path;
    Type type = Type::kString;
    bool secret = false;
    Source source = Source::kUnset;
    std::string env_var;
    std::optional<Value> value;  // never set for secrets; see secrets_
    std::vector<std::string> redacted_properties;
  };

  Config() = default;
  const Entry& entry(std::string_view path, Type type) const;
  void fill(std::type_index target, void* object) const;

  std::vector<Entry> entries_;             // declaration order
  std::vector<detail::Binding> bindings_;  // declaration order
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, Secret, std::less<>> secrets_;
};

/// The current process environment.
[[nodiscard]] std::map<std::string, std::string> process_environment();

struct LoadOptions {
  /// Consulted for overrides: every key except properties can be set by the env var named by
  /// env_var_name(env_prefix, path), and wins over the file. An empty value counts as set.
  /// String lists are comma-separated (spaces around items trimmed, empty items dropped). A
  /// secret key also accepts `<VAR>_FILE` naming a file that holds the value. Variables with the
  /// prefix that match no key are ignored, since one environment is often shared by several
  /// services.
  std::map<std::string, std::string> env = process_environment();
  std::string env_prefix = "IW_";
  /// Values given on the command line (a service's flags and argument), which win over
  /// everything else, the later over the earlier. Parsed like env values; problems name
  /// `origin` (e.g. "--rate", or "FILE" for an argument) in place of a file.
  struct Override {
    std::string origin;
    std::string path;
    std::string text;
  };
  std::vector<Override> overrides;
};

/// Loads and validates `path`. On failure returns every problem found, ordered by position in
/// the file, then env problems in declaration order. An unreadable file gives one diagnostic.
/// Relative `_file` paths are relative to the working directory, not to `path`.
[[nodiscard]] std::expected<Config, std::vector<Diagnostic>> load_file(
    const Schema& schema, const std::string& path, const LoadOptions& options = {});

/// Like load_file() for YAML text; `name_for_messages` is the file name in diagnostics.
[[nodiscard]] std::expected<Config, std::vector<Diagnostic>> load_string(
    const Schema& schema, std::string_view yaml, std::string_view name_for_messages,
    const LoadOptions& options = {});

}  // namespace iw::config
