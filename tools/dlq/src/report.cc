#include "report.h"

#include <algorithm>
#include <vector>

#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::dlq {
namespace {

// Length of the well-formed UTF-8 sequence starting text[at], or 0 when there is none.
std::size_t utf8_sequence(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  // Bounds of the second byte per RFC 3629's table: they rule out overlongs, surrogates and
  // code points past U+10FFFF.
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

// Left-aligns `text` in a column of `width`, then the two spaces that separate columns.
void append_column(std::string& out, std::string_view text, std::size_t width) {
  out.append(text);
  // Width in characters, not bytes, so a column holding "é" stays aligned.
  std::size_t chars = 0;
  for (const char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  if (chars < width) out.append(width - chars, ' ');
  out.append("  ");
}

// Columns wide enough for the usual values; longer ones push the rest of the row right rather
// than being cut, since a cut topic name or key would mislead.
constexpr std::size_t kPositionWidth = 10;
constexpr std::size_t kTimeWidth = 24;
constexpr std::size_t kStageWidth = 11;
constexpr std::size_t kReasonWidth = 18;
constexpr std::size_t kOriginWidth = 30;
constexpr std::size_t kKeyWidth = 12;

std::string_view or_dash(std::string_view text) { return text.empty() ? "-" : text; }

// Largest count first, then by name, so the commonest problem leads.
std::vector<std::pair<std::string, std::uint64_t>> by_count(
    const std::map<std::string, std::uint64_t>& counts) {
  std::vector<std::pair<std::string, std::uint64_t>> out(counts.begin(), counts.end());
  std::ranges::stable_sort(out, [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string count_line(std::string_view label, const std::map<std::string, std::uint64_t>& counts) {
  std::string out(label);
  out.append(":");
  bool first = true;
  for (const auto& [name, count] : by_count(counts)) {
    out.append(first ? " " : ", ")
        .append(printable(name))
        .append(" ")
        .append(std::to_string(count));
    first = false;
  }
  out.append("\n");
  return out;
}

}  // namespace

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars == 0 ? text.size() : max_chars * 4));
  std::size_t chars = 0;
  std::size_t cut_at = std::string::npos;  // out.size() when 3 characters were left to go
  for (std::size_t i = 0; i < text.size();) {
    if (max_chars != 0 && chars + 3 == max_chars) cut_at = out.size();
    if (max_chars != 0 && chars == max_chars) {
      // Too long: end in "..." within the limit.
      out.resize(max_chars >= 3 ? cut_at : 0);
      out.append(std::min<std::size_t>(max_chars, 3), '.');
      return out;
    }
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else if (n == 1) {
      const auto c = static_cast<unsigned char>(text[i]);
      out.push_back(c < 0x20 || c == 0x7F ? ' ' : text[i]);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
    ++chars;
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto at = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3F]);
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    const std::uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 0x3F]);
    out.push_back(kAlphabet[(v >> 12) & 0x3F]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 0x3F] : '=');
    out.push_back('=');
  }
  return out;
}

std::string table_header() {
  std::string out;
  append_column(out, "DLQ", kPositionWidth);
  append_column(out, "DEAD-LETTERED", kTimeWidth);
  append_column(out, "STAGE", kStageWidth);
  append_column(out, "REASON", kReasonWidth);
  append_column(out, "ORIGIN", kOriginWidth);
  append_column(out, "KEY", kKeyWidth);
  out.append("ERROR\n");
  return out;
}

std::string table_row(const DeadLetter& record) {
  std::string out;
  append_column(out, std::to_string(record.partition) + "/" + std::to_string(record.offset),
                kPositionWidth);
  append_column(out, base::format_rfc3339_millis(record.dead_lettered_at()), kTimeWidth);
  append_column(out, printable(or_dash(record.letter.stage)), kStageWidth);
  append_column(out, printable(or_dash(record.letter.reason)), kReasonWidth);
  append_column(out, printable(record.origin()), kOriginWidth);
  append_column(out, record.key ? printable(or_dash(*record.key)) : "-", kKeyWidth);
  out.append(printable(or_dash(record.letter.error), kErrorColumnChars));
  // Columns pad to the right; a row should not end in spaces.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out.append("\n");
  return out;
}

std::string json_line(const kafka::Record& record) {
  std::string out = "{\"partition\":";
  out.append(std::to_string(record.partition()));
  out.append(",\"offset\":").append(std::to_string(record.offset()));
  out.append(",\"timestamp\":\"");
  base::append_rfc3339_millis(out, record.timestamp());
  out.append("\",\"key\":");
  if (const auto key = record.key()) {
    base::append_json_string(out, *key);
  } else {
    out.append("null");
  }
  out.append(",\"headers\":{");
  for (std::size_t i = 0; i < record.header_count(); ++i) {
    const kafka::HeaderView h = record.header_at(i);
    if (i > 0) out.push_back(',');
    base::append_json_string(out, h.key);
    out.push_back(':');
    base::append_json_string(out, h.value);
  }
  out.append("},\"value\":");
  base::append_json_string(out, record.value());
  if (!is_utf8(record.value())) out.append(",\"value_base64\":\"" + base64(record.value()) + "\"");
  out.append("}\n");
  return out;
}

void Tally::add(std::string_view stage, std::string_view reason) {
  ++counts_[{std::string(or_dash(stage)), std::string(or_dash(reason))}];
  ++total_;
}

std::string Tally::totals_text() const {
  std::map<std::string, std::uint64_t> reasons;
  std::map<std::string, std::uint64_t> stages;
  for (const auto& [key, count] : counts_) {
    stages[key.first] += count;
    reasons[key.second] += count;
  }
  std::string out = std::to_string(total_) + (total_ == 1 ? " record\n" : " records\n");
  if (total_ == 0) return out;
  out += count_line("by reason", reasons);
  out += count_line("by stage", stages);
  return out;
}

std::string Tally::summary_table() const {
  constexpr std::size_t kCountWidth = 7;
  std::string out;
  const auto row = [&](std::string_view stage, std::string_view reason, std::string count) {
    append_column(out, stage, kStageWidth);
    append_column(out, reason, kReasonWidth);
    if (count.size() < kCountWidth) out.append(kCountWidth - count.size(), ' ');
    out.append(count).append("\n");
  };
  row("STAGE", "REASON", "RECORDS");
  for (const auto& [key, count] : counts_) {
    row(printable(key.first), printable(key.second), std::to_string(count));
  }
  row("total", "", std::to_string(total_));
  return out;
}

std::string Tally::summary_json() const {
  std::string out = "{\"total\":" + std::to_string(total_) + ",\"counts\":[";
  bool first = true;
  for (const auto& [key, count] : counts_) {
    out.append(first ? "{\"stage\":" : ",{\"stage\":");
    base::append_json_string(out, key.first);
    out.append(",\"reason\":");
    base::append_json_string(out, key.second);
    out.append(",\"records\":").append(std::to_string(count)).append("}");
    first = false;
  }
  out.append("]}\n");
  return out;
}

}  // namespace iw::dlq
