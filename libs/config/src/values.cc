#include "values.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

namespace iw::config::detail {
namespace {

void append_escaped(std::string& out, char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      break;
  }
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(c));
    out += buffer;
  } else {
    out += c;
  }
}

std::string format_double(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

std::string format_bound(const Value& bound) {
  if (const auto* duration = std::get_if<Duration>(&bound)) return format_duration(*duration);
  return format_value(bound);
}

// Orders two values of the same numeric-like alternative; nullopt when not comparable.
std::optional<int> compare(const Value& a, const Value& b) {
  return std::visit(
      [&](const auto& left) -> std::optional<int> {
        using T = std::decay_t<decltype(left)>;
        if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> ||
                      std::is_same_v<T, Duration>) {
          const T* right = std::get_if<T>(&b);
          if (right == nullptr) return std::nullopt;
          return left < *right ? -1 : (*right < left ? 1 : 0);
        } else {
          return std::nullopt;
        }
      },
      a);
}

std::string one_of_message(const KeySpec& spec, std::string_view got) {
  std::string message = "must be one of ";
  for (std::size_t i = 0; i < spec.one_of.size(); ++i) {
    if (i > 0) message += ", ";
    message += quote_for_message(spec.one_of[i]);
  }
  if (!spec.secret) {
    message += ", got ";
    message += quote_for_message(got);
  }
  return message;
}

bool is_one_of(const KeySpec& spec, std::string_view text) {
  for (const std::string& choice : spec.one_of) {
    if (choice == text) return true;
  }
  return false;
}

std::string got(const KeySpec& spec, std::string_view text) {
  return spec.secret ? std::string() : ", got " + quote_for_message(text);
}

}  // namespace

std::string quote_for_message(std::string_view text) {
  std::string out = "'";
  for (char c : text) append_escaped(out, c);
  out += '\'';
  return out;
}

std::string yaml_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    append_escaped(out, c);
  }
  out += '"';
  return out;
}

std::string format_value(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return yaml_quote(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_double(v);
        } else if constexpr (std::is_same_v<T, Duration>) {
          return format_duration(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string out = "[";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ", ";
            out += yaml_quote(v[i]);
          }
          return out + "]";
        } else {
          std::string out = "{";
          bool first = true;
          for (const auto& [key, text] : v) {
            if (!first) out += ", ";
            first = false;
            out += yaml_quote(key);
            out += ": ";
            out += is_sensitive_property(key) ? std::string(kRedacted) : yaml_quote(text);
          }
          return out + "}";
        }
      },
      value);
}

std::string_view expected_phrase(Type type) {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kInteger:
      return "an integer";
    case Type::kNumber:
      return "a number";
    case Type::kBoolean:
      return "a boolean (true or false)";
    case Type::kDuration:
      return "a duration";
    case Type::kStringList:
      return "a list of strings";
    case Type::kProperties:
      return "a mapping";
  }
  return "a value";
}

std::expected<Value, std::string> parse_text(const KeySpec& spec, std::string_view text) {
  auto mismatch = [&]() {
    return std::unexpected("expected " + std::string(expected_phrase(spec.type)) + got(spec, text));
  };
  switch (spec.type) {
    case Type::kString:
      return Value(std::string(text));
    case Type::kInteger: {
      // from_chars rejects a leading '+', which YAML allows; accept it here too.
      std::string_view digits = text.starts_with('+') ? text.substr(1) : text;
      std::int64_t number = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
          digits.starts_with('-') != text.starts_with('-')) {
        return mismatch();
      }
      return Value(number);
    }
    case Type::kNumber: {
      std::string_view digits = text.starts_with('+') ? text.substr(1) : text;
      double number = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
      // from_chars accepts "inf" and "nan"; neither is a sensible setting.
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
          !std::isfinite(number)) {
        return mismatch();
      }
      return Value(number);
    }
    case Type::kBoolean:
      // Only YAML 1.2's spellings: "yes"/"no"/"on"/"off" (YAML 1.1) silently turn country
      // codes and the like into booleans.
      if (text == "true" || text == "True" || text == "TRUE") return Value(true);
      if (text == "false" || text == "False" || text == "FALSE") return Value(false);
      return mismatch();
    case Type::kDuration: {
      auto duration = parse_duration(text);
      if (!duration) {
        return std::unexpected("expected a duration" + got(spec, text) + ": " +
                               duration.error().message());
      }
      return Value(*duration);
    }
    case Type::kStringList: {
      std::vector<std::string> items;
      std::size_t start = 0;
      while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string_view item = text.substr(start, comma - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
          item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
          item.remove_suffix(1);
        }
        if (!item.empty()) items.emplace_back(item);
        start = comma + 1;
      }
      return Value(std::move(items));
    }
    case Type::kProperties:
      return mismatch();
  }
  return mismatch();
}

std::vector<Problem> check_value(const KeySpec& spec, const Value& value, bool check_entries) {
  std::vector<Problem> problems;
  if (auto order = spec.min ? compare(value, *spec.min) : std::nullopt; order && *order < 0) {
    problems.push_back(
        {"", "must be at least " + format_bound(*spec.min) + ", got " + format_bound(value)});
  }
  if (auto order = spec.max ? compare(value, *spec.max) : std::nullopt; order && *order > 0) {
    problems.push_back(
        {"", "must be at most " + format_bound(*spec.max) + ", got " + format_bound(value)});
  }
  if (!spec.one_of.empty()) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      if (!is_one_of(spec, *text)) problems.push_back({"", one_of_message(spec, *text)});
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        if (!is_one_of(spec, (*list)[i])) {
          problems.push_back({"[" + std::to_string(i) + "]", one_of_message(spec, (*list)[i])});
        }
      }
    }
  }
  for (const Validator& validator : spec.validators) {
    if (auto message = validator(value)) {
      if (const auto* text = std::get_if<std::string>(&value); text != nullptr && spec.secret) {
        *message = scrub(std::move(*message), *text);
      }
      if (const auto* entries = std::get_if<std::map<std::string, std::string>>(&value)) {
        for (const auto& [key, text] : *entries) {
          if (is_sensitive_property(key)) *message = scrub(std::move(*message), text);
        }
      }
      problems.push_back({"", std::move(*message)});
    }
  }
  if (const auto* entries = std::get_if<std::map<std::string, std::string>>(&value);
      entries != nullptr && check_entries && spec.property_check) {
    for (const auto& [key, text] : *entries) {
      if (auto message = spec.property_check(key, text)) {
        problems.push_back({"." + key, is_sensitive_property(key) ? scrub(std::move(*message), text)
                                                                  : std::move(*message)});
      }
    }
  }
  return problems;
}

std::string scrub(std::string message, std::string_view secret) {
  if (secret.empty()) return message;
  for (std::size_t pos = message.find(secret); pos != std::string::npos;
       pos = message.find(secret, pos + kRedacted.size())) {
    message.replace(pos, secret.size(), kRedacted);
  }
  return message;
}

}  // namespace iw::config::detail
