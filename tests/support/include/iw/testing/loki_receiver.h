#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/loki/labels.h"

namespace iw::testing {

/// An entry the receiver stored.
struct LokiEntry {
  std::string stream;  ///< loki::format_labels() of the sorted labels
  std::int64_t timestamp_ns = 0;
  std::string line;
  std::string trace_id;  ///< its structured metadata `trace_id` ("" when it had none)
};

/// One push request as the receiver saw and answered it.
struct LokiRequest {
  int status = 0;
  std::string content_type;
  std::string content_encoding;
  std::string tenant;         ///< X-Scope-OrgID
  std::string authorization;  ///< the Authorization header, verbatim
  std::size_t body_bytes = 0;
  std::size_t entries = 0;   ///< entries the request carried (0 when it could not be read)
  std::size_t accepted = 0;  ///< entries stored, duplicates of stored ones included
  /// When the receiver had handled it (what it accepts stored), just before answering.
  std::chrono::steady_clock::time_point answered_at{};
};

/// Loki's limits and behaviours the receiver enforces, defaults as in Loki 3 except where said.
struct LokiReceiverOptions {
  loki::LabelLimits label_limits;
  std::size_t max_line_bytes = 256 * 1024;  ///< max_line_size
  /// reject_old_samples_max_age against `clock`; 0 turns the check off (Loki: 7 days).
  std::chrono::nanoseconds max_entry_age{0};
  /// creation_grace_period against `clock`; 0 turns the check off (Loki: 10 minutes).
  std::chrono::nanoseconds max_future{0};
  /// Loki's unordered writes: an entry older than its stream's newest minus `ordering_window`
  /// (max_chunk_age / 2) is "too far behind". When false, any entry older than the stream's
  /// newest is "out of order" (equal timestamps are fine either way).
  bool unordered_writes = true;
  std::chrono::nanoseconds ordering_window = std::chrono::hours{1};
  /// ingester.max_returned_stream_errors: entries listed per stream in an ingester's answer.
  std::size_t max_returned_stream_errors = 10;
  /// Real Loki answers with the ingester errors of the last stream of a request only, and drops
  /// the distributor's validation messages when an ingester fails: refused entries can then go
  /// unreported. By default the receiver reports everything; true reproduces Loki.
  bool loki_error_reporting = false;
  /// When not empty, requests must carry this X-Scope-OrgID (else 401 "no org id"); it is also
  /// the tenant Loki's messages name ("fake" otherwise, as Loki without auth).
  std::string tenant;
  /// When not empty, requests must carry exactly this Authorization header (else 401).
  std::string authorization;
  /// max_global_streams_per_user (Loki: 5000): a push that would create a stream beyond this many
  /// is answered 429 with Loki 3's "Maximum active stream limit exceeded when trying to create
  /// stream {...}, ..." for that stream, while its other streams are stored (as an ingester does:
  /// it stores what it can and answers with the last error); the stream limit takes precedence
  /// over the 400 of other entries of the same push. Streams never expire. 0: no limit.
  std::size_t max_active_streams = 0;
  /// Larger bodies (compressed or not) are refused with 413.
  std::size_t max_body_bytes = 64 << 20;
  /// Time for the age checks; the system clock when null. Must outlive the receiver.
  const base::Clock* clock = nullptr;
};

/// A Loki push endpoint for tests, on 127.0.0.1 and a free port: POST /loki/api/v1/push with
/// protobuf + snappy (Content-Type application/x-protobuf or none) or JSON (application/json),
/// optionally gzip (Content-Encoding: gzip). It validates what Loki validates (label syntax and
/// limits, line size, timestamps, per-stream ordering), answers as Loki does (204; 400 with the
/// distributor's "; "-joined messages and an ingester's "entry with timestamp ... ignored" list),
/// stores what it accepts, and drops exact duplicates (same stream, timestamp and line) as Loki
/// does. GET /ready answers 200. Tests can make it fail on purpose. Thread-safe.
class LokiReceiver {
 public:
  /// Binds 127.0.0.1:0 and serves. Start-up errors: kUnavailable.
  [[nodiscard]] static base::Result<std::unique_ptr<LokiReceiver>> start(
      LokiReceiverOptions options = {});
  ~LokiReceiver();
  LokiReceiver(const LokiReceiver&) = delete;
  LokiReceiver& operator=(const LokiReceiver&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  /// "http://127.0.0.1:<port>/loki/api/v1/push"
  [[nodiscard]] std::string push_url() const;

  // --- Faults ---------------------------------------------------------------------------------

  /// The next `count` pushes are answered `status` with `body` (and `Retry-After: <seconds>`
  /// when given) and store nothing: 429, 500, 503, 401, ...
  void fail_next(int count, int status, std::string body = {},
                 std::optional<int> retry_after_seconds = std::nullopt);
  /// Entries whose line makes `predicate` true are refused by the "ingester", with `reason` in
  /// its answer (400, the rest stored), until cleared with an empty function.
  void reject_lines(std::function<bool(std::string_view line)> predicate,
                    std::string reason = "entry out of order");
  /// Waits this long before answering each push (after reading it).
  void set_delay(std::chrono::milliseconds delay);
  /// Plays "Loki is unreachable" until come_back(), without ever giving the port away: the
  /// listening socket stays open and bound, so no other socket, of this process or another
  /// (another test's receiver, a broker), can take the port meanwhile and receive what was meant
  /// for this one. What a client sees while down, for every request (GET /ready included), on a
  /// new connection or on one kept alive from before:
  ///  - the TCP connection is accepted (connect() succeeds, as the port is still listened on);
  ///  - the request's headers are read, and that is all: nothing is stored or recorded in
  ///    requests() (refused() counts these requests);
  ///  - the connection is closed without a single byte of answer.
  /// libcurl then fails the transfer, with no HTTP status (CURLINFO_RESPONSE_CODE 0):
  /// CURLE_GOT_NOTHING "Empty reply from server", or CURLE_SEND_ERROR / CURLE_RECV_ERROR
  /// "Connection reset by peer" when the close catches it still sending the body. On a
  /// kept-alive connection libcurl first sends again on a new connection, refused the same way.
  /// Requests already being handled when go_down() is called are answered (and their entries
  /// stored) before it returns; what was stored stays.
  void go_down();
  /// Serves again, on the same port (it never stopped listening). Cannot fail: always ok.
  [[nodiscard]] base::Status come_back();

  // --- What arrived ---------------------------------------------------------------------------

  /// Stored entries, in the order they were accepted.
  [[nodiscard]] std::vector<LokiEntry> entries() const;
  [[nodiscard]] std::size_t entry_count() const;
  /// Entries that arrived again with the same stream, timestamp and line (not stored twice).
  [[nodiscard]] std::size_t duplicates() const;
  /// Entries refused by max_active_streams.
  [[nodiscard]] std::size_t stream_limited() const;
  [[nodiscard]] std::vector<LokiRequest> requests() const;
  /// Requests refused because the receiver was down (see go_down()).
  [[nodiscard]] std::size_t refused() const;
  /// Waits until at least `count` entries are stored; false on timeout.
  [[nodiscard]] bool wait_for_entries(std::size_t count, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  explicit LokiReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Go's time.Time.String() of a UTC instant, as Loki's ingester quotes entries:
/// "2025-09-15 10:30:00.5 +0000 UTC" (fraction without trailing zeros, none when zero).
[[nodiscard]] std::string go_time_string(std::int64_t unix_nanos);

/// Go's time.RFC3339 of a UTC instant, whole seconds: "2025-09-15T10:30:00Z".
[[nodiscard]] std::string go_rfc3339(std::int64_t unix_nanos);

}  // namespace iw::testing
