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

std::optional<std::chrono::sys_time<std::chrono::milliseconds>> parse_rfc3339_millis(
    std::string_view text) {
  auto digits = [text](std::size_t pos, std::size_t count, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || text.size() < 20 || text[4] != '-' || !digits(5, 2, month) ||
      text[7] != '-' || !digits(8, 2, day) || text[10] != 'T' || !digits(11, 2, hour) ||
      text[13] != ':' || !digits(14, 2, minute) || text[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (text[pos] == '.') {
    ++pos;
    int scale = 100;
    const std::size_t first = pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, scale /= 10) {
      if (scale == 0) return std::nullopt;  // finer than a millisecond
      millis += (text[pos] - '0') * scale;
    }
    if (pos == first) return std::nullopt;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second} + std::chrono::milliseconds{millis};
}

}  // namespace iw::base
