#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <system_error>
#include <tuple>

#include "iw/config/config.h"
#include "values.h"

namespace iw::config {
namespace detail {
namespace {

struct Position {
  int line = 1;
  int column = 1;
};

// yaml-cpp marks are 0-based; a null mark (empty document) maps to the start of the file.
Position position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string format_position(Position position) {
  return std::to_string(position.line) + ":" + std::to_string(position.column);
}

// yaml-cpp gives an empty value (`key:`) the mark of the next token, often on a later line;
// the key is the better place to point at.
Position value_position(const YAML::Node& key, const YAML::Node& value) {
  return value.IsNull() ? position_of(key.Mark()) : position_of(value.Mark());
}

// ", got ..." describing a node, without the text when it belongs to a secret.
std::string got_node(const YAML::Node& node, bool secret) {
  if (node.IsNull()) return ", got an empty value";
  if (node.IsSequence()) return ", got a list";
  if (node.IsMap()) return ", got a mapping";
  return secret ? std::string() : ", got " + quote_for_message(node.Scalar());
}

std::string join(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : std::string(prefix) + "." + std::string(name);
}

std::string leaf(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

// Secret files are usually written with `echo` or by editors that end them with a newline,
// which no credential is meant to contain.
std::string strip_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// POSIX rather than iostreams so the error says why (ENOENT, EACCES, EISDIR, ...).
std::expected<std::string, std::string> read_text_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(std::generic_category().message(errno));
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return std::unexpected(std::generic_category().message(error));
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the most
// common typo ("gruop_id").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// One pass over the YAML tree, then the env vars, collecting every problem before giving up.
class Loader {
 public:
  Loader(const Schema& schema, const LoadOptions& options, std::string file)
      : schema_(schema), options_(options), file_(std::move(file)) {
    check_declarations(schema_);
    for (const KeySpec& spec : schema_.keys()) {
      slot_index_.emplace(spec.path, slots_.size());
      slots_.push_back(Slot{.spec = &spec});
      // Every proper prefix of a key is a section: a mapping that may appear in the file.
      for (std::size_t dot = spec.path.find('.'); dot != std::string::npos;
           dot = spec.path.find('.', dot + 1)) {
        sections_.insert(spec.path.substr(0, dot));
      }
    }
  }

  std::expected<Config, std::vector<Diagnostic>> load(std::string_view yaml) {
    bool readable = false;
    try {
      std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
      if (documents.size() > 1) {
        file_diag(position_of(documents[1].Mark()), "", "only one YAML document is allowed");
      }
      readable = documents.empty() || load_root(documents[0]);
    } catch (const YAML::Exception& e) {
      file_diag(position_of(e.mark), "", e.msg);
    }
    for (Slot& slot : slots_) apply_env(slot);
    apply_overrides();
    // When the file could not be read as a mapping, every key looks missing; saying so would
    // bury the real problem.
    if (readable) {
      for (const Slot& slot : slots_) check_required(slot);
    }
    Config config = build();
    run_cross_key_checks(config);
    if (!file_diags_.empty() || !env_diags_.empty()) return std::unexpected(diagnostics());
    return config;
  }

 private:
  struct PropertyEntry {
    std::string key;
    std::string text;
    Position position;  // of the key
    bool sensitive = false;
  };

  struct Slot {
    const KeySpec* spec = nullptr;
    std::optional<Value> file_value;
    std::optional<Value> env_value;
    std::string env_var;             // the variable that provided env_value
    bool in_file = false;            // `key:` or `key_file:` seen, even if its value was bad
    bool in_env = false;             // an env var or override was set, even if its value was bad
    bool from_command_line = false;  // env_value came from LoadOptions::overrides
    std::optional<Position> inline_position;
    std::optional<Position> file_ref_position;
    Position value_position;  // of the value (or `_file` value) last read from the file
    std::vector<PropertyEntry> properties;
  };

  void file_diag(Position position, std::string key_path, std::string message) {
    file_diags_.push_back(
        {file_, position.line, position.column, std::move(key_path), std::move(message)});
  }

  void env_diag(const std::string& var, std::string key_path, std::string message) {
    env_diags_.push_back({"env:" + var, 0, 0, std::move(key_path), std::move(message)});
  }

  std::vector<Diagnostic> diagnostics() {
    std::ranges::stable_sort(file_diags_, [](const Diagnostic& a, const Diagnostic& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<Diagnostic> all = std::move(file_diags_);
    all.insert(all.end(), env_diags_.begin(), env_diags_.end());
    return all;
  }

  Slot* find_slot(std::string_view path) {
    auto it = slot_index_.find(path);
    return it == slot_index_.end() ? nullptr : &slots_[it->second];
  }

  // False when the document is not a mapping of keys.
  bool load_root(const YAML::Node& root) {
    // An empty file, or one with only comments, is an empty mapping: defaults and env vars
    // may be all a service needs.
    if (root.IsNull()) return true;
    if (!root.IsMap()) {
      file_diag(position_of(root.Mark()), "",
                "expected a mapping of keys at the top level" + got_node(root, false));
      return false;
    }
    mappings_[""] = position_of(root.Mark());
    walk(root, "");
    return true;
  }

  void walk(const YAML::Node& mapping, const std::string& prefix) {
    for (auto it = mapping.begin(); it != mapping.end(); ++it) {
      // Copies: yaml-cpp's iterator hands out a temporary proxy, so references into it dangle.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const Position key_position = position_of(key.Mark());
      if (!key.IsScalar()) {
        file_diag(key_position, prefix, "keys must be plain strings");
        continue;
      }
      // Matching whole paths also accepts the shorthand `kafka.group_id: x` for nesting.
      const std::string path = join(prefix, key.Scalar());
      if (auto [first, inserted] = seen_.emplace(path, key_position); !inserted) {
        file_diag(key_position, path,
                  "duplicate key, first set at " + format_position(first->second));
        continue;
      }
      if (Slot* slot = find_slot(path)) {
        take_value(*slot, key, value);
      } else if (sections_.contains(path)) {
        if (value.IsMap()) {
          mappings_[path] = position_of(value.Mark());
          walk(value, path);
        } else if (value.IsNull()) {
          // A section whose keys are all commented out.
          mappings_[path] = key_position;
        } else {
          file_diag(value_position(key, value), path,
                    "expected a mapping" + got_node(value, false));
        }
      } else if (Slot* owner = secret_file_owner(path)) {
        take_secret_file(*owner, key, value);
      } else {
        file_diag(key_position, path, unknown_key_message(path));
      }
    }
  }

  // The secret key whose `<key>_file` sibling `path` is, or nullptr.
  Slot* secret_file_owner(std::string_view path) {
    if (!path.ends_with("_file")) return nullptr;
    Slot* slot = find_slot(path.substr(0, path.size() - 5));
    return slot != nullptr && slot->spec->secret ? slot : nullptr;
  }

  void take_value(Slot& slot, const YAML::Node& key, const YAML::Node& value) {
    const KeySpec& spec = *slot.spec;
    const Position position = value_position(key, value);
    slot.in_file = true;
    slot.inline_position = position_of(key.Mark());
    slot.value_position = position;
    if (spec.type == Type::kProperties) {
      take_properties(slot, key, value);
      return;
    }

    std::optional<Value> parsed;
    std::vector<Position> element_positions;
    if (spec.type == Type::kStringList && value.IsSequence()) {
      std::vector<std::string> items;
      bool ok = true;
      for (std::size_t i = 0; i < value.size(); ++i) {
        const YAML::Node element = value[i];
        element_positions.push_back(position_of(element.Mark()));
        if (element.IsScalar()) {
          items.push_back(element.Scalar());
        } else {
          ok = false;
          file_diag(element_positions.back(), spec.path + "[" + std::to_string(i) + "]",
                    "expected a string" + got_node(element, false));
        }
      }
      if (ok) parsed = std::move(items);
    } else if (!value.IsScalar() || spec.type == Type::kStringList) {
      // A scalar for a list is a mistake in YAML (unlike in env vars, which have no lists).
      file_diag(
          position, spec.path,
          "expected " + std::string(expected_phrase(spec.type)) + got_node(value, spec.secret));
    } else if (auto result = parse_text(spec, value.Scalar())) {
      parsed = std::move(*result);
    } else {
      file_diag(position, spec.path, std::move(result.error()));
    }
    if (!parsed) return;

    for (Problem& problem : check_value(spec, *parsed)) {
      Position where = position;
      // "[i]" problems belong to one element of a list.
      if (problem.suffix.starts_with('[')) {
        where = element_positions.at(std::stoul(problem.suffix.substr(1)));
      }
      file_diag(where, spec.path + problem.suffix, std::move(problem.message));
    }
    slot.file_value = std::move(parsed);
  }

  void take_secret_file(Slot& slot, const YAML::Node& key, const YAML::Node& value) {
    const KeySpec& spec = *slot.spec;
    const Position position = value_position(key, value);
    const std::string file_key = spec.path + "_file";
    slot.in_file = true;
    slot.file_ref_position = position_of(key.Mark());
    slot.value_position = position;
    if (!value.IsScalar()) {
      file_diag(position, file_key, "expected a file path" + got_node(value, false));
      return;
    }
    auto content = read_text_file(value.Scalar());
    if (!content) {
      file_diag(position, file_key,
                "cannot read " + quote_for_message(value.Scalar()) + ": " + content.error());
      return;
    }
    Value secret = strip_trailing_newlines(std::move(*content));
    for (Problem& problem : check_value(spec, secret)) {
      file_diag(position, spec.path + problem.suffix, std::move(problem.message));
    }
    slot.file_value = std::move(secret);
  }

  void take_properties(Slot& slot, const YAML::Node& key, const YAML::Node& value) {
    const KeySpec& spec = *slot.spec;
    // `properties:` with every entry commented out.
    if (value.IsNull()) return;
    if (!value.IsMap()) {
      file_diag(value_position(key, value), spec.path,
                "expected a mapping" + got_node(value, false));
      return;
    }
    std::map<std::string, Position> seen;
    std::map<std::string, Position> inline_keys;
    std::map<std::string, Position> file_keys;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node entry_key = it->first;  // copies, as in walk()
      const YAML::Node entry_value = it->second;
      const Position key_position = position_of(entry_key.Mark());
      if (!entry_key.IsScalar()) {
        file_diag(key_position, spec.path, "keys must be plain strings");
        continue;
      }
      const std::string& name = entry_key.Scalar();
      const std::string entry_path = spec.path + "." + name;
      if (auto [first, inserted] = seen.emplace(name, key_position); !inserted) {
        file_diag(key_position, entry_path,
                  "duplicate key, first set at " + format_position(first->second));
        continue;
      }
      if (!entry_value.IsScalar()) {
        std::string message = "expected a scalar value" + got_node(entry_value, false);
        if (entry_value.IsMap()) {
          message += " (librdkafka keys are written flat, e.g. 'linger.ms: 5')";
        }
        file_diag(value_position(entry_key, entry_value), entry_path, std::move(message));
        continue;
      }
      if (name.size() > 5 && name.ends_with("_file")) {
        // librdkafka has no keys ending in "_file", so the suffix cannot shadow a real one.
        std::string base = name.substr(0, name.size() - 5);
        auto content = read_text_file(entry_value.Scalar());
        if (!content) {
          file_diag(
              value_position(entry_key, entry_value), entry_path,
              "cannot read " + quote_for_message(entry_value.Scalar()) + ": " + content.error());
          continue;
        }
        file_keys.emplace(base, key_position);
        slot.properties.push_back(
            {std::move(base), strip_trailing_newlines(std::move(*content)), key_position, true});
      } else {
        inline_keys.emplace(name, key_position);
        slot.properties.push_back(
            {name, entry_value.Scalar(), key_position, is_sensitive_property(name)});
      }
    }
    for (const auto& [base, position] : file_keys) {
      if (inline_keys.contains(base)) {
        file_diag(position, spec.path + "." + base,
                  "set either '" + base + "' or '" + base + "_file', not both");
      }
    }
    if (spec.property_check) {
      for (const PropertyEntry& entry : slot.properties) {
        if (auto message = spec.property_check(entry.key, entry.text)) {
          file_diag(entry.position, spec.path + "." + entry.key,
                    entry.sensitive ? scrub(std::move(*message), entry.text) : std::move(*message));
        }
      }
    }
    if (!spec.validators.empty()) {
      // Whole-map validators see the map as the service will: defaults plus file entries.
      for (Problem& problem : check_value(spec, merged_properties(slot), false)) {
        // check_value() knows sensitive names; only the loader knows what came from files.
        for (const PropertyEntry& entry : slot.properties) {
          if (entry.sensitive) problem.message = scrub(std::move(problem.message), entry.text);
        }
        file_diag(position_of(value.Mark()), spec.path + problem.suffix,
                  std::move(problem.message));
      }
    }
  }

  static std::map<std::string, std::string> merged_properties(const Slot& slot) {
    const KeySpec& spec = *slot.spec;
    auto merged = spec.default_value
                      ? std::get<std::map<std::string, std::string>>(*spec.default_value)
                      : std::map<std::string, std::string>();
    for (const PropertyEntry& property : slot.properties) merged[property.key] = property.text;
    return merged;
  }

  void apply_env(Slot& slot) {
    const KeySpec& spec = *slot.spec;
    // Properties keys may contain '_' (librdkafka's "log_level"), so no env var name maps
    // back to them unambiguously.
    if (spec.type == Type::kProperties) return;
    const std::string var = env_var_name(options_.env_prefix, spec.path);
    const std::string file_var = var + "_FILE";
    auto direct = options_.env.find(var);
    auto by_file = spec.secret ? options_.env.find(file_var) : options_.env.end();
    const bool has_direct = direct != options_.env.end();
    const bool has_file = by_file != options_.env.end();
    if (!has_direct && !has_file) return;
    slot.in_env = true;
    if (has_direct && has_file) {
      env_diag(file_var, spec.path, "set either " + var + " or " + file_var + ", not both");
      return;
    }

    std::optional<Value> value;
    std::string source = var;
    if (has_file) {
      source = file_var;
      auto content = read_text_file(by_file->second);
      if (!content) {
        env_diag(file_var, spec.path,
                 "cannot read " + quote_for_message(by_file->second) + ": " + content.error());
        return;
      }
      value = strip_trailing_newlines(std::move(*content));
    } else if (auto parsed = parse_text(spec, direct->second)) {
      value = std::move(*parsed);
    } else {
      env_diag(var, spec.path, std::move(parsed.error()));
      return;
    }
    for (Problem& problem : check_value(spec, *value)) {
      env_diag(source, spec.path + problem.suffix, std::move(problem.message));
    }
    slot.env_value = std::move(value);
    slot.env_var = source;
  }

  // After the env vars, so a flag wins over both the file and the environment.
  void apply_overrides() {
    for (const LoadOptions::Override& override : options_.overrides) {
      Slot* slot = find_slot(override.path);
      if (slot == nullptr || slot->spec->type == Type::kProperties) {
        env_diags_.push_back({override.origin, 0, 0, override.path,
                              "not a key that can be set from the command line"});
        continue;
      }
      const KeySpec& spec = *slot->spec;
      if (spec.secret) {
        // Command lines are visible to every user of the machine (ps, /proc).
        env_diags_.push_back(
            {override.origin, 0, 0, spec.path, "secrets cannot be given on the command line"});
        continue;
      }
      slot->in_env = true;
      auto parsed = parse_text(spec, override.text);
      if (!parsed) {
        env_diags_.push_back({override.origin, 0, 0, spec.path, std::move(parsed.error())});
        continue;
      }
      for (Problem& problem : check_value(spec, *parsed)) {
        env_diags_.push_back(
            {override.origin, 0, 0, spec.path + problem.suffix, std::move(problem.message)});
      }
      slot->env_value = std::move(*parsed);
      slot->env_var = override.origin;
      slot->from_command_line = true;
    }
  }

  void check_required(const Slot& slot) {
    const KeySpec& spec = *slot.spec;
    if (slot.inline_position && slot.file_ref_position) {
      const std::string name = leaf(spec.path);
      file_diag(*slot.file_ref_position, spec.path,
                "set either '" + name + "' or '" + name + "_file', not both");
    }
    if (!spec.required || slot.in_file || slot.in_env) return;
    file_diag(section_position(spec.path), spec.path,
              spec.argument.empty()
                  ? "required key missing"
                  : "required key missing (or give " + spec.argument + " on the command line)");
  }

  // The mapping the key at `path` belongs in, or its nearest ancestor that exists.
  Position section_position(const std::string& path) const {
    std::string section = path;
    while (true) {
      const std::size_t dot = section.rfind('.');
      section = dot == std::string::npos ? "" : section.substr(0, dot);
      if (auto it = mappings_.find(section); it != mappings_.end()) return it->second;
      if (section.empty()) return {};
    }
  }

  // Whether a diagnostic about `key_path` is about the key at `path` (or its `_file`, one of
  // its elements or entries).
  static bool about(const std::string& key_path, const std::string& path) {
    if (!key_path.starts_with(path)) return false;
    const std::string_view rest = std::string_view(key_path).substr(path.size());
    return rest.empty() || rest == "_file" || rest.starts_with('.') || rest.starts_with('[');
  }

  bool has_problem(const std::string& path) const {
    const auto about_path = [&path](const Diagnostic& d) { return about(d.key_path, path); };
    return std::ranges::any_of(file_diags_, about_path) ||
           std::ranges::any_of(env_diags_, about_path);
  }

  // `message` without the value of any secret or sensitive properties entry.
  static std::string scrub_credentials(const Config& config, std::string message) {
    for (const auto& [path, secret] : config.secrets_) {
      message = scrub(std::move(message), secret.reveal());
    }
    for (const Config::Entry& entry : config.entries_) {
      if (entry.type != Type::kProperties || !entry.value) continue;
      for (const auto& [key, text] : std::get<std::map<std::string, std::string>>(*entry.value)) {
        if (is_sensitive_property(key) ||
            std::ranges::find(entry.redacted_properties, key) != entry.redacted_properties.end()) {
          message = scrub(std::move(message), text);
        }
      }
    }
    return message;
  }

  // Runs each cross-key check whose keys all loaded without a problem, and reports its failure
  // where the first of its keys that was set got its value. Which checks run is decided before
  // any runs, so that one check's failure does not hide another's.
  void run_cross_key_checks(const Config& config) {
    std::vector<const CrossKeyCheck*> runnable;
    for (const CrossKeyCheck& check : schema_.checks()) {
      if (std::ranges::none_of(check.keys,
                               [this](const std::string& key) { return has_problem(key); })) {
        runnable.push_back(&check);
      }
    }
    for (const CrossKeyCheck* check : runnable) {
      std::optional<std::string> message = check->check(config);
      if (!message) continue;
      *message = scrub_credentials(config, std::move(*message));
      const auto set = std::ranges::find_if(check->keys, [this](const std::string& key) {
        const Slot& slot = *find_slot(key);
        return slot.in_env || slot.in_file;
      });
      const Slot& blamed = *find_slot(set == check->keys.end() ? check->keys.front() : *set);
      const std::string& path = blamed.spec->path;
      if (blamed.from_command_line) {
        env_diags_.push_back({blamed.env_var, 0, 0, path, std::move(*message)});
      } else if (blamed.in_env) {
        env_diag(blamed.env_var, path, std::move(*message));
      } else if (blamed.in_file) {
        file_diag(blamed.value_position, path, std::move(*message));
      } else {
        file_diag(section_position(path), path, std::move(*message));
      }
    }
  }

  std::string unknown_key_message(const std::string& path) const {
    std::vector<std::string> candidates;
    for (const KeySpec& spec : schema_.keys()) {
      candidates.push_back(spec.path);
      if (spec.secret) candidates.push_back(spec.path + "_file");
    }
    candidates.insert(candidates.end(), sections_.begin(), sections_.end());

    const std::string* best = nullptr;
    std::size_t best_distance = 0;
    for (const std::string& candidate : candidates) {
      // Roughly one typo per four characters, at most three: close enough to be the same key.
      const std::size_t limit = std::clamp<std::size_t>(candidate.size() / 4, 1, 3);
      const std::size_t distance = edit_distance(path, candidate);
      if (distance <= limit && (best == nullptr || distance < best_distance)) {
        best = &candidate;
        best_distance = distance;
      }
    }
    // A known key in the wrong section ("metrics.group_id" for "kafka.group_id").
    if (best == nullptr) {
      for (const std::string& candidate : candidates) {
        if (leaf(candidate) == leaf(path)) {
          best = &candidate;
          break;
        }
      }
    }
    if (best == nullptr) return "unknown key";
    return "unknown key, did you mean '" + *best + "'?";
  }

  Config build() {
    Config config;
    for (Slot& slot : slots_) {
      const KeySpec& spec = *slot.spec;
      Config::Entry entry{.path = spec.path, .type = spec.type, .secret = spec.secret};
      std::optional<Value> value;
      // A value with a problem is left out, so that cross-key checks (which run on the rest)
      // read the default instead: it never reaches a service.
      const bool usable = !has_problem(spec.path);
      if (slot.env_value && usable) {
        value = std::move(slot.env_value);
        entry.source = slot.from_command_line ? Source::kCommandLine : Source::kEnv;
        entry.env_var = slot.env_var;
      } else if (slot.file_value && usable) {
        value = std::move(slot.file_value);
        entry.source = Source::kFile;
      } else if (spec.default_value) {
        value = spec.default_value;
        entry.source = Source::kDefault;
      }
      if (spec.type == Type::kProperties) {
        // File entries add to or override the declared defaults, one key at a time.
        for (const PropertyEntry& property : slot.properties) {
          if (property.sensitive) entry.redacted_properties.push_back(property.key);
        }
        entry.source = slot.in_file ? Source::kFile : Source::kDefault;
        value = merged_properties(slot);
      }
      if (spec.secret && value) {
        config.secrets_.emplace(spec.path, Secret(std::get<std::string>(std::move(*value))));
        value.reset();
      }
      entry.value = std::move(value);
      config.bindings_.insert(config.bindings_.end(), spec.bindings.begin(), spec.bindings.end());
      config.index_.emplace(spec.path, config.entries_.size());
      config.entries_.push_back(std::move(entry));
    }
    return config;
  }

  const Schema& schema_;
  const LoadOptions& options_;
  std::string file_;
  std::vector<Slot> slots_;
  std::map<std::string, std::size_t, std::less<>> slot_index_;
  std::set<std::string, std::less<>> sections_;
  std::map<std::string, Position, std::less<>> seen_;      // path -> where first set
  std::map<std::string, Position, std::less<>> mappings_;  // section ("" = root) -> its mapping
  std::vector<Diagnostic> file_diags_;
  std::vector<Diagnostic> env_diags_;
};

}  // namespace detail

std::expected<Config, std::vector<Diagnostic>> load_string(const Schema& schema,
                                                           std::string_view yaml,
                                                           std::string_view name_for_messages,
                                                           const LoadOptions& options) {
  return detail::Loader(schema, options, std::string(name_for_messages)).load(yaml);
}

std::expected<Config, std::vector<Diagnostic>> load_file(const Schema& schema,
                                                         const std::string& path,
                                                         const LoadOptions& options) {
  auto content = detail::read_text_file(path);
  if (!content) {
    return std::unexpected(
        std::vector<Diagnostic>{{path, 0, 0, "", "cannot read config file: " + content.error()}});
  }
  return load_string(schema, *content, path, options);
}

}  // namespace iw::config
