#include "iw/loki/push_response.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>

#include "iw/events/timestamp.h"
#include "iw/loki/labels.h"

namespace iw::loki {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
// Quoted in dead-letter headers when the body is not understood; Loki's bodies are short.
constexpr std::size_t kMaxQuotedBody = 1024;

// Labels Loki adds to a stream itself, so they may appear in its messages and not in the batch.
bool added_by_loki(const Label& label) {
  return label.name == "service_name" || label.name == "__stream_shard__";
}

std::string stream_key(LabelSet labels) {
  std::erase_if(labels, added_by_loki);
  return format_labels(labels);
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  auto t = events::parse_timestamp(text, events::TimeZone::utc());
  if (!t) return std::nullopt;
  return to_unix_nanos(*t);
}

// Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST", the fraction only when
// not zero; what an ingester prints for a refused entry, exact to the nanosecond.
std::optional<std::int64_t> parse_go_time(std::string_view text) {
  const std::size_t first = text.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : text.find(' ', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::size_t third = text.find(' ', second + 1);
  if (third == std::string_view::npos) third = text.size();
  std::string iso(text.substr(0, second));
  iso.append(text.substr(second + 1, third - second - 1));  // "+0000": parse_timestamp reads it
  return parse_time(iso);
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct Mark {
  bool set = false;
  Reason reason = Reason::kUnknown;
  bool certain = true;
  std::size_t message = 0;
};

class Interpreter {
 public:
  explicit Interpreter(const Batch& batch) : batch_(batch), marks_(batch.streams.size()) {
    for (std::size_t s = 0; s < batch.streams.size(); ++s) {
      marks_[s].resize(batch.streams[s].entries.size());
      if (auto labels = parse_labels(batch.streams[s].labels)) {
        by_key_.emplace(stream_key(std::move(*labels)), s);
      }
    }
  }

  void run(std::string_view body) {
    std::vector<Listed> listed;
    std::size_t start = 0;
    while (start < body.size()) {
      std::size_t end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(start, end - start);
      start = end + 1;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (line.empty()) continue;
      if (line.starts_with("entry with timestamp ")) {
        if (!ingester_entry(line, listed)) unrecognized_ = true;
      } else if (line.starts_with("user '") || line.starts_with("total ignored: ")) {
        if (!ingester_summary(line, listed)) unrecognized_ = true;
        listed.clear();
      } else {
        distributor_line(line);
      }
    }
    // Loki before 2.9 named the stream on every entry and ended without one in the summary; a
    // list cut off before its summary still names its entries.
    for (const Listed& entry : listed) {
      if (entry.stream == kNone) {
        unrecognized_ = true;
      } else {
        apply_listed(entry.stream, {&entry, 1});
      }
    }
    bool any = false;
    for (const auto& stream : marks_) any = any || std::ranges::any_of(stream, &Mark::set);
    if (!any) unrecognized_ = true;
    if (unrecognized_) {
      const std::size_t message = intern(std::string(body.substr(0, kMaxQuotedBody)));
      for (auto& stream : marks_) {
        for (Mark& mark : stream) {
          if (!mark.set) mark = Mark{true, Reason::kUnknown, false, message};
        }
      }
    }
  }

  Rejections result() && {
    Rejections out;
    out.unrecognized = unrecognized_;
    out.messages = std::move(messages_);
    for (std::size_t s = 0; s < marks_.size(); ++s) {
      for (std::size_t e = 0; e < marks_[s].size(); ++e) {
        const Mark& mark = marks_[s][e];
        if (mark.set) out.entries.push_back({s, e, mark.reason, mark.certain, mark.message});
      }
    }
    return out;
  }

 private:
  // An entry an ingester listed as refused.
  struct Listed {
    std::int64_t timestamp_ns;
    Reason reason;
    std::size_t message;
    std::size_t stream;  // kNone unless named on the line itself (Loki < 2.9)
  };

  std::size_t intern(std::string text) {
    const auto [it, inserted] = message_index_.try_emplace(text, messages_.size());
    if (inserted) messages_.push_back(std::move(text));
    return it->second;
  }

  // The batch stream whose labels are `text` (a selector at its start), and the length read.
  // kNone when it is not a selector or names no stream of the batch.
  std::size_t stream_at(std::string_view text, std::size_t& consumed) {
    auto labels = parse_labels(text, &consumed);
    if (!labels) return kNone;
    const auto it = by_key_.find(stream_key(std::move(*labels)));
    return it == by_key_.end() ? kNone : it->second;
  }

  void mark(std::size_t stream, std::size_t entry, Reason reason, bool certain,
            std::size_t message) {
    // The first certain verdict stands; an uncertain one gives way to a certain one.
    Mark& m = marks_[stream][entry];
    if (m.set && (m.certain || !certain)) return;
    m = Mark{true, reason, certain, message};
  }

  void mark_stream(std::size_t stream, Reason reason, std::size_t message) {
    for (std::size_t e = 0; e < marks_[stream].size(); ++e) mark(stream, e, reason, true, message);
  }

  // "entry with timestamp T ignored, reason: 'R'," (Loki >= 2.9) or
  // "entry with timestamp T ignored, reason: 'R' for stream: S," (before).
  bool ingester_entry(std::string_view line, std::vector<Listed>& listed) {
    constexpr std::string_view kPrefix = "entry with timestamp ";
    constexpr std::string_view kReason = " ignored, reason: '";
    const std::size_t reason_at = line.find(kReason);
    if (reason_at == std::string_view::npos) return false;
    const auto timestamp = parse_go_time(line.substr(kPrefix.size(), reason_at - kPrefix.size()));
    if (!timestamp) return false;
    std::string_view rest = line.substr(reason_at + kReason.size());
    if (rest.ends_with(',')) rest.remove_suffix(1);
    std::size_t stream = kNone;
    constexpr std::string_view kForStream = "' for stream: ";
    if (const std::size_t at = rest.rfind(kForStream); at != std::string_view::npos) {
      std::size_t consumed = 0;
      stream = stream_at(rest.substr(at + kForStream.size()), consumed);
      if (stream == kNone || at + kForStream.size() + consumed != rest.size()) return false;
      rest = rest.substr(0, at + 1);
    }
    if (!rest.ends_with('\'')) return false;
    rest.remove_suffix(1);
    const Reason reason = rest.starts_with("entry out of order")     ? Reason::kOutOfOrder
                          : rest.starts_with("entry too far behind") ? Reason::kTooFarBehind
                          : rest.starts_with("Per stream rate limit exceeded")
                              ? Reason::kRateLimited
                              : Reason::kUnknown;
    std::string_view text = line;
    if (text.ends_with(',')) text.remove_suffix(1);
    listed.push_back(Listed{*timestamp, reason, intern(std::string(text)), stream});
    return true;
  }

  // "user 'U', total ignored: N out of M for stream: S" (Loki >= 2.9) or
  // "total ignored: N out of M" (before, with the stream on every entry).
  bool ingester_summary(std::string_view line, std::span<const Listed> listed) {
    std::string_view rest = line;
    if (rest.starts_with("user '")) {
      const std::size_t at = rest.find("', total ignored: ");
      if (at == std::string_view::npos) return false;
      rest = rest.substr(at + 3);
    }
    rest.remove_prefix(std::string_view("total ignored: ").size());
    const std::size_t out_of = rest.find(" out of ");
    if (out_of == std::string_view::npos) return false;
    const auto total = parse_count(rest.substr(0, out_of));
    if (!total) return false;
    rest = rest.substr(out_of + 8);
    std::size_t stream = kNone;
    constexpr std::string_view kForStream = " for stream: ";
    if (const std::size_t at = rest.find(kForStream); at != std::string_view::npos) {
      std::size_t consumed = 0;
      stream = stream_at(rest.substr(at + kForStream.size()), consumed);
      if (stream == kNone) return false;
    } else if (!listed.empty()) {
      // Before 2.9 every entry named its stream, and all of one summary are of one stream.
      stream = listed.front().stream;
    }
    if (stream == kNone) return false;
    for (const Listed& entry : listed) {
      if (entry.stream != kNone && entry.stream != stream) return false;
    }
    apply_listed(stream, listed);
    if (listed.size() < *total) infer_unlisted(stream, listed, *total, intern(std::string(line)));
    return true;
  }

  // Entries an ingester named by timestamp. Several batch entries with that timestamp cannot be
  // told apart unless all of them were listed.
  void apply_listed(std::size_t stream, std::span<const Listed> listed) {
    const auto& entries = batch_.streams[stream].entries;
    std::map<std::int64_t, std::size_t> listed_per_time;
    for (const Listed& entry : listed) ++listed_per_time[entry.timestamp_ns];
    for (const Listed& entry : listed) {
      const auto range =
          std::ranges::equal_range(entries, entry.timestamp_ns, {}, &BatchEntry::timestamp_ns);
      if (range.empty()) {
        unrecognized_ = true;  // Loki names an entry the batch does not have
        continue;
      }
      const bool certain = listed_per_time[entry.timestamp_ns] >= range.size();
      for (auto it = range.begin(); it != range.end(); ++it) {
        mark(stream, static_cast<std::size_t>(it - entries.begin()), entry.reason, certain,
             entry.message);
      }
    }
  }

  // Loki listed fewer entries than it refused (ingester.max_returned_stream_errors, 10 by
  // default). For ordering errors the refused entries of a timestamp-ordered stream are its
  // oldest ones; that is an inference, so they are marked uncertain. For anything else, every
  // entry of the stream not accounted for is.
  void infer_unlisted(std::size_t stream, std::span<const Listed> listed, std::uint64_t total,
                      std::size_t message) {
    const bool ordering = std::ranges::all_of(listed, [](const Listed& entry) {
      return entry.reason == Reason::kOutOfOrder || entry.reason == Reason::kTooFarBehind;
    });
    const Reason reason = listed.empty() ? Reason::kUnknown : listed.back().reason;
    auto& marks = marks_[stream];
    const std::size_t limit =
        ordering && !listed.empty() ? std::min<std::size_t>(total, marks.size()) : marks.size();
    for (std::size_t e = 0; e < limit; ++e) {
      if (!marks[e].set) mark(stream, e, ordering ? reason : Reason::kUnknown, false, message);
    }
  }

  // One line of distributor messages, "; "-separated, identical ones grouped as
  // "K errors like: <message>".
  void distributor_line(std::string_view line) {
    std::size_t pos = 0;
    while (pos < line.size()) {
      std::uint64_t count = 1;
      if (const std::size_t like = line.find(" errors like: ", pos);
          like != std::string_view::npos && like > pos) {
        if (const auto n = parse_count(line.substr(pos, like - pos))) {
          count = *n;
          pos = like + 14;
        }
      }
      const std::size_t end = distributor_message(line, pos, count);
      if (end == kNone) {
        unrecognized_ = true;
        const std::size_t next = line.find("; ", pos);
        if (next == std::string_view::npos) return;
        pos = next + 2;
        continue;
      }
      pos = end;
      if (line.substr(pos).starts_with("; ")) {
        pos += 2;
      } else if (pos != line.size()) {
        unrecognized_ = true;
        return;
      }
    }
  }

  // Reads one distributor message at `pos` and marks what it rejects. Returns where it ends, or
  // kNone when it is not one this library knows.
  std::size_t distributor_message(std::string_view line, std::size_t pos, std::uint64_t count) {
    std::string_view rest = line.substr(pos);
    std::size_t stream = kNone;
    // A quoted selector: "'{...}'" at the start of `rest`; consumes it.
    auto quoted_stream = [&]() -> bool {
      if (!rest.starts_with('\'')) return false;
      std::size_t consumed = 0;
      stream = stream_at(rest.substr(1), consumed);
      if (stream == kNone || rest.substr(1 + consumed, 1) != "'") return false;
      rest.remove_prefix(consumed + 2);
      return true;
    };
    auto literal = [&](std::string_view text) {
      if (!rest.starts_with(text)) return false;
      rest.remove_prefix(text.size());
      return true;
    };
    // A token up to the next blank, ',' or ';' (numbers, RFC 3339 times).
    auto token = [&] {
      const std::size_t end = std::min(rest.find_first_of(" ,;'"), rest.size());
      const std::string_view t = rest.substr(0, end);
      rest.remove_prefix(end);
      return t;
    };
    auto end_of_segment = [&] {
      const std::size_t next = rest.find("; ");
      return next == std::string_view::npos ? line.size() : line.size() - rest.size() + next;
    };
    auto message_text = [&](std::size_t end) {
      return intern(std::string(line.substr(pos, end - pos)));
    };
    auto whole_stream = [&](Reason reason) {
      const std::size_t end = end_of_segment();
      mark_stream(stream, reason, message_text(end));
      return end;
    };

    if (literal("entry for stream ")) {
      if (!quoted_stream() || !literal(" has ")) return kNone;
      const bool old = literal("timestamp too old: ");
      if (old || literal("timestamp too new: ")) {
        const auto second = parse_time(token());
        if (!second) return kNone;
        if (old && (!literal(", oldest acceptable timestamp is: ") || !parse_time(token()))) {
          return kNone;
        }
        const std::size_t end = line.size() - rest.size();
        mark_in_second(stream, *second, count, old, message_text(end));
        return end;
      }
      const auto labels = parse_count(token());
      if (!labels || !literal(" label names; limit ") || !parse_count(token())) return kNone;
      const std::size_t end = line.size() - rest.size();
      mark_stream(stream, Reason::kInvalidLabels, message_text(end));
      return end;
    }
    if (literal("Max entry size '")) {
      const auto limit = parse_count(token());
      if (!limit || !literal("' bytes exceeded for stream ") || !quoted_stream() ||
          !literal(" while adding an entry with length '") || !parse_count(token()) ||
          !literal("' bytes")) {
        return kNone;
      }
      const std::size_t end = line.size() - rest.size();
      const std::size_t message = message_text(end);
      bool any = false;
      const auto& entries = batch_.streams[stream].entries;
      for (std::size_t e = 0; e < entries.size(); ++e) {
        if (entries[e].line.size() > *limit) {
          mark(stream, e, Reason::kLineTooLong, true, message);
          any = true;
        }
      }
      if (!any) unrecognized_ = true;
      return end;
    }
    if (literal("stream ")) {
      if (!quoted_stream()) return kNone;
      if (literal(" has label name too long: '") || literal(" has label value too long: '") ||
          literal(" has duplicate label name: '")) {
        return whole_stream(Reason::kInvalidLabels);
      }
      // Structured metadata: this library sends none, so Loki should never say so.
      return kNone;
    }
    if (literal("Error parsing labels '")) {
      for (std::size_t s = 0; s < batch_.streams.size(); ++s) {
        if (rest.starts_with(batch_.streams[s].labels + "' with error: ")) {
          stream = s;
          return whole_stream(Reason::kInvalidLabels);
        }
      }
      return kNone;
    }
    if (literal("missing required labels ")) {
      const std::size_t at = rest.find(" for stream ");
      if (at == std::string_view::npos) return kNone;
      rest.remove_prefix(at + 12);
      std::size_t consumed = 0;
      stream = stream_at(rest, consumed);
      if (stream == kNone) return kNone;
      rest.remove_prefix(consumed);
      const std::size_t end = line.size() - rest.size();
      mark_stream(stream, Reason::kInvalidLabels, message_text(end));
      return end;
    }
    return kNone;
  }

  // `count` entries of `stream` in the second starting at `second_ns`, refused for their time:
  // the oldest of that second when too old, the newest when too new (Loki compares with one
  // cutoff per request, and a stream's entries are in timestamp order).
  void mark_in_second(std::size_t stream, std::int64_t second_ns, std::uint64_t count, bool oldest,
                      std::size_t message) {
    const auto& entries = batch_.streams[stream].entries;
    const auto first = std::ranges::lower_bound(entries, second_ns, {}, &BatchEntry::timestamp_ns);
    const auto last = std::ranges::lower_bound(entries, second_ns + kNanosPerSecond, {},
                                               &BatchEntry::timestamp_ns);
    const auto size = static_cast<std::size_t>(last - first);
    if (size == 0) {
      unrecognized_ = true;
      return;
    }
    const Reason reason = oldest ? Reason::kTooOld : Reason::kTooNew;
    const std::size_t begin = static_cast<std::size_t>(first - entries.begin());
    const std::size_t n = std::min<std::size_t>(count, size);
    const std::size_t from = oldest ? begin : begin + size - n;
    for (std::size_t e = from; e < from + n; ++e) mark(stream, e, reason, true, message);
    // Entries with the same timestamp on both sides of the cut cannot be split: Loki refused
    // all or none of them, so the count and the batch disagree; keep both sides, uncertain.
    if (n < size) {
      const std::size_t inside = oldest ? from + n - 1 : from;
      const std::size_t outside = oldest ? from + n : from - 1;
      if (entries[inside].timestamp_ns == entries[outside].timestamp_ns) {
        for (std::size_t e = begin; e < begin + size; ++e) {
          if (entries[e].timestamp_ns == entries[inside].timestamp_ns) {
            marks_[stream][e] = Mark{true, reason, false, message};
          }
        }
      }
    }
  }

  const Batch& batch_;
  std::vector<std::vector<Mark>> marks_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::vector<std::string> messages_;
  std::unordered_map<std::string, std::size_t> message_index_;
  bool unrecognized_ = false;
};

}  // namespace

Rejections interpret_rejection(const Batch& batch, std::string_view body) {
  Interpreter interpreter(batch);
  interpreter.run(body);
  return std::move(interpreter).result();
}

}  // namespace iw::loki
