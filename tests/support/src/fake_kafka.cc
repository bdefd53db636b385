#include "iw/testing/fake_kafka.h"

#include <algorithm>
#include <functional>

#include "iw/base/check.h"

namespace iw::testing {
namespace {

using std::chrono::milliseconds;

class FakeGroupMetadata final : public kafka::GroupMetadata {
 public:
  explicit FakeGroupMetadata(std::string id) : group(std::move(id)) {}
  std::string group;
};

base::Status failed(base::ErrorCode code, std::string message) {
  return base::fail(code, std::move(message));
}

// Hands out a one-shot fault.
std::optional<base::Error> take(std::optional<base::Error>& fault) {
  return std::exchange(fault, std::nullopt);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FakeKafka

void FakeKafka::create_topic(const std::string& name, std::int32_t partitions) {
  IW_CHECK(partitions > 0, "a topic needs a partition");
  topics_.try_emplace(name, static_cast<std::size_t>(partitions));
}

std::int32_t FakeKafka::partition_count(const std::string& topic) const {
  const auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : static_cast<std::int32_t>(it->second.size());
}

std::vector<FakeKafka::Stored>& FakeKafka::partition_log(const std::string& topic,
                                                         std::int32_t partition) {
  const auto it = topics_.find(topic);
  IW_CHECK(it != topics_.end(), "FakeKafka: no such topic");
  IW_CHECK(partition >= 0 && static_cast<std::size_t>(partition) < it->second.size(),
           "FakeKafka: no such partition");
  return it->second[static_cast<std::size_t>(partition)];
}

const std::vector<FakeKafka::Stored>& FakeKafka::log(const std::string& topic,
                                                     std::int32_t partition) const {
  return const_cast<FakeKafka*>(this)->partition_log(topic, partition);
}

void FakeKafka::delete_records(const std::string& topic, std::int32_t partition,
                               std::int64_t offset) {
  log_starts_[{topic, partition}] = offset;
}

std::int64_t FakeKafka::log_start(const kafka::TopicPartition& partition) const {
  const auto it = log_starts_.find(partition);
  return it == log_starts_.end() ? 0 : it->second;
}

std::int64_t FakeKafka::append(const std::string& topic, std::int32_t partition, std::string value,
                               std::optional<std::string> key, Headers headers,
                               base::TimePoint timestamp) {
  auto& records = partition_log(topic, partition);
  const auto offset = static_cast<std::int64_t>(records.size());
  records.push_back({.offset = offset,
                     .key = std::move(key),
                     .value = std::move(value),
                     .headers = std::move(headers),
                     .timestamp = timestamp});
  return offset;
}

std::vector<FakeKafka::Stored> FakeKafka::committed_records(const std::string& topic) const {
  std::vector<Stored> out;
  const auto it = topics_.find(topic);
  if (it == topics_.end()) return out;
  for (const auto& records : it->second) {
    for (const Stored& record : records) {
      if (record.pending) break;  // the last stable offset
      if (!record.aborted) out.push_back(record);
    }
  }
  return out;
}

std::optional<std::int64_t> FakeKafka::committed_offset(
    const std::string& group, const kafka::TopicPartition& partition) const {
  const auto it = committed_.find(group);
  if (it == committed_.end()) return std::nullopt;
  const auto offset = it->second.find(partition);
  if (offset == it->second.end()) return std::nullopt;
  return offset->second;
}

void FakeKafka::commit_offset(const std::string& group, const kafka::TopicPartition& partition,
                              std::int64_t offset) {
  committed_[group][partition] = offset;
}

void FakeKafka::fence(const std::string& transactional_id) {
  (void)new_epoch(transactional_id);
  journal_.push_back("fenced " + transactional_id);
}

std::uint32_t FakeKafka::new_epoch(const std::string& transactional_id) {
  if (const auto open = open_transactions_.find(transactional_id);
      open != open_transactions_.end()) {
    settle(open->second, false);
    open_transactions_.erase(open);
  }
  return ++epochs_[transactional_id];
}

void FakeKafka::settle(std::uint64_t transaction, bool commit) {
  for (auto& [name, partitions] : topics_) {
    for (auto& records : partitions) {
      for (Stored& record : records) {
        if (record.transaction != transaction || !record.pending) continue;
        record.pending = false;
        record.aborted = !commit;
      }
    }
  }
}

std::unique_ptr<FakeConsumer> FakeKafka::fake_consumer(const kafka::ConsumerOptions& options) {
  return std::make_unique<FakeConsumer>(*this, options);
}

std::unique_ptr<FakeProducer> FakeKafka::fake_producer(const kafka::ProducerOptions& options,
                                                       kafka::DeliveryHandler& handler) {
  return std::make_unique<FakeProducer>(*this, options, handler);
}

std::unique_ptr<FakeAdmin> FakeKafka::fake_admin() { return std::make_unique<FakeAdmin>(*this); }

base::Result<std::unique_ptr<kafka::Admin>> FakeKafka::admin(const kafka::ClientOptions&) {
  return fake_admin();
}

base::Result<std::unique_ptr<kafka::Consumer>> FakeKafka::consumer(
    const kafka::ConsumerOptions& options) {
  return fake_consumer(options);
}

base::Result<std::unique_ptr<kafka::Producer>> FakeKafka::producer(
    const kafka::ProducerOptions& options, kafka::DeliveryHandler& handler) {
  return fake_producer(options, handler);
}

FakeConsumer* FakeKafka::last_consumer() const {
  return consumers_.empty() ? nullptr : consumers_.back();
}

FakeProducer* FakeKafka::last_producer() const {
  return producers_.empty() ? nullptr : producers_.back();
}

// ---------------------------------------------------------------------------------------------
// FakeConsumer

FakeConsumer::FakeConsumer(FakeKafka& kafka, kafka::ConsumerOptions options)
    : kafka_(kafka), options_(std::move(options)) {
  kafka_.consumers_.push_back(this);
}

FakeConsumer::~FakeConsumer() {
  close();  // as the real consumer's destructor does
  std::erase(kafka_.consumers_, this);
  kafka_.journal_.push_back("consumer destroyed");
}

void FakeConsumer::assign(std::vector<kafka::TopicPartition> partitions) {
  rebalances_.push_back({Change::kAssign, std::move(partitions)});
}

void FakeConsumer::revoke(std::vector<kafka::TopicPartition> partitions) {
  rebalances_.push_back({Change::kRevoke, std::move(partitions)});
}

void FakeConsumer::lose(std::vector<kafka::TopicPartition> partitions) {
  rebalances_.push_back({Change::kLose, std::move(partitions)});
}

void FakeConsumer::fail_next_poll(base::Error error) { poll_error_ = std::move(error); }

base::Status FakeConsumer::subscribe(const std::vector<std::string>& topics) {
  topics_ = topics;
  std::vector<kafka::TopicPartition> all;
  for (const std::string& topic : topics) {
    for (std::int32_t p = 0; p < kafka_.partition_count(topic); ++p) all.push_back({topic, p});
  }
  assign(std::move(all));
  return {};
}

base::Status FakeConsumer::serve() {
  if (closed_) return failed(base::ErrorCode::kFailedPrecondition, "consumer closed");
  if (kafka_.on_poll) kafka_.on_poll(*this);
  while (!rebalances_.empty()) {
    Rebalance rebalance = std::move(rebalances_.front());
    rebalances_.pop_front();
    run(rebalance);
  }
  if (auto error = take(poll_error_)) {
    if (error->code() == base::ErrorCode::kFailedPrecondition) fatal_ = true;
    return std::unexpected(std::move(*error));
  }
  return {};
}

void FakeConsumer::run(Rebalance& rebalance) {
  kafka::RebalanceListener* listener = options_.listener;
  switch (rebalance.change) {
    case Change::kAssign: {
      std::vector<kafka::TopicPartitionOffset> starts;
      for (const auto& p : rebalance.partitions) {
        if (!positions_.contains(p)) starts.push_back({p.topic, p.partition, kafka::kOffsetStored});
      }
      if (starts.empty()) return;
      if (listener != nullptr) listener->on_assigned(starts);
      for (const auto& start : starts) {
        positions_[{start.topic, start.partition}] = start_of(start);
      }
      return;
    }
    case Change::kRevoke:
      if (listener != nullptr) listener->on_revoked(rebalance.partitions);
      if (options_.commit_mode == kafka::CommitMode::kStoredOffsets) {
        for (const auto& p : rebalance.partitions) {
          if (const auto stored = stored_.find(p); stored != stored_.end()) {
            kafka_.commit_offset(options_.group_id, p, stored->second);
          }
        }
      }
      drop(rebalance.partitions);
      return;
    case Change::kLose:
      if (listener != nullptr) listener->on_lost(rebalance.partitions);
      drop(rebalance.partitions);
      return;
  }
}

void FakeConsumer::drop(const std::vector<kafka::TopicPartition>& partitions) {
  for (const auto& p : partitions) {
    positions_.erase(p);
    stored_.erase(p);
    paused_.erase(p);
  }
}

std::int64_t FakeConsumer::start_of(const kafka::TopicPartitionOffset& requested) const {
  const kafka::TopicPartition partition{requested.topic, requested.partition};
  switch (requested.offset) {
    case kafka::kOffsetBeginning:
      return kafka_.log_start(partition);
    case kafka::kOffsetEnd:
      return end_of(partition);
    case kafka::kOffsetStored:
      if (const auto committed = kafka_.committed_offset(options_.group_id, partition)) {
        return std::max(*committed, kafka_.log_start(partition));
      }
      return options_.auto_offset_reset == "latest" ? end_of(partition)
                                                    : kafka_.log_start(partition);
    default:
      return std::max(requested.offset, kafka_.log_start(partition));
  }
}

bool FakeConsumer::at_end() const {
  return !positions_.empty() && std::ranges::all_of(positions_, [this](const auto& p) {
    return p.second == end_of(p.first);
  });
}

std::int64_t FakeConsumer::end_of(const kafka::TopicPartition& partition) const {
  return static_cast<std::int64_t>(kafka_.log(partition.topic, partition.partition).size());
}

std::optional<kafka::Record> FakeConsumer::next() {
  if (positions_.empty()) return std::nullopt;
  // Round robin, so that one partition's backlog does not hold the others back.
  for (std::size_t tried = 0; tried < positions_.size(); ++tried) {
    auto it = positions_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(turn_++ % positions_.size()));
    const kafka::TopicPartition& partition = it->first;
    if (paused_.contains(partition)) continue;
    std::int64_t& position = it->second;
    const auto& records = kafka_.log(partition.topic, partition.partition);
    while (position < static_cast<std::int64_t>(records.size())) {
      const FakeKafka::Stored& record = records[static_cast<std::size_t>(position)];
      if (options_.read_committed && record.pending) break;  // the last stable offset
      ++position;
      if (options_.read_committed && record.aborted) continue;
      return kafka::Record::owned(partition.topic, partition.partition, record.offset, record.key,
                                  record.value, record.headers, record.timestamp);
    }
  }
  return std::nullopt;
}

base::Result<std::optional<kafka::Record>> FakeConsumer::poll(milliseconds timeout) {
  poll_timeout_ = timeout;
  if (auto status = serve(); !status) return std::unexpected(status.error());
  return next();
}

base::Status FakeConsumer::poll_batch(std::vector<kafka::Record>& out, std::size_t max,
                                      milliseconds timeout) {
  poll_timeout_ = timeout;
  out.clear();
  if (auto status = serve(); !status) return status;
  while (out.size() < max) {
    auto record = next();
    if (!record) break;
    out.push_back(std::move(*record));
  }
  return {};
}

base::Status FakeConsumer::store_offsets(std::span<const kafka::TopicPartitionOffset> positions) {
  for (const auto& p : positions) {
    const kafka::TopicPartition partition{p.topic, p.partition};
    // librdkafka refuses to store an offset for a partition it does not own.
    if (!positions_.contains(partition)) {
      return failed(base::ErrorCode::kNotFound, "offsets_store: partition not assigned");
    }
    stored_[partition] = p.offset;
  }
  return {};
}

base::Status FakeConsumer::commit() {
  for (const auto& [partition, offset] : stored_) {
    kafka_.commit_offset(options_.group_id, partition, offset);
  }
  return {};
}

base::Result<std::vector<kafka::TopicPartitionOffset>> FakeConsumer::committed(
    std::span<const kafka::TopicPartition> partitions, milliseconds) {
  std::vector<kafka::TopicPartitionOffset> out;
  for (const auto& p : partitions) {
    out.push_back({p.topic, p.partition,
                   kafka_.committed_offset(options_.group_id, p).value_or(kafka::kOffsetStored)});
  }
  return out;
}

base::Result<std::vector<kafka::TopicPartitionOffset>> FakeConsumer::offsets_for_times(
    std::span<const kafka::TopicPartition> partitions, base::TimePoint time, milliseconds) {
  std::vector<kafka::TopicPartitionOffset> out;
  for (const auto& p : partitions) {
    const auto& records = kafka_.log(p.topic, p.partition);
    const std::int64_t start = kafka_.log_start(p);
    const auto found = std::ranges::find_if(records, [&](const FakeKafka::Stored& record) {
      return record.offset >= start && record.timestamp >= time;
    });
    out.push_back(
        {p.topic, p.partition, found == records.end() ? kafka::kOffsetEnd : found->offset});
  }
  return out;
}

base::Status FakeConsumer::seek(const kafka::TopicPartitionOffset& position, milliseconds) {
  const auto it = positions_.find({position.topic, position.partition});
  if (it == positions_.end()) {
    return failed(base::ErrorCode::kNotFound, "seek: partition not assigned");
  }
  it->second = start_of(position);
  return {};
}

base::Status FakeConsumer::pause(std::span<const kafka::TopicPartition> partitions) {
  paused_.insert(partitions.begin(), partitions.end());
  return {};
}

base::Status FakeConsumer::resume(std::span<const kafka::TopicPartition> partitions) {
  for (const auto& p : partitions) paused_.erase(p);
  return {};
}

std::vector<kafka::TopicPartition> FakeConsumer::assignment() {
  std::vector<kafka::TopicPartition> out;
  for (const auto& [partition, position] : positions_) out.push_back(partition);
  return out;
}

std::vector<kafka::Consumer::PartitionLag> FakeConsumer::lag() {
  std::vector<PartitionLag> out;
  for (const auto& [partition, position] : positions_) {
    out.push_back({partition, std::max<std::int64_t>(0, end_of(partition) - position)});
  }
  return out;
}

base::Result<std::vector<kafka::Consumer::Watermarks>> FakeConsumer::watermarks(
    std::span<const kafka::TopicPartition> partitions, milliseconds) {
  std::vector<Watermarks> out;
  for (const auto& p : partitions) {
    const auto& records = kafka_.log(p.topic, p.partition);
    std::int64_t high = end_of(p);
    if (options_.read_committed) {
      const auto open = std::ranges::find_if(
          records, [](const FakeKafka::Stored& record) { return record.pending; });
      if (open != records.end()) high = open->offset;
    }
    out.push_back({p, std::min(kafka_.log_start(p), high), high});
  }
  return out;
}

std::vector<std::optional<std::int64_t>> FakeConsumer::positions_of(
    std::span<const kafka::TopicPartition> partitions) {
  std::vector<std::optional<std::int64_t>> out;
  for (const auto& p : partitions) {
    const auto it = positions_.find(p);
    out.push_back(it == positions_.end() ? std::nullopt : std::optional(it->second));
  }
  return out;
}

std::unique_ptr<kafka::GroupMetadata> FakeConsumer::group_metadata() {
  return std::make_unique<FakeGroupMetadata>(options_.group_id);
}

void FakeConsumer::close() {
  if (closed_) return;
  // Leaving the group revokes everything (run at once: there is no later poll).
  rebalances_.clear();
  Rebalance leave{Change::kRevoke, assignment()};
  if (!leave.partitions.empty()) run(leave);
  if (options_.commit_mode == kafka::CommitMode::kStoredOffsets) (void)commit();
  closed_ = true;
  kafka_.journal_.push_back("consumer closed");
}

// ---------------------------------------------------------------------------------------------
// FakeProducer

FakeProducer::FakeProducer(FakeKafka& kafka, kafka::ProducerOptions options,
                           kafka::DeliveryHandler& handler)
    : kafka_(kafka), options_(std::move(options)), handler_(handler) {
  kafka_.producers_.push_back(this);
}

FakeProducer::~FakeProducer() {
  std::erase(kafka_.producers_, this);
  kafka_.journal_.push_back("producer destroyed");
}

void FakeProducer::fail_next_produce(base::Error error) { produce_error_ = std::move(error); }
void FakeProducer::fail_next_delivery(base::Error error) { delivery_error_ = std::move(error); }
void FakeProducer::fail_next_commit(base::Error error) { commit_error_ = std::move(error); }

bool FakeProducer::fatal() const {
  return epoch_ && options_.transactional_id &&
         kafka_.epochs_.at(*options_.transactional_id) != *epoch_;
}

std::string FakeProducer::fatal_reason() const {
  return fatal() ? "Fatal error: Broker: Producer fenced by a newer instance (fake)" : "";
}

base::Status FakeProducer::check_transactional(bool needs_open) const {
  if (!options_.transactional_id || !epoch_) {
    return failed(base::ErrorCode::kFailedPrecondition,
                  "transactions need a transactional id and init_transactions");
  }
  if (fatal()) return failed(base::ErrorCode::kFailedPrecondition, fatal_reason());
  if (needs_open != in_transaction()) {
    return failed(base::ErrorCode::kFailedPrecondition,
                  needs_open ? "no transaction open" : "a transaction is already open");
  }
  return {};
}

base::Status FakeProducer::produce(const kafka::OutgoingRecord& record, std::uint64_t correlation) {
  if (options_.transactional_id) {
    if (auto status = check_transactional(true); !status) return status;
  }
  if (auto error = take(produce_error_)) return std::unexpected(std::move(*error));
  if (refuse) {
    if (auto error = refuse(record)) return std::unexpected(std::move(*error));
  }
  const auto found = kafka_.topics_.find(std::string(record.topic));
  if (found == kafka_.topics_.end()) {
    return failed(base::ErrorCode::kNotFound, "unknown topic " + std::string(record.topic));
  }
  const std::string& topic = found->first;  // what the report's view points into
  const std::size_t partitions = found->second.size();
  const std::int32_t partition = record.partition.value_or(
      record.key
          ? static_cast<std::int32_t>(std::hash<std::string_view>{}(*record.key) % partitions)
          : 0);
  kafka::DeliveryReport report{.topic = topic, .partition = partition, .correlation = correlation};
  std::optional<base::Error> delivery_error = take(delivery_error_);
  if (!delivery_error && refuse_delivery) delivery_error = refuse_delivery(record);
  if (delivery_error) {
    report.error = std::move(*delivery_error);
    transaction_failed_ = in_transaction();
  } else {
    FakeKafka::Headers headers;
    for (const kafka::HeaderView& h : record.headers) headers.emplace_back(h.key, h.value);
    auto& log = kafka_.partition_log(topic, partition);
    report.offset =
        kafka_.append(topic, partition, std::string(record.value),
                      record.key ? std::optional<std::string>(*record.key) : std::nullopt,
                      std::move(headers), record.timestamp.value_or(base::TimePoint{}));
    log.back().pending = in_transaction();
    log.back().transaction = transaction_;
  }
  reports_.push_back(std::move(report));
  return {};
}

int FakeProducer::poll(milliseconds) {
  int served = 0;
  while (!reports_.empty()) {
    const kafka::DeliveryReport report = std::move(reports_.front());
    reports_.pop_front();
    handler_.on_delivery(report);
    ++served;
  }
  return served;
}

base::Status FakeProducer::flush(milliseconds timeout) {
  poll(timeout);
  return {};
}

void FakeProducer::purge() {
  for (kafka::DeliveryReport& report : reports_) {
    if (!report.error) report.error = base::Error(base::ErrorCode::kAborted, "purged (fake)");
  }
}

base::Status FakeProducer::init_transactions(milliseconds) {
  if (!options_.transactional_id) {
    return failed(base::ErrorCode::kFailedPrecondition, "no transactional id");
  }
  // Fences the older instances, and aborts what they left open.
  epoch_ = kafka_.new_epoch(*options_.transactional_id);
  return {};
}

base::Status FakeProducer::begin_transaction() {
  if (auto status = check_transactional(false); !status) return status;
  transaction_ = kafka_.next_transaction_++;
  transaction_failed_ = false;
  kafka_.open_transactions_[*options_.transactional_id] = transaction_;
  return {};
}

base::Status FakeProducer::send_offsets_to_transaction(
    std::span<const kafka::TopicPartitionOffset> offsets, const kafka::GroupMetadata& group,
    milliseconds) {
  if (auto status = check_transactional(true); !status) return status;
  const auto* metadata = dynamic_cast<const FakeGroupMetadata*>(&group);
  IW_CHECK(metadata != nullptr, "FakeProducer takes a FakeConsumer's group metadata");
  offsets_.emplace_back(metadata->group,
                        std::vector<kafka::TopicPartitionOffset>(offsets.begin(), offsets.end()));
  return {};
}

base::Status FakeProducer::commit_transaction(milliseconds) {
  if (auto status = check_transactional(true); !status) return status;
  if (auto error = take(commit_error_)) return std::unexpected(std::move(*error));
  if (transaction_failed_) {
    return failed(base::ErrorCode::kAborted,
                  "commit_transaction: a record of the transaction was not delivered (fake)");
  }
  kafka_.settle(transaction_, true);
  for (const auto& [group, offsets] : offsets_) {
    for (const auto& p : offsets) kafka_.commit_offset(group, {p.topic, p.partition}, p.offset);
  }
  offsets_.clear();
  kafka_.open_transactions_.erase(*options_.transactional_id);
  transaction_ = 0;
  ++commits_;
  kafka_.journal_.push_back("transaction committed");
  return {};
}

base::Status FakeProducer::abort_transaction(milliseconds) {
  if (auto status = check_transactional(true); !status) return status;
  kafka_.settle(transaction_, false);
  offsets_.clear();
  kafka_.open_transactions_.erase(*options_.transactional_id);
  transaction_ = 0;
  transaction_failed_ = false;
  ++aborts_;
  kafka_.journal_.push_back("transaction aborted");
  return {};
}

// ---------------------------------------------------------------------------------------------
// FakeAdmin

base::Status FakeAdmin::create_topics(std::span<const kafka::TopicSpec> topics, milliseconds) {
  if (auto error = take(create_error_)) return std::unexpected(std::move(*error));
  for (const auto& topic : topics) kafka_.create_topic(topic.name, topic.partitions);
  return {};
}

base::Result<std::int32_t> FakeAdmin::partition_count(const std::string& topic, milliseconds) {
  const std::int32_t count = kafka_.partition_count(topic);
  if (count == 0) return base::fail(base::ErrorCode::kNotFound, "unknown topic " + topic);
  return count;
}

}  // namespace iw::testing
