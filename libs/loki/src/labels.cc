#include "iw/loki/labels.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>

namespace iw::loki {
namespace {

using base::ErrorCode;

constexpr char kHex[] = "0123456789abcdef";

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// A cursor over a label selector; every error names the byte offset where reading stopped.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  [[nodiscard]] std::size_t pos() const { return pos_; }
  [[nodiscard]] bool done() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return done() ? '\0' : text_[pos_]; }
  void skip_blanks() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool accept(char c) {
    if (peek() != c || done()) return false;
    ++pos_;
    return true;
  }

  std::unexpected<base::Error> error(std::string_view what) const {
    return base::fail(ErrorCode::kInvalidInput, "label selector at offset " + std::to_string(pos_) +
                                                    ": " + std::string(what));
  }

  base::Result<std::string> name() {
    const std::size_t start = pos_;
    if (!is_name_start(peek())) return error("expected a label name");
    while (!done() && is_name_char(peek())) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  // A Go interpreted string literal ("...") or a raw one (`...`), as LogQL reads them.
  base::Result<std::string> value() {
    std::string out;
    if (accept('`')) {
      const std::size_t end = text_.find('`', pos_);
      if (end == std::string_view::npos) return error("unterminated raw string");
      out.assign(text_.substr(pos_, end - pos_));
      pos_ = end + 1;
      return out;
    }
    if (!accept('"')) return error("expected a quoted label value");
    while (true) {
      if (done()) return error("unterminated label value");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c == '\n') return error("newline in label value");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (done()) return error("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '"':
          out += '"';
          break;
        case 'x': {
          const int code = hex_digits(2);
          if (code < 0) return error("bad \\x escape");
          out += static_cast<char>(code);
          break;
        }
        case 'u':
        case 'U': {
          const int code = hex_digits(e == 'u' ? 4 : 8);
          if (code < 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return error("bad unicode escape");
          }
          append_utf8(out, static_cast<std::uint32_t>(code));
          break;
        }
        default: {
          if (e < '0' || e > '7') return error(std::string("unknown escape \\") + e);
          int code = e - '0';
          for (int i = 0; i < 2; ++i) {
            if (done() || peek() < '0' || peek() > '7') return error("bad octal escape");
            code = code * 8 + (text_[pos_++] - '0');
          }
          if (code > 255) return error("bad octal escape");
          out += static_cast<char>(code);
        }
      }
    }
  }

 private:
  int hex_digits(int count) {
    int code = 0;
    for (int i = 0; i < count; ++i) {
      if (done()) return -1;
      const int digit = hex_value(text_[pos_++]);
      if (digit < 0) return -1;
      code = code * 16 + digit;
    }
    return code;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

bool is_valid_label_name(std::string_view name) {
  return !name.empty() && is_name_start(name.front()) && std::ranges::all_of(name, is_name_char);
}

void sort_labels(LabelSet& labels) { std::ranges::stable_sort(labels, {}, &Label::name); }

base::Status validate_labels(const LabelSet& labels, const LabelLimits& limits) {
  auto invalid = [](std::string message) {
    return base::fail(ErrorCode::kInvalidInput, std::move(message));
  };
  if (labels.empty()) return invalid("a stream needs at least one label");
  if (labels.size() > limits.max_labels) {
    return invalid(std::to_string(labels.size()) + " labels, more than the limit of " +
                   std::to_string(limits.max_labels));
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Label& label = labels[i];
    if (!is_valid_label_name(label.name)) {
      return invalid("label name '" + label.name + "' is not [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if (label.name.size() > limits.max_name_length) {
      return invalid("label name '" + label.name.substr(0, 64) + "...' is longer than " +
                     std::to_string(limits.max_name_length) + " bytes");
    }
    if (i > 0 && labels[i - 1].name >= label.name) {
      return invalid(labels[i - 1].name == label.name ? "label " + label.name + " appears twice"
                                                      : "labels are not sorted by name");
    }
    if (label.value.empty()) return invalid("label " + label.name + " has an empty value");
    if (label.value.size() > limits.max_value_length) {
      return invalid("label " + label.name + " has a value of " +
                     std::to_string(label.value.size()) + " bytes, more than the limit of " +
                     std::to_string(limits.max_value_length));
    }
    if (!simdjson::validate_utf8(label.value.data(), label.value.size())) {
      return invalid("label " + label.name + " has a value that is not valid UTF-8");
    }
  }
  return {};
}

std::string format_labels(const LabelSet& labels) {
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += labels[i].name;
    out += "=\"";
    for (const char c : labels[i].value) {
      const auto byte = static_cast<unsigned char>(c);
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
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          if (byte < 0x20 || byte == 0x7F) {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
          } else {
            out += c;
          }
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

base::Result<LabelSet> parse_labels(std::string_view text, std::size_t* consumed) {
  Reader in(text);
  in.skip_blanks();
  if (!in.accept('{')) return in.error("expected '{'");
  LabelSet labels;
  in.skip_blanks();
  if (!in.accept('}')) {
    while (true) {
      in.skip_blanks();
      auto name = in.name();
      if (!name) return std::unexpected(std::move(name).error());
      in.skip_blanks();
      if (!in.accept('=')) return in.error("expected '=' after " + *name);
      in.skip_blanks();
      auto value = in.value();
      if (!value) return std::unexpected(std::move(value).error());
      labels.push_back(Label{std::move(*name), std::move(*value)});
      in.skip_blanks();
      if (in.accept('}')) break;
      if (!in.accept(',')) return in.error("expected ',' or '}'");
    }
  }
  if (consumed != nullptr) {
    *consumed = in.pos();
  } else {
    in.skip_blanks();
    if (!in.done()) return in.error("text after the closing '}'");
  }
  sort_labels(labels);
  return labels;
}

}  // namespace iw::loki
