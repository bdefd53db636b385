#pragma once

// Helpers shared by the benchmark programs: plain librdkafka (the baselines must be raw) and
// plain sockets, no ingestwatch library in the way.

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iw::bench {

/// A number to make topic and group names unique per run.
[[nodiscard]] std::string random_suffix();

/// Sets a librdkafka setting or exits with librdkafka's reason.
void set(rd_kafka_conf_t* conf, const char* key, const std::string& value);

/// The command line every throughput program takes: BOOTSTRAP BINARY [RECORDS] [ROUNDS].
struct BenchArgs {
  std::string bootstrap;
  std::string binary;
  std::size_t records = 0;
  int rounds = 3;
};

/// Parses it; prints the usage (naming the binary as `binary_name`) and exits 2 when it is
/// incomplete or RECORDS < 2 or ROUNDS < 1.
BenchArgs parse_bench_args(int argc, char** argv, const char* binary_name,
                           std::size_t default_records);

/// Creates a topic (replication 1) and waits for the answer.
void create_topic(const std::string& bootstrap, const std::string& topic, int partitions);

/// A delivery-report callback that counts failures into the size_t its opaque points to. A
/// baseline without one would free messages on librdkafka's broker thread and measure that.
void count_failures(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

/// A producer configuration with the settings the services' producers use (idempotent,
/// acks=all, linger.ms 5, lz4) and count_failures counting into *failures; callers add what
/// differs, then rd_kafka_new().
[[nodiscard]] rd_kafka_conf_t* service_producer_conf(const std::string& bootstrap,
                                                     std::size_t* failures);

/// A read_committed consumer of `topic` in a new group (`group_prefix` + a random suffix),
/// from the earliest offset, subscribed and polling through its consumer queue. Offsets are
/// committed automatically unless `commit_manually` (a transactional relay sends them with its
/// transaction instead). `properties` go on top. Exits with librdkafka's reason when it cannot
/// be created.
[[nodiscard]] rd_kafka_t* subscribed_consumer(
    const std::string& bootstrap, const std::string& topic, const std::string& group_prefix,
    bool commit_manually,
    std::initializer_list<std::pair<const char*, const char*>> properties = {});

/// Sends the consumer's current positions to the producer's open transaction and commits it, as
/// a transactional relay (the enricher's raw counterpart) does; exits on an error.
void commit_transaction(rd_kafka_t* producer, rd_kafka_t* consumer);

[[nodiscard]] double median(std::vector<double> values);

/// One side's figures in one round: records/s, and CPU-seconds per million records.
struct Throughput {
  double rate = 0;
  double cpu_per_million = 0;
};

/// The medians of a side's rounds.
[[nodiscard]] double median_rate(const std::vector<Throughput>& rounds);
[[nodiscard]] double median_cpu(const std::vector<Throughput>& rounds);

/// utime + stime of this process (all its threads: librdkafka's too), in seconds.
/// utime + stime of a getrusage() or wait4() answer.
[[nodiscard]] double cpu_seconds(const rusage& usage);
[[nodiscard]] double self_cpu_seconds();

/// utime + stime of a live process (all its threads), from /proc/<pid>/stat, in seconds; 0 when
/// it cannot be read.
[[nodiscard]] double process_cpu_seconds(pid_t pid);

/// The HTTP port a service run as a process names in its stdout, read from `log` (the file its
/// stdout goes to: "http_port":N in its start-up line); 0 while it has not named one yet.
[[nodiscard]] std::uint16_t http_port_from_log(const std::string& log);

/// GET /metrics from 127.0.0.1:`port`, the whole answer ("" when it fails). A plain socket in
/// this process: until 2026-12 each scrape ran curl through popen(), a fork and an exec every
/// 10 ms that took about a third of a core from the 2-core machine while only the processes
/// measured this way ran, none of the in-process raw loops.
[[nodiscard]] std::string http_get_metrics(std::uint16_t port);

/// Sums the samples of the named counters in the service's /metrics (one GET).
[[nodiscard]] double scrape_sum(std::uint16_t port, std::initializer_list<std::string_view> names);

}  // namespace iw::bench
