#include "iw/loki/compression.h"

#include <snappy.h>
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "iw/base/check.h"

namespace iw::loki {
namespace {

using base::ErrorCode;

// zlib counts in uInt; feed it at most this much at a time.
constexpr std::size_t kZlibChunk = 1U << 30;

}  // namespace

std::string snappy_compress(std::string_view data) {
  std::string out;
  snappy::Compress(data.data(), data.size(), &out);
  return out;
}

base::Result<std::string> snappy_uncompress(std::string_view data, std::size_t max_size) {
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(data.data(), data.size(), &length)) {
    return base::fail(ErrorCode::kInvalidInput, "not a snappy block");
  }
  if (length > max_size) {
    return base::fail(ErrorCode::kInvalidInput, "snappy block of " + std::to_string(length) +
                                                    " bytes, more than the limit of " +
                                                    std::to_string(max_size));
  }
  std::string out;
  if (!snappy::Uncompress(data.data(), data.size(), &out)) {
    return base::fail(ErrorCode::kInvalidInput, "corrupt snappy block");
  }
  return out;
}

std::string gzip_compress(std::string_view data, int level) {
  z_stream z{};
  // 15 + 16: the largest window, with a gzip header and trailer instead of zlib's.
  IW_CHECK(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
           "deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  std::size_t in_left = data.size();
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (z.avail_in == 0 && in_left > 0) {
      z.avail_in = static_cast<uInt>(std::min(in_left, kZlibChunk));
      in_left -= z.avail_in;
    }
    if (z.total_out == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(std::min(out.size() - z.total_out, kZlibChunk));
    status = deflate(&z, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    IW_CHECK(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "deflate failed");
  }
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

base::Result<std::string> gzip_uncompress(std::string_view data, std::size_t max_size) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return base::fail(ErrorCode::kInternal, "inflateInit2");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  std::size_t in_left = data.size();
  std::string out;
  int status = Z_OK;
  std::string error;
  while (status != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (in_left == 0) {
        error = "truncated gzip data";
        break;
      }
      z.avail_in = static_cast<uInt>(std::min(in_left, kZlibChunk));
      in_left -= z.avail_in;
    }
    if (z.total_out == out.size()) {
      if (out.size() >= max_size + 1) {
        error =
            "gzip data inflates to more than the limit of " + std::to_string(max_size) + " bytes";
        break;
      }
      out.resize(std::min(std::max<std::size_t>(out.size() * 2, 4096), max_size + 1));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(std::min(out.size() - z.total_out, kZlibChunk));
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
      error = std::string("not gzip data (") + (z.msg != nullptr ? z.msg : "inflate failed") + ")";
      break;
    }
  }
  const std::size_t produced = z.total_out;
  inflateEnd(&z);
  if (error.empty() && produced > max_size) {
    error = "gzip data inflates to more than the limit of " + std::to_string(max_size) + " bytes";
  }
  if (!error.empty()) return base::fail(ErrorCode::kInvalidInput, std::move(error));
  out.resize(produced);
  return out;
}

}  // namespace iw::loki
