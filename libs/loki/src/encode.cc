// The protobuf push request is written by hand rather than through protoc-generated classes: it
// is four small messages with six fields, so encoding directly from the Batch is ~60 lines, needs
// no generated code, no libprotobuf at run time and no copy of every line into message objects.
// The tests decode what this writes with libprotobuf's classes generated from Loki's push.proto,
// so a mistake here cannot hide behind a matching mistake in a hand-written decoder.
#include "iw/loki/encode.h"

#include <charconv>
#include <cstdint>

#include "iw/base/check.h"
#include "iw/base/json_escape.h"
#include "iw/loki/compression.h"
#include "iw/loki/labels.h"

namespace iw::loki {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Wire types: 0 varint, 2 length-delimited.
constexpr char tag(int field, int wire_type) { return static_cast<char>(field << 3 | wire_type); }

std::size_t varint_size(std::uint64_t value) {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

// google.protobuf.Timestamp: seconds, and nanos in [0, 1e9) even before 1970.
struct Timestamp {
  std::int64_t seconds;
  std::int32_t nanos;
};

Timestamp split(std::int64_t ns) {
  std::int64_t seconds = ns / kNanosPerSecond;
  std::int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {
    --seconds;
    nanos += kNanosPerSecond;
  }
  return {seconds, static_cast<std::int32_t>(nanos)};
}

// int64 and int32 are varints of their two's complement (10 bytes when negative).
std::size_t timestamp_size(Timestamp t) {
  std::size_t size = 0;
  if (t.seconds != 0) size += 1 + varint_size(static_cast<std::uint64_t>(t.seconds));
  if (t.nanos != 0) size += 1 + varint_size(static_cast<std::uint64_t>(t.nanos));
  return size;
}

std::size_t field_size(std::size_t payload) { return 1 + varint_size(payload) + payload; }

// LabelPairAdapter{name = "trace_id", value = <32 hex>}: its bytes inside EntryAdapter field 3.
constexpr std::size_t kTraceIdPairSize = (2 + kTraceIdKey.size()) + (2 + TraceId::kSize);
static_assert(kTraceIdPairSize < 0x80 && 2 + kTraceIdPairSize == kTraceIdMetadataBytes,
              "kTraceIdMetadataBytes must be what put_entry writes");

std::size_t entry_size(const BatchEntry& entry) {
  // The timestamp is always written, even when empty (the epoch), as gogoproto's non-nullable
  // stdtime does.
  std::size_t size = field_size(timestamp_size(split(entry.timestamp_ns)));
  if (!entry.line.empty()) size += field_size(entry.line.size());
  if (!entry.trace_id.empty()) size += kTraceIdMetadataBytes;
  return size;
}

std::size_t stream_size(const BatchStream& stream) {
  std::size_t size = stream.labels.empty() ? 0 : field_size(stream.labels.size());
  for (const BatchEntry& entry : stream.entries) size += field_size(entry_size(entry));
  return size;
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  out += tag(field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_entry(std::string& out, const BatchEntry& entry) {
  out += tag(2, 2);
  put_varint(out, entry_size(entry));
  const Timestamp t = split(entry.timestamp_ns);
  out += tag(1, 2);
  put_varint(out, timestamp_size(t));
  if (t.seconds != 0) {
    out += tag(1, 0);
    put_varint(out, static_cast<std::uint64_t>(t.seconds));
  }
  if (t.nanos != 0) {
    out += tag(2, 0);
    put_varint(out, static_cast<std::uint64_t>(t.nanos));
  }
  if (!entry.line.empty()) put_bytes(out, 2, entry.line);
  if (!entry.trace_id.empty()) {
    out += tag(3, 2);
    out += static_cast<char>(kTraceIdPairSize);  // one varint byte (static_assert above)
    put_bytes(out, 1, kTraceIdKey);
    put_bytes(out, 2, entry.trace_id.hex());
  }
}

}  // namespace

std::string push_request_protobuf(const Batch& batch) {
  std::size_t total = 0;
  std::vector<std::size_t> sizes;
  sizes.reserve(batch.streams.size());
  for (const BatchStream& stream : batch.streams) {
    sizes.push_back(stream_size(stream));
    total += field_size(sizes.back());
  }
  std::string out;
  out.reserve(total);
  for (std::size_t s = 0; s < batch.streams.size(); ++s) {
    const BatchStream& stream = batch.streams[s];
    out += tag(1, 2);
    put_varint(out, sizes[s]);
    if (!stream.labels.empty()) put_bytes(out, 1, stream.labels);
    for (const BatchEntry& entry : stream.entries) put_entry(out, entry);
  }
  IW_CHECK(out.size() == total, "protobuf size computed wrongly");
  return out;
}

std::string push_request_json(const Batch& batch) {
  std::string out = R"({"streams":[)";
  out.reserve(batch.byte_size + batch.byte_size / 8 + 64);
  for (std::size_t s = 0; s < batch.streams.size(); ++s) {
    const BatchStream& stream = batch.streams[s];
    if (s > 0) out += ',';
    out += R"({"stream":{)";
    auto labels = parse_labels(stream.labels);
    IW_CHECK(labels.has_value(), "a batch stream's labels must be format_labels() output");
    for (std::size_t l = 0; l < labels->size(); ++l) {
      if (l > 0) out += ',';
      base::append_json_string(out, (*labels)[l].name);
      out += ':';
      base::append_json_string(out, (*labels)[l].value);
    }
    out += R"(},"values":[)";
    for (std::size_t e = 0; e < stream.entries.size(); ++e) {
      const BatchEntry& entry = stream.entries[e];
      if (e > 0) out += ',';
      out += "[\"";
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, entry.timestamp_ns).ptr;
      out.append(digits, end);
      out += "\",";
      base::append_json_string(out, entry.line);
      if (!entry.trace_id.empty()) {
        // Hex digits need no escaping.
        out += R"(,{"trace_id":")";
        out += entry.trace_id.hex();
        out += "\"}";
      }
      out += ']';
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

PushBody encode_push(const Batch& batch, Encoding encoding) {
  switch (encoding) {
    case Encoding::kProtobuf:
      return {snappy_compress(push_request_protobuf(batch)), "application/x-protobuf", ""};
    case Encoding::kJson:
      return {push_request_json(batch), "application/json", ""};
    case Encoding::kJsonGzip:
      return {gzip_compress(push_request_json(batch)), "application/json", "gzip"};
  }
  IW_CHECK(false, "unknown encoding");
  return {};
}

}  // namespace iw::loki
