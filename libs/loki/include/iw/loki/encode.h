#pragma once

#include <string>
#include <string_view>

#include "iw/loki/batcher.h"

namespace iw::loki {

/// How a push request is written.
enum class Encoding {
  /// logproto.PushRequest, snappy block-compressed: what Loki's clients (Promtail, Alloy) send;
  /// the smallest and cheapest for Loki to read.
  kProtobuf,
  /// Loki's JSON push body, uncompressed: readable in a packet capture.
  kJson,
  /// The JSON body, gzip-compressed (Content-Encoding: gzip).
  kJsonGzip,
};

/// A request body and the headers that say how to read it.
struct PushBody {
  std::string bytes;
  std::string_view content_type;      ///< "application/x-protobuf" or "application/json"
  std::string_view content_encoding;  ///< "" (no header) or "gzip"
};

/// The body of POST /loki/api/v1/push for `batch`.
[[nodiscard]] PushBody encode_push(const Batch& batch, Encoding encoding);

/// The uncompressed protobuf `logproto.PushRequest` (grafana/loki pkg/push/push.proto):
///   PushRequest   { repeated StreamAdapter streams = 1; }
///   StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
///   EntryAdapter  { google.protobuf.Timestamp timestamp = 1; string line = 2;
///                   repeated LabelPairAdapter structuredMetadata = 3; }
///   LabelPairAdapter { string name = 1; string value = 2; }
/// `hash` is left out, as Loki's clients do (the distributor computes it); so are empty lines
/// (proto3 omits empty strings). An entry with a trace id carries one structured metadata pair,
/// `trace_id`; others none. Fields in number order.
[[nodiscard]] std::string push_request_protobuf(const Batch& batch);

/// Loki's JSON push body:
/// `{"streams":[{"stream":{"job":"ingestion-logs",...},"values":[["<ns>","<line>"],...]}]}`
/// with the timestamp as a string of nanoseconds since the epoch, as Loki requires. An entry
/// with a trace id has its structured metadata as a third element:
/// `["<ns>","<line>",{"trace_id":"<32 hex>"}]`.
[[nodiscard]] std::string push_request_json(const Batch& batch);

}  // namespace iw::loki
