#include "iw/events/timestamp.h"

#include <date/tz.h>

#include <charconv>

namespace iw::events {
namespace {

using std::chrono::minutes;
using std::chrono::nanoseconds;

// Reads exactly `digits` digits at `pos`; advances pos.
std::optional<int> read_fixed(std::string_view text, std::size_t& pos, std::size_t digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return value;
}

bool consume(std::string_view text, std::size_t& pos, char expected) {
  if (pos < text.size() && text[pos] == expected) {
    ++pos;
    return true;
  }
  return false;
}

// "+02:00", "+0200", "+02" (sign already known to be there).
std::optional<minutes> read_offset(std::string_view text, std::size_t& pos) {
  const int sign = text[pos] == '-' ? -1 : 1;
  ++pos;
  const auto hours = read_fixed(text, pos, 2);
  if (!hours || *hours > 23) return std::nullopt;
  int mins = 0;
  if (pos < text.size()) {
    consume(text, pos, ':');
    const auto m = read_fixed(text, pos, 2);
    if (!m || *m > 59) return std::nullopt;
    mins = *m;
  }
  return minutes{sign * (*hours * 60 + mins)};
}

std::unexpected<Defect> invalid(std::string_view text, std::string_view why) {
  std::string message = "not a timestamp (";
  message += why;
  message += "): '";
  message += text.substr(0, 64);
  message += "'";
  return defect("invalid_timestamp", std::move(message));
}

}  // namespace

base::Result<TimeZone> TimeZone::from_name(std::string_view name) {
  if (name == "UTC" || name == "Z" || name == "Etc/UTC") return utc();
  if (!name.empty() && (name[0] == '+' || name[0] == '-')) {
    std::size_t pos = 0;
    const auto offset = read_offset(name, pos);
    if (!offset || pos != name.size()) {
      return base::fail(base::ErrorCode::kInvalidInput,
                        "time zone '" + std::string(name) + "': expected an offset like +02:00");
    }
    return TimeZone(std::string(name), *offset, nullptr);
  }
  try {
    const date::time_zone* zone = date::locate_zone(std::string(name));
    return TimeZone(std::string(name), std::nullopt, zone);
  } catch (const std::exception& e) {
    return base::fail(
        base::ErrorCode::kInvalidInput,
        "time zone '" + std::string(name) + "': not in the system's tzdata (" + e.what() + ")");
  }
}

base::TimePoint TimeZone::resolve(std::chrono::local_time<nanoseconds> local) const {
  if (zone_ == nullptr) {
    return base::TimePoint{std::chrono::duration_cast<base::TimePoint::duration>(
        local.time_since_epoch() - fixed_offset_.value_or(minutes{0}))};
  }
  const date::local_time<nanoseconds> dlocal{local.time_since_epoch()};
  const date::local_info info = zone_->get_info(dlocal);
  nanoseconds since_epoch{};
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // first.offset is the earlier instant's offset
      since_epoch = local.time_since_epoch() - info.first.offset;
      break;
    case date::local_info::nonexistent:
      // Move forward by the gap: the reading before the jump, at the offset before it.
      since_epoch = local.time_since_epoch() - info.first.offset;
      break;
  }
  return base::TimePoint{std::chrono::duration_cast<base::TimePoint::duration>(since_epoch)};
}

DecodeResult<base::TimePoint> parse_timestamp(std::string_view text, const TimeZone& zone) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto y = read_fixed(text, pos, 4);
  if (!y || !consume(text, pos, '-')) return invalid(text, "expected YYYY-MM-DD");
  const auto mo = read_fixed(text, pos, 2);
  if (!mo || !consume(text, pos, '-')) return invalid(text, "expected YYYY-MM-DD");
  const auto d = read_fixed(text, pos, 2);
  if (!d) return invalid(text, "expected YYYY-MM-DD");
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)},
                           day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return invalid(text, "no such date");
  // A TimePoint counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11); further out the
  // arithmetic below would overflow.
  if (*y < 1678 || *y > 2261) return invalid(text, "year out of range");
  if (!(consume(text, pos, 'T') || consume(text, pos, 't') || consume(text, pos, ' '))) {
    return invalid(text, "expected 'T' or a space before the time");
  }
  const auto h = read_fixed(text, pos, 2);
  if (!h || !consume(text, pos, ':')) return invalid(text, "expected HH:MM");
  const auto mi = read_fixed(text, pos, 2);
  if (!mi) return invalid(text, "expected HH:MM");
  int s = 0;
  nanoseconds fraction{0};
  if (consume(text, pos, ':')) {
    const auto sec = read_fixed(text, pos, 2);
    if (!sec) return invalid(text, "expected seconds after ':'");
    s = *sec;
    if (consume(text, pos, '.') || consume(text, pos, ',')) {
      std::int64_t value = 0;
      int digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits < 9) {
          value = value * 10 + (text[pos] - '0');
          ++digits;
        }
        ++pos;
      }
      if (digits == 0) return invalid(text, "expected digits after the decimal point");
      for (int i = digits; i < 9; ++i) value *= 10;
      fraction = nanoseconds{value};
    }
  }
  // 60 would be a leap second, which system_clock cannot represent.
  if (*h > 23 || *mi > 59 || s > 59) return invalid(text, "time out of range");
  const auto local = local_days{ymd} + hours{*h} + minutes{*mi} + seconds{s} + fraction;

  if (pos == text.size()) return zone.resolve(local);
  std::chrono::minutes offset{0};
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const auto parsed = read_offset(text, pos);
    if (!parsed) return invalid(text, "bad UTC offset");
    offset = *parsed;
  } else {
    return invalid(text, "unexpected text after the time");
  }
  if (pos != text.size()) return invalid(text, "unexpected text after the offset");
  return base::TimePoint{
      duration_cast<base::TimePoint::duration>(local.time_since_epoch() - offset)};
}

}  // namespace iw::events
