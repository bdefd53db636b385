#include "librdkafka_glue.h"

#include <chrono>

#include "iw/base/check.h"

namespace iw::kafka::detail {

base::ErrorCode classify(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR__MSG_TIMED_OUT:
      return base::ErrorCode::kTimeout;
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR_CONCURRENT_TRANSACTIONS:
    case RdKafka::ERR__WAIT_COORD:
      return base::ErrorCode::kUnavailable;
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_CONFIG:
      return base::ErrorCode::kInvalidInput;
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR__UNKNOWN_GROUP:
      return base::ErrorCode::kNotFound;
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__FENCED:
    case RdKafka::ERR_PRODUCER_FENCED:
    case RdKafka::ERR_INVALID_PRODUCER_EPOCH:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RdKafka::ERR__STATE:
    case RdKafka::ERR__NOT_CONFIGURED:
      return base::ErrorCode::kFailedPrecondition;
    default:
      return base::ErrorCode::kInternal;
  }
}

base::Error translate(RdKafka::ErrorCode code, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += RdKafka::err2str(code);
  return base::Error(classify(code), std::move(message));
}

base::Status translate_and_free(RdKafka::Error* error, std::string_view context) {
  if (error == nullptr) return {};
  const std::unique_ptr<RdKafka::Error> owned(error);
  base::ErrorCode code = classify(owned->code());
  // The transactional API says what to do explicitly; that beats the code-based guess.
  if (owned->is_fatal()) {
    code = base::ErrorCode::kFailedPrecondition;
  } else if (owned->txn_requires_abort()) {
    code = base::ErrorCode::kAborted;
  } else if (owned->is_retriable()) {
    code = base::ErrorCode::kUnavailable;
  }
  std::string message(context);
  message += ": ";
  message += owned->str();
  return base::fail(code, std::move(message));
}

namespace {

log::Level level_of_syslog(int severity) {
  if (severity <= 3) return log::Level::kError;
  if (severity == 4) return log::Level::kWarn;
  if (severity <= 6) return log::Level::kInfo;
  return log::Level::kDebug;
}

}  // namespace

ClientEvents::ClientEvents(const ClientOptions& options, std::string_view role)
    : logger_(*options.logger),
      on_error_(options.on_client_error),
      role_(role),
      limited_(*options.logger, 10, std::chrono::seconds{10}) {}

void ClientEvents::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR: {
      const bool fatal = event.fatal();
      if (fatal) mark_fatal();
      const base::Error error = translate(event.err(), event.str());
      if (on_error_) on_error_(error, fatal);
      // Fields hold views: the strings librdkafka returns by value must outlive them.
      const std::string code = RdKafka::err2str(event.err());
      const std::string detail = event.str();
      const log::Fields fields = {
          {"client", role_}, {"code", code}, {"detail", detail}, {"fatal", fatal}};
      // A fatal error stops the client, so it is never folded away by the rate limit.
      if (fatal) {
        logger_.error("kafka fatal error", fields);
      } else {
        limited_.warn("kafka client error", fields);
      }
      break;
    }
    case RdKafka::Event::EVENT_LOG: {
      const log::Level level = level_of_syslog(static_cast<int>(event.severity()));
      if (logger_.enabled(level)) {
        logger_.log(level, "librdkafka",
                    {{"client", role_}, {"facility", event.fac()}, {"detail", event.str()}});
      }
      break;
    }
    default:
      break;
  }
}

base::Result<std::unique_ptr<RdKafka::Conf>> build_conf(
    const ClientOptions& options,
    std::initializer_list<std::pair<std::string_view, std::string_view>> managed,
    ClientEvents& events) {
  IW_CHECK(options.logger != nullptr, "ClientOptions::logger is required");
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  std::string problems;
  const auto set = [&](std::string_view key, std::string_view value, bool from_user) {
    if (conf->set(std::string(key), std::string(value), errstr) != RdKafka::Conf::CONF_OK) {
      if (!problems.empty()) problems += "; ";
      problems += from_user ? "kafka.properties." : "";
      problems += key;
      problems += ": ";
      problems += errstr;
    }
  };
  for (const auto& [key, value] : options.properties) set(key, value, true);
  set("bootstrap.servers", options.bootstrap_servers, false);
  set("client.id", options.client_id, false);
  for (const auto& [key, value] : managed) set(key, value, false);
  if (!problems.empty()) return base::fail(base::ErrorCode::kInvalidInput, problems);
  if (auto status = set_callback(*conf, "event_cb", static_cast<RdKafka::EventCb*>(&events));
      !status) {
    return std::unexpected(status.error());
  }
  return conf;
}

std::vector<RdKafka::TopicPartition*> to_rdkafka(std::span<const TopicPartitionOffset> positions) {
  std::vector<RdKafka::TopicPartition*> out;
  out.reserve(positions.size());
  for (const auto& p : positions) {
    const std::int64_t offset =
        p.offset == kOffsetStored ? RdKafka::Topic::OFFSET_STORED : p.offset;
    out.push_back(RdKafka::TopicPartition::create(p.topic, p.partition, offset));
  }
  return out;
}

std::vector<RdKafka::TopicPartition*> to_rdkafka(std::span<const TopicPartition> partitions) {
  std::vector<RdKafka::TopicPartition*> out;
  out.reserve(partitions.size());
  for (const auto& p : partitions) {
    out.push_back(RdKafka::TopicPartition::create(p.topic, p.partition));
  }
  return out;
}

std::vector<TopicPartitionOffset> from_rdkafka(
    const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<TopicPartitionOffset> out;
  out.reserve(partitions.size());
  for (const auto* p : partitions) {
    const std::int64_t offset = p->offset() == RdKafka::Topic::OFFSET_STORED ||
                                        p->offset() == RdKafka::Topic::OFFSET_INVALID
                                    ? kOffsetStored
                                    : p->offset();
    out.push_back({p->topic(), p->partition(), offset});
  }
  return out;
}

}  // namespace iw::kafka::detail
