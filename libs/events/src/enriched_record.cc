#include "iw/events/enriched_record.h"

#include <simdjson.h>

#include <cstring>
#include <span>
#include <type_traits>

#include "enriched_schema.h"
#include "iw/base/time_format.h"
#include "iw/events/timestamp.h"

namespace iw::events {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;
using Kind = EnrichedRecordError::Kind;
using Result = std::expected<void, EnrichedRecordError>;

constexpr std::string_view kRecord = "record";

// Only called on the error path, so the message may allocate.
std::unexpected<EnrichedRecordError> fail(Kind kind, std::string_view field,
                                          std::string_view what) {
  std::string message;
  message.reserve(field.size() + 2 + what.size());
  message.append(field).append(": ").append(what);
  return std::unexpected(EnrichedRecordError{kind, field, std::move(message)});
}

std::unexpected<EnrichedRecordError> invalid(std::string_view field, std::string_view what) {
  return fail(Kind::kInvalid, field, what);
}

std::unexpected<EnrichedRecordError> not_json(std::string_view field, simdjson::error_code error) {
  return invalid(field, std::string("not JSON (") + simdjson::error_message(error) + ")");
}

constexpr std::uint32_t bit(EnrichedField field) { return 1u << static_cast<unsigned>(field); }

// One field: its key within its object, and the dotted path that names it in messages.
struct Member {
  EnrichedField field;
  std::string_view key;
  std::string_view path;
};

// A top-level member: a field of its own (one entry in `members`, whose key is `key`), or an
// object holding fields.
struct TopLevel {
  std::string_view key;
  bool is_object;
  std::span<const Member> members;
};

namespace s = schema;

constexpr Member kTimestampField[] = {
    {EnrichedField::kTimestamp, s::kTimestamp.view(), s::kTimestamp.view()}};
constexpr Member kEtatField[] = {{EnrichedField::kEtat, s::kEtat.view(), s::kEtat.view()}};
constexpr Member kEventFields[] = {
    {EnrichedField::kEventEnd, s::kEnd.view(), s::join<s::kEvent, ".", s::kEnd>},
    {EnrichedField::kEventId, s::kId.view(), s::join<s::kEvent, ".", s::kId>}};
constexpr Member kSourceFields[] = {
    {EnrichedField::kSourceName, s::kName.view(), s::join<s::kSource, ".", s::kName>}};
constexpr Member kObjetFields[] = {
    {EnrichedField::kObjetName, s::kName.view(), s::join<s::kObjet, ".", s::kName>}};
constexpr Member kPerformanceFields[] = {
    {EnrichedField::kDuration, s::kDureeSecondes.view(),
     s::join<s::kPerformance, ".", s::kDureeSecondes>},
    {EnrichedField::kCpuTime, s::kCpuTimeSec.view(), s::join<s::kPerformance, ".", s::kCpuTimeSec>},
    {EnrichedField::kMemoryUsed, s::kMemoryUsedBytes.view(),
     s::join<s::kPerformance, ".", s::kMemoryUsedBytes>}};
constexpr Member kLabelFields[] = {
    {EnrichedField::kLabelSource, s::kSource.view(), s::join<s::kLabels, ".", s::kSource>},
    {EnrichedField::kLabelEtat, s::kEtat.view(), s::join<s::kLabels, ".", s::kEtat>},
    {EnrichedField::kLabelZone, s::kZone.view(), s::join<s::kLabels, ".", s::kZone>},
    {EnrichedField::kLabelEntreprise, s::kEntreprise.view(),
     s::join<s::kLabels, ".", s::kEntreprise>}};

// The part of schema v1 anyone reads. Its index also gives each entry a bit of its own, above
// the fields' bits, to catch a second occurrence of an object.
constexpr TopLevel kTopLevel[] = {
    {s::kTimestamp.view(), false, kTimestampField},
    {s::kEtat.view(), false, kEtatField},
    {s::kEvent.view(), true, kEventFields},
    {s::kSource.view(), true, kSourceFields},
    {s::kObjet.view(), true, kObjetFields},
    {s::kPerformance.view(), true, kPerformanceFields},
    {s::kLabels.view(), true, kLabelFields},
};
constexpr unsigned kFieldCount = static_cast<unsigned>(EnrichedField::kEventId) + 1;
static_assert(kFieldCount + std::size(kTopLevel) <= 32);
constexpr std::uint32_t object_bit(std::size_t index) {
  return 1u << (kFieldCount + static_cast<unsigned>(index));
}

// Where a field is, for the message of a missing one.
constexpr const Member* member_of(EnrichedField field) {
  for (const TopLevel& top : kTopLevel) {
    for (const Member& member : top.members) {
      if (member.field == field) return &member;
    }
  }
  return nullptr;
}

constexpr std::uint32_t kRequired =
    bit(EnrichedField::kTimestamp) | bit(EnrichedField::kSourceName) |
    bit(EnrichedField::kObjetName) | bit(EnrichedField::kEtat) | bit(EnrichedField::kEventEnd) |
    bit(EnrichedField::kDuration) | bit(EnrichedField::kLabelSource) |
    bit(EnrichedField::kLabelEtat);

// Whether a member's key is `name`. Most keys met are someone else's: their length or first
// letter tells them apart without a call to memcmp for each name tried.
bool same_key(std::string_view name, std::string_view key) {
  return name.size() == key.size() && !name.empty() && name[0] == key[0] &&
         std::memcmp(name.data() + 1, key.data() + 1, name.size() - 1) == 0;
}

// How a string field may be: required and not empty, required and maybe empty, or optional
// (null and "" read as absent, i.e. "").
enum class Text : std::uint8_t { kNotEmpty, kMayBeEmpty, kOptional };

Result read_text(value& json, std::string_view field, Text rule, std::string_view& out) {
  json_type type{};
  if (auto error = json.type().get(type)) return not_json(field, error);
  if (type == json_type::null && rule == Text::kOptional) {
    out = {};
    return {};
  }
  if (type != json_type::string || json.get_string().get(out) != simdjson::SUCCESS) {
    return invalid(field, "expected a string");
  }
  if (out.empty() && rule == Text::kNotEmpty) return invalid(field, "must not be empty");
  return {};
}

// A number, or null for "not measured": a double (cpu_time_sec), or a byte count that must be a
// non-negative integer (memory_used_bytes).
template <typename T>
Result read_optional(value& json, std::string_view field, std::optional<T>& out) {
  constexpr std::string_view kExpected = std::is_same_v<T, double>
                                             ? "expected a number or null"
                                             : "expected a non-negative integer or null";
  json_type type{};
  if (auto error = json.type().get(type)) return not_json(field, error);
  if (type == json_type::null) {
    bool null = false;
    if (json.is_null().get(null) != simdjson::SUCCESS || !null) return invalid(field, kExpected);
    out.reset();
    return {};
  }
  T number{};
  if (json.get<T>().get(number) != simdjson::SUCCESS) return invalid(field, kExpected);
  out = number;
  return {};
}

Result read_field(const Member& member, value& json, EnrichedRecord& out) {
  const std::string_view path = member.path;
  switch (member.field) {
    case EnrichedField::kTimestamp: {
      std::string_view text;
      if (Result r = read_text(json, path, Text::kNotEmpty, text); !r) return r;
      auto t = parse_timestamp(text, TimeZone::utc());
      if (!t) return invalid(path, t.error().message);
      out.timestamp = *t;
      return {};
    }
    case EnrichedField::kSourceName:
      return read_text(json, path, Text::kNotEmpty, out.source);
    case EnrichedField::kObjetName:
      return read_text(json, path, Text::kMayBeEmpty, out.objet);
    case EnrichedField::kEtat: {
      if (Result r = read_text(json, path, Text::kMayBeEmpty, out.etat); !r) return r;
      if (out.etat != s::kSuccess && out.etat != s::kFailed && out.etat != s::kRunning) {
        return invalid(path, "expected SUCCESS, FAILED or RUNNING");
      }
      return {};
    }
    case EnrichedField::kEventEnd: {
      std::string_view text;
      if (Result r = read_text(json, path, Text::kMayBeEmpty, text); !r) return r;
      const auto end = base::parse_rfc3339_millis(text);
      if (!end) return invalid(path, "not an RFC 3339 timestamp");
      out.end = *end;
      return {};
    }
    case EnrichedField::kDuration:
      if (json.get_double().get(out.duration_seconds) != simdjson::SUCCESS) {
        return invalid(path, "expected a number");
      }
      return {};
    case EnrichedField::kCpuTime:
      return read_optional(json, path, out.cpu_seconds);
    case EnrichedField::kMemoryUsed:
      return read_optional(json, path, out.memory_bytes);
    case EnrichedField::kLabelSource:
      return read_text(json, path, Text::kNotEmpty, out.labels.source);
    case EnrichedField::kLabelEtat:
      return read_text(json, path, Text::kNotEmpty, out.labels.etat);
    case EnrichedField::kLabelZone:
      return read_text(json, path, Text::kOptional, out.labels.zone);
    case EnrichedField::kLabelEntreprise:
      return read_text(json, path, Text::kOptional, out.labels.entreprise);
    case EnrichedField::kEventId:
      return read_text(json, path, Text::kOptional, out.event_id);
  }
  return invalid(path, "not a field of schema v1");
}

}  // namespace

struct EnrichedRecordReader::Impl {
  // Reads `member` unless it was seen before; `seen` collects the bits.
  Result read_once(const Member& member, value& json, EnrichedRecord& out) {
    if ((seen & bit(member.field)) != 0) {
      return fail(Kind::kDuplicate, member.path, "appears twice");
    }
    seen |= bit(member.field);
    return read_field(member, json, out);
  }

  Result read_object(std::size_t index, value& json, EnrichedRecord& out) {
    const TopLevel& top = kTopLevel[index];
    if ((seen & object_bit(index)) != 0) return fail(Kind::kDuplicate, top.key, "appears twice");
    seen |= object_bit(index);
    object members;
    if (json.get_object().get(members) != simdjson::SUCCESS) {
      return invalid(top.key, "expected an object");
    }
    for (auto entry : members) {
      std::string_view key;
      value member_value;
      if (auto error = entry.unescaped_key().get(key)) return not_json(top.key, error);
      if (auto error = entry.value().get(member_value)) return not_json(top.key, error);
      for (const Member& member : top.members) {
        if ((wanted & bit(member.field)) == 0 || !same_key(member.key, key)) continue;
        if (Result r = read_once(member, member_value, out); !r) return r;
        break;
      }
    }
    return {};
  }

  std::uint32_t wanted = 0;
  std::uint32_t seen = 0;  // during read(): the fields and objects met so far
  // Bit i: whether kTopLevel[i] holds a field that is wanted.
  std::uint32_t wanted_top = 0;
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  // A copy of records that come without readable padding, plus the padding. Kept across calls:
  // once it has grown to the largest record, copying allocates nothing.
  std::string padded;
};

EnrichedRecordReader::EnrichedRecordReader(std::initializer_list<EnrichedField> fields)
    : impl_(std::make_unique<Impl>()) {
  for (const EnrichedField field : fields) impl_->wanted |= bit(field);
  for (std::size_t i = 0; i < std::size(kTopLevel); ++i) {
    for (const Member& member : kTopLevel[i].members) {
      if ((impl_->wanted & bit(member.field)) != 0) impl_->wanted_top |= 1u << i;
    }
  }
}
EnrichedRecordReader::~EnrichedRecordReader() = default;
EnrichedRecordReader::EnrichedRecordReader(EnrichedRecordReader&&) noexcept = default;
EnrichedRecordReader& EnrichedRecordReader::operator=(EnrichedRecordReader&&) noexcept = default;

EnrichedRecordResult EnrichedRecordReader::read(std::string_view record,
                                                std::size_t readable_padding) {
  Impl& impl = *impl_;
  simdjson::padded_string_view input;
  if (readable_padding >= simdjson::SIMDJSON_PADDING) {
    input = simdjson::padded_string_view(record.data(), record.size(),
                                         record.size() + readable_padding);
  } else {
    // Zeros after the record, not what a longer one left there, so that nothing depends on
    // history.
    impl.padded.resize(record.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(impl.padded.data(), record.data(), record.size());
    std::memset(impl.padded.data() + record.size(), 0, simdjson::SIMDJSON_PADDING);
    input = simdjson::padded_string_view(impl.padded.data(), record.size(), impl.padded.size());
  }
  if (auto error = impl.parser.iterate(input).get(impl.document)) {
    return not_json(kRecord, error);
  }
  object root;
  if (auto error = impl.document.get_object().get(root)) {
    // simdjson also answers INCORRECT_TYPE for an object followed by more text.
    const auto first = record.find_first_not_of(" \t\r\n");
    const bool object_like = first != std::string_view::npos && record[first] == '{';
    if (error == simdjson::INCORRECT_TYPE && !object_like) {
      return invalid(kRecord, "expected a JSON object");
    }
    return not_json(kRecord, error);
  }

  EnrichedRecord out;
  impl.seen = 0;
  for (auto entry : root) {
    std::string_view key;
    value field;
    if (auto error = entry.unescaped_key().get(key)) return not_json(kRecord, error);
    if (auto error = entry.value().get(field)) return not_json(key, error);
    for (std::size_t i = 0; i < std::size(kTopLevel); ++i) {
      if ((impl.wanted_top & (1u << i)) == 0 || !same_key(kTopLevel[i].key, key)) continue;
      Result r = kTopLevel[i].is_object ? impl.read_object(i, field, out)
                                        : impl.read_once(kTopLevel[i].members[0], field, out);
      if (!r) return std::unexpected(std::move(r).error());
      break;
    }
  }
  // simdjson 3.0 has no document::at_end(): a location still inside the input after the object
  // means more text follows it.
  if (const char* rest = nullptr; impl.document.current_location().get(rest) == simdjson::SUCCESS) {
    return invalid(kRecord, "not JSON (text after the object)");
  }
  const std::uint32_t missing = impl.wanted & kRequired & ~impl.seen;
  if (missing != 0) {
    for (unsigned i = 0; i < kFieldCount; ++i) {
      const auto field = static_cast<EnrichedField>(i);
      if ((missing & bit(field)) != 0) {
        return fail(Kind::kMissing, member_of(field)->path, "required field is missing");
      }
    }
  }
  return out;
}

}  // namespace iw::events
