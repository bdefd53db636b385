#include "iw/base/time_format.h"

#include <chrono>

namespace iw::base {
namespace {

// Fixed-width decimal, written by hand: this runs several times per enriched record, where
// snprintf's format parsing showed up as a few percent of the whole service.
char* put_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

}  // namespace

void append_rfc3339_millis(std::string& out, TimePoint t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const auto in_day = static_cast<unsigned>((ms - day).count());  // ms since midnight
  char buf[24];                                                   // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  char* p = put_digits(buf, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  p = put_digits(p, in_day / 3'600'000, 2);
  *p++ = ':';
  p = put_digits(p, in_day / 60'000 % 60, 2);
  *p++ = ':';
  p = put_digits(p, in_day / 1000 % 60, 2);
  *p++ = '.';
  p = put_digits(p, in_day % 1000, 3);
  *p++ = 'Z';
  out.append(buf, static_cast<std::size_t>(p - buf));
}

std::string format_rfc3339_millis(TimePoint t) {
  std::string out;
  append_rfc3339_millis(out, t);
  return out;
}

}  // namespace iw::base
