#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "iw/base/error.h"

namespace iw::loki {

/// Snappy's block format (not its framing format): the body of a protobuf push, as Loki reads
/// it (util.RawSnappy) and Prometheus remote-write uses it.
[[nodiscard]] std::string snappy_compress(std::string_view data);

/// kInvalidInput when `data` is not a snappy block or would decompress to more than `max_size`
/// bytes (checked before decompressing, from the block's own length header).
[[nodiscard]] base::Result<std::string> snappy_uncompress(std::string_view data,
                                                          std::size_t max_size);

/// A gzip member (RFC 1952), for a JSON body sent with `Content-Encoding: gzip`. `level` is
/// zlib's, 1 (fast) to 9 (small).
[[nodiscard]] std::string gzip_compress(std::string_view data, int level = 6);

/// kInvalidInput when `data` is not gzip, is truncated, or inflates beyond `max_size` bytes.
[[nodiscard]] base::Result<std::string> gzip_uncompress(std::string_view data,
                                                        std::size_t max_size);

}  // namespace iw::loki
