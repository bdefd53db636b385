#include "iw/loggen/record.h"

#include <charconv>
#include <chrono>
#include <cmath>

#include "iw/base/check.h"
#include "iw/base/json_escape.h"

namespace iw::loggen {
namespace {

// Fixed-width digits without snprintf: this runs twice per record on the benchmark path.
void append_digits(std::string& out, unsigned value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

void append_int(std::string& out, std::int64_t value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace

void append_connector_timestamp(std::string& out, base::TimePoint t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  const int year = static_cast<int>(ymd.year());
  IW_CHECK(year >= 0 && year <= 9999, "timestamp year out of range");
  append_digits(out, static_cast<unsigned>(year), 4);
  out.push_back('-');
  append_digits(out, static_cast<unsigned>(ymd.month()), 2);
  out.push_back('-');
  append_digits(out, static_cast<unsigned>(ymd.day()), 2);
  out.push_back(' ');
  append_digits(out, static_cast<unsigned>(hms.hours().count()), 2);
  out.push_back(':');
  append_digits(out, static_cast<unsigned>(hms.minutes().count()), 2);
  out.push_back(':');
  append_digits(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out.push_back('.');
  append_digits(out, static_cast<unsigned>(hms.subseconds().count()), 3);
}

void append_json_double(std::string& out, double value) {
  IW_CHECK(std::isfinite(value), "JSON has no NaN or infinity");
  char buf[64];
  // Fixed notation, shortest round-trip digits: what Python's repr gives for the magnitudes
  // found in run records, and never an exponent that a naive reader would trip on.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  IW_CHECK(ec == std::errc{}, "double does not fit the buffer");
  out.append(buf, end);
  if (std::string_view(buf, end).find('.') == std::string_view::npos) out += ".0";
}

void append_record(std::string& out, const RunRecord& record) {
  out += "{\"ID\": ";
  append_int(out, record.id);
  out += ", \"Source\": ";
  base::append_json_string(out, record.source);
  out += ", \"Objet\": ";
  base::append_json_string(out, record.objet);
  out += ", \"Transformation\": ";
  base::append_json_string(out, record.transformation);
  out += ", \"Etat\": ";
  base::append_json_string(out, record.etat);
  out += ", \"Debut\": \"";
  append_connector_timestamp(out, record.debut);
  out += "\", \"Fin\": \"";
  append_connector_timestamp(out, record.fin);
  out += "\", \"Duree secondes\": ";
  append_json_double(out, record.duree_secondes);
  out += ", \"cpu_time\": ";
  append_json_double(out, record.cpu_time);
  out += ", \"memory_used\": ";
  append_int(out, record.memory_used);
  out += ", \"Description\": ";
  base::append_json_string(out, record.description);
  out += ", \"Zone\": ";
  base::append_json_string(out, record.zone);
  out += ", \"Entreprise\": ";
  base::append_json_string(out, record.entreprise);
  out += '}';
}

}  // namespace iw::loggen
