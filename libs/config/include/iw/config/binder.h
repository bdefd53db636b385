#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <expected>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "iw/config/config.h"
#include "iw/config/schema.h"

namespace iw::config {

namespace detail {

template <class T>
T& reach(T& object) {
  return object;
}
template <class T, class Member, class... Rest>
auto& reach(T& object, Member member, Rest... rest) {
  return reach(object.*member, rest...);
}

/// The field of S reached by a chain of member pointers (&Settings::client, &Client::url).
template <class S, class... Members>
struct FieldOf {
  using type = std::remove_reference_t<decltype(reach(std::declval<S&>(), Members{}...))>;
};

template <class T>
inline constexpr bool kIsDuration = false;
template <class Rep, class Period>
inline constexpr bool kIsDuration<std::chrono::duration<Rep, Period>> = true;

template <class T>
inline constexpr bool kIsExpected = false;
template <class T, class E>
inline constexpr bool kIsExpected<std::expected<T, E>> = true;

// An integer key bound to a field narrower than std::int64_t: values the field cannot hold are
// configuration errors, not silent wrap-arounds.
template <std::integral M>
std::optional<std::string> fits(const Value& value) {
  const std::int64_t number = std::get<std::int64_t>(value);
  if (std::cmp_less(number, std::numeric_limits<M>::min())) {
    return "must be at least " + std::to_string(std::numeric_limits<M>::min());
  }
  if (std::cmp_greater(number, std::numeric_limits<M>::max())) {
    return "must be at most " + std::to_string(std::numeric_limits<M>::max());
  }
  return std::nullopt;
}

/// Declares `path` with the key type that holds a field of type M.
template <class M>
KeyBuilder& declare_for(Schema& schema, std::string path) {
  if constexpr (std::is_same_v<M, std::string>) {
    return schema.string(std::move(path));
  } else if constexpr (std::is_same_v<M, Secret>) {
    return schema.string(std::move(path)).secret();
  } else if constexpr (std::is_same_v<M, bool>) {
    return schema.boolean(std::move(path));
  } else if constexpr (std::is_floating_point_v<M>) {
    return schema.number(std::move(path));
  } else if constexpr (std::is_integral_v<M>) {
    KeyBuilder& builder = schema.integer(std::move(path));
    if constexpr (!std::is_same_v<M, std::int64_t>) builder.validate(fits<M>);
    return builder;
  } else if constexpr (kIsDuration<M>) {
    return schema.duration(std::move(path));
  } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
    return schema.string_list(std::move(path));
  } else {
    static_assert(sizeof(M) == 0, "no config key type holds this field: use choice() or parsed()");
  }
}

/// The value of `path` (declared by declare_for<M>) as an M.
template <class M>
M value_for(const Config& config, std::string_view path) {
  if constexpr (std::is_same_v<M, std::string>) {
    return config.get_string(path);
  } else if constexpr (std::is_same_v<M, Secret>) {
    return config.get_secret(path);
  } else if constexpr (std::is_same_v<M, bool>) {
    return config.get_bool(path);
  } else if constexpr (std::is_floating_point_v<M>) {
    return static_cast<M>(config.get_number(path));
  } else if constexpr (std::is_integral_v<M>) {
    return static_cast<M>(config.get_int(path));
  } else if constexpr (kIsDuration<M>) {
    return std::chrono::duration_cast<M>(config.get_duration(path));
  } else {
    return config.get_string_list(path);
  }
}

template <class E>
std::string error_text(const E& error) {
  if constexpr (std::is_convertible_v<const E&, std::string>) {
    return error;
  } else {
    return error.message();
  }
}

}  // namespace detail

/// Declares configuration keys bound to the fields of a settings struct S, so that each key is
/// written once: its path (which gives the YAML path and the env var), its type (from the
/// field), its flag, default, description and checks, and where its value goes.
///
///   struct Settings { std::string topic; std::size_t batch = 0; Secret token; Mode mode; };
///
///   void declare(config::Schema& schema) {
///     config::Binder<Settings> keys(schema);
///     keys.key("producer.topic", &Settings::topic)
///         .describe("Where records go.").default_value("ingestion-logs").flag("--topic", "TOPIC");
///     keys.key("producer.batch", &Settings::batch).describe("Records a batch.").min(1);
///     keys.key("producer.token", &Settings::token).describe("A credential.");  // secret
///     keys.choice("producer.mode", {{"fast", Mode::kFast}, {"safe", Mode::kSafe}},
///                 &Settings::mode).default_value("safe");
///     keys.check({"producer.batch", "producer.mode"}, [](const Settings& s) { ... });
///   }
///   ...
///   const Settings settings = ctx.config.read<Settings>();
///
/// Field types and the key type they get: std::string (string), Secret (secret string), bool
/// (boolean), floating point (number), integers (integer; values the field cannot hold are
/// rejected), std::chrono durations (duration), std::vector<std::string> (string list). A chain
/// of member pointers reaches into nested structs (&Settings::client, &Client::url).
template <class S>
class Binder {
 public:
  explicit Binder(Schema& schema) : schema_(schema) {}

  /// A key of the type that holds the field reached by `members`.
  template <class... Members>
  KeyBuilder& key(std::string path, Members... members) {
    using M = typename detail::FieldOf<S, Members...>::type;
    KeyBuilder& builder = detail::declare_for<M>(schema_, path);
    bind(builder, [path, members...](S& settings, const Config& config) {
      detail::reach(settings, members...) = detail::value_for<M>(config, path);
    });
    return builder;
  }

  /// A string key whose value is one of `choices` (one_of() is declared), each naming the value
  /// the field gets, e.g. an enumerator.
  template <class... Members>
  KeyBuilder& choice(
      std::string path,
      std::vector<std::pair<std::string, typename detail::FieldOf<S, Members...>::type>> choices,
      Members... members) {
    std::vector<std::string> names;
    for (const auto& choice : choices) names.push_back(choice.first);
    KeyBuilder& builder = schema_.string(path).one_of(std::move(names));
    bind(builder, [path, choices, members...](S& settings, const Config& config) {
      const std::string& text = config.get_string(path);
      for (const auto& [name, value] : choices) {
        if (name == text) detail::reach(settings, members...) = value;
      }
    });
    return builder;
  }

  /// A string key turned into the field's value by `parse(text)`, which returns the value or a
  /// std::expected of it; its error (a string, or anything with message()) is the key's
  /// validation problem, reported when the configuration is loaded.
  template <class Parse, class... Members>
  KeyBuilder& parsed(std::string path, Parse parse, Members... members) {
    using Result = std::invoke_result_t<const Parse&, const std::string&>;
    KeyBuilder& builder = schema_.string(path);
    if constexpr (detail::kIsExpected<Result>) {
      builder.validate([parse](const Value& value) -> std::optional<std::string> {
        auto result = parse(std::get<std::string>(value));
        if (result) return std::nullopt;
        return detail::error_text(result.error());
      });
    }
    bind(builder, [path, parse, members...](S& settings, const Config& config) {
      auto result = parse(config.get_string(path));
      if constexpr (detail::kIsExpected<Result>) {
        detail::reach(settings, members...) = std::move(*result);
      } else {
        detail::reach(settings, members...) = std::move(result);
      }
    });
    return builder;
  }

  /// A properties key (Schema::properties) bound to a string map field.
  template <class... Members>
  KeyBuilder& properties(std::string path, PropertyCheck check, Members... members) {
    KeyBuilder& builder = schema_.properties(path, std::move(check));
    bind(builder, [path, members...](S& settings, const Config& config) {
      detail::reach(settings, members...) = config.get_properties(path);
    });
    return builder;
  }

  /// A cross-key check (Schema::check) on the settings as read<S>() fills them.
  void check(std::vector<std::string> keys,
             std::function<std::optional<std::string>(const S& settings)> check) {
    schema_.check(std::move(keys), [check = std::move(check)](const Config& config) {
      return check(config.read<S>());
    });
  }

 private:
  template <class Set>
  void bind(KeyBuilder& builder, Set set) {
    builder.spec_->bindings.push_back(
        {typeid(S), [path = builder.spec_->path, set](void* object, const Config& config) {
           if (config.has(path)) set(*static_cast<S*>(object), config);
         }});
  }

  Schema& schema_;
};

}  // namespace iw::config
