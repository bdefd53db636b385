#include "iw/logfile/splitter.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "iw/base/check.h"

namespace iw::logfile {
namespace {

constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

using ByteTable = std::array<std::uint8_t, 256>;

constexpr std::uint8_t u8(char c) { return static_cast<std::uint8_t>(c); }

// Classes of the bytes that matter inside an object or array element, outside its strings.
enum : std::uint8_t { kPlain = 0, kOpen, kClose, kQuote, kNewline };

constexpr ByteTable make_value_classes() {
  ByteTable table{};
  table[u8('{')] = kOpen;
  table[u8('[')] = kOpen;
  table[u8('}')] = kClose;
  table[u8(']')] = kClose;
  table[u8('"')] = kQuote;
  table[u8('\n')] = kNewline;
  return table;
}

constexpr ByteTable make_table(std::string_view bytes) {
  ByteTable table{};
  for (const char c : bytes) table[u8(c)] = 1;
  return table;
}

constexpr ByteTable kValueClass = make_value_classes();
// Bytes that end a run of plain string content.
constexpr ByteTable kStringSpecial = make_table("\"\\\n");
// A number or literal can only hold [0-9a-zA-Z+-.]; ending it at any structural byte (not just
// `,` `]` and whitespace) lets a missing comma before `{` or `"` resynchronise on the next
// element instead of gluing the two together.
constexpr ByteTable kScalarEnd = make_table(" \t\r\n,]}[{\"");

}  // namespace

RecordSplitter::RecordSplitter(ReaderOptions options)
    : options_(options), capacity_(0), format_(options.format) {
  IW_CHECK(options_.max_record_bytes > 0, "max_record_bytes must be at least 1");
  IW_CHECK(options_.chunk_bytes > 0, "chunk_bytes must be at least 1");
  IW_CHECK(options_.max_record_bytes <= std::numeric_limits<std::size_t>::max() / 4 &&
               options_.chunk_bytes <= std::numeric_limits<std::size_t>::max() / 4,
           "max_record_bytes and chunk_bytes must fit in memory");
  // A record still being scanned is never longer than max_record_bytes when input is asked
  // for (bound_open_record() sees to that), so one chunk always fits after it.
  capacity_ = options_.max_record_bytes + options_.chunk_bytes;
  // Value-initialised, so the padding simdjson may read is never uninitialised memory.
  buf_ = std::make_unique<char[]>(capacity_ + kReadablePadding);
}

void RecordSplitter::reset() {
  end_ = 0;
  pos_ = 0;
  base_offset_ = 0;
  line_ = 1;
  finished_ = false;
  wants_input_ = false;
  format_ = options_.format;
  state_ = State::kDetect;
  rec_start_ = 0;
  rec_line_ = 0;
  rec_offset_ = 0;
  skipping_ = false;
  hashing_ = false;
  hashed_to_ = 0;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

bool RecordSplitter::needs_input() const { return wants_input_; }

bool RecordSplitter::at_end() const { return state_ == State::kDone; }

std::span<char> RecordSplitter::input_space() {
  IW_CHECK(!finished_, "input after finish()");
  if (record_open() && skipping_) {
    // The head stays at the start of the buffer; what was scanned after it goes into the hash
    // and is dropped. base_offset_ keeps buf_[pos_] at its input offset.
    hash_through(pos_);
    const std::size_t head = options_.max_record_bytes;
    char* const base = buf_.get();
    if (rec_start_ > 0) std::memmove(base, base + rec_start_, head);
    std::memmove(base + head, base + pos_, end_ - pos_);
    base_offset_ += pos_ - head;
    end_ = head + (end_ - pos_);
    pos_ = head;
    rec_start_ = 0;
    hashed_to_ = head;
    IW_CHECK(capacity_ - end_ >= options_.chunk_bytes,
             "input_space() called before next() asked for input");
    return {buf_.get() + end_, options_.chunk_bytes};
  }
  const bool keep_record = record_open();
  const std::size_t keep_from = keep_record ? rec_start_ : pos_;
  if (keep_from > 0) {
    std::memmove(buf_.get(), buf_.get() + keep_from, end_ - keep_from);
    base_offset_ += keep_from;
    end_ -= keep_from;
    pos_ -= keep_from;
    rec_start_ = keep_record ? rec_start_ - keep_from : 0;
    if (hashing_) hashed_to_ -= keep_from;
  }
  IW_CHECK(capacity_ - end_ >= options_.chunk_bytes,
           "input_space() called before next() asked for input");
  return {buf_.get() + end_, options_.chunk_bytes};
}

void RecordSplitter::commit(std::size_t n) {
  IW_CHECK(!finished_, "input after finish()");
  IW_CHECK(n <= options_.chunk_bytes && n <= capacity_ - end_, "commit() beyond input_space()");
  end_ += n;
  wants_input_ = false;
}

std::size_t RecordSplitter::feed(std::string_view bytes) {
  const std::span<char> space = input_space();
  const std::size_t n = std::min(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), n);
  commit(n);
  return n;
}

void RecordSplitter::finish() {
  finished_ = true;
  wants_input_ = false;
}

bool RecordSplitter::detect_format() {
  if (state_ != State::kDetect) return true;
  if (scan_detect()) return true;
  if (finished_) {
    format_ = options_.format == Format::kAuto ? Format::kNdjson : options_.format;
    state_ = State::kDone;
    return true;
  }
  wants_input_ = true;
  return false;
}

std::optional<RawRecord> RecordSplitter::next() {
  wants_input_ = false;
  for (;;) {
    if (auto record = scan()) return record;
    if (state_ == State::kDone) return std::nullopt;
    if (finished_) {
      if (auto record = at_eof()) return record;
      continue;
    }
    if (auto record = bound_open_record()) return record;
    wants_input_ = true;
    return std::nullopt;
  }
}

bool RecordSplitter::record_open() const {
  switch (state_) {
    case State::kNdLine:
    case State::kArrValue:
    case State::kArrScalar:
    case State::kArrStretch:
    case State::kJunk:
      return true;
    default:
      return false;
  }
}

void RecordSplitter::open_record(State state) {
  state_ = state;
  rec_start_ = pos_;
  rec_line_ = line_;
  rec_offset_ = base_offset_ + pos_;
  skipping_ = false;
  hashing_ = false;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

RawRecord RecordSplitter::make_record(std::size_t end, std::optional<Problem> problem) const {
  while (end > rec_start_ && is_space(buf_[end - 1])) --end;
  const std::string_view whole(buf_.get() + rec_start_, end - rec_start_);
  if (whole.size() <= options_.max_record_bytes) {
    return RawRecord{
        .bytes = whole, .line = rec_line_, .byte_offset = rec_offset_, .problem = problem};
  }
  // Found whole within the buffer: longer than the limit all the same.
  return RawRecord{
      .bytes = whole.substr(0, options_.max_record_bytes),
      .line = rec_line_,
      .byte_offset = rec_offset_,
      .problem = problem == Problem::kUnexpectedContent ? problem : Problem::kOversized,
      .overflow = Overflow{.size = whole.size(), .sha256 = base::sha256(whole)}};
}

void RecordSplitter::hash_through(std::size_t to) {
  const char* const base = buf_.get();
  std::size_t last = to;
  while (last > hashed_to_ && is_space(base[last - 1])) --last;
  if (last > hashed_to_) {
    // Text: the whitespace pending before it is part of the record after all.
    hash_all_.update(std::string_view(base + hashed_to_, last - hashed_to_));
    size_all_ += last - hashed_to_;
    hash_kept_ = hash_all_;
    size_kept_ = size_all_;
  }
  hash_all_.update(std::string_view(base + last, to - last));
  size_all_ += to - last;
  hashed_to_ = to;
}

RawRecord RecordSplitter::empty_record(std::optional<Problem> problem) const {
  return RawRecord{.bytes = std::string_view(buf_.get() + pos_, 0),
                   .line = line_,
                   .byte_offset = base_offset_ + pos_,
                   .problem = problem};
}

std::optional<RawRecord> RecordSplitter::complete(std::size_t end, std::optional<Problem> problem,
                                                  State next_state) {
  state_ = next_state;
  if (!hashing_) return make_record(end, problem);
  hashing_ = false;
  skipping_ = false;
  hash_through(end);
  // Only whitespace went past the limit: an ordinary record, trimmed as any other.
  if (size_kept_ <= options_.max_record_bytes) return make_record(end, problem);
  return RawRecord{
      .bytes = std::string_view(buf_.get() + rec_start_, options_.max_record_bytes),
      .line = rec_line_,
      .byte_offset = rec_offset_,
      .problem = problem == Problem::kUnexpectedContent ? problem : Problem::kOversized,
      .overflow = Overflow{.size = size_kept_, .sha256 = hash_kept_.digest()}};
}

std::optional<RawRecord> RecordSplitter::bound_open_record() {
  if (!record_open() || skipping_) return std::nullopt;
  const std::size_t limit = rec_start_ + options_.max_record_bytes;
  if (end_ <= limit) return std::nullopt;
  IW_CHECK(pos_ == end_, "an open record was not scanned to the end of the input");
  if (!hashing_) {
    hashing_ = true;
    hashed_to_ = rec_start_;
    hash_kept_.reset();
    hash_all_.reset();
    size_kept_ = 0;
    size_all_ = 0;
  }
  hash_through(end_);
  if (size_kept_ > options_.max_record_bytes) {
    // Longer than the limit: from now on only its head is kept (input_space()); the record is
    // reported when it ends, with its whole size and hash.
    skipping_ = true;
    return std::nullopt;
  }
  // Only whitespace past the limit: it can only end up trimmed off, or, if more text follows,
  // be part of an oversized record, whose bytes are its first max_record_bytes and whose hash
  // already holds it. No need to keep it.
  base_offset_ += end_ - limit;
  end_ = limit;
  pos_ = limit;
  hashed_to_ = limit;
  return std::nullopt;
}

void RecordSplitter::skip_whitespace() {
  const char* const base = buf_.get();
  while (pos_ < end_) {
    const char c = base[pos_];
    if (c == '\n') {
      ++line_;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return;
    }
    ++pos_;
  }
}

std::optional<RawRecord> RecordSplitter::scan() {
  for (;;) {
    switch (state_) {
      case State::kDetect:
        if (!scan_detect()) return std::nullopt;
        break;
      case State::kNdBetween:
      case State::kNdLine:
        return scan_ndjson();
      case State::kDone:
        return std::nullopt;
      default:
        return scan_array();
    }
  }
}

bool RecordSplitter::scan_detect() {
  if (base_offset_ + pos_ == 0) {
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    const std::size_t n = std::min(end_ - pos_, kBom.size());
    if (std::string_view(buf_.get() + pos_, n) == kBom.substr(0, n)) {
      if (n == kBom.size()) {
        pos_ += n;
      } else if (!finished_) {
        return false;
      }
    }
  }
  skip_whitespace();
  if (pos_ == end_) return false;
  if (format_ == Format::kAuto) {
    format_ = buf_[pos_] == '[' ? Format::kJsonArray : Format::kNdjson;
  }
  state_ = format_ == Format::kNdjson ? State::kNdBetween : State::kArrStart;
  return true;
}

std::optional<RawRecord> RecordSplitter::scan_ndjson() {
  for (;;) {
    if (state_ == State::kNdBetween) {
      skip_whitespace();
      if (pos_ == end_) return std::nullopt;
      open_record(State::kNdLine);
    }
    const char* const base = buf_.get();
    const void* newline = std::memchr(base + pos_, '\n', end_ - pos_);
    if (newline == nullptr) {
      pos_ = end_;
      return std::nullopt;
    }
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(newline) - base);
    pos_ = at + 1;
    ++line_;
    if (auto record = complete(at, std::nullopt, State::kNdBetween)) return record;
  }
}

std::optional<RawRecord> RecordSplitter::scan_array() {
  for (;;) {
    switch (state_) {
      case State::kArrStart:
        skip_whitespace();
        if (pos_ == end_) return std::nullopt;
        if (buf_[pos_] == '[') {
          ++pos_;
          state_ = State::kArrExpect;
        } else {
          open_record(State::kJunk);
        }
        break;
      case State::kArrExpect: {
        skip_whitespace();
        if (pos_ == end_) return std::nullopt;
        const char c = buf_[pos_];
        if (c == ',') {
          // An empty element (`[,`, `,,`, `,]`) holds no record bytes: nothing to report.
          ++pos_;
        } else if (c == ']') {
          ++pos_;
          state_ = State::kArrClosed;
        } else if (c == '{' || c == '[') {
          open_record(State::kArrValue);
          depth_ = 1;
          ++pos_;
        } else if (c == '"') {
          open_record(State::kArrValue);
          in_string_ = true;
          ++pos_;
        } else if (c == '}') {
          open_record(State::kArrStretch);
        } else {
          open_record(State::kArrScalar);
          ++pos_;
        }
        break;
      }
      case State::kArrAfter: {
        skip_whitespace();
        if (pos_ == end_) return std::nullopt;
        const char c = buf_[pos_];
        if (c == ',') {
          ++pos_;
          state_ = State::kArrExpect;
        } else if (c == ']') {
          ++pos_;
          state_ = State::kArrClosed;
        } else {
          open_record(State::kArrStretch);
        }
        break;
      }
      case State::kArrValue:
        if (auto record = scan_value()) return record;
        if (state_ == State::kArrValue) return std::nullopt;
        break;
      case State::kArrStretch:
        if (auto record = scan_stretch()) return record;
        if (state_ == State::kArrStretch) return std::nullopt;
        break;
      case State::kArrScalar: {
        const char* const base = buf_.get();
        const char* p = base + pos_;
        const char* const e = base + end_;
        while (p < e && kScalarEnd[u8(*p)] == 0) ++p;
        pos_ = static_cast<std::size_t>(p - base);
        if (p == e) return std::nullopt;
        if (auto record = complete(pos_, std::nullopt, State::kArrAfter)) return record;
        break;
      }
      case State::kArrClosed:
        skip_whitespace();
        if (pos_ == end_) return std::nullopt;
        open_record(State::kJunk);
        break;
      case State::kJunk:
        // Runs to the end of the input; lines no longer matter since no record follows.
        pos_ = end_;
        return std::nullopt;
      default:
        IW_CHECK(false, "scan_array() in a state that is not an array state");
    }
  }
}

// Counts raw newlines in strings too (invalid JSON, but they are lines of the file), and keeps a
// backslash that ends the input pending in escape_.
const char* RecordSplitter::finish_escape(const char* p, const char* e) {
  // A chunk may end right after a backslash; the escaped byte is the first of the next one.
  if (escape_ && p < e) {
    if (*p == '\n') ++line_;
    ++p;
    escape_ = false;
  }
  return p;
}

const char* RecordSplitter::skip_string(const char* p, const char* e) {
  while (p < e) {
    while (p < e && kStringSpecial[u8(*p)] == 0) ++p;
    if (p == e) break;
    const char special = *p++;
    if (special == '"') {
      in_string_ = false;
      break;
    }
    if (special == '\n') {
      ++line_;
    } else if (p == e) {
      escape_ = true;
    } else {
      if (*p == '\n') ++line_;
      ++p;
    }
  }
  return p;
}

std::optional<RawRecord> RecordSplitter::scan_value() {
  const char* const base = buf_.get();
  const char* p = base + pos_;
  const char* const e = base + end_;
  p = finish_escape(p, e);
  while (p < e) {
    if (in_string_) {
      p = skip_string(p, e);
      if (!in_string_ && depth_ == 0) {
        pos_ = static_cast<std::size_t>(p - base);
        return complete(pos_, std::nullopt, State::kArrAfter);
      }
      continue;
    }
    while (p < e && kValueClass[u8(*p)] == kPlain) ++p;
    if (p == e) break;
    switch (kValueClass[u8(*p++)]) {
      case kOpen:
        ++depth_;
        break;
      case kClose:
        if (--depth_ == 0) {
          pos_ = static_cast<std::size_t>(p - base);
          return complete(pos_, std::nullopt, State::kArrAfter);
        }
        break;
      case kQuote:
        in_string_ = true;
        break;
      default:
        ++line_;
        break;
    }
  }
  pos_ = end_;
  return std::nullopt;
}

std::optional<RawRecord> RecordSplitter::scan_stretch() {
  const char* const base = buf_.get();
  const char* p = base + pos_;
  const char* const e = base + end_;
  p = finish_escape(p, e);
  while (p < e) {
    if (in_string_) {
      p = skip_string(p, e);
      continue;
    }
    const char c = *p;
    if (depth_ == 0 && (c == ',' || c == ']')) {
      pos_ = static_cast<std::size_t>(p - base);
      return complete(pos_, Problem::kUnexpectedContent, State::kArrAfter);
    }
    ++p;
    switch (c) {
      case '{':
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        // A stray closer at depth 0 is just more unexpected content.
        if (depth_ > 0) --depth_;
        break;
      case '"':
        in_string_ = true;
        break;
      case '\n':
        ++line_;
        break;
      default:
        break;
    }
  }
  pos_ = end_;
  return std::nullopt;
}

std::optional<RawRecord> RecordSplitter::at_eof() {
  switch (state_) {
    case State::kDetect:
      format_ = options_.format == Format::kAuto ? Format::kNdjson : options_.format;
      state_ = State::kDone;
      return std::nullopt;
    case State::kNdLine:
      return complete(end_, std::nullopt, State::kDone);
    case State::kJunk:
      return complete(end_, Problem::kUnexpectedContent, State::kDone);
    case State::kArrExpect:
    case State::kArrAfter:
      state_ = State::kDone;
      return empty_record(Problem::kTruncated);
    case State::kArrValue:
    case State::kArrScalar: {
      // The cut element reports the missing end of the array; if it cannot (already reported
      // as oversized), an empty record at the end does, from kArrAfter.
      auto record = complete(end_, Problem::kTruncated, State::kArrAfter);
      if (record && record->problem == Problem::kTruncated) state_ = State::kDone;
      return record;
    }
    case State::kArrStretch:
      return complete(end_, Problem::kUnexpectedContent, State::kArrAfter);
    default:
      state_ = State::kDone;
      return std::nullopt;
  }
}

}  // namespace iw::logfile
