#include "iw/config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ostream>

#include "iw/base/check.h"
#include "values.h"

namespace iw::config {
namespace {

// Plain YAML keys need no quotes; librdkafka keys ("linger.ms") are plain too.
std::string yaml_key(std::string_view key) {
  bool plain = !key.empty();
  for (char c : key) {
    plain = plain &&
            (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.');
  }
  return plain ? std::string(key) : detail::yaml_quote(key);
}

}  // namespace

void PrintTo(const Secret&, std::ostream* os) { *os << detail::kRedacted; }

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) {
    out += key_path;
    out += ": ";
  }
  out += message;
  return out;
}

std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& diagnostic : diagnostics) {
    out += diagnostic.to_string();
    out += '\n';
  }
  return out;
}

const Config::Entry& Config::entry(std::string_view path, Type type) const {
  auto it = index_.find(path);
  IW_CHECK(it != index_.end(), "config key '" + std::string(path) + "' is not declared");
  const Entry& found = entries_[it->second];
  IW_CHECK(found.type == type, "config key '" + found.path + "' has type " +
                                   std::string(type_name(found.type)) + ", not " +
                                   std::string(type_name(type)));
  IW_CHECK(!found.secret, "config key '" + found.path + "' is secret; use get_secret()");
  IW_CHECK(found.value.has_value(),
           "config key '" + found.path + "' has no value; check has() first");
  return found;
}

const std::string& Config::get_string(std::string_view path) const {
  return std::get<std::string>(*entry(path, Type::kString).value);
}

std::int64_t Config::get_int(std::string_view path) const {
  return std::get<std::int64_t>(*entry(path, Type::kInteger).value);
}

double Config::get_number(std::string_view path) const {
  return std::get<double>(*entry(path, Type::kNumber).value);
}

bool Config::get_bool(std::string_view path) const {
  return std::get<bool>(*entry(path, Type::kBoolean).value);
}

Duration Config::get_duration(std::string_view path) const {
  return std::get<Duration>(*entry(path, Type::kDuration).value);
}

const std::vector<std::string>& Config::get_string_list(std::string_view path) const {
  return std::get<std::vector<std::string>>(*entry(path, Type::kStringList).value);
}

const std::map<std::string, std::string>& Config::get_properties(std::string_view path) const {
  return std::get<std::map<std::string, std::string>>(*entry(path, Type::kProperties).value);
}

const Secret& Config::get_secret(std::string_view path) const {
  auto it = index_.find(path);
  IW_CHECK(it != index_.end(), "config key '" + std::string(path) + "' is not declared");
  IW_CHECK(entries_[it->second].secret, "config key '" + std::string(path) + "' is not secret");
  auto secret = secrets_.find(path);
  IW_CHECK(secret != secrets_.end(),
           "config key '" + std::string(path) + "' has no value; check has() first");
  return secret->second;
}

void Config::fill(std::type_index target, void* object) const {
  bool bound = false;
  for (const detail::Binding& binding : bindings_) {
    if (binding.target != target) continue;
    binding.set(object, *this);
    bound = true;
  }
  IW_CHECK(bound, std::string("no config key is bound to a field of ") + target.name());
}

bool Config::has(std::string_view path) const { return source(path) != Source::kUnset; }

Source Config::source(std::string_view path) const {
  auto it = index_.find(path);
  IW_CHECK(it != index_.end(), "config key '" + std::string(path) + "' is not declared");
  return entries_[it->second].source;
}

std::string Config::dump() const {
  struct DumpNode {
    std::string name;
    std::vector<DumpNode> children;
    const Entry* entry = nullptr;  // set for keys, null for sections
  };
  DumpNode root;
  for (const Entry& item : entries_) {
    DumpNode* node = &root;
    std::string_view rest = item.path;
    while (true) {
      const std::size_t dot = rest.find('.');
      const std::string_view segment = rest.substr(0, dot);
      auto child = std::ranges::find(node->children, segment, &DumpNode::name);
      if (child == node->children.end()) {
        node->children.push_back({std::string(segment), {}, nullptr});
        child = node->children.end() - 1;
      }
      node = &*child;
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    node->entry = &item;
  }

  std::string out;
  auto emit = [&out](auto& self, const DumpNode& node, std::size_t depth) -> void {
    const std::string indent(depth * 2, ' ');
    out += indent + node.name + ":";
    if (node.entry == nullptr) {
      out += '\n';
      for (const DumpNode& child : node.children) self(self, child, depth + 1);
      return;
    }
    const Entry& item = *node.entry;
    std::string comment;
    if (item.source == Source::kDefault) comment = "  # default";
    if (item.source == Source::kEnv) comment = "  # env " + item.env_var;
    if (item.source == Source::kCommandLine) {
      comment = (item.env_var.starts_with('-') ? "  # flag " : "  # argument ") + item.env_var;
    }

    if (item.source == Source::kUnset) {
      out += " ~  # not set\n";
    } else if (item.secret) {
      out += " " + std::string(detail::kRedacted) + comment + "\n";
    } else if (item.type == Type::kProperties) {
      const auto& entries = std::get<std::map<std::string, std::string>>(*item.value);
      if (entries.empty()) {
        out += " {}" + comment + "\n";
        return;
      }
      out += comment + "\n";
      for (const auto& [key, text] : entries) {
        const bool redacted =
            is_sensitive_property(key) ||
            std::ranges::find(item.redacted_properties, key) != item.redacted_properties.end();
        out += indent + "  " + yaml_key(key) + ": " +
               (redacted ? std::string(detail::kRedacted) : detail::yaml_quote(text)) + "\n";
      }
    } else {
      out += " " + detail::format_value(*item.value) + comment + "\n";
    }
  };
  for (const DumpNode& child : root.children) emit(emit, child, 0);
  return out;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    const std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

}  // namespace iw::config
