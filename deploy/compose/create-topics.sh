#!/usr/bin/env bash
# The kafka-init job of docker-compose.yml: creates the four topics of BRIEF §1 with their
# partitions and retention, or brings the retention of existing ones in line, then exits 0.
# The services start once it has (depends_on: service_completed_successfully) and create no
# topic themselves (create_topics: false in deploy/compose/config/).
#
# Runs in the apache/kafka image (its tools in /opt/kafka/bin). Settings come from .env
# through the compose file; the defaults here are the same as .env.example's.
#
#   topic                      partitions            retention              why
#   ingestion-logs             KAFKA_PARTITIONS      RETENTION_LOGS_MS      7 d: re-enrich a week
#   ingestion-logs-enriched    KAFKA_PARTITIONS      RETENTION_ENRICHED_MS  7 d: the evaluator
#                                                                           replays it at start-up
#   ingestion-alerts           KAFKA_PARTITIONS      RETENTION_ALERTS_MS    30 d, never less than
#                                                                           the enriched topic's
#   ingestion-logs-dlq         DLQ_PARTITIONS (1)    RETENTION_DLQ_MS       30 d to inspect/replay
#
# cleanup.policy is delete on all four, on purpose: none is a changelog of state. Raw,
# enriched and dead-lettered records are keyed by source name (compaction would keep one run
# per source), and the evaluator reads every transition of ingestion-alerts back at start-up to
# avoid writing it again (docs/ALERTING.md): compacting it to the latest event per fingerprint
# would make a restart re-emit older episodes.
#
# max.message.bytes is 1048588 on all four (Kafka's default, explicit): see docs/DLQ.md,
# "Oversized records", for how it fits the clients' message.max.bytes.
#
# Partitions are only ever added by hand (kafka-topics.sh --alter --partitions): more
# partitions move sources to other partitions, which a running pipeline should not get by
# surprise. Checked by CTest deploy.compose_topics, with stand-in Kafka tools.
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
replication=${REPLICATION_FACTOR:-1}
partitions=${KAFKA_PARTITIONS:-3}
dlq_partitions=${DLQ_PARTITIONS:-1}
logs_ms=${RETENTION_LOGS_MS:-604800000}
enriched_ms=${RETENTION_ENRICHED_MS:-604800000}
alerts_ms=${RETENTION_ALERTS_MS:-2592000000}
dlq_ms=${RETENTION_DLQ_MS:-2592000000}

if ((alerts_ms >= 0 && enriched_ms >= 0 && alerts_ms < enriched_ms)) ||
  ((alerts_ms >= 0 && enriched_ms < 0)); then
  echo "create-topics: RETENTION_ALERTS_MS ($alerts_ms) must be at least RETENTION_ENRICHED_MS" \
    "($enriched_ms): the evaluator must find every alert it could replay" >&2
  exit 2
fi

topic() { # NAME PARTITIONS RETENTION_MS
  local name=$1 parts=$2 retention=$3
  local configs="cleanup.policy=delete,retention.ms=$retention,min.insync.replicas=1"
  # Kafka's default, set explicitly: the services' producers refuse a record above
  # message.max.bytes (1000000) themselves, below this by more than a batch's overhead, so a
  # record is never refused by the broker after the client took it (docs/DLQ.md, "Oversized
  # records").
  configs+=",max.message.bytes=1048588"
  local kv c args=()
  IFS=, read -r -a kv <<<"$configs"
  for c in "${kv[@]}"; do args+=(--config "$c"); done
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$parts" --replication-factor "$replication" "${args[@]}"
  # --if-not-exists leaves an existing topic as it was: bring its settings in line.
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type topics \
    --entity-name "$name" --add-config "$configs"
}

topic ingestion-logs "$partitions" "$logs_ms"
topic ingestion-logs-enriched "$partitions" "$enriched_ms"
topic ingestion-alerts "$partitions" "$alerts_ms"
topic ingestion-logs-dlq "$dlq_partitions" "$dlq_ms"
"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe \
  --topic 'ingestion-logs|ingestion-logs-enriched|ingestion-alerts|ingestion-logs-dlq'
echo "create-topics: the four topics are ready"
