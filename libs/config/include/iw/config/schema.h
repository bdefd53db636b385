#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <variant>
#include <vector>

#include "iw/config/duration.h"

namespace iw::config {

class Config;
template <class S>
class Binder;

/// A typed configuration value. The alternative held always matches the key's Type (the
/// alternatives are in the same order as the enumerators of Type).
using Value = std::variant<std::string, std::int64_t, double, bool, Duration,
                           std::vector<std::string>, std::map<std::string, std::string>>;

/// What a key holds.
enum class Type {
  kString,
  kInteger,     ///< std::int64_t
  kNumber,      ///< double; integers are accepted
  kBoolean,     ///< true/false only (not yes/no/on/off)
  kDuration,    ///< see parse_duration()
  kStringList,  ///< a YAML sequence; in an env var, comma-separated
  kProperties,  ///< a flat string->string map, e.g. librdkafka settings
};

/// "string", "integer", "number", "boolean", "duration", "string list", "properties".
[[nodiscard]] std::string_view type_name(Type type);

/// Checks a value that already has the key's type. Returns what is wrong (a phrase such as
/// "must be a power of two"; the key path is prepended), or nullopt when the value is fine.
/// For secret keys, any occurrence of the value in the returned text is replaced by
/// "<redacted>" before it is shown.
using Validator = std::function<std::optional<std::string>(const Value& value)>;

/// Checks one entry of a properties map, like Validator. `key` is the entry's own key (e.g.
/// "linger.ms"); the diagnostic names "<path>.<key>". Values of sensitive entries (see
/// is_sensitive_property()) are scrubbed from the returned text.
using PropertyCheck =
    std::function<std::optional<std::string>(std::string_view key, std::string_view value)>;

/// A check of values that span several keys, run on the loaded configuration. Returns what is
/// wrong (a sentence naming the keys involved), or nullopt. Values of secrets and sensitive
/// properties entries are scrubbed from the returned text.
using CrossCheck = std::function<std::optional<std::string>(const Config& config)>;

/// A CrossCheck and the keys it reads, in the order in which they are blamed (see
/// Schema::check()).
struct CrossKeyCheck {
  std::vector<std::string> keys;
  CrossCheck check;
};

namespace detail {
/// How a key's value reaches a field of a settings struct of type `target` (see Binder):
/// `set(object, config)` writes the key's effective value into `*object`, which is a `target`.
struct Binding {
  std::type_index target;
  std::function<void(void* object, const Config& config)> set;
};
}  // namespace detail

/// Everything declared about one key. Read-only outside KeyBuilder.
struct KeySpec {
  std::string path;  ///< dotted, e.g. "kafka.bootstrap_servers"
  Type type = Type::kString;
  std::string description;
  bool required = false;
  bool secret = false;
  std::optional<Value> default_value;
  std::optional<Value> min;         ///< inclusive; integer, number and duration keys
  std::optional<Value> max;         ///< inclusive; integer, number and duration keys
  std::vector<std::string> one_of;  ///< string keys, and each element of string lists
  std::vector<Validator> validators;
  PropertyCheck property_check;           ///< properties keys only; may be empty
  std::string flag;                       ///< "--rate"; empty when the key has no flag
  std::string flag_value_name;            ///< "N" in `--rate N`; empty for a switch (boolean keys)
  std::string argument;                   ///< "FILE": the positional argument that sets the key
  std::vector<detail::Binding> bindings;  ///< the settings fields it fills (Binder)
};

/// Fluent declaration of one key, returned by the Schema methods. Each call that sets the
/// default or adds a rule re-checks the default against everything declared so far, so a
/// default that breaks the key's own rules (or has the wrong type) aborts via IW_CHECK at
/// declaration: that is a programming error, not a configuration one.
class KeyBuilder {
 public:
  explicit KeyBuilder(KeySpec& spec) : spec_(&spec) {}

  /// One sentence for help().
  KeyBuilder& describe(std::string text);
  /// Loading fails when no source (file, env, `_file`) sets the key. Excludes default_value().
  KeyBuilder& required();
  /// Used when no source sets the key. Integers are accepted for number keys; strings such as
  /// "15s" and std::chrono durations for duration keys. For properties, the default entries
  /// are the base that file entries add to or override.
  KeyBuilder& default_value(Value value);
  /// String keys only. The value is never printed (help, dump, diagnostics) and is read with
  /// Config::get_secret(). A sibling `<key>_file: <path>` and env `<VAR>_FILE` are accepted.
  KeyBuilder& secret();
  /// Adds a custom check, run after the built-in ones.
  KeyBuilder& validate(Validator check);
  /// Inclusive bounds for integer, number and duration keys (duration bounds may be strings
  /// such as "1s").
  KeyBuilder& min(Value bound);
  KeyBuilder& max(Value bound);
  /// The allowed values of a string key, or of every element of a string list.
  KeyBuilder& one_of(std::vector<std::string> choices);
  /// The command-line flag that sets the key, e.g. flag("--rate", "N") for `--rate N`. A
  /// boolean key's flag without a value name is a switch: `--loop` sets it to true. Secrets
  /// have no flags (command lines are visible to every user of the machine).
  KeyBuilder& flag(std::string name, std::string value_name = {});
  /// The positional command-line argument that sets the key (`ingest-producer FILE`); at most
  /// one key of a schema has one. It wins over the key's flag.
  KeyBuilder& argument(std::string name);

  [[nodiscard]] const KeySpec& spec() const { return *spec_; }

 private:
  template <class S>
  friend class Binder;

  Value coerce(Value value, std::string_view what) const;
  void check_default() const;

  KeySpec* spec_;
};

/// The declared keys of one service. Each key is declared once, with its type, default,
/// description and checks; loading rejects every key that is not declared here.
///
/// Paths are dotted ("kafka.group_id") and nest in YAML as mappings. Segments use letters,
/// digits, '_' and '-'. A path cannot be both a key and a section ("kafka" and
/// "kafka.group_id"). Violations abort via IW_CHECK: they are programming errors.
///
/// Movable, not copyable: the KeyBuilder references handed out point into it.
class Schema {
 public:
  Schema() = default;
  Schema(Schema&&) = default;
  Schema& operator=(Schema&&) = default;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  KeyBuilder& string(std::string path);
  KeyBuilder& integer(std::string path);
  KeyBuilder& number(std::string path);
  KeyBuilder& boolean(std::string path);
  KeyBuilder& duration(std::string path);
  KeyBuilder& string_list(std::string path);
  /// A free-form map such as "kafka.properties". YAML scalars of any type are taken as their
  /// text. Keys are taken verbatim, dots included ("linger.ms: 5" is one entry, not nested).
  /// An entry `<key>_file: <path>` is replaced by `<key>` with the file's content (trailing
  /// newlines stripped). `check` (may be empty) vets every entry. Not settable from env.
  KeyBuilder& properties(std::string path, PropertyCheck check);

  /// Declares a check that spans `keys` (each declared before), e.g. "backoff.max is not
  /// below backoff.min". It runs at every load, --check-config included, once each of `keys`
  /// has a value without problems of its own. A failure is reported at the first of `keys` that
  /// a flag, an env var or the file set (at its value's position), or else at the first of
  /// `keys`, naming that key.
  void check(std::vector<std::string> keys, CrossCheck check);

  /// Keys in declaration order.
  [[nodiscard]] const std::deque<KeySpec>& keys() const { return specs_; }
  /// Cross-key checks in declaration order.
  [[nodiscard]] const std::vector<CrossKeyCheck>& checks() const { return checks_; }
  /// The key declared at `path`, or nullptr.
  [[nodiscard]] const KeySpec* find(std::string_view path) const;

  /// A plain-text table for --help: one line per key with columns KEY, TYPE, DEFAULT, ENV and
  /// DESCRIPTION. Defaults of secret keys show as "<secret>".
  [[nodiscard]] std::string help(std::string_view env_prefix = "IW_") const;

 private:
  KeyBuilder& add(std::string path, Type type);

  std::deque<KeySpec> specs_;
  std::deque<KeyBuilder> builders_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<CrossKeyCheck> checks_;
};

/// The env var that overrides `path`: `prefix` + the path upper-cased with '.' and '-' turned
/// into '_', e.g. ("IW_", "kafka.bootstrap_servers") -> "IW_KAFKA_BOOTSTRAP_SERVERS".
[[nodiscard]] std::string env_var_name(std::string_view prefix, std::string_view path);

/// Whether a properties entry holds a credential and so is redacted in dump(): librdkafka's
/// sensitive settings (sasl.password, sasl.oauthbearer.client.secret, sasl.oauthbearer.config,
/// ssl.key.password, ssl.key.pem, ssl.keystore.password) and any key containing "password" or
/// "secret" (case-insensitive). Entries read from `<key>_file` are always treated as sensitive.
[[nodiscard]] bool is_sensitive_property(std::string_view key);

}  // namespace iw::config
