#include "iw/trace/trace_context.h"

#include <random>

namespace iw::trace {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void write_hex(char* out, std::uint64_t value, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[value & 0xF];
    value >>= 4;
  }
}

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

bool all_zero(std::string_view text) {
  return text.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

IdGenerator::IdGenerator()
    : state_((std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

std::uint64_t IdGenerator::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

TraceParent TraceParent::start(IdGenerator& ids, bool sampled) {
  TraceParent tp;
  char* p = tp.text_.data();
  p[0] = '0';
  p[1] = '0';
  p[2] = '-';
  // An all-zero trace or span id is invalid; with 64 random bits per half that never happens
  // in practice, but the spec says so and it costs nothing to honour.
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  while (hi == 0 && lo == 0) {
    hi = ids.next();
    lo = ids.next();
  }
  write_hex(p + 3, hi, 16);
  write_hex(p + 19, lo, 16);
  p[35] = '-';
  std::uint64_t span = 0;
  while (span == 0) span = ids.next();
  write_hex(p + 36, span, 16);
  p[52] = '-';
  p[53] = '0';
  p[54] = sampled ? '1' : '0';
  return tp;
}

std::optional<TraceParent> TraceParent::parse(std::string_view text) {
  if (text.size() != kSize || text.substr(0, 3) != "00-" || text[35] != '-' || text[52] != '-') {
    return std::nullopt;
  }
  const std::string_view trace_id = text.substr(3, 32);
  const std::string_view span_id = text.substr(36, 16);
  const std::string_view flags = text.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags) ||
      all_zero(trace_id) || all_zero(span_id)) {
    return std::nullopt;
  }
  TraceParent tp;
  text.copy(tp.text_.data(), kSize);
  return tp;
}

bool TraceParent::sampled() const { return (hex_value(text_[54]) & 1) != 0; }

TraceParent TraceParent::with_sampled(bool sampled) const {
  TraceParent tp = *this;
  const int flags = (hex_value(text_[54]) & ~1) | (sampled ? 1 : 0);
  tp.text_[54] = kHex[flags];
  return tp;
}

TraceParent TraceParent::child(IdGenerator& ids) const {
  TraceParent tp = *this;
  std::uint64_t span = 0;
  while (span == 0) span = ids.next();
  write_hex(tp.text_.data() + 36, span, 16);
  return tp;
}

TraceParent TraceParent::child_of_or_start(std::string_view traceparent, IdGenerator& ids) {
  const auto parent = parse(traceparent);  // "" is no traceparent
  return parent ? parent->child(ids) : start(ids);
}

Uuid Uuid::random(IdGenerator& ids) {
  std::uint64_t hi = ids.next();
  std::uint64_t lo = ids.next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;              // version 4
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // RFC 4122 variant
  Uuid uuid;
  char* p = uuid.text_.data();
  write_hex(p, hi >> 32, 8);
  p[8] = '-';
  write_hex(p + 9, (hi >> 16) & 0xFFFF, 4);
  p[13] = '-';
  write_hex(p + 14, hi & 0xFFFF, 4);
  p[18] = '-';
  write_hex(p + 19, lo >> 48, 4);
  p[23] = '-';
  write_hex(p + 24, lo & 0xFFFFFFFFFFFFULL, 12);
  return uuid;
}

}  // namespace iw::trace
