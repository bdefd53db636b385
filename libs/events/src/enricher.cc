#include "iw/events/enricher.h"

#include <simdjson.h>
#include <xxhash.h>

#include <charconv>
#include <cmath>
#include <tuple>
#include <utility>

#include "enriched_schema.h"
#include "iw/base/check.h"
#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::events {
namespace {

using simdjson::ondemand::json_type;
using std::chrono::nanoseconds;
using namespace std::string_view_literals;

constexpr std::string_view kOversizedRecord = "oversized_record";
constexpr std::string_view kInvalidUtf8 = "invalid_utf8";
constexpr std::string_view kInvalidJson = "invalid_json";
constexpr std::string_view kNotAnObject = "not_an_object";
constexpr std::string_view kDuplicateField = "duplicate_field";
constexpr std::string_view kMissingField = "missing_field";
constexpr std::string_view kWrongType = "wrong_type";
constexpr std::string_view kInvalidTimestamp = "invalid_timestamp";
constexpr std::string_view kInvalidNumber = "invalid_number";
constexpr std::string_view kInvalidEtat = "invalid_etat";
constexpr std::string_view kMissingEnd = "missing_end";
constexpr std::string_view kEndBeforeStart = "end_before_start";
constexpr std::string_view kNegativeDuration = "negative_duration";

constexpr std::string_view kDefectReasons[] = {
    kOversizedRecord, kInvalidUtf8,    kInvalidJson,      kNotAnObject,   kDuplicateField,
    kMissingField,    kWrongType,      kInvalidTimestamp, kInvalidNumber, kInvalidEtat,
    kMissingEnd,      kEndBeforeStart, kNegativeDuration,
};

// simdjson's limit for nesting, which On-Demand leaves to its user. Depths count as simdjson
// does: the record is 1, its field values 2. Unknown values are walked recursively to validate
// them, so this also bounds the stack.
constexpr int kMaxDepth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);
constexpr int kFieldDepth = 2;

// A defect found while reading one field, or nothing. Empty costs no allocation.
using Problem = std::optional<Defect>;

Problem problem(std::string_view reason, std::string_view field, std::string_view what) {
  std::string message;
  message.reserve(field.size() + 2 + what.size());
  message.append(field).append(": ").append(what);
  return Defect{reason, std::move(message)};
}

// Quotes text from a bad record in a message: bounded, because messages go to logs and
// Kafka headers.
std::string quoted(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out = "'";
  out.append(text.substr(0, kMax));
  if (text.size() > kMax) out.append("...");
  out.push_back('\'');
  return out;
}

// simdjson's words, except where they would mislead: a type error while reading a value of
// the type it announced means a malformed atom (`tru`, `nul`).
std::string json_error_text(simdjson::error_code error) {
  if (error == simdjson::INCORRECT_TYPE || error == simdjson::N_ATOM_ERROR ||
      error == simdjson::T_ATOM_ERROR || error == simdjson::F_ATOM_ERROR) {
    return "not JSON (malformed true, false or null)";
  }
  if (error == simdjson::NUMBER_ERROR) return "not JSON (malformed number)";
  return std::string("not JSON (") + simdjson::error_message(error) + ")";
}

Problem not_json(std::string_view field, simdjson::error_code error) {
  if (error == simdjson::UTF8_ERROR) return problem(kInvalidUtf8, field, "not valid UTF-8");
  return problem(kInvalidJson, field, json_error_text(error));
}

std::string_view type_name(json_type type) {
  switch (type) {
    case json_type::array:
      return "an array";
    case json_type::object:
      return "an object";
    case json_type::number:
      return "a number";
    case json_type::string:
      return "a string";
    case json_type::boolean:
      return "a boolean";
    case json_type::null:
      return "null";
  }
  return "an unknown type";
}

Problem wrong_type(std::string_view field, std::string_view expected, json_type got) {
  return problem(
      kWrongType, field,
      std::string("expected ") + std::string(expected) + ", got " + std::string(type_name(got)));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// RFC 8259 §6. On-Demand does not look at the values it skips, and its number parser does not
// tell "out of range" from "not a number"; this does.
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < n && is_digit(s[i])) ++i;
    if (i == start) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < n && is_digit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == n;
}

// Numbers that went through text on the way: "1.5", "1,5" (decimal comma), " 42 ", "-0,8",
// "1e3". Only digits, one decimal separator, a sign and an exponent: no "inf", "nan" or hex.
std::optional<double> parse_numeric_text(std::string_view text) {
  text = trim(text);
  char buf[64] = {};
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::size_t n = 0;
  for (const char c : text) {
    if (!(is_digit(c) || c == '.' || c == ',' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
    buf[n++] = c == ',' ? '.' : c;
  }
  const char* begin = buf;
  // from_chars takes no '+'; a job writing "+1.5" means 1.5.
  if (*begin == '+') ++begin;
  if (begin == buf + n || *begin == '+' || (*begin == '-' && begin != buf)) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(begin, buf + n, value, std::chars_format::general);
  if (ec != std::errc{} || end != buf + n || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_integer_text(std::string_view text) {
  text = trim(text);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc{} && end == text.data() + text.size() && !text.empty()) return value;
  // "5849088.0", "1,0e6": whole numbers written as decimals.
  const auto decimal = parse_numeric_text(text);
  constexpr double kExact = 9007199254740992.0;  // 2^53: beyond it doubles skip integers
  if (!decimal || std::trunc(*decimal) != *decimal || std::fabs(*decimal) > kExact) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*decimal);
}

// A member's key. Without a backslash its bytes as written are its text (simdjson has checked
// the document's UTF-8; nothing else in a key can be wrong), so they are read in place: unescaping
// every key into simdjson's string buffer was a seventh of the cost of enrich(). A key with an
// escape is unescaped, with simdjson's verdict on the escape.
simdjson::error_code read_key(simdjson::ondemand::field& member, std::string_view& key) {
  const char* const begin = member.key().raw();
  const char* end = begin;
  // The closing quote is there: simdjson found the key's structure.
  while (*end != '"' && *end != '\\') ++end;
  if (*end == '"') {
    key = std::string_view(begin, static_cast<std::size_t>(end - begin));
    return simdjson::SUCCESS;
  }
  return member.unescaped_key().get(key);
}

// Walks a value nobody reads, so that a malformed one (`tru`, `1.`, a bad escape) still makes
// the record invalid JSON: On-Demand would otherwise skip it by structure alone.
simdjson::error_code validate_value(simdjson::ondemand::value value, int depth) {
  json_type type;
  if (auto error = value.type().get(type); error) return error;
  const bool container = type == json_type::object || type == json_type::array;
  if (container && depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
  switch (type) {
    case json_type::object: {
      simdjson::ondemand::object object;
      if (auto error = value.get_object().get(object); error) return error;
      for (auto entry : object) {
        simdjson::ondemand::field member;
        if (auto error = std::move(entry).get(member); error) return error;
        std::string_view key;
        if (auto error = read_key(member, key); error) return error;
        simdjson::ondemand::value child = member.value();
        if (auto error = validate_value(child, depth + 1); error) return error;
      }
      return simdjson::SUCCESS;
    }
    case json_type::array: {
      simdjson::ondemand::array array;
      if (auto error = value.get_array().get(array); error) return error;
      for (auto element : array) {
        simdjson::ondemand::value child;
        if (auto error = element.get(child); error) return error;
        if (auto error = validate_value(child, depth + 1); error) return error;
      }
      return simdjson::SUCCESS;
    }
    case json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case json_type::number:
      return is_json_number(trim(value.raw_json_token())) ? simdjson::SUCCESS
                                                          : simdjson::NUMBER_ERROR;
    case json_type::boolean: {
      bool flag = false;
      return value.get_bool().get(flag);
    }
    case json_type::null: {
      bool null = false;
      if (auto error = value.is_null().get(null); error) return error;
      return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

// Reads a value that must be null; false when it is a malformed atom such as `nul`.
Problem read_null(simdjson::ondemand::value& value, std::string_view field) {
  bool null = false;
  if (auto error = value.is_null().get(null); error) return not_json(field, error);
  if (!null) return not_json(field, simdjson::N_ATOM_ERROR);
  return std::nullopt;
}

// A string from the record. `verbatim`: its JSON form had no escapes, so the bytes between the
// quotes are already what base::append_json_string would write (simdjson has checked them:
// valid UTF-8, no control characters) and are copied as they are. Escaping byte by byte was a
// third of the cost of enrich() on records with a long Description.
struct Text {
  std::string_view value;
  bool verbatim = false;
};

// A string, or null (= absent). `expected` names the type in messages.
Problem read_string(simdjson::ondemand::value& value, std::string_view field,
                    std::string_view expected, std::optional<Text>& out) {
  json_type type;
  if (auto error = value.type().get(type); error) return not_json(field, error);
  if (type == json_type::string) {
    // The token with its quotes (and the blanks after it); reading it consumes nothing.
    const std::string_view token = trim(value.raw_json_token());
    std::string_view text;
    if (auto error = value.get_string().get(text); error) return not_json(field, error);
    // Every escape is longer than what it stands for, so same length means no escape.
    out = Text{text, text.size() + 2 == token.size()};
    return std::nullopt;
  }
  if (type == json_type::null) return read_null(value, field);
  return wrong_type(field, expected, type);
}

// A JSON number that simdjson would not read: out of range if it is a number at all.
Problem bad_number(std::string_view token, std::string_view field, simdjson::error_code error) {
  if (is_json_number(token)) {
    return problem(kInvalidNumber, field, "out of range: " + quoted(token));
  }
  return not_json(field, error);
}

// A number or a numeric string (decimal comma allowed), or null (= absent).
Problem read_number(simdjson::ondemand::value& value, std::string_view field,
                    std::optional<double>& out) {
  json_type type;
  if (auto error = value.type().get(type); error) return not_json(field, error);
  switch (type) {
    case json_type::number: {
      const std::string_view token = trim(value.raw_json_token());
      double number = 0;
      if (auto error = value.get_double().get(number); error) {
        return bad_number(token, field, error);
      }
      out = number;
      return std::nullopt;
    }
    case json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text); error) return not_json(field, error);
      out = parse_numeric_text(text);
      if (!out) return problem(kInvalidNumber, field, "not a number: " + quoted(text));
      return std::nullopt;
    }
    case json_type::null:
      return read_null(value, field);
    default:
      return wrong_type(field, "a number or a numeric string", type);
  }
}

// A whole number (JSON integer, integral decimal, or such a numeric string), or null.
Problem read_integer(simdjson::ondemand::value& value, std::string_view field,
                     std::optional<std::int64_t>& out) {
  json_type type;
  if (auto error = value.type().get(type); error) return not_json(field, error);
  switch (type) {
    case json_type::number: {
      const std::string_view token = trim(value.raw_json_token());
      std::int64_t integer = 0;
      if (value.get_int64().get(integer) == simdjson::SUCCESS) {
        out = integer;
        return std::nullopt;
      }
      // A decimal or an integer beyond 64 bits: accepted only if it is a whole number that a
      // double holds exactly.
      double number = 0;
      if (auto error = value.get_double().get(number); error) {
        return bad_number(token, field, error);
      }
      constexpr double kExact = 9007199254740992.0;  // 2^53
      if (std::trunc(number) != number) {
        return problem(kInvalidNumber, field, "not a whole number: " + quoted(token));
      }
      if (std::fabs(number) > kExact) {
        return problem(kInvalidNumber, field, "out of range: " + quoted(token));
      }
      out = static_cast<std::int64_t>(number);
      return std::nullopt;
    }
    case json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text); error) return not_json(field, error);
      out = parse_integer_text(text);
      if (!out) return problem(kInvalidNumber, field, "not a whole number: " + quoted(text));
      return std::nullopt;
    }
    case json_type::null:
      return read_null(value, field);
    default:
      return wrong_type(field, "a whole number or a numeric string", type);
  }
}

enum class Etat { kSuccess, kFailed, kRunning };

// Case-insensitive, surrounding blanks ignored. docs/ENRICHED_RECORD.md has the table.
std::optional<Etat> canonical_etat(std::string_view text) {
  text = trim(text);
  char buf[16];
  if (text.size() > sizeof buf) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) buf[i] = ascii_lower(text[i]);
  // É (U+00C9) to é (U+00E9): the only non-ASCII letter in the known words.
  if (text.size() >= 2 && buf[0] == '\xC3' && buf[1] == '\x89') buf[1] = '\xA9';
  const std::string_view word(buf, text.size());
  for (const std::string_view s : {"success", "succeeded", "ok", "done", "warning"}) {
    if (word == s) return Etat::kSuccess;
  }
  for (const std::string_view s : {"failed", "failure", "error", "ko", "echec", "\u00e9chec"}) {
    if (word == s) return Etat::kFailed;
  }
  for (const std::string_view s : {"running", "started", "pending"}) {
    if (word == s) return Etat::kRunning;
  }
  return std::nullopt;
}

std::string_view etat_name(Etat etat) {
  switch (etat) {
    case Etat::kSuccess:
      return schema::kSuccess;
    case Etat::kFailed:
      return schema::kFailed;
    case Etat::kRunning:
      return schema::kRunning;
  }
  return schema::kRunning;
}

std::string_view outcome_name(Etat etat) {
  switch (etat) {
    case Etat::kSuccess:
      return "success";
    case Etat::kFailed:
      return "failure";
    case Etat::kRunning:
      return "unknown";
  }
  return "unknown";
}

// "api" when the transformation names an API: "API" anywhere ("PowerBI_API_get_data",
// "RestAPI"), or "api" in any case as a word of its own ("fetch_api_v2"), so that words that
// merely contain the letters ("Capital", "rapid") do not count.
bool mentions_api(std::string_view text) {
  for (std::size_t i = 0; i + 3 <= text.size(); ++i) {
    if (text[i] == 'A' && text[i + 1] == 'P' && text[i + 2] == 'I') return true;
    if (ascii_lower(text[i]) == 'a' && ascii_lower(text[i + 1]) == 'p' &&
        ascii_lower(text[i + 2]) == 'i' && (i == 0 || !is_alpha(text[i - 1])) &&
        (i + 3 == text.size() || !is_alpha(text[i + 3]))) {
      return true;
    }
  }
  return false;
}

// The fields read, one bit each: a second occurrence is a defect, and the required ones must
// be there.
enum Field : std::uint32_t {
  kUnknown = 0,
  kId = 1u << 0,
  kSource = 1u << 1,
  kObjet = 1u << 2,
  kTransformation = 1u << 3,
  kEtat = 1u << 4,
  kDebut = 1u << 5,
  kFin = 1u << 6,
  kDuree = 1u << 7,
  kCpuTime = 1u << 8,
  kMemoryUsed = 1u << 9,
  kDescription = 1u << 10,
  kZone = 1u << 11,
  kEntreprise = 1u << 12,
};

Field field_of(std::string_view key) {
  switch (key.size()) {
    case 2:
      return key == "ID" ? kId : kUnknown;
    case 3:
      return key == "Fin" ? kFin : kUnknown;
    case 4:
      return key == "Etat" ? kEtat : key == "Zone" ? kZone : kUnknown;
    case 5:
      return key == "Objet" ? kObjet : key == "Debut" ? kDebut : kUnknown;
    case 6:
      return key == "Source" ? kSource : kUnknown;
    case 8:
      return key == "cpu_time" ? kCpuTime : kUnknown;
    case 10:
      return key == "Entreprise" ? kEntreprise : kUnknown;
    case 11:
      return key == "memory_used" ? kMemoryUsed : key == "Description" ? kDescription : kUnknown;
    case 14:
      return key == "Transformation"   ? kTransformation
             : key == "Duree secondes" ? kDuree
                                       : kUnknown;
    default:
      return kUnknown;
  }
}

// What one record says, as read. Views point into the parser's string buffer.
struct Decoded {
  std::uint32_t seen = 0;  // fields present, null or not
  std::optional<std::int64_t> id;
  std::optional<Text> source, objet, transformation, etat_text, description, zone, entreprise;
  std::optional<Etat> etat;
  std::optional<base::TimePoint> debut, fin;
  std::optional<double> duree, cpu;
  std::optional<std::int64_t> memory;
};

Problem read_timestamp(simdjson::ondemand::value& value, std::string_view field,
                       const TimeZone& zone, std::optional<base::TimePoint>& out) {
  std::optional<Text> text;
  if (auto p = read_string(value, field, "a timestamp string", text)) return p;
  if (!text) return std::nullopt;
  auto parsed = parse_timestamp(text->value, zone);
  if (!parsed) return problem(parsed.error().reason, field, parsed.error().message);
  out = *parsed;
  return std::nullopt;
}

Problem read_field(Field field, std::string_view name, simdjson::ondemand::value& value,
                   const TimeZone& zone, Decoded& d) {
  switch (field) {
    case kId:
      return read_integer(value, name, d.id);
    case kSource: {
      if (auto p = read_string(value, name, "a non-empty string", d.source)) return p;
      if (d.source && d.source->value.empty()) {
        return problem(kMissingField, name, "required field is empty");
      }
      return std::nullopt;
    }
    case kObjet:
      return read_string(value, name, "a string", d.objet);
    case kTransformation:
      return read_string(value, name, "a string", d.transformation);
    case kEtat: {
      if (auto p = read_string(value, name, "a string", d.etat_text)) return p;
      if (!d.etat_text) return std::nullopt;
      d.etat = canonical_etat(d.etat_text->value);
      if (!d.etat) {
        return problem(kInvalidEtat, name,
                       "unknown state " + quoted(d.etat_text->value) +
                           " (expected SUCCESS, FAILED, RUNNING or a synonym)");
      }
      return std::nullopt;
    }
    case kDebut:
      return read_timestamp(value, name, zone, d.debut);
    case kFin:
      return read_timestamp(value, name, zone, d.fin);
    case kDuree:
      return read_number(value, name, d.duree);
    case kCpuTime: {
      if (auto p = read_number(value, name, d.cpu)) return p;
      if (d.cpu && *d.cpu < 0) return problem(kInvalidNumber, name, "must not be negative");
      return std::nullopt;
    }
    case kMemoryUsed: {
      if (auto p = read_integer(value, name, d.memory)) return p;
      if (d.memory && *d.memory < 0) return problem(kInvalidNumber, name, "must not be negative");
      return std::nullopt;
    }
    case kDescription:
      return read_string(value, name, "a string", d.description);
    case kZone:
      return read_string(value, name, "a string", d.zone);
    case kEntreprise:
      return read_string(value, name, "a string", d.entreprise);
    case kUnknown:
      break;
  }
  return std::nullopt;
}

// -0.0 is a valid reading of "-0" but would be written "-0".
double positive_zero(double value) { return value == 0 ? 0.0 : value; }

void append_int(std::string& out, std::int64_t value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// What std::to_chars writes for a value of at most six decimals below 1e9 (durations to the
// microsecond, CPU seconds and megabytes to the hundredth: nearly every number written), without
// its general algorithm, a seventh of the cost of enrich(). There two such decimals lie further
// apart (1e-6) than a double's rounding (below 1.2e-7), so the n / 10^6 that reads back as
// `value` is its shortest round-trip text; to_chars takes the scientific form when that is
// shorter (1e+05, 1e-06), which is left to it. False when this does not apply.
bool append_short_decimal(std::string& out, double value) {
  if (!(value >= 0 && value < 1e9) || std::signbit(value)) return false;
  constexpr std::uint64_t kScale = 1'000'000;
  const auto n = static_cast<std::uint64_t>(std::nearbyint(value * static_cast<double>(kScale)));
  if (static_cast<double>(n) / static_cast<double>(kScale) != value) return false;
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf, n / kScale).ptr;
  if (auto fraction = n % kScale; fraction != 0) {
    *end++ = '.';
    for (std::uint64_t unit = kScale / 10; unit != 0; unit /= 10) {
      *end++ = static_cast<char>('0' + fraction / unit % 10);
    }
    while (end[-1] == '0') --end;
  }
  std::uint64_t digits = n;
  while (digits != 0 && digits % 10 == 0) digits /= 10;
  std::size_t significant = 0;
  for (; digits != 0; digits /= 10) ++significant;
  // d[.ddd]e+XX: the exponent is within two digits here.
  const std::size_t scientific = significant + (significant > 1 ? 1 : 0) + 4;
  if (n != 0 && scientific < static_cast<std::size_t>(end - buf)) return false;
  out.append(buf, end);
  return true;
}

// Shortest round-trip digits; JSON has no NaN or infinity, and no input path produces them.
// Huge whole values come out as digits ("184467440737095516160"), which readers take for an
// integer and reject beyond 64 bits (simdjson does): those are written with an exponent.
void append_double(std::string& out, double value) {
  IW_CHECK(std::isfinite(value), "JSON has no NaN or infinity");
  if (append_short_decimal(out, value)) return;
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, value);
  IW_CHECK(result.ec == std::errc{}, "double does not fit the buffer");
  const std::string_view text(buf, static_cast<std::size_t>(result.ptr - buf));
  if (text.size() > 15 && text.find_first_of(".e") == std::string_view::npos) {
    result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    IW_CHECK(result.ec == std::errc{}, "double does not fit the buffer");
  }
  out.append(buf, result.ptr);
}

void append_text(std::string& out, const Text& text) {
  if (!text.verbatim) {
    base::append_json_string(out, text.value);
    return;
  }
  out.push_back('"');
  out.append(text.value);
  out.push_back('"');
}

// Text appended with the quotes, or null.
void append_text_or_null(std::string& out, const std::optional<Text>& text) {
  if (text) {
    append_text(out, *text);
  } else {
    out += "null";
  }
}

std::string timestamp_text(base::TimePoint t) { return base::format_rfc3339_millis(t); }

}  // namespace

struct Enricher::Impl {
  explicit Impl(EnrichOptions o) : options(std::move(o)) {}

  // The steps of enrich(); Decoded is filled by decode().
  Problem decode(simdjson::padded_string_view input, Decoded& d);
  Problem classify_non_object(simdjson::padded_string_view input);

  EnrichOptions options;
  simdjson::ondemand::parser parser;
  simdjson::dom::parser dom_parser;  // only to tell broken JSON from a valid non-object
  std::string padded;                // a copy of records that come without readable padding
  char event_id[32] = {};
  // Consecutive records mostly share processed_at (one clock reading per batch).
  std::optional<base::TimePoint> processed_at;
  std::string processed_at_text;
  std::string start_text;
};

Problem Enricher::Impl::classify_non_object(simdjson::padded_string_view input) {
  // On-Demand judges a document by its first byte; a full parse tells "not JSON" apart.
  simdjson::dom::element element;
  if (auto error = dom_parser.parse(input.data(), input.size(), false).get(element); error) {
    if (error == simdjson::UTF8_ERROR) return Defect{kInvalidUtf8, "not valid UTF-8"};
    return Defect{kInvalidJson, std::string("not JSON (") + simdjson::error_message(error) + ")"};
  }
  std::string what = "a run record must be a JSON object, got ";
  switch (element.type()) {
    case simdjson::dom::element_type::ARRAY:
      what += "an array";
      break;
    case simdjson::dom::element_type::OBJECT:
      what += "an object";  // unreachable: On-Demand saw a non-object
      break;
    case simdjson::dom::element_type::STRING:
      what += "a string";
      break;
    case simdjson::dom::element_type::BOOL:
      what += "a boolean";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      what += "null";
      break;
    default:
      what += "a number";
  }
  return Defect{kNotAnObject, std::move(what)};
}

Problem Enricher::Impl::decode(simdjson::padded_string_view input, Decoded& d) {
  const auto top_level = [](simdjson::error_code error) -> Problem {
    if (error == simdjson::UTF8_ERROR) return Defect{kInvalidUtf8, "not valid UTF-8"};
    if (error == simdjson::EMPTY) return Defect{kInvalidJson, "not JSON (empty record)"};
    return Defect{kInvalidJson, std::string("not JSON (") + simdjson::error_message(error) + ")"};
  };
  simdjson::ondemand::document doc;
  if (auto error = parser.iterate(input).get(doc); error) return top_level(error);
  json_type type;
  if (auto error = doc.type().get(type); error) return top_level(error);
  if (type != json_type::object) return classify_non_object(input);
  simdjson::ondemand::object object;
  if (auto error = doc.get_object().get(object); error) return top_level(error);

  // One pass over the fields in document order: On-Demand reads each value once.
  std::string_view last_key;  // for structural errors, which belong to no field
  // The first field defect. Reading goes on to the end after it, because not being JSON wins
  // over any field defect: otherwise the verdict on a broken record could depend on where
  // simdjson notices the break, which depends on the bytes after the record.
  Problem first;
  for (auto entry : object) {
    std::string_view key;
    simdjson::ondemand::field member;
    simdjson::error_code key_error = std::move(entry).get(member);
    if (!key_error) key_error = read_key(member, key);
    if (key_error) {
      if (last_key.empty()) return top_level(key_error);
      return problem(kInvalidJson, "after " + std::string(last_key), json_error_text(key_error));
    }
    last_key = key;
    simdjson::ondemand::value value = member.value();
    const Field field = field_of(key);
    if (field == kUnknown || first) {
      // Not read (unknown, or the record is already rejected) but it must still be JSON.
      if (auto error = validate_value(value, kFieldDepth); error) return not_json(key, error);
      continue;
    }
    // Readers disagree on which duplicate wins (first, last, error); a record that says two
    // things about one field is not trusted.
    if ((d.seen & field) != 0) {
      first = problem(kDuplicateField, key, "appears more than once");
      if (auto error = validate_value(value, kFieldDepth); error) return not_json(key, error);
      continue;
    }
    d.seen |= field;
    if (auto p = read_field(field, key, value, options.time_zone, d)) {
      if (p->reason == kInvalidJson || p->reason == kInvalidUtf8) return p;
      // A value of the wrong type is left unread: check it like an unknown one.
      if (p->reason == kWrongType) {
        if (auto error = validate_value(value, kFieldDepth); error) return not_json(key, error);
      }
      first = std::move(p);
    }
  }
  // Past the object there must be nothing; current_location() then reports out of bounds.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return Defect{kInvalidJson, "not JSON (text after the object)"};
  }
  return first;
}

Enricher::Enricher(EnrichOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  const EnrichOptions& o = impl_->options;
  IW_CHECK(!std::isnan(o.high_memory_mb) && !std::isnan(o.high_cpu_seconds),
           "enricher thresholds must be numbers");
  IW_CHECK(o.max_record_bytes > 0, "max_record_bytes must be positive");
}
Enricher::~Enricher() = default;
Enricher::Enricher(Enricher&&) noexcept = default;
Enricher& Enricher::operator=(Enricher&&) noexcept = default;

const EnrichOptions& Enricher::options() const { return impl_->options; }

DecodeResult<RunFacts> Enricher::enrich(std::string_view raw, std::size_t readable_padding,
                                        const RecordOrigin& origin, std::string& out) {
  Impl& s = *impl_;
  const EnrichOptions& o = s.options;
  if (raw.size() > o.max_record_bytes) {
    return defect(kOversizedRecord, "record is " + std::to_string(raw.size()) +
                                        " bytes, more than the limit of " +
                                        std::to_string(o.max_record_bytes));
  }
  simdjson::padded_string_view input;
  if (readable_padding >= simdjson::SIMDJSON_PADDING) {
    input = simdjson::padded_string_view(raw.data(), raw.size(), raw.size() + readable_padding);
  } else {
    // Within the capacity of earlier records: no allocation once the largest has been seen.
    // Zeros after the record, not what a longer record left there, so that error messages do
    // not depend on history.
    s.padded.assign(raw);
    s.padded.append(simdjson::SIMDJSON_PADDING, '\0');
    input = simdjson::padded_string_view(s.padded.data(), raw.size(), s.padded.size());
  }

  Decoded d;
  if (auto p = s.decode(input, d)) return std::unexpected(std::move(*p));

  // Record-level checks, after every field has been read.
  for (const auto& [present, field, name] : {std::tuple{d.source.has_value(), kSource, "Source"},
                                             std::tuple{d.objet.has_value(), kObjet, "Objet"},
                                             std::tuple{d.etat_text.has_value(), kEtat, "Etat"},
                                             std::tuple{d.debut.has_value(), kDebut, "Debut"}}) {
    if (!present) {
      return defect(kMissingField,
                    std::string(name) + ((d.seen & field) != 0 ? ": required field is null"
                                                               : ": required field is missing"));
    }
  }
  if (!d.fin && !d.duree) {
    return defect(kMissingEnd,
                  "Fin, Duree secondes: both missing; one is needed to know when the run ended");
  }
  const base::TimePoint start = *d.debut;
  if (d.duree && *d.duree < 0) {
    std::string text;
    append_double(text, *d.duree);
    return defect(kNegativeDuration, "Duree secondes: " + text + " is negative");
  }
  // Whether or not it gives the end: a run cannot last longer than a TimePoint spans.
  constexpr double kMaxDurationSeconds = 9.2e9;  // about 292 years
  if (d.duree && !(*d.duree < kMaxDurationSeconds)) {
    std::string text;
    append_double(text, *d.duree);
    return defect(kInvalidNumber, "Duree secondes: " + text + " is out of range");
  }
  base::TimePoint end;
  double duration = 0;
  if (d.fin) {
    if (*d.fin < start) {
      return defect(kEndBeforeStart,
                    "Fin: " + timestamp_text(*d.fin) + " is before Debut " + timestamp_text(start));
    }
    end = *d.fin;
    if (d.duree) {
      duration = *d.duree;  // as given, even when Fin - Debut says otherwise
    } else {
      std::int64_t diff = 0;
      const auto fin_count = std::chrono::duration_cast<nanoseconds>(d.fin->time_since_epoch());
      const auto start_count = std::chrono::duration_cast<nanoseconds>(start.time_since_epoch());
      if (__builtin_sub_overflow(fin_count.count(), start_count.count(), &diff)) {
        // Centuries apart: seconds first, so the subtraction cannot overflow.
        using std::chrono::seconds;
        const auto fin_s = std::chrono::floor<seconds>(fin_count);
        const auto start_s = std::chrono::floor<seconds>(start_count);
        duration =
            static_cast<double>((fin_s - start_s).count()) +
            static_cast<double>(((fin_count - fin_s) - (start_count - start_s)).count()) / 1e9;
      } else {
        duration = static_cast<double>(diff) / 1e9;
      }
    }
  } else {
    // Debut + Duree, to the nanosecond; beyond what a TimePoint holds (year 2262) is absurd.
    std::int64_t end_count = 0;
    const auto start_count = std::chrono::duration_cast<nanoseconds>(start.time_since_epoch());
    if (__builtin_add_overflow(start_count.count(), std::llround(*d.duree * 1e9), &end_count)) {
      std::string text;
      append_double(text, *d.duree);
      return defect(kInvalidNumber, "Duree secondes: " + text + " s after Debut is out of range");
    }
    end = base::TimePoint{
        std::chrono::duration_cast<base::TimePoint::duration>(nanoseconds{end_count})};
    duration = *d.duree;
  }
  duration = positive_zero(duration);
  const Etat etat = *d.etat;
  const std::optional<double> cpu =
      d.cpu ? std::optional<double>(positive_zero(*d.cpu)) : std::nullopt;

  // event.id: the same raw bytes always give the same id, whatever the padding or copy.
  const XXH128_hash_t hash = XXH3_128bits(raw.data(), raw.size());
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < sizeof canonical.digest; ++i) {
    s.event_id[2 * i] = kHex[canonical.digest[i] >> 4];
    s.event_id[2 * i + 1] = kHex[canonical.digest[i] & 0xF];
  }
  const std::string_view event_id(s.event_id, sizeof s.event_id);

  constexpr double kMiB = 1024.0 * 1024.0;
  const std::string_view etat_text = etat_name(etat);
  const Text zone = d.zone.value_or(Text{});
  const Text entreprise = d.entreprise.value_or(Text{});

  // The field order of BRIEF §3; one line, no spaces. The names the readers look up come from
  // enriched_schema.h, joined into the fragments at compile time.
  out.clear();
  s.start_text.clear();
  base::append_rfc3339_millis(s.start_text, start);
  out += schema::join<R"({")", schema::kTimestamp, R"(":")">;
  out += s.start_text;
  out += schema::join<R"(","@version":"1",")", schema::kEvent, R"(":{"id":")">;
  out += event_id;
  out += R"(","dataset":"ingestion-logs","kind":"event","outcome":")"sv;
  out += outcome_name(etat);
  out += R"(","start":")"sv;
  out += s.start_text;
  out += schema::join<R"(",")", schema::kEnd, R"(":")">;
  base::append_rfc3339_millis(out, end);
  out += schema::join<R"("},")", schema::kSource, R"(":{")", schema::kName, R"(":)">;
  append_text(out, *d.source);
  out += R"(,"type":)"sv;
  out += d.transformation && mentions_api(d.transformation->value) ? R"("api")"sv : R"("job")"sv;
  out += schema::join<R"(},")", schema::kObjet, R"(":{"id":)">;
  if (d.id) {
    append_int(out, *d.id);
  } else {
    out += "null"sv;
  }
  out += schema::join<R"(,")", schema::kName, R"(":)">;
  append_text(out, *d.objet);
  out += R"(,"transformation":)"sv;
  append_text_or_null(out, d.transformation);
  out += schema::join<R"(},")", schema::kEtat, R"(":")">;
  out += etat_text;
  out += R"(","etat_source":)"sv;
  append_text(out, *d.etat_text);
  out += schema::join<R"(,")", schema::kPerformance, R"(":{")", schema::kDureeSecondes, R"(":)">;
  append_double(out, duration);
  out += schema::join<R"(,")", schema::kCpuTimeSec, R"(":)">;
  if (cpu) {
    append_double(out, *cpu);
  } else {
    out += "null"sv;
  }
  out += schema::join<R"(,")", schema::kMemoryUsedBytes, R"(":)">;
  if (d.memory) {
    append_int(out, *d.memory);
    out += R"(,"memory_used_mb":)"sv;
    append_double(out, std::round(static_cast<double>(*d.memory) / kMiB * 100.0) / 100.0);
  } else {
    out += R"(null,"memory_used_mb":null)"sv;
  }
  out += schema::join<R"(},")", schema::kLabels, R"(":{")", schema::kEtat, R"(":")">;
  out += etat_text;
  out += schema::join<R"(",")", schema::kSource, R"(":)">;
  append_text(out, *d.source);
  // An empty label is no label (Prometheus, Loki): absent and "" are both left out.
  if (!zone.value.empty()) {
    out += schema::join<R"(,")", schema::kZone, R"(":)">;
    append_text(out, zone);
  }
  if (!entreprise.value.empty()) {
    out += schema::join<R"(,")", schema::kEntreprise, R"(":)">;
    append_text(out, entreprise);
  }
  out += R"(},"metrics":{"is_failed":)"sv;
  out += etat == Etat::kFailed ? '1' : '0';
  out += R"(,"is_success":)"sv;
  out += etat == Etat::kSuccess ? '1' : '0';
  out += R"(,"high_memory_usage":)"sv;
  out += d.memory && static_cast<double>(*d.memory) / kMiB > o.high_memory_mb ? '1' : '0';
  out += R"(,"high_cpu_usage":)"sv;
  out += cpu && *cpu > o.high_cpu_seconds ? '1' : '0';
  out += R"(},"description":)"sv;
  append_text(out, d.description.value_or(Text{"", true}));
  out += R"(,"pipeline":{"execution_id":)"sv;
  if (origin.execution_id.empty()) {
    out += "null"sv;
  } else {
    base::append_json_string(out, origin.execution_id);
  }
  out += R"(,"processed_at":")"sv;
  if (s.processed_at != origin.processed_at) {
    s.processed_at = origin.processed_at;
    s.processed_at_text.clear();
    base::append_rfc3339_millis(s.processed_at_text, origin.processed_at);
  }
  out += s.processed_at_text;
  out += R"(","enricher":)"sv;
  base::append_json_string(out, o.enricher_version);
  out += R"(,"raw":{"topic":)"sv;
  base::append_json_string(out, origin.topic);
  out += R"(,"partition":)"sv;
  append_int(out, origin.partition);
  out += R"(,"offset":)"sv;
  append_int(out, origin.offset);
  out += "}}}"sv;

  return RunFacts{
      .source = d.source->value,
      .objet = d.objet->value,
      .etat = etat_text,
      .zone = zone.value,
      .entreprise = entreprise.value,
      .start = start,
      .end = end,
      .duration_seconds = duration,
      .cpu_seconds = cpu,
      .memory_bytes = d.memory,
      .event_id = event_id,
  };
}

std::span<const std::string_view> enrich_defect_reasons() { return kDefectReasons; }

}  // namespace iw::events
