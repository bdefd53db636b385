#include "iw/kafka/client.h"

#include <librdkafka/rdkafkacpp.h>

#include <array>
#include <memory>

#include "iw/kafka/record.h"

namespace iw::kafka {
namespace {

// Settings through which the project keeps its delivery guarantees; letting a user override
// them would silently turn "committed after durable" into "committed when read".
constexpr std::array<std::string_view, 10> kManagedProperties = {
    "bootstrap.servers",        "group.id",
    "enable.auto.offset.store", "enable.auto.commit",
    "enable.idempotence",       "transactional.id",
    "isolation.level",          "acks",
    "auto.offset.reset",        "delivery.report.only.error",
};

class OwnedBacking final : public Record::Backing {
 public:
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;

  std::size_t header_count() const override { return headers.size(); }
  HeaderView header_at(std::size_t index) const override {
    return {headers.at(index).first, headers.at(index).second};
  }
};

}  // namespace

std::optional<std::string_view> Record::Backing::header(std::string_view name) const {
  for (std::size_t i = header_count(); i-- > 0;) {
    const HeaderView h = header_at(i);
    if (h.key == name) return h.value;
  }
  return std::nullopt;
}

Record Record::owned(std::string topic, std::int32_t partition, std::int64_t offset,
                     std::optional<std::string> key, std::string value,
                     std::vector<std::pair<std::string, std::string>> headers,
                     base::TimePoint timestamp) {
  auto backing = std::make_unique<OwnedBacking>();
  backing->topic = std::move(topic);
  backing->key = std::move(key);
  backing->value = std::move(value);
  backing->headers = std::move(headers);
  Fields fields{.topic = backing->topic,
                .partition = partition,
                .offset = offset,
                .key = backing->key ? std::optional<std::string_view>(*backing->key) : std::nullopt,
                .value = backing->value,
                .timestamp = timestamp};
  return Record(std::move(backing), fields);
}

std::optional<std::string> validate_property(std::string_view key, std::string_view value) {
  for (std::string_view managed : kManagedProperties) {
    if (key == managed) {
      return "managed by ingestwatch (it carries the delivery guarantees); set the service's "
             "own key instead";
    }
  }
  const std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  if (conf->set(std::string(key), std::string(value), errstr) != RdKafka::Conf::CONF_OK) {
    return errstr;
  }
  return std::nullopt;
}

}  // namespace iw::kafka
