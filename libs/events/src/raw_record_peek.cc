#include "iw/events/raw_record_peek.h"

#include <simdjson.h>

#include "iw/base/time_format.h"

namespace iw::events {
namespace {

// The token with its quotes stripped. Debut/Fin are plain ASCII dates, so a token with escapes
// is not one we could read anyway; parse_timestamp rejects it.
std::string_view unquoted(std::string_view token) {
  if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
    return token.substr(1, token.size() - 2);
  }
  return token;
}

// raw_json_token() includes trailing whitespace up to the next structural character.
std::string_view trimmed(std::string_view token) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                            token.back() == '\t')) {
    token.remove_suffix(1);
  }
  return token;
}

}  // namespace

struct RawRecordPeeker::Impl {
  simdjson::ondemand::parser parser;
  simdjson::dom::parser dom_parser;  // only to tell broken JSON from a non-object
  simdjson::padded_string padded;    // only for records without enough readable padding
  std::string source;                // unescaped Source, stable until the next peek
};

RawRecordPeeker::RawRecordPeeker() : impl_(std::make_unique<Impl>()) {}
RawRecordPeeker::~RawRecordPeeker() = default;
RawRecordPeeker::RawRecordPeeker(RawRecordPeeker&&) noexcept = default;
RawRecordPeeker& RawRecordPeeker::operator=(RawRecordPeeker&&) noexcept = default;

DecodeResult<RawRecordPeek> RawRecordPeeker::peek(std::string_view record,
                                                  std::size_t readable_padding) {
  simdjson::padded_string_view input;
  if (readable_padding >= simdjson::SIMDJSON_PADDING) {
    input = simdjson::padded_string_view(record.data(), record.size(),
                                         record.size() + readable_padding);
  } else {
    impl_->padded = simdjson::padded_string(record);
    input = impl_->padded;
  }
  simdjson::ondemand::document doc;
  if (auto error = impl_->parser.iterate(input).get(doc); error) {
    return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
  }
  simdjson::ondemand::object object;
  simdjson::ondemand::json_type type;
  if (auto error = doc.type().get(type); error) {
    return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
  }
  if (type != simdjson::ondemand::json_type::object) {
    // On-Demand judges a document by its first byte; a full parse tells "not JSON" apart.
    simdjson::dom::element element;
    if (auto error = impl_->dom_parser.parse(input).get(element); error) {
      return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
    }
    return defect("not_an_object", "a run record must be a JSON object");
  }
  if (auto error = doc.get_object().get(object); error) {
    return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
  }

  RawRecordPeek peek;
  bool have_source = false;
  // One pass over the fields, in document order: On-Demand reads each value at most once.
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key); error) {
      return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
    }
    simdjson::ondemand::value value;
    if (auto error = field.value().get(value); error) {
      return defect("invalid_json", std::string("not JSON: ") + simdjson::error_message(error));
    }
    if (key == "Source") {
      std::string_view source;
      if (value.get_string().get(source) != simdjson::SUCCESS) {
        return defect("invalid_source", "Source must be a string");
      }
      if (source.empty()) return defect("invalid_source", "Source must not be empty");
      impl_->source.assign(source);
      have_source = true;
    } else if (key == "Debut" || key == "Fin") {
      const std::string_view token = trimmed(value.raw_json_token());
      // Offsets, not views: `input` may be a padded copy of the record.
      const TokenSpan span{static_cast<std::size_t>(token.data() - input.data()), token.size()};
      (key == "Debut" ? peek.debut : peek.fin) = span;
    }
    // Other values are skipped by structure only; the enricher validates every field.
  }
  // Past the object there must be nothing; current_location() then reports out of bounds.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return defect("invalid_json", "not JSON: text after the object");
  }
  if (!have_source) return defect("missing_source", "required field Source is missing");
  peek.source = impl_->source;
  return peek;
}

DecodeResult<RunTimes> read_times(std::string_view record, const RawRecordPeek& peek,
                                  const TimeZone& zone) {
  RunTimes times;
  for (auto [span, slot] :
       {std::pair{&peek.debut, &times.debut}, std::pair{&peek.fin, &times.fin}}) {
    if (!*span) continue;
    auto parsed = parse_timestamp(unquoted((*span)->in(record)), zone);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    *slot = *parsed;
  }
  return times;
}

void shift_times(std::string& out, std::string_view record, const RawRecordPeek& peek,
                 const RunTimes& times, std::chrono::nanoseconds shift) {
  out.clear();
  // Splice the new values in, in document order.
  struct Edit {
    TokenSpan span;
    base::TimePoint value;
  };
  Edit edits[2];
  std::size_t count = 0;
  if (peek.debut && times.debut) edits[count++] = {*peek.debut, *times.debut + shift};
  if (peek.fin && times.fin) edits[count++] = {*peek.fin, *times.fin + shift};
  if (count == 2 && edits[1].span.offset < edits[0].span.offset) std::swap(edits[0], edits[1]);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    out.append(record.substr(at, edits[i].span.offset - at));
    out.push_back('"');
    base::append_rfc3339_millis(out, edits[i].value);
    out.push_back('"');
    at = edits[i].span.offset + edits[i].span.size;
  }
  out.append(record.substr(at));
}

}  // namespace iw::events
