#include "iw/testing/loki_receiver.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "iw/base/check.h"
#include "iw/loki/compression.h"
#include "iw/loki/entry.h"
#include "loki/push.pb.h"

namespace iw::testing {
namespace {

using loki::LabelSet;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

std::int64_t now_ns(const base::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock.now().time_since_epoch())
      .count();
}

// The civil UTC date-time of an instant in nanoseconds since 1970.
struct Civil {
  int year;
  unsigned month, day;
  std::int64_t hour, minute, second;
  std::int64_t nanos;
};

Civil civil(std::int64_t ns) {
  using namespace std::chrono;
  // floor, not truncation: instants before 1970 land on the right day and second.
  const sys_time<nanoseconds> t{nanoseconds{ns}};
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<nanoseconds> time{t - day};
  return Civil{static_cast<int>(date.year()),
               static_cast<unsigned>(date.month()),
               static_cast<unsigned>(date.day()),
               time.hours().count(),
               time.minutes().count(),
               time.seconds().count(),
               time.subseconds().count()};
}

// A request's headers and body, and what the receiver answers.
struct Reply {
  int status = 204;
  std::string body;
  std::optional<int> retry_after;
};

struct Canned {
  int status;
  std::string body;
  std::optional<int> retry_after;
};

// One entry of a decoded push request; trace_id: its structured metadata of that name.
struct PushedEntry {
  std::int64_t ts = 0;
  std::string line;
  std::string trace_id;
};

// One stream of a decoded push request.
struct PushedStream {
  std::string labels;  // as pushed
  std::vector<PushedEntry> entries;
};

std::string header(mg_connection* conn, const char* name) {
  const char* value = mg_get_header(conn, name);
  return value == nullptr ? std::string() : std::string(value);
}

base::Result<std::vector<PushedStream>> decode_protobuf(std::string_view body) {
  // Loki reads a protobuf body as a snappy block whatever Content-Encoding says.
  auto raw = loki::snappy_uncompress(body, 256 << 20);
  if (!raw) return std::unexpected(std::move(raw).error());
  logproto::PushRequest request;
  if (!request.ParseFromString(*raw)) {
    return base::fail(base::ErrorCode::kInvalidInput, "proto: cannot parse PushRequest");
  }
  std::vector<PushedStream> streams;
  for (const auto& stream : request.streams()) {
    PushedStream pushed{.labels = stream.labels(), .entries = {}};
    for (const auto& entry : stream.entries()) {
      PushedEntry& pushed_entry = pushed.entries.emplace_back(PushedEntry{
          .ts = entry.timestamp().seconds() * kNanosPerSecond + entry.timestamp().nanos(),
          .line = entry.line(),
          .trace_id = {}});
      for (const auto& pair : entry.structuredmetadata()) {
        if (pair.name() == loki::kTraceIdKey) pushed_entry.trace_id = pair.value();
      }
    }
    streams.push_back(std::move(pushed));
  }
  return streams;
}

base::Result<std::vector<PushedStream>> decode_json(std::string_view body) {
  auto invalid = [](std::string what) {
    return base::fail(base::ErrorCode::kInvalidInput, std::move(what));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return invalid("JSON: not JSON");
  }
  simdjson::dom::array streams;
  if (root["streams"].get(streams) != simdjson::SUCCESS) return invalid("JSON: no streams array");
  std::vector<PushedStream> out;
  for (simdjson::dom::element stream : streams) {
    simdjson::dom::object labels;
    simdjson::dom::array values;
    if (stream["stream"].get(labels) != simdjson::SUCCESS ||
        stream["values"].get(values) != simdjson::SUCCESS) {
      return invalid("JSON: a stream needs \"stream\" and \"values\"");
    }
    // Loki turns the object into a selector (labels.FromMap(...).String()) and parses that as
    // it parses a protobuf stream's labels, so a bad name fails the same way.
    LabelSet set;
    for (auto [name, value] : labels) {
      std::string_view text;
      if (value.get(text) != simdjson::SUCCESS) return invalid("JSON: label values are strings");
      set.push_back({std::string(name), std::string(text)});
    }
    loki::sort_labels(set);
    PushedStream pushed{.labels = loki::format_labels(set), .entries = {}};
    for (simdjson::dom::element value : values) {
      simdjson::dom::array pair;
      std::string_view ts, line;
      if (value.get(pair) != simdjson::SUCCESS || pair.size() < 2 ||
          pair.at(0).get(ts) != simdjson::SUCCESS || pair.at(1).get(line) != simdjson::SUCCESS) {
        return invalid("JSON: a value is [\"<nanoseconds>\", \"<line>\"]");
      }
      std::int64_t ns = 0;
      const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), ns);
      if (ec != std::errc() || end != ts.data() + ts.size()) {
        return invalid("JSON: timestamp is not a number of nanoseconds: " + std::string(ts));
      }
      // Structured metadata: an object of strings after the line.
      std::string_view trace_id;
      if (pair.size() > 2) {
        simdjson::dom::object metadata;
        if (pair.at(2).get(metadata) != simdjson::SUCCESS) {
          return invalid("JSON: a value's third element is an object of structured metadata");
        }
        if (metadata[loki::kTraceIdKey].get(trace_id) != simdjson::SUCCESS) trace_id = {};
      }
      pushed.entries.push_back(
          PushedEntry{.ts = ns, .line = std::string(line), .trace_id = std::string(trace_id)});
    }
    out.push_back(std::move(pushed));
  }
  return out;
}

// Opens and drops a connection, to wake civetweb's listener (see HttpServer in libs/metrics).
void poke(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::close(fd);
}

}  // namespace

std::string go_time_string(std::int64_t unix_nanos) {
  const Civil c = civil(unix_nanos);
  char buffer[64];
  int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u %02lld:%02lld:%02lld", c.year,
                        c.month, c.day, static_cast<long long>(c.hour),
                        static_cast<long long>(c.minute), static_cast<long long>(c.second));
  std::string out(buffer, static_cast<std::size_t>(n));
  if (c.nanos != 0) {
    n = std::snprintf(buffer, sizeof buffer, ".%09lld", static_cast<long long>(c.nanos));
    std::string fraction(buffer, static_cast<std::size_t>(n));
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }
  return out + " +0000 UTC";
}

std::string go_rfc3339(std::int64_t unix_nanos) {
  const Civil c = civil(unix_nanos);
  char buffer[40];
  const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", c.year,
                              c.month, c.day, static_cast<long long>(c.hour),
                              static_cast<long long>(c.minute), static_cast<long long>(c.second));
  return std::string(buffer, static_cast<std::size_t>(n));
}

struct LokiReceiver::Impl {
  explicit Impl(LokiReceiverOptions o)
      : options(std::move(o)),
        clock(options.clock != nullptr ? *options.clock : base::SystemClock::instance()) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { stop(); }

  base::Status listen();
  void stop();
  static int on_begin_request(mg_connection* conn);
  int handle(mg_connection* conn);
  Reply push(const std::vector<PushedStream>& streams, LokiRequest& request);

  struct Stream {
    std::int64_t newest = 0;
    bool any = false;
    std::int64_t last_ts = 0;  // the last entry stored, which Loki skips when sent again
    std::string last_line;
    std::map<std::int64_t, std::vector<std::string>> lines;  // for duplicates
  };

  const LokiReceiverOptions options;
  const base::Clock& clock;
  mg_context* context = nullptr;
  std::uint16_t port = 0;

  mutable std::mutex mu;
  mutable std::condition_variable stored_cv;
  // "Loki is down": civetweb keeps listening (the port stays ours) and refuses every request.
  bool down = false;
  std::size_t refused_while_down = 0;
  // Requests let in before a go_down(), which waits for them to be answered.
  int handling = 0;
  std::condition_variable handled_cv;
  std::deque<Canned> canned;
  std::function<bool(std::string_view)> reject;
  std::string reject_reason;
  std::chrono::milliseconds delay{0};
  std::map<std::string, Stream> streams;
  std::vector<LokiEntry> stored;
  std::vector<LokiRequest> requests;
  std::size_t duplicates = 0;
  std::size_t stream_limited = 0;
};

// Binds 127.0.0.1:0 once: the listening socket lives until stop(), going down included.
base::Status LokiReceiver::Impl::listen() {
  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });
  const std::string ports = "127.0.0.1:0";
  std::array<const char*, 13> config = {
      "listening_ports", ports.c_str(), "num_threads", "4",
      // Pushers keep connections open; a short idle timeout lets the destructor finish quickly.
      "enable_keep_alive", "yes", "keep_alive_timeout_ms", "200", "request_timeout_ms", "30000",
      // As Go's net/http (Loki): civetweb sends an answer in several writes, and with Nagle on
      // each answer on a kept-alive connection then waits ~40 ms for the client's delayed ACK.
      "tcp_nodelay", "1", nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = &Impl::on_begin_request;
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = config.data();
  std::array<char, 256> error_text{};
  mg_error_data error{};
  error.text = error_text.data();
  error.text_buffer_size = error_text.size();
  context = mg_start2(&init, &error);
  if (context == nullptr) {
    return base::fail(base::ErrorCode::kUnavailable,
                      "loki receiver cannot listen on " + ports + ": " + error_text.data());
  }
  mg_server_port bound{};
  IW_CHECK(mg_get_server_ports(context, 1, &bound) == 1, "civetweb started without a port");
  port = static_cast<std::uint16_t>(bound.port);
  return {};
}

void LokiReceiver::Impl::stop() {
  if (context == nullptr) return;
  // mg_stop() waits for civetweb's listener to notice, which it checks between polls of up to
  // 2 s; a connection ends the poll at once.
  std::atomic<bool> stopped{false};
  std::jthread waker([this, &stopped] {
    while (!stopped.load()) {
      poke(port);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  mg_stop(context);
  stopped = true;
  context = nullptr;
}

int LokiReceiver::Impl::on_begin_request(mg_connection* conn) {
  auto* impl = static_cast<Impl*>(mg_get_request_info(conn)->user_data);
  {
    std::lock_guard lock(impl->mu);
    if (impl->down) {
      ++impl->refused_while_down;
      // Not a byte of answer, the body left unread, and the connection closed at once (not
      // kept alive): the client's request fails without an HTTP status, as when Loki is away.
      // The number returned is only civetweb's access-log status.
      mg_disable_connection_keep_alive(conn);
      return 503;
    }
    ++impl->handling;
  }
  // Counted out once answered, however handle() ends.
  struct Handled {
    explicit Handled(Impl* counted) : impl(counted) {}
    Handled(const Handled&) = delete;
    Handled& operator=(const Handled&) = delete;
    ~Handled() {
      {
        std::lock_guard lock(impl->mu);
        --impl->handling;
      }
      impl->handled_cv.notify_all();
    }
    Impl* impl;
  } handled(impl);
  // An exception must not unwind through civetweb's C frames.
  try {
    return impl->handle(conn);
  } catch (const std::exception& e) {
    const std::string body = std::string("receiver failed: ") + e.what() + "\n";
    mg_send_http_error(conn, 500, "%s", body.c_str());
    return 500;
  }
}

int LokiReceiver::Impl::handle(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view method = info->request_method != nullptr ? info->request_method : "";
  const std::string_view path = info->local_uri != nullptr ? info->local_uri : "";

  auto respond = [conn](const Reply& reply) {
    mg_response_header_start(conn, reply.status);
    const std::string length = std::to_string(reply.body.size());
    if (!reply.body.empty()) {
      mg_response_header_add(conn, "Content-Type", "text/plain; charset=utf-8", -1);
    }
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
    if (reply.retry_after) {
      const std::string seconds = std::to_string(*reply.retry_after);
      mg_response_header_add(conn, "Retry-After", seconds.c_str(), -1);
    }
    mg_response_header_send(conn);
    if (!reply.body.empty()) mg_write(conn, reply.body.data(), reply.body.size());
    return reply.status;
  };

  if (path == "/ready" && method == "GET") return respond({200, "ready\n", {}});
  if (path != "/loki/api/v1/push") return respond({404, "404 page not found\n", {}});
  if (method != "POST") return respond({405, "method not allowed\n", {}});

  LokiRequest request{.status = 0,
                      .content_type = header(conn, "Content-Type"),
                      .content_encoding = header(conn, "Content-Encoding"),
                      .tenant = header(conn, "X-Scope-OrgID"),
                      .authorization = header(conn, "Authorization"),
                      .body_bytes = 0,
                      .entries = 0,
                      .accepted = 0};
  std::string body;
  bool too_large = false;
  // On the heap: civetweb's worker threads have small stacks.
  std::vector<char> buffer(64 * 1024);
  while (true) {
    const int n = mg_read(conn, buffer.data(), buffer.size());
    if (n <= 0) break;
    if (body.size() + static_cast<std::size_t>(n) > options.max_body_bytes) {
      too_large = true;  // keep reading, so the connection stays usable
      continue;
    }
    body.append(buffer.data(), static_cast<std::size_t>(n));
  }
  request.body_bytes = body.size();

  Reply reply;
  std::chrono::milliseconds wait{0};
  {
    std::lock_guard lock(mu);
    wait = delay;
    if (!canned.empty()) {
      reply = Reply{canned.front().status, canned.front().body, canned.front().retry_after};
      canned.pop_front();
    }
  }
  if (reply.status == 204) {
    if (!options.authorization.empty() && request.authorization != options.authorization) {
      reply = {401, "authorization required\n", {}};
    } else if (!options.tenant.empty() && request.tenant != options.tenant) {
      reply = {401, "no org id\n", {}};
    } else if (too_large) {
      reply = {413, "request body too large\n", {}};
    } else {
      base::Result<std::vector<PushedStream>> decoded =
          [&]() -> base::Result<std::vector<PushedStream>> {
        std::string plain;
        std::string_view data = body;
        if (request.content_encoding == "gzip") {
          auto inflated = loki::gzip_uncompress(body, 256 << 20);
          if (!inflated) return std::unexpected(std::move(inflated).error());
          plain = std::move(*inflated);
          data = plain;
        } else if (!request.content_encoding.empty() && request.content_encoding != "snappy") {
          return base::fail(base::ErrorCode::kInvalidInput,
                            "Content-Encoding \"" + request.content_encoding + "\" not supported");
        }
        const std::string_view type =
            std::string_view(request.content_type).substr(0, request.content_type.find(';'));
        if (type == "application/json") return decode_json(data);
        return decode_protobuf(data);
      }();
      if (!decoded) {
        reply = {400, decoded.error().message() + "\n", {}};
      } else {
        std::lock_guard lock(mu);
        reply = push(*decoded, request);
      }
    }
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
  request.status = reply.status;
  {
    std::lock_guard lock(mu);
    request.answered_at = std::chrono::steady_clock::now();
    requests.push_back(std::move(request));
  }
  stored_cv.notify_all();
  return respond(reply);
}

// What Loki's distributor, then its ingesters, do with a decoded request (mu held).
Reply LokiReceiver::Impl::push(const std::vector<PushedStream>& pushed, LokiRequest& request) {
  const std::string tenant = options.tenant.empty() ? "fake" : options.tenant;
  const std::int64_t now = now_ns(clock);
  // Distributor: one message per problem, grouped by text in first-seen order.
  std::vector<std::pair<std::string, int>> validation;
  auto problem = [&validation](std::string message) {
    for (auto& [text, count] : validation) {
      if (text == message) {
        ++count;
        return;
      }
    }
    validation.emplace_back(std::move(message), 1);
  };
  std::vector<std::string> ingester_errors;
  std::string stream_limit_error;

  for (const PushedStream& stream : pushed) {
    request.entries += stream.entries.size();
    if (stream.entries.empty()) continue;
    auto parsed = loki::parse_labels(stream.labels);
    if (!parsed) {
      problem("Error parsing labels '" + stream.labels +
              "' with error: " + parsed.error().message());
      continue;
    }
    const LabelSet& labels = *parsed;
    if (labels.empty()) {
      problem("error at least one label pair is required per stream");
      continue;
    }
    std::size_t names = labels.size();
    for (const auto& label : labels) names -= label.name == "service_name" ? 1 : 0;
    if (names > options.label_limits.max_labels) {
      problem("entry for stream '" + stream.labels + "' has " + std::to_string(names) +
              " label names; limit " + std::to_string(options.label_limits.max_labels));
      continue;
    }
    std::string label_problem;
    for (std::size_t i = 0; i < labels.size() && label_problem.empty(); ++i) {
      if (labels[i].name.size() > options.label_limits.max_name_length) {
        label_problem =
            "stream '" + stream.labels + "' has label name too long: '" + labels[i].name + "'";
      } else if (labels[i].value.size() > options.label_limits.max_value_length) {
        label_problem =
            "stream '" + stream.labels + "' has label value too long: '" + labels[i].value + "'";
      } else if (i > 0 && labels[i - 1].name == labels[i].name) {
        label_problem =
            "stream '" + stream.labels + "' has duplicate label name: '" + labels[i].name + "'";
      }
    }
    if (!label_problem.empty()) {
      problem(std::move(label_problem));
      continue;
    }
    const std::string key = loki::format_labels(labels);

    // The ingester's stream limit: a stream that does not exist yet is not created once the
    // tenant has max_active_streams; Loki 3 names the stream it refused, and stores the others.
    if (options.max_active_streams > 0 && !streams.contains(key) &&
        streams.size() >= options.max_active_streams) {
      stream_limited += stream.entries.size();
      stream_limit_error =
          "Maximum active stream limit exceeded when trying to create stream " + key +
          ", reduce the number of active streams (reduce labels or reduce label values), or "
          "contact your Loki administrator to see if the limit can be increased, user: '" +
          tenant + "'";
      continue;
    }

    // Distributor, per entry; then the ingester on what is left.
    std::vector<std::pair<std::int64_t, const PushedEntry*>> valid;
    for (const PushedEntry& entry : stream.entries) {
      const std::int64_t ts = entry.ts;
      const std::string& line = entry.line;
      if (options.max_entry_age.count() > 0 && ts < now - options.max_entry_age.count()) {
        problem(
            "entry for stream '" + key + "' has timestamp too old: " + go_rfc3339(ts) +
            ", oldest acceptable timestamp is: " + go_rfc3339(now - options.max_entry_age.count()));
      } else if (options.max_future.count() > 0 && ts > now + options.max_future.count()) {
        problem("entry for stream '" + key + "' has timestamp too new: " + go_rfc3339(ts));
      } else if (options.max_line_bytes > 0 && line.size() > options.max_line_bytes) {
        problem("Max entry size '" + std::to_string(options.max_line_bytes) +
                "' bytes exceeded for stream '" + key + "' while adding an entry with length '" +
                std::to_string(line.size()) + "' bytes");
      } else {
        valid.emplace_back(ts, &entry);
      }
    }
    if (valid.empty()) continue;

    Stream& state = streams[key];
    std::vector<std::pair<std::int64_t, std::string>> refused;  // timestamp, reason
    // In Loki's order: the stream's last line again is skipped before any check; other
    // duplicates only once the ordering checks passed (they are dropped by the chunk).
    for (const auto& [ts, entry] : valid) {
      const std::string* line = &entry->line;
      if (state.any && ts == state.last_ts && *line == state.last_line) {
        ++duplicates;
        ++request.accepted;
        continue;
      }
      if (reject && reject(*line)) {
        refused.emplace_back(ts, reject_reason);
        continue;
      }
      if (state.any && options.unordered_writes &&
          ts < state.newest - options.ordering_window.count()) {
        refused.emplace_back(ts, "entry too far behind, entry timestamp is: " + go_rfc3339(ts) +
                                     ", oldest acceptable timestamp is: " +
                                     go_rfc3339(state.newest - options.ordering_window.count()));
        continue;
      }
      if (state.any && !options.unordered_writes && ts < state.newest) {
        refused.emplace_back(ts, "entry out of order");
        continue;
      }
      auto& at_time = state.lines[ts];
      if (std::ranges::find(at_time, *line) != at_time.end()) {
        ++duplicates;
        ++request.accepted;
        continue;
      }
      at_time.push_back(*line);
      state.last_ts = ts;
      state.last_line = *line;
      state.newest = state.any ? std::max(state.newest, ts) : ts;
      state.any = true;
      stored.push_back(LokiEntry{key, ts, *line, entry->trace_id});
      ++request.accepted;
    }
    if (refused.empty()) continue;
    std::string text;
    for (std::size_t i = 0; i < refused.size() && i < options.max_returned_stream_errors; ++i) {
      text += "entry with timestamp " + go_time_string(refused[i].first) + " ignored, reason: '" +
              refused[i].second + "',\n";
    }
    text += "user '" + tenant + "', total ignored: " + std::to_string(refused.size()) + " out of " +
            std::to_string(stream.entries.size()) + " for stream: " + key;
    ingester_errors.push_back(std::move(text));
  }

  if (!stream_limit_error.empty()) return {429, stream_limit_error + "\n", {}};
  std::string distributor_text;
  for (const auto& [text, count] : validation) {
    if (!distributor_text.empty()) distributor_text += "; ";
    if (validation.size() > 1 || count > 1)
      distributor_text += std::to_string(count) + " errors like: ";
    distributor_text += text;
  }
  if (!ingester_errors.empty()) {
    if (options.loki_error_reporting) return {400, ingester_errors.back() + "\n", {}};
    std::string text = distributor_text.empty() ? "" : distributor_text + "\n";
    for (const std::string& error : ingester_errors) text += error + "\n";
    return {400, text, {}};
  }
  if (!distributor_text.empty()) return {400, distributor_text + "\n", {}};
  return {204, {}, {}};
}

base::Result<std::unique_ptr<LokiReceiver>> LokiReceiver::start(LokiReceiverOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto listening = impl->listen(); !listening) {
    return std::unexpected(std::move(listening).error());
  }
  return std::unique_ptr<LokiReceiver>(new LokiReceiver(std::move(impl)));
}

LokiReceiver::LokiReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LokiReceiver::~LokiReceiver() = default;

std::uint16_t LokiReceiver::port() const { return impl_->port; }

std::string LokiReceiver::push_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/loki/api/v1/push";
}

void LokiReceiver::fail_next(int count, int status, std::string body,
                             std::optional<int> retry_after_seconds) {
  std::lock_guard lock(impl_->mu);
  if (!body.empty() && body.back() != '\n') body += '\n';
  for (int i = 0; i < count; ++i) impl_->canned.push_back({status, body, retry_after_seconds});
}

void LokiReceiver::reject_lines(std::function<bool(std::string_view)> predicate,
                                std::string reason) {
  std::lock_guard lock(impl_->mu);
  impl_->reject = std::move(predicate);
  impl_->reject_reason = std::move(reason);
}

void LokiReceiver::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mu);
  impl_->delay = delay;
}

void LokiReceiver::go_down() {
  std::unique_lock lock(impl_->mu);
  impl_->down = true;
  impl_->handled_cv.wait(lock, [this] { return impl_->handling == 0; });
}

base::Status LokiReceiver::come_back() {
  std::lock_guard lock(impl_->mu);
  impl_->down = false;
  return {};
}

std::size_t LokiReceiver::refused() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused_while_down;
}

std::vector<LokiEntry> LokiReceiver::entries() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stored;
}

std::size_t LokiReceiver::entry_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stored.size();
}

std::size_t LokiReceiver::duplicates() const {
  std::lock_guard lock(impl_->mu);
  return impl_->duplicates;
}

std::size_t LokiReceiver::stream_limited() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stream_limited;
}

std::vector<LokiRequest> LokiReceiver::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

bool LokiReceiver::wait_for_entries(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->stored_cv.wait_for(lock, timeout, [&] { return impl_->stored.size() >= count; });
}

}  // namespace iw::testing
