#include "checkpoint.h"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::producer {
namespace {

std::int64_t nanos(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

base::TimePoint from_nanos(std::int64_t n) {
  return base::TimePoint(
      std::chrono::duration_cast<base::TimePoint::duration>(std::chrono::nanoseconds(n)));
}

std::string hex(std::uint64_t value) {
  char out[17] = {};
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(value));
  return out;
}

std::string errno_text(int error) { return std::generic_category().message(error); }

base::Error invalid(std::string what) {
  return {base::ErrorCode::kInvalidInput, "checkpoint: " + std::move(what)};
}

}  // namespace

std::string format_checkpoint(const Checkpoint& c) {
  std::string out = "{\"version\":" + std::to_string(Checkpoint::kVersion) + ",\"input\":";
  base::append_json_string(out, c.input);
  out += ",\"device\":" + std::to_string(c.device);
  out += ",\"inode\":" + std::to_string(c.inode);
  out += ",\"size\":" + std::to_string(c.size);
  out += ",\"records\":" + std::to_string(c.position.records);
  out += ",\"byte_offset\":" + std::to_string(c.position.byte_end);
  out += ",\"line\":" + std::to_string(c.position.line);
  out += ",\"digest\":\"" + hex(c.position.digest) + "\"";
  out += ",\"pass\":" + std::to_string(c.pass);
  out += std::string(",\"complete\":") + (c.complete ? "true" : "false");
  out += std::string(",\"realtime\":") + (c.realtime ? "true" : "false");
  char speed[32] = {};
  std::snprintf(speed, sizeof speed, "%.17g", c.speed);
  out += ",\"speed\":" + std::string(speed);
  if (c.anchor_record_time && c.anchor_wall_time) {
    out += ",\"anchor_record_time_ns\":" + std::to_string(nanos(*c.anchor_record_time));
    out += ",\"anchor_wall_time_ns\":" + std::to_string(nanos(*c.anchor_wall_time));
  }
  out += ",\"execution_id\":";
  base::append_json_string(out, c.execution_id);
  out += ",\"written_at\":\"" + base::format_rfc3339_millis(c.written_at) + "\"";
  out += ",\"written_at_ns\":" + std::to_string(nanos(c.written_at));
  out += "}\n";
  return out;
}

base::Result<Checkpoint> parse_checkpoint(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(text)).get(root) != simdjson::SUCCESS) {
    return std::unexpected(invalid("not a JSON object"));
  }
  Checkpoint c;
  const auto u64 = [&](const char* key, std::uint64_t& out) -> bool {
    return root[key].get_uint64().get(out) == simdjson::SUCCESS;
  };
  const auto i64 = [&](const char* key) -> std::optional<std::int64_t> {
    std::int64_t value = 0;
    if (root[key].get_int64().get(value) != simdjson::SUCCESS) return std::nullopt;
    return value;
  };
  std::uint64_t version = 0;
  if (!u64("version", version)) return std::unexpected(invalid("no version"));
  if (version != Checkpoint::kVersion) {
    return std::unexpected(invalid("version " + std::to_string(version) + " (this producer reads " +
                                   std::to_string(Checkpoint::kVersion) + ")"));
  }
  std::string_view input;
  std::string_view digest;
  std::string_view execution_id;
  if (root["input"].get_string().get(input) != simdjson::SUCCESS || !u64("device", c.device) ||
      !u64("inode", c.inode) || !u64("size", c.size) || !u64("records", c.position.records) ||
      !u64("byte_offset", c.position.byte_end) || !u64("line", c.position.line) ||
      !u64("pass", c.pass) || root["digest"].get_string().get(digest) != simdjson::SUCCESS ||
      root["complete"].get_bool().get(c.complete) != simdjson::SUCCESS ||
      root["realtime"].get_bool().get(c.realtime) != simdjson::SUCCESS ||
      root["speed"].get_double().get(c.speed) != simdjson::SUCCESS ||
      root["execution_id"].get_string().get(execution_id) != simdjson::SUCCESS) {
    return std::unexpected(invalid("a field is missing or of the wrong type"));
  }
  const auto [end, error] =
      std::from_chars(digest.data(), digest.data() + digest.size(), c.position.digest, 16);
  if (error != std::errc() || end != digest.data() + digest.size() || digest.size() != 16) {
    return std::unexpected(invalid("digest is not 16 hex digits"));
  }
  c.input = std::string(input);
  c.execution_id = std::string(execution_id);
  const auto record_ns = i64("anchor_record_time_ns");
  const auto wall_ns = i64("anchor_wall_time_ns");
  if (record_ns && wall_ns) {
    c.anchor_record_time = from_nanos(*record_ns);
    c.anchor_wall_time = from_nanos(*wall_ns);
  }
  if (const auto written = i64("written_at_ns")) c.written_at = from_nanos(*written);
  return c;
}

base::Status save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  const std::string text = format_checkpoint(checkpoint);
  const std::string temporary = path + ".tmp";
  const auto failed = [&](const std::string& what) {
    return base::fail(base::ErrorCode::kUnavailable,
                      "writing checkpoint " + path + ": " + what + ": " + errno_text(errno));
  };
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("open " + temporary);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const auto status = failed("write");
      ::close(fd);
      return status;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const auto status = failed("fsync");
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return failed("close");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return failed("rename");
  // The rename itself is durable once the directory is.
  const auto slash = path.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return {};
}

base::Result<std::optional<Checkpoint>> load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<Checkpoint>{};
    return base::fail(base::ErrorCode::kFailedPrecondition,
                      "cannot open checkpoint " + path + ": " + errno_text(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse_checkpoint(text.str());
  if (!parsed) return std::unexpected(parsed.error().with_context(path));
  return std::optional(std::move(*parsed));
}

base::Status check_resumable(const Checkpoint& checkpoint, const ResumeSettings& settings) {
  const auto refuse = [](const std::string& what) {
    return base::fail(base::ErrorCode::kFailedPrecondition,
                      "cannot resume: " + what +
                          " (resume with the settings of the run that wrote the checkpoint, or "
                          "start again without --resume)");
  };
  if (checkpoint.realtime != settings.realtime) {
    return refuse(std::string("the checkpoint was written ") +
                  (checkpoint.realtime ? "with" : "without") + " --realtime");
  }
  if (settings.realtime && checkpoint.speed != settings.speed) {
    char text[96] = {};
    std::snprintf(text, sizeof text, "the checkpoint was written with --speed %g, not %g",
                  checkpoint.speed, settings.speed);
    return refuse(text);
  }
  if (checkpoint.pass > 1 && !settings.loop) {
    return refuse("the checkpoint was written by a --loop run (pass " +
                  std::to_string(checkpoint.pass) + ")");
  }
  return {};
}

base::Result<bool> ResumeSkipper::skip(std::string_view bytes, std::uint64_t line,
                                       std::uint64_t byte_offset) {
  if (done()) return false;
  position_ = advance(position_, bytes, line, byte_offset);
  if (done() && position_ != target_) {
    return base::fail(
        base::ErrorCode::kFailedPrecondition,
        "cannot resume: the input does not hold the records the checkpoint covers (record " +
            std::to_string(target_.records) + " ends at byte " +
            std::to_string(position_.byte_end) + ", line " + std::to_string(position_.line) +
            "; the checkpoint says byte " + std::to_string(target_.byte_end) + ", line " +
            std::to_string(target_.line) +
            (position_.digest != target_.digest ? ", and the records before it differ" : "") + ")");
  }
  return true;
}

base::Status ResumeSkipper::at_end() const {
  if (done()) return {};
  return base::fail(base::ErrorCode::kFailedPrecondition,
                    "cannot resume: the input ends after " + std::to_string(position_.records) +
                        " records, before the checkpoint's " + std::to_string(target_.records));
}

}  // namespace iw::producer
