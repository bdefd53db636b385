#include "iw/base/json_escape.h"

#include <cstdint>

namespace iw::base {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at text[i], or 0 if it is not valid. Rejects
// overlong forms and surrogates, like simdjson does, so what we write parses back.
std::size_t valid_utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t lead = byte(i);
  const auto cont = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
  if (lead >= 0xC2 && lead <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const std::uint8_t second = byte(i + 1);
    if (lead == 0xE0 && second < 0xA0) return 0;   // overlong
    if (lead == 0xED && second >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const std::uint8_t second = byte(i + 1);
    if (lead == 0xF0 && second < 0x90) return 0;   // overlong
    if (lead == 0xF4 && second >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Bytes written as they are: printable ASCII but the quote and the backslash. UTF-8 is checked
// separately (copied as is when valid).
constexpr bool is_plain(std::uint8_t c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

void append_escaped(std::string& out, std::uint8_t c) {
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default: {
      const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(u, sizeof u);
    }
  }
}

}  // namespace

// Runs of bytes written as they are (printable ASCII, valid UTF-8) are copied at once; until
// 2026-12 every byte was pushed one at a time.
void append_json_string(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  std::size_t run = 0;  // the start of the bytes not yet copied
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    if (is_plain(c)) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t n = valid_utf8_length(text, i); n > 0) {
        i += n;
        continue;
      }
    }
    out.append(text.data() + run, i - run);
    if (c >= 0x80) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    } else {
      append_escaped(out, c);
    }
    run = ++i;
  }
  out.append(text.data() + run, i - run);
  out.push_back('"');
}

}  // namespace iw::base
