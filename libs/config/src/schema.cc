#include "iw/config/schema.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "iw/base/check.h"
#include "values.h"

namespace iw::config {
namespace {

bool valid_segment_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

bool valid_path(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '.') {
      if (path[i + 1] == '.') return false;
    } else if (!valid_segment_char(path[i])) {
      return false;
    }
  }
  return true;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string leaf(std::string_view path) {
  std::size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

std::string default_column(const KeySpec& spec) {
  if (spec.required) return "(required)";
  if (spec.default_value)
    return spec.secret ? "<secret>" : detail::format_value(*spec.default_value);
  if (spec.type == Type::kProperties) return "{}";
  return "-";
}

std::string description_column(const KeySpec& spec, std::string_view env_var) {
  std::string out = spec.description;
  auto sentence = [&out](const std::string& text) {
    if (!out.empty()) out += ' ';
    out += text;
  };
  auto bound = [](const Value& value) {
    const auto* duration = std::get_if<Duration>(&value);
    return duration != nullptr ? format_duration(*duration) : detail::format_value(value);
  };
  if (spec.min && spec.max) {
    sentence("Range: " + bound(*spec.min) + ".." + bound(*spec.max) + ".");
  } else if (spec.min) {
    sentence("At least " + bound(*spec.min) + ".");
  } else if (spec.max) {
    sentence("At most " + bound(*spec.max) + ".");
  }
  // Listing the choices of a secret would narrow it down to a handful of candidates.
  if (!spec.one_of.empty() && !spec.secret) {
    std::string choices;
    for (const std::string& choice : spec.one_of) {
      if (!choices.empty()) choices += ", ";
      choices += choice;
    }
    sentence("One of: " + choices + ".");
  }
  if (spec.secret) {
    sentence("Secret: prefer '" + leaf(spec.path) + "_file: <path>' or " + std::string(env_var) +
             "_FILE.");
  }
  if (spec.type == Type::kProperties) {
    sentence("An entry '<key>_file: <path>' reads <key> from a file.");
  }
  return out;
}

}  // namespace

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kString:
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kBoolean:
      return "boolean";
    case Type::kDuration:
      return "duration";
    case Type::kStringList:
      return "string list";
    case Type::kProperties:
      return "properties";
  }
  return "unknown";
}

std::string env_var_name(std::string_view prefix, std::string_view path) {
  std::string out(prefix);
  for (char c : path) {
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool is_sensitive_property(std::string_view key) {
  static constexpr std::array<std::string_view, 6> kSensitive = {
      "sasl.password",
      "sasl.oauthbearer.client.secret",
      "sasl.oauthbearer.config",
      "ssl.key.password",
      "ssl.key.pem",
      "ssl.keystore.password",
  };
  const std::string lower = lowercase(key);
  return std::ranges::find(kSensitive, lower) != kSensitive.end() ||
         lower.find("password") != std::string::npos || lower.find("secret") != std::string::npos;
}

KeyBuilder& KeyBuilder::describe(std::string text) {
  spec_->description = std::move(text);
  return *this;
}

KeyBuilder& KeyBuilder::required() {
  IW_CHECK(!spec_->default_value,
           "config key '" + spec_->path + "' cannot be both required and defaulted");
  spec_->required = true;
  return *this;
}

KeyBuilder& KeyBuilder::default_value(Value value) {
  IW_CHECK(!spec_->required,
           "config key '" + spec_->path + "' cannot be both required and defaulted");
  spec_->default_value = coerce(std::move(value), "default value");
  check_default();
  return *this;
}

KeyBuilder& KeyBuilder::secret() {
  IW_CHECK(spec_->type == Type::kString,
           "config key '" + spec_->path + "': only string keys can be secret");
  spec_->secret = true;
  return *this;
}

KeyBuilder& KeyBuilder::validate(Validator check) {
  IW_CHECK(check != nullptr, "config key '" + spec_->path + "': empty validator");
  spec_->validators.push_back(std::move(check));
  check_default();
  return *this;
}

KeyBuilder& KeyBuilder::min(Value bound) {
  spec_->min = coerce(std::move(bound), "min()");
  check_default();
  return *this;
}

KeyBuilder& KeyBuilder::max(Value bound) {
  spec_->max = coerce(std::move(bound), "max()");
  check_default();
  return *this;
}

KeyBuilder& KeyBuilder::one_of(std::vector<std::string> choices) {
  IW_CHECK(spec_->type == Type::kString || spec_->type == Type::kStringList,
           "config key '" + spec_->path + "': one_of() needs a string or string list key");
  IW_CHECK(!choices.empty(), "config key '" + spec_->path + "': one_of() needs choices");
  spec_->one_of = std::move(choices);
  check_default();
  return *this;
}

KeyBuilder& KeyBuilder::flag(std::string name, std::string value_name) {
  IW_CHECK(
      name.size() > 2 && name.starts_with("--") && valid_path(name.substr(2)) &&
          !name.contains('.'),
      "config key '" + spec_->path + "': flag '" + name + "' is not --<letters, digits, -, _>");
  IW_CHECK(spec_->type != Type::kProperties,
           "config key '" + spec_->path + "': properties cannot be set by a flag");
  IW_CHECK(!value_name.empty() || spec_->type == Type::kBoolean,
           "config key '" + spec_->path + "': only a boolean key's flag can be a switch");
  spec_->flag = std::move(name);
  spec_->flag_value_name = std::move(value_name);
  return *this;
}

KeyBuilder& KeyBuilder::argument(std::string name) {
  IW_CHECK(!name.empty() && !name.starts_with('-'),
           "config key '" + spec_->path + "': argument name '" + name + "' is not a NAME");
  IW_CHECK(spec_->type != Type::kProperties,
           "config key '" + spec_->path + "': properties cannot be an argument");
  spec_->argument = std::move(name);
  return *this;
}

Value KeyBuilder::coerce(Value value, std::string_view what) const {
  const bool is_bound = what != "default value";
  IW_CHECK(!is_bound || spec_->type == Type::kInteger || spec_->type == Type::kNumber ||
               spec_->type == Type::kDuration,
           "config key '" + spec_->path + "': " + std::string(what) +
               " needs an integer, number or duration key");
  if (spec_->type == Type::kNumber) {
    if (const auto* integer = std::get_if<std::int64_t>(&value)) {
      value = static_cast<double>(*integer);
    }
  }
  if (spec_->type == Type::kDuration) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      auto duration = parse_duration(*text);
      IW_CHECK(duration.has_value(), "config key '" + spec_->path + "': " + std::string(what) +
                                         " is not a duration: " +
                                         (duration ? std::string() : duration.error().message()));
      value = *duration;
    }
  }
  IW_CHECK(value.index() == static_cast<std::size_t>(spec_->type),
           "config key '" + spec_->path + "': " + std::string(what) + " is not of type " +
               std::string(type_name(spec_->type)));
  return value;
}

void KeyBuilder::check_default() const {
  if (!spec_->default_value) return;
  for (const detail::Problem& problem : detail::check_value(*spec_, *spec_->default_value)) {
    IW_CHECK(false, "config key '" + spec_->path + problem.suffix +
                        "': default value is invalid: " + problem.message);
  }
}

KeyBuilder& Schema::string(std::string path) { return add(std::move(path), Type::kString); }
KeyBuilder& Schema::integer(std::string path) { return add(std::move(path), Type::kInteger); }
KeyBuilder& Schema::number(std::string path) { return add(std::move(path), Type::kNumber); }
KeyBuilder& Schema::boolean(std::string path) { return add(std::move(path), Type::kBoolean); }
KeyBuilder& Schema::duration(std::string path) { return add(std::move(path), Type::kDuration); }
KeyBuilder& Schema::string_list(std::string path) {
  return add(std::move(path), Type::kStringList);
}

KeyBuilder& Schema::properties(std::string path, PropertyCheck check) {
  KeyBuilder& builder = add(std::move(path), Type::kProperties);
  specs_.back().property_check = std::move(check);
  return builder;
}

void Schema::check(std::vector<std::string> keys, CrossCheck check) {
  IW_CHECK(!keys.empty() && check != nullptr, "a cross-key check needs keys and a function");
  for (const std::string& key : keys) {
    IW_CHECK(find(key) != nullptr, "cross-key check on undeclared config key '" + key + "'");
  }
  checks_.push_back({std::move(keys), std::move(check)});
}

const KeySpec* Schema::find(std::string_view path) const {
  auto it = index_.find(path);
  return it == index_.end() ? nullptr : &specs_[it->second];
}

KeyBuilder& Schema::add(std::string path, Type type) {
  IW_CHECK(valid_path(path),
           "config key '" + path + "': use dot-separated segments of letters, digits, '_' and '-'");
  IW_CHECK(!index_.contains(path), "config key '" + path + "' is declared twice");
  for (const KeySpec& other : specs_) {
    // A YAML node cannot be both a value and a mapping of further keys.
    IW_CHECK(!path.starts_with(other.path + ".") && !other.path.starts_with(path + "."),
             "config keys '" + other.path + "' and '" + path + "': one is inside the other");
  }
  index_.emplace(path, specs_.size());
  KeySpec& spec = specs_.emplace_back();
  spec.path = std::move(path);
  spec.type = type;
  return builders_.emplace_back(spec);
}

std::string Schema::help(std::string_view env_prefix) const {
  detail::check_declarations(*this);
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"KEY", "TYPE", "DEFAULT", "ENV", "DESCRIPTION"});
  for (const KeySpec& spec : specs_) {
    const std::string env_var = env_var_name(env_prefix, spec.path);
    std::string type(type_name(spec.type));
    if (spec.secret) type += ", secret";
    rows.push_back({spec.path, type, default_column(spec),
                    spec.type == Type::kProperties ? "-" : env_var,
                    description_column(spec, env_var)});
  }
  std::array<std::size_t, 4> widths{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      line += row[i];
      line.append(widths[i] - row[i].size() + 2, ' ');
    }
    line += row[4];
    while (line.ends_with(' ')) line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

namespace detail {

void check_declarations(const Schema& schema) {
  std::map<std::string, std::string> env_owner;
  auto claim = [&env_owner](const std::string& var, const std::string& path) {
    auto [it, inserted] = env_owner.emplace(var, path);
    IW_CHECK(inserted, "config keys '" + it->second + "' and '" + path +
                           "' map to the same env var suffix " + var);
  };
  std::map<std::string, std::string> flag_owner;
  const KeySpec* with_argument = nullptr;
  for (const KeySpec& spec : schema.keys()) {
    if (!spec.flag.empty()) {
      IW_CHECK(!spec.secret, "config key '" + spec.path + "' is secret and cannot have a flag");
      auto [it, inserted] = flag_owner.emplace(spec.flag, spec.path);
      IW_CHECK(inserted, "config keys '" + it->second + "' and '" + spec.path +
                             "' have the same flag " + spec.flag);
    }
    if (!spec.argument.empty()) {
      IW_CHECK(!spec.secret, "config key '" + spec.path + "' is secret and cannot be an argument");
      IW_CHECK(with_argument == nullptr, "config keys '" +
                                             (with_argument ? with_argument->path : "") +
                                             "' and '" + spec.path + "' are both arguments");
      with_argument = &spec;
    }
    if (spec.type == Type::kProperties) continue;
    const std::string var = env_var_name("", spec.path);
    claim(var, spec.path);
    if (spec.secret) {
      claim(var + "_FILE", spec.path);
      const std::string sibling = spec.path + "_file";
      bool clash = schema.find(sibling) != nullptr;
      for (const KeySpec& other : schema.keys())
        clash = clash || other.path.starts_with(sibling + ".");
      IW_CHECK(!clash, "config key '" + sibling + "' is reserved for secret '" + spec.path + "'");
    }
  }
}

}  // namespace detail
}  // namespace iw::config
