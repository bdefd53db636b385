#include "iw/alerting/enriched_run.h"

#include <simdjson.h>

#include <cstring>

#include "iw/base/time_format.h"

namespace iw::alerting {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Only called on the error path, so the message may allocate.
std::unexpected<base::Error> invalid(std::string_view field, std::string_view what) {
  return base::fail(base::ErrorCode::kInvalidInput, std::string(field) + ": " + std::string(what));
}

std::unexpected<base::Error> not_json(std::string_view field, simdjson::error_code error) {
  return invalid(field, std::string("not JSON (") + simdjson::error_message(error) + ")");
}

// Calls on_member(key, value) for each member of `members`, stopping at the first error.
// `where` names the object in errors of the JSON itself.
template <typename OnMember>
base::Status for_each_member(object& members, std::string_view where, OnMember on_member) {
  for (auto member : members) {
    std::string_view key;
    value member_value;
    if (auto error = member.unescaped_key().get(key)) return not_json(where, error);
    if (auto error = member.value().get(member_value)) return not_json(where, error);
    if (base::Status status = on_member(key, member_value); !status) return status;
  }
  return {};
}

base::Status read_string(value& json, std::string_view field, std::string_view& out) {
  if (json.get_string().get(out) != simdjson::SUCCESS) return invalid(field, "expected a string");
  return {};
}

base::Status read_number(value& json, std::string_view field, double& out) {
  if (json.get_double().get(out) != simdjson::SUCCESS) return invalid(field, "expected a number");
  return {};
}

// A number, or null for "not measured". Memory is a byte count, so `integer` insists on one.
base::Status read_optional(value& json, std::string_view field, bool integer,
                           std::optional<double>& out) {
  json_type type{};
  if (auto error = json.type().get(type)) return not_json(field, error);
  if (type == json_type::null) {
    bool null = false;
    if (json.is_null().get(null) != simdjson::SUCCESS || !null) {
      return invalid(field, "expected a number or null");
    }
    out.reset();
    return {};
  }
  if (integer) {
    std::uint64_t bytes = 0;
    if (json.get_uint64().get(bytes) != simdjson::SUCCESS) {
      return invalid(field, "expected a non-negative integer or null");
    }
    out = static_cast<double>(bytes);
    return {};
  }
  double number = 0;
  if (json.get_double().get(number) != simdjson::SUCCESS) {
    return invalid(field, "expected a number or null");
  }
  out = number;
  return {};
}

}  // namespace

struct EnrichedRunReader::Impl {
  simdjson::ondemand::parser parser;
  // The record plus simdjson's padding. Kept across calls: once it has grown to the largest
  // record, reading allocates nothing.
  std::string buffer;
};

EnrichedRunReader::EnrichedRunReader() : impl_(std::make_unique<Impl>()) {}
EnrichedRunReader::~EnrichedRunReader() = default;
EnrichedRunReader::EnrichedRunReader(EnrichedRunReader&&) noexcept = default;
EnrichedRunReader& EnrichedRunReader::operator=(EnrichedRunReader&&) noexcept = default;

base::Result<Run> EnrichedRunReader::read(std::string_view json) {
  Impl& impl = *impl_;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input.
  impl.buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(impl.buffer.data(), json.data(), json.size());
  simdjson::ondemand::document document;
  if (auto error =
          impl.parser.iterate(impl.buffer.data(), json.size(), impl.buffer.size()).get(document)) {
    return not_json("record", error);
  }
  object root;
  if (auto error = document.get_object().get(root)) {
    // simdjson also answers INCORRECT_TYPE for an object followed by more text.
    const auto first = json.find_first_not_of(" \t\r\n");
    const bool object_like = first != std::string_view::npos && json[first] == '{';
    return error == simdjson::INCORRECT_TYPE && !object_like
               ? invalid("record", "expected a JSON object")
               : not_json("record", error);
  }

  Run run;
  bool has_source = false, has_objet = false, has_etat = false, has_end = false,
       has_duration = false;
  base::Status status = for_each_member(root, "record", [&](std::string_view key, value& member) {
    if (key == "etat") {
      std::string_view etat;
      if (base::Status s = read_string(member, "etat", etat); !s) return s;
      const std::optional<Etat> known = etat_from_name(etat);
      if (!known) return base::Status(invalid("etat", "expected SUCCESS, FAILED or RUNNING"));
      run.etat = *known;
      has_etat = true;
      return base::Status();
    }
    if (key != "source" && key != "objet" && key != "event" && key != "performance") {
      return base::Status();  // schema v1 has more; the rules need none of it
    }
    object members;
    if (member.get_object().get(members) != simdjson::SUCCESS) {
      return base::Status(invalid(key, "expected an object"));
    }
    return for_each_member(members, key, [&](std::string_view name, value& field) {
      if (key == "source" && name == "name") {
        has_source = true;
        return read_string(field, "source.name", run.source);
      }
      if (key == "objet" && name == "name") {
        has_objet = true;
        return read_string(field, "objet.name", run.objet);
      }
      if (key == "event" && name == "end") {
        std::string_view text;
        if (base::Status s = read_string(field, "event.end", text); !s) return s;
        const auto end = base::parse_rfc3339_millis(text);
        if (!end) return base::Status(invalid("event.end", "not an RFC 3339 timestamp"));
        run.end = *end;
        has_end = true;
        return base::Status();
      }
      if (key == "performance") {
        if (name == "duree_secondes") {
          has_duration = true;
          return read_number(field, "performance.duree_secondes", run.duration_seconds);
        }
        if (name == "cpu_time_sec") {
          return read_optional(field, "performance.cpu_time_sec", false, run.cpu_seconds);
        }
        if (name == "memory_used_bytes") {
          return read_optional(field, "performance.memory_used_bytes", true, run.memory_bytes);
        }
      }
      return base::Status();
    });
  });
  if (!status) return std::unexpected(std::move(status.error()));
  // simdjson 3.0 has no document::at_end(): a location still inside the input after the
  // object means more text follows it.
  if (const char* rest = nullptr; document.current_location().get(rest) == simdjson::SUCCESS) {
    return invalid("record", "not JSON (text after the object)");
  }

  if (!has_source) return invalid("source.name", "missing");
  if (run.source.empty()) return invalid("source.name", "must not be empty");
  if (!has_objet) return invalid("objet.name", "missing");
  if (!has_etat) return invalid("etat", "missing");
  if (!has_end) return invalid("event.end", "missing");
  if (!has_duration) return invalid("performance.duree_secondes", "missing");
  return run;
}

}  // namespace iw::alerting
