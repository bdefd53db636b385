#pragma once

// Private glue between librdkafka's C++ API and the project's types. Not installed.

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/base/error.h"
#include "iw/kafka/client.h"
#include "iw/kafka/record.h"
#include "iw/log/logger.h"

namespace iw::kafka::detail {

/// Maps a librdkafka error code to what the caller should do about it.
[[nodiscard]] base::ErrorCode classify(RdKafka::ErrorCode code);

[[nodiscard]] base::Error translate(RdKafka::ErrorCode code, std::string_view context);

/// Translates (and takes ownership of) an error object returned by the transactional API.
[[nodiscard]] base::Status translate_and_free(RdKafka::Error* error, std::string_view context);

/// Receives librdkafka's log lines and error events: logs them as JSON lines (errors
/// rate-limited), reports them to ClientOptions::on_client_error, and remembers fatal errors.
class ClientEvents final : public RdKafka::EventCb {
 public:
  ClientEvents(const ClientOptions& options, std::string_view role);
  void event_cb(RdKafka::Event& event) override;
  [[nodiscard]] bool fatal() const { return fatal_.load(std::memory_order_relaxed); }
  void mark_fatal() { fatal_.store(true, std::memory_order_relaxed); }

 private:
  const log::Logger& logger_;
  std::function<void(const base::Error&, bool)> on_error_;
  std::string role_;
  log::RateLimitedLog limited_;
  std::atomic<bool> fatal_{false};
};

/// Builds a configuration from the options: the user's properties first, then the settings the
/// project manages, which win. A rejected user property is reported as a config error.
[[nodiscard]] base::Result<std::unique_ptr<RdKafka::Conf>> build_conf(
    const ClientOptions& options,
    std::initializer_list<std::pair<std::string_view, std::string_view>> managed,
    ClientEvents& events);

/// Sets a non-string librdkafka setting (a callback object).
template <typename Callback>
base::Status set_callback(RdKafka::Conf& conf, std::string_view name, Callback* callback) {
  std::string errstr;
  if (conf.set(std::string(name), callback, errstr) != RdKafka::Conf::CONF_OK) {
    return base::fail(base::ErrorCode::kInternal, std::string(name) + ": " + errstr);
  }
  return {};
}

[[nodiscard]] std::vector<RdKafka::TopicPartition*> to_rdkafka(
    std::span<const TopicPartitionOffset> positions);
[[nodiscard]] std::vector<RdKafka::TopicPartition*> to_rdkafka(
    std::span<const TopicPartition> partitions);
[[nodiscard]] std::vector<TopicPartitionOffset> from_rdkafka(
    const std::vector<RdKafka::TopicPartition*>& partitions);

/// Owns a vector of librdkafka TopicPartition pointers.
class PartitionList {
 public:
  explicit PartitionList(std::vector<RdKafka::TopicPartition*> list) : list_(std::move(list)) {}
  ~PartitionList() { RdKafka::TopicPartition::destroy(list_); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  std::vector<RdKafka::TopicPartition*>& get() { return list_; }

 private:
  std::vector<RdKafka::TopicPartition*> list_;
};

}  // namespace iw::kafka::detail
