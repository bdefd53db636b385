#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "iw/base/error.h"
#include "iw/logfile/record.h"
#include "iw/logfile/splitter.h"

namespace iw::logfile {

/// Where a RecordReader gets its bytes. Files and stdin come with the library; tests supply
/// their own to inject faults.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Up to out.size() bytes; 0 only at the end of the input. Errors: kUnavailable.
  [[nodiscard]] virtual base::Result<std::size_t> read(std::span<char> out) = 0;
  /// Back to the first byte. kFailedPrecondition when the source cannot (a pipe).
  [[nodiscard]] virtual base::Status rewind() = 0;
  /// Total size when known up front (regular files).
  [[nodiscard]] virtual std::optional<std::uint64_t> size() const = 0;
  /// Whether read() would return without blocking, waiting at most `timeout`. Sources that
  /// never block (files, memory) need not override it.
  [[nodiscard]] virtual base::Result<bool> wait_readable(std::chrono::milliseconds timeout) {
    (void)timeout;
    return true;
  }
};

/// Streams a logs file as raw records (see RecordSplitter for what a record is), reading it
/// in chunks into one fixed buffer: memory does not depend on the file size.
class RecordReader {
 public:
  /// At least this many readable bytes follow every record view (see RecordSplitter).
  static constexpr std::size_t kReadablePadding = RecordSplitter::kReadablePadding;

  /// Opens `path` ("-" is stdin) and reads until the format is known. Errors name the path:
  /// kNotFound when it does not exist, kFailedPrecondition when it cannot be opened or is a
  /// directory, kUnavailable when the first read fails.
  [[nodiscard]] static base::Result<RecordReader> open(const std::string& path,
                                                       ReaderOptions options);
  /// The same over any source; `name` goes into error messages.
  [[nodiscard]] static base::Result<RecordReader> from_source(std::unique_ptr<ByteSource> source,
                                                              std::string name,
                                                              ReaderOptions options);

  /// The next record, or nullopt at the end (and on every call after it). The view stays valid
  /// until the next call. A read error is kUnavailable and names the file; calling again
  /// retries the read.
  [[nodiscard]] base::Result<std::optional<RawRecord>> next();

  /// Starts again from the first byte (for looping over a file), detecting the format anew.
  /// kFailedPrecondition when the source cannot rewind (stdin from a pipe).
  [[nodiscard]] base::Status rewind();

  /// The format in use: the configured one, or the detected one.
  [[nodiscard]] Format format() const { return splitter_.format(); }
  /// Bytes of the file scanned so far, for progress.
  [[nodiscard]] std::uint64_t bytes_consumed() const { return splitter_.bytes_consumed(); }
  /// The file's size when known (not for pipes), for progress.
  [[nodiscard]] std::optional<std::uint64_t> file_size() const { return source_->size(); }
  /// The path (or "stdin"), as used in error messages.
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  RecordReader(std::unique_ptr<ByteSource> source, std::string name, ReaderOptions options);
  [[nodiscard]] base::Status refill();
  [[nodiscard]] base::Status detect();

  std::unique_ptr<ByteSource> source_;
  std::string name_;
  RecordSplitter splitter_;
  std::function<bool()> while_waiting_;
  /// while_waiting_ said stop during the last refill.
  bool stopped_ = false;
};

}  // namespace iw::logfile
