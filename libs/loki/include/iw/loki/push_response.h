#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "iw/loki/batcher.h"

namespace iw::loki {

/// One entry of a batch that Loki did not store (or may not have stored).
struct RejectedEntry {
  std::size_t stream = 0;  ///< index into Batch::streams
  std::size_t entry = 0;   ///< index into that stream's entries
  Reason reason = Reason::kUnknown;
  /// False when Loki's text fits this entry but also another one it cannot tell apart (same
  /// stream and timestamp, or a count without a list): dead-letter it anyway, so nothing is
  /// lost; the copy in Loki, if any, is the same line at the same time.
  bool certain = true;
  std::size_t message = 0;  ///< index into Rejections::messages: Loki's words, for dlq.error
};

/// What a 400 from POST /loki/api/v1/push says about the batch it answered.
///
/// A 400 does not mean nothing was stored. Loki's distributor drops the entries and streams that
/// fail validation, stores the rest, and answers 400 with one message per problem; an ingester
/// stores what it can and answers 400 listing the entries it refused. So the caller must never
/// resend the batch: it dead-letters the entries listed here, and treats every other entry as
/// stored.
struct Rejections {
  /// Ordered by (stream, entry), each entry at most once.
  std::vector<RejectedEntry> entries;
  /// The distinct texts the entries point at (one message of Loki's per problem).
  std::vector<std::string> messages;
  /// True when some of Loki's text matched no message this library knows, or named a stream
  /// that is not in the batch. Every entry not identified otherwise is then listed, uncertain
  /// and kUnknown (the whole batch, when nothing was understood).
  bool unrecognized = false;
};

/// Maps the body of a 400 to the entries of `batch` it rejects, from the messages of Loki 2.9
/// and 3.x (grafana/loki pkg/validation/validate.go, pkg/distributor, pkg/ingester/stream.go):
///   - whole streams: invalid, missing or too many labels, a label name or value too long, a
///     duplicate label name, missing enforced labels;
///   - "Max entry size ... exceeded for stream ... with length N": the stream's entries longer
///     than the limit quoted;
///   - "entry for stream ... has timestamp too old / too new: T": T is quoted to the second, and
///     identical messages are grouped as "K errors like: ...": the K oldest (too old) or newest
///     (too new) entries of that stream in that second;
///   - an ingester's "entry with timestamp T ignored, reason: '...'" (T to the nanosecond) and
///     "total ignored: N out of M for stream: S": the entries of S at T; when Loki lists fewer
///     than N (it lists 10 by default), the rest are inferred for ordering rejections (batch
///     entries are in timestamp order, so the refused ones are the N oldest), else listed as
///     uncertain.
/// Stream label sets are compared as sets, ignoring Loki's own `service_name` and
/// `__stream_shard__` labels.
///
/// Not knowable from a 400: entries of other streams that an ingester refused (it reports only
/// the last stream of a request: see BatcherOptions::max_behind), and which of several entries
/// with one stream and timestamp was meant.
[[nodiscard]] Rejections interpret_rejection(const Batch& batch, std::string_view body);

}  // namespace iw::loki
