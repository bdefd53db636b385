#include "record_parse.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <set>

namespace iw::loggen::testing {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 13> kFields = {
    "ID",          "Source", "Objet",          "Transformation", "Etat",
    "Debut",       "Fin",    "Duree secondes", "cpu_time",       "memory_used",
    "Description", "Zone",   "Entreprise"};

bool digits(std::string_view text, std::size_t at, std::size_t n, int& value) {
  if (at + n > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

std::optional<base::TimePoint> make_time(int y, int mo, int d, int h, int mi, int s, int ms) {
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return base::TimePoint{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms};
}

// ISO 8601 as the brief allows it: date, 'T' or ' ', hh:mm[:ss[.fraction]], optional Z or
// ±hh:mm. Naive times are UTC (the default time zone).
std::optional<base::TimePoint> parse_iso8601(std::string_view t) {
  int y, mo, d, h, mi, s = 0, ms = 0;
  if (!digits(t, 0, 4, y) || t.size() < 16 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || (t[10] != 'T' && t[10] != ' ') || !digits(t, 11, 2, h) ||
      t[13] != ':' || !digits(t, 14, 2, mi)) {
    return std::nullopt;
  }
  std::size_t at = 16;
  if (at < t.size() && t[at] == ':') {
    if (!digits(t, at + 1, 2, s)) return std::nullopt;
    at += 3;
    if (at < t.size() && t[at] == '.') {
      ++at;
      int scale = 100;
      const std::size_t first = at;
      while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
        ms += (t[at] - '0') * scale;
        scale /= 10;
        ++at;
      }
      if (at == first) return std::nullopt;
    }
  }
  auto result = make_time(y, mo, d, h, mi, s, ms);
  if (!result) return std::nullopt;
  if (at == t.size()) return result;
  if (t[at] == 'Z' && at + 1 == t.size()) return result;
  int oh, om;
  if ((t[at] == '+' || t[at] == '-') && at + 6 == t.size() && digits(t, at + 1, 2, oh) &&
      t[at + 3] == ':' && digits(t, at + 4, 2, om)) {
    const minutes offset{oh * 60 + om};
    return t[at] == '+' ? *result - offset : *result + offset;
  }
  return std::nullopt;
}

// A JSON number, or a string holding one (decimal point or comma).
std::optional<double> lenient_number(simdjson::dom::element value) {
  double number;
  if (value.get_double().get(number) == simdjson::SUCCESS) return number;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  std::string copy{text};
  for (char& c : copy) {
    if (c == ',') c = '.';
  }
  const auto [end, ec] = std::from_chars(copy.data(), copy.data() + copy.size(), number);
  if (ec != std::errc{} || end != copy.data() + copy.size()) return std::nullopt;
  return number;
}

}  // namespace

std::optional<base::TimePoint> parse_connector_timestamp(std::string_view t) {
  int y, mo, d, h, mi, s, ms;
  if (t.size() != 23 || !digits(t, 0, 4, y) || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || t[10] != ' ' || !digits(t, 11, 2, h) || t[13] != ':' ||
      !digits(t, 14, 2, mi) || t[16] != ':' || !digits(t, 17, 2, s) || t[19] != '.' ||
      !digits(t, 20, 3, ms)) {
    return std::nullopt;
  }
  return make_time(y, mo, d, h, mi, s, ms);
}

std::expected<ParsedRecord, std::string> parse_strict(simdjson::dom::element record) {
  simdjson::dom::object object;
  if (record.get_object().get(object) != simdjson::SUCCESS) {
    return std::unexpected("not an object");
  }
  std::set<std::string_view> seen;
  for (auto [key, value] : object) {
    if (!seen.insert(key).second) return std::unexpected("duplicate " + std::string(key));
  }
  if (seen != std::set<std::string_view>(kFields.begin(), kFields.end())) {
    return std::unexpected("field set differs from BRIEF §2");
  }
  ParsedRecord out;
  const auto string_field = [&](std::string_view name, std::string& to) -> bool {
    std::string_view view;
    if (object[name].get_string().get(view) != simdjson::SUCCESS) return false;
    to = view;
    return true;
  };
  const auto time_field = [&](std::string_view name, base::TimePoint& to) -> bool {
    std::string text;
    if (!string_field(name, text)) return false;
    const auto parsed = parse_connector_timestamp(text);
    if (!parsed) return false;
    to = *parsed;
    return true;
  };
  // Floats must be JSON doubles ("2.0", never "2"), as Python writes them.
  const auto double_field = [&](std::string_view name, double& to) -> bool {
    return object[name].type() == simdjson::dom::element_type::DOUBLE &&
           object[name].get_double().get(to) == simdjson::SUCCESS;
  };
  if (object["ID"].get_int64().get(out.id) != simdjson::SUCCESS) {
    return std::unexpected("ID");
  }
  if (!string_field("Source", out.source)) return std::unexpected("Source");
  if (!string_field("Objet", out.objet)) return std::unexpected("Objet");
  if (!string_field("Transformation", out.transformation)) {
    return std::unexpected("Transformation");
  }
  if (!string_field("Etat", out.etat)) return std::unexpected("Etat");
  if (!time_field("Debut", out.debut)) return std::unexpected("Debut");
  if (!time_field("Fin", out.fin)) return std::unexpected("Fin");
  if (!double_field("Duree secondes", out.duree_secondes)) {
    return std::unexpected("Duree secondes");
  }
  if (!double_field("cpu_time", out.cpu_time)) return std::unexpected("cpu_time");
  if (object["memory_used"].type() != simdjson::dom::element_type::INT64 ||
      object["memory_used"].get_int64().get(out.memory_used) != simdjson::SUCCESS) {
    return std::unexpected("memory_used");
  }
  if (!string_field("Description", out.description)) return std::unexpected("Description");
  if (!string_field("Zone", out.zone)) return std::unexpected("Zone");
  if (!string_field("Entreprise", out.entreprise)) return std::unexpected("Entreprise");
  return out;
}

std::expected<ParsedRecord, std::string> parse_strict(std::string_view json) {
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json.data(), json.size()).get(element) != simdjson::SUCCESS) {
    return std::unexpected("invalid JSON");
  }
  return parse_strict(element);
}

std::optional<std::string> brief_violation(simdjson::dom::element record) {
  simdjson::dom::object object;
  if (record.get_object().get(object) != simdjson::SUCCESS) return "not an object";
  for (const std::string_view name : {"Source", "Objet", "Etat"}) {
    simdjson::dom::element value;
    if (object[name].get(value) != simdjson::SUCCESS) return std::string(name) + " missing";
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
      return std::string(name) + " is not a non-empty string";
    }
  }
  simdjson::dom::element debut_value;
  if (object["Debut"].get(debut_value) != simdjson::SUCCESS) return "Debut missing";
  std::string_view debut_text;
  if (debut_value.get_string().get(debut_text) != simdjson::SUCCESS) {
    return "Debut is not a string";
  }
  const auto debut = parse_iso8601(debut_text);
  if (!debut) return "Debut is not an ISO 8601 timestamp";

  std::optional<base::TimePoint> fin;
  simdjson::dom::element fin_value;
  if (object["Fin"].get(fin_value) == simdjson::SUCCESS) {
    std::string_view text;
    if (fin_value.get_string().get(text) != simdjson::SUCCESS) return "Fin is not a string";
    fin = parse_iso8601(text);
    if (!fin) return "Fin is not an ISO 8601 timestamp";
    if (*fin < *debut) return "end before start";
  }
  simdjson::dom::element duree_value;
  if (object["Duree secondes"].get(duree_value) == simdjson::SUCCESS) {
    const auto duree = lenient_number(duree_value);
    if (!duree) return "Duree secondes is not a number";
    if (*duree < 0) return "negative duration";
  } else if (!fin) {
    return "neither Fin nor Duree secondes";
  }
  for (const std::string_view name : {"cpu_time", "memory_used"}) {
    simdjson::dom::element value;
    if (object[name].get(value) == simdjson::SUCCESS && !lenient_number(value)) {
      return std::string(name) + " is not a number";
    }
  }
  return std::nullopt;
}

}  // namespace iw::loggen::testing
