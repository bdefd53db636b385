#!/usr/bin/env python3
"""The seed's design of the enricher, as a peer in the benchmark (bench/enricher_throughput.cc):
a Python consumer that parses each raw run record, builds the enriched JSON, updates
prometheus_client metrics and republishes with confluent-kafka, from Debian's packages
(python3-confluent-kafka, python3-prometheus-client; scripts/setup installs them for
/usr/bin/python3). Not a service: a yardstick for what ingest-enricher buys.

    seed_enricher.py --bootstrap-servers HOST:PORT --input-topic T --output-topic T
                     --dlq-topic T --group G [--http-listen 127.0.0.1:0]

It writes what ingest-enricher writes (docs/ENRICHED_RECORD.md: the same fields in the same
order, the same headers), for the records a connector really writes; it is not a second
implementation of the contract. Where it differs, on purpose and simply, as the seed did:
- `event.id` is BLAKE2b-128 of the raw bytes (the standard library's), not XXH3-128: the same
  shape (32 lowercase hex digits, stable for the same bytes), another value;
- JSON is read by the standard library's `json` (which takes duplicate keys, the last one
  winning, and NaN); timestamps by `datetime.fromisoformat`; a bad record is dead-lettered with
  the reason of the first check it fails (`invalid_json`, `not_an_object`, `missing_field`,
  `wrong_type`, `invalid_timestamp`, `invalid_number`, `invalid_etat`, `missing_end`,
  `negative_duration`, `end_before_start`), the original bytes and the dlq.* headers;
- delivery is the seed's: auto-commit of what was polled (at most/at least once by timing),
  no transactions, no poison-record retries, no cardinality budget on the metrics' labels.
Metrics: the business metrics of BRIEF §6 and ingestwatch_records_{in,out,dead_lettered}_total
(out counted on delivery), served on --http-listen; the chosen port goes to stdout as a JSON
line with "http_port", as the services log it. SIGTERM: flush, close, exit 0.

The enrichment (`enrich`) is pure and uses the standard library only, so its test
(bench/tests/test_seed_enricher.py) runs on any python3.
"""
import argparse
import hashlib
import json
import math
import re
import signal
import sys
from datetime import datetime, timedelta, timezone

VERSION = "0.1.0-seed"
MIB = 1024.0 * 1024.0

ETATS = {
    **dict.fromkeys(("SUCCESS", "SUCCEEDED", "OK", "DONE", "WARNING"), ("SUCCESS", "success")),
    **dict.fromkeys(("FAILED", "FAILURE", "ERROR", "KO", "ECHEC", "ÉCHEC"),
                    ("FAILED", "failure")),
    **dict.fromkeys(("RUNNING", "STARTED", "PENDING"), ("RUNNING", "unknown")),
}
API = re.compile(r"API|(?<![A-Za-z])[Aa][Pp][Ii](?![A-Za-z])")


class Defect(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _number(record: dict, field: str, *, whole: bool = False, non_negative: bool = False):
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Defect("wrong_type", f"{field}: expected a number")
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise Defect("invalid_number", f"{field}: not a number: {value[:64]!r}") from None
    if not math.isfinite(value):
        raise Defect("invalid_number", f"{field}: not a finite number")
    if whole:
        if value != int(value):
            raise Defect("invalid_number", f"{field}: not a whole number")
        value = int(value)
    if non_negative and value < 0:
        raise Defect("invalid_number", f"{field}: negative")
    return value


def _string(record: dict, field: str, required: bool = False):
    value = record.get(field)
    if value is None:
        if required:
            raise Defect("missing_field", f"{field}: required field is missing")
        return None
    if not isinstance(value, str):
        raise Defect("wrong_type", f"{field}: expected a string")
    return value


def _timestamp(record: dict, field: str, required: bool) -> datetime | None:
    value = _string(record, field, required)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().upper())  # 't', 'z' as 'T', 'Z'
    except ValueError:
        raise Defect("invalid_timestamp", f"{field}: not a timestamp: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)  # naive: the zone is UTC, the default
    return parsed.astimezone(timezone.utc)



def rfc3339(t: datetime) -> str:
    """UTC, truncated to the millisecond, as docs/ENRICHED_RECORD.md writes timestamps."""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{t.microsecond // 1000:03d}Z"


def number(x):
    """The shortest digits that read back, and whole values without `.0` (as std::to_chars)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return int(x)
    return x


def enrich(raw: bytes, *, topic: str, partition: int, offset: int, execution_id: str | None,
           processed_at: datetime, high_memory_mb: float = 150, high_cpu_seconds: float = 60):
    """(enriched JSON bytes, facts for the metrics) for one raw record; raises Defect."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise Defect("invalid_json", f"not JSON ({e})") from None
    if not isinstance(record, dict):
        raise Defect("not_an_object", "a run record must be a JSON object")
    source = _string(record, "Source", required=True)
    if not source:
        raise Defect("missing_field", "Source: required field is empty")
    objet = _string(record, "Objet", required=True)
    etat_source = _string(record, "Etat", required=True)
    mapped = ETATS.get(etat_source.strip().upper())
    if mapped is None:
        raise Defect("invalid_etat", f"Etat: unknown state {etat_source[:64]!r}")
    etat, outcome = mapped
    debut = _timestamp(record, "Debut", required=True)
    fin = _timestamp(record, "Fin", required=False)
    duree = _number(record, "Duree secondes")
    cpu = _number(record, "cpu_time", non_negative=True)
    memory = _number(record, "memory_used", whole=True, non_negative=True)
    objet_id = _number(record, "ID", whole=True)
    transformation = _string(record, "Transformation")
    description = _string(record, "Description") or ""
    zone, entreprise = _string(record, "Zone"), _string(record, "Entreprise")
    if fin is None and duree is None:
        raise Defect("missing_end", "Fin, Duree secondes: both missing")
    if duree is not None and duree < 0:
        raise Defect("negative_duration", f"Duree secondes: {duree} is negative")
    if fin is None:
        fin = debut + timedelta(seconds=duree)
    if fin < debut:
        raise Defect("end_before_start", f"Fin: {rfc3339(fin)} is before Debut {rfc3339(debut)}")
    if duree is None:
        duree = (fin - debut).total_seconds()
    start = rfc3339(debut)
    labels = {"etat": etat, "source": source}
    if zone:
        labels["zone"] = zone
    if entreprise:
        labels["entreprise"] = entreprise
    enriched = {
        "@timestamp": start,
        "@version": "1",
        "event": {"id": hashlib.blake2b(raw, digest_size=16).hexdigest(),
                  "dataset": "ingestion-logs", "kind": "event", "outcome": outcome,
                  "start": start, "end": rfc3339(fin)},
        "source": {"name": source,
                   "type": "api" if transformation and API.search(transformation) else "job"},
        "objet": {"id": objet_id, "name": objet, "transformation": transformation},
        "etat": etat,
        "etat_source": etat_source,
        "performance": {"duree_secondes": number(duree), "cpu_time_sec": number(cpu),
                        "memory_used_bytes": memory,
                        "memory_used_mb": None if memory is None
                        else number(round(memory / MIB, 2))},
        "labels": labels,
        "metrics": {"is_failed": int(etat == "FAILED"), "is_success": int(etat == "SUCCESS"),
                    "high_memory_usage": int(memory is not None
                                             and memory / MIB > high_memory_mb),
                    "high_cpu_usage": int(cpu is not None and cpu > high_cpu_seconds)},
        "description": description,
        "pipeline": {"execution_id": execution_id, "processed_at": rfc3339(processed_at),
                     "enricher": VERSION,
                     "raw": {"topic": topic, "partition": partition, "offset": offset}},
    }
    facts = {"source": source, "objet": objet, "etat": etat, "duration": duree, "cpu": cpu,
             "memory": memory, "end": fin.timestamp()}
    return json.dumps(enriched, ensure_ascii=False, separators=(",", ":")).encode(), facts


# ------------------------------------------------------------------------------ the consumer

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--input-topic", default="ingestion-logs")
    ap.add_argument("--output-topic", default="ingestion-logs-enriched")
    ap.add_argument("--dlq-topic", default="ingestion-logs-dlq")
    ap.add_argument("--group", default="ingest-enricher-seed")
    ap.add_argument("--http-listen", default="127.0.0.1:0")
    args = ap.parse_args()

    # Debian's packages, for /usr/bin/python3; imported here so that enrich() needs neither.
    from confluent_kafka import Consumer, KafkaException, Producer
    from prometheus_client import Counter, Gauge, Histogram
    from prometheus_client.exposition import (ThreadingWSGIServer, _SilentHandler,
                                              make_wsgi_app)
    from wsgiref.simple_server import make_server
    import threading

    runs = Counter("ingestion_runs", "Runs by source, objet and etat",
                   ["source", "objet", "etat"])
    duration = Histogram("ingestion_run_duration_seconds", "Run duration", ["source"],
                         buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800,
                                  3600))
    cpu_hist = Histogram("ingestion_run_cpu_seconds", "Run CPU time", ["source"],
                         buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
    memory_hist = Histogram("ingestion_run_memory_bytes", "Run memory", ["source"],
                            buckets=tuple(m * MIB for m in (16, 32, 64, 100, 128, 150, 200,
                                                            256, 512, 1024, 2048)))
    last_run = Gauge("ingestion_last_run_timestamp_seconds", "Event time of the latest run",
                     ["source"])
    records_in = Counter("ingestwatch_records_in", "Records read", ["topic"])
    records_out = Counter("ingestwatch_records_out", "Records delivered", ["topic"])
    dead_lettered = Counter("ingestwatch_records_dead_lettered", "Records dead-lettered",
                            ["reason"])

    host, port = args.http_listen.rsplit(":", 1)
    httpd = make_server(host, int(port), make_wsgi_app(), ThreadingWSGIServer,
                        handler_class=_SilentHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(json.dumps({"msg": "listening", "service": "seed-enricher",
                      "http_port": httpd.server_port}, separators=(",", ":")), flush=True)

    common = {"bootstrap.servers": args.bootstrap_servers}
    consumer = Consumer({**common, "group.id": args.group, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed"})
    failures = []

    def delivered(err, msg):
        if err is not None:
            failures.append(err)
        else:
            records_out.labels(msg.topic()).inc()

    producer = Producer({**common, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "compression.type": "lz4",
                         "on_delivery": delivered})
    consumer.subscribe([args.input_topic])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def send(topic, key, value, headers):
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                producer.poll(0.01)

    while not stopping:
        msg = consumer.poll(0.1)
        producer.poll(0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().fatal():
                raise KafkaException(msg.error())
            continue
        records_in.labels(msg.topic()).inc()
        headers = dict(msg.headers() or [])
        execution_id = headers.get("execution_id")
        execution_id = execution_id.decode(errors="replace") if execution_id else None
        try:
            value, facts = enrich(msg.value(), topic=msg.topic(), partition=msg.partition(),
                                  offset=msg.offset(), execution_id=execution_id,
                                  processed_at=datetime.now(timezone.utc))
        except Defect as defect:
            dead_lettered.labels(defect.reason).inc()
            send(args.dlq_topic, msg.key(), msg.value(),
                 [("dlq.reason", defect.reason), ("dlq.error", str(defect)),
                  ("dlq.stage", "seed-enricher"), ("dlq.topic", msg.topic()),
                  ("dlq.partition", str(msg.partition())), ("dlq.offset", str(msg.offset())),
                  ("dlq.ts", rfc3339(datetime.now(timezone.utc)))])
            continue
        source = facts["source"]
        runs.labels(source, facts["objet"], facts["etat"]).inc()
        duration.labels(source).observe(facts["duration"])
        if facts["cpu"] is not None:
            cpu_hist.labels(source).observe(facts["cpu"])
        if facts["memory"] is not None:
            memory_hist.labels(source).observe(facts["memory"])
        last_run.labels(source).set(facts["end"])
        send(args.output_topic, msg.key(), value,
             [("execution_id", execution_id or ""),
              ("traceparent", headers.get("traceparent") or b""),
              ("content-type", "application/json")])
    left = producer.flush(30)
    consumer.close()
    httpd.shutdown()
    print(json.dumps({"msg": "stopped", "undelivered": left + len(failures)}), flush=True)
    return 0 if left == 0 and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
