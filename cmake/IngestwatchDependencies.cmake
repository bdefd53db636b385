# Every dependency comes from a Debian 12 package (see scripts/setup).
find_package(PkgConfig REQUIRED)
# The C++ API plus the C API, which the kafka library uses where the C++ one lacks a call.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++>=2.0 rdkafka>=2.0)
find_package(prometheus-cpp CONFIG REQUIRED COMPONENTS core)
find_package(civetweb CONFIG REQUIRED)
find_package(simdjson CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
# IANA time zones for naive timestamps; libstdc++ 12 has no std::chrono::locate_zone yet.
find_package(date CONFIG REQUIRED)
find_package(Threads REQUIRED)
# HTTP client of the alert-evaluator's Alertmanager notifier (libcurl4-openssl-dev).
find_package(CURL REQUIRED)
# Loki push bodies: snappy blocks for protobuf, gzip for JSON (libsnappy-dev, zlib1g-dev).
find_package(Snappy CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
# SHA-256 of oversized records, dlq.sha256 (libssl-dev: OpenSSL's libcrypto).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
if(IW_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  # Tests only: classes generated from Loki's push.proto decode what iw::loki encodes by hand
  # (libprotobuf-dev, protobuf-compiler).
  find_package(Protobuf REQUIRED)
endif()
if(IW_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
