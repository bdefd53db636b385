#include "iw/logfile/reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace iw::logfile {
namespace {

std::string errno_text(int error) { return std::generic_category().message(error); }

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owned, std::string name, std::optional<std::uint64_t> size)
      : fd_(fd), owned_(owned), name_(std::move(name)), size_(size) {}
  ~FdSource() override {
    if (owned_) ::close(fd_);
  }
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  base::Result<std::size_t> read(std::span<char> out) override {
    for (;;) {
      const ssize_t n = ::read(fd_, out.data(), out.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      return base::fail(base::ErrorCode::kUnavailable,
                        "reading " + name_ + ": " + errno_text(errno));
    }
  }

  base::Status rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) < 0) {
      return base::fail(base::ErrorCode::kFailedPrecondition,
                        "cannot rewind " + name_ + ": " + errno_text(errno));
    }
    return {};
  }

  std::optional<std::uint64_t> size() const override { return size_; }

  base::Result<bool> wait_readable(std::chrono::milliseconds timeout) override {
    if (size_) return true;  // a regular file never blocks
    pollfd fd{.fd = fd_, .events = POLLIN, .revents = 0};
    const int n = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    if (n >= 0) return n > 0;  // readable, at its end, or in error: read() tells which
    if (errno == EINTR) return false;
    return base::fail(base::ErrorCode::kUnavailable,
                      "waiting for " + name_ + ": " + errno_text(errno));
  }

 private:
  int fd_;
  bool owned_;
  std::string name_;
  std::optional<std::uint64_t> size_;
};

}  // namespace

RecordReader::RecordReader(std::unique_ptr<ByteSource> source, std::string name,
                           ReaderOptions options)
    : source_(std::move(source)),
      name_(std::move(name)),
      splitter_(options),
      while_waiting_(std::move(options.while_waiting)) {}

base::Result<RecordReader> RecordReader::open(const std::string& path, ReaderOptions options) {
  if (path == "-") {
    struct stat info {};
    std::optional<std::uint64_t> size;
    if (::fstat(STDIN_FILENO, &info) == 0 && S_ISREG(info.st_mode)) {
      size = static_cast<std::uint64_t>(info.st_size);
    }
    return from_source(std::make_unique<FdSource>(STDIN_FILENO, false, "stdin", size), "stdin",
                       options);
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return base::fail(
        error == ENOENT ? base::ErrorCode::kNotFound : base::ErrorCode::kFailedPrecondition,
        "cannot open " + path + ": " + errno_text(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    const std::string why = S_ISDIR(info.st_mode) ? "it is a directory" : errno_text(errno);
    ::close(fd);
    return base::fail(base::ErrorCode::kFailedPrecondition, "cannot open " + path + ": " + why);
  }
  std::optional<std::uint64_t> size;
  if (S_ISREG(info.st_mode)) {
    size = static_cast<std::uint64_t>(info.st_size);
    // Large sequential reads: let the kernel read ahead aggressively.
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  return from_source(std::make_unique<FdSource>(fd, true, path, size), path, options);
}

base::Result<RecordReader> RecordReader::from_source(std::unique_ptr<ByteSource> source,
                                                     std::string name, ReaderOptions options) {
  RecordReader reader(std::move(source), std::move(name), options);
  if (auto status = reader.detect(); !status) return std::unexpected(std::move(status.error()));
  return reader;
}

base::Status RecordReader::refill() {
  stopped_ = false;
  if (while_waiting_) {
    for (;;) {
      auto readable = source_->wait_readable(std::chrono::milliseconds{100});
      if (!readable) return std::unexpected(std::move(readable.error()));
      if (*readable) break;
      if (!while_waiting_()) {
        stopped_ = true;
        return {};
      }
    }
  }
  const std::span<char> space = splitter_.input_space();
  auto n = source_->read(space);
  if (!n) return std::unexpected(std::move(n.error()));
  if (*n == 0) {
    splitter_.finish();
  } else {
    splitter_.commit(*n);
  }
  return {};
}

base::Status RecordReader::detect() {
  while (!splitter_.detect_format()) {
    if (auto status = refill(); !status) return status;
    if (stopped_) {
      return base::fail(base::ErrorCode::kUnavailable,
                        name_ + ": stopped before the input's format was known");
    }
  }
  return {};
}

base::Result<std::optional<RawRecord>> RecordReader::next() {
  for (;;) {
    if (auto record = splitter_.next()) return record;
    if (splitter_.at_end()) return std::nullopt;
    if (auto status = refill(); !status) return std::unexpected(std::move(status.error()));
    if (stopped_) return std::nullopt;
  }
}

base::Status RecordReader::rewind() {
  if (auto status = source_->rewind(); !status) return status;
  splitter_.reset();
  return detect();
}

}  // namespace iw::logfile
