#!/usr/bin/env python3
"""The whole pipeline, end to end, on the sample data and the alert scenarios.

    pipeline_e2e.py [--build-dir build] [--dir DIR] [--keep]

Starts the local stack (scripts/stack: a real Kafka broker, the log store (VictoriaLogs, fed
through its Loki endpoint), Prometheus, Alertmanager and the services), publishes
data/logs.json and data/scenarios/*.ndjson through one ingest-producer that Prometheus scrapes
while it runs, waits until every record is settled, and checks:

1. Kafka: every raw record has exactly one outcome, an enriched record or a dead letter
   (dlq.topic/partition/offset name it), and the producer's rejects are dead letters too.
2. The log store: every enriched record is stored exactly once (the lines of
   {job="ingestion-logs"} against the enriched topic), and every alert event once, each read
   back by two routes (e2e_support.StoredLines: the listed lines, the store's count per stream,
   and a lookup by exact time of any line the listing misses).
3. Alerts: ingestion-alerts holds each episode of data/scenarios/expected.yaml due by the
   evaluator's clock (exact startsAt and resolve instants), no transition twice and no late
   run; all six rules fire; Prometheus's ALERTS is exactly the set the replayed runs imply
   (all six rules among them); Alertmanager received the evaluator's alerts.
4. Dashboards: every query of grafana/dashboards/*.json parses, names only metrics and labels
   the four services expose (their /metrics, scraped), and PromQL returns data from this
   Prometheus (grafana/tests/check_dashboards.py). LogQL is parsed, not run: VictoriaLogs takes
   Loki's push protocol but not its query language.
5. Traces (every trace sampled in the stack): every raw record's traceparent says sampled, and
   Jaeger's query API returns, for a sample of records (e2e_support.TraceSample: enriched ones
   spread over the run, those that caused alert events, the enricher's dead letters of every
   reason), their trace with the four stages' spans and parent links intact: publish
   (ingest-producer, the root) <- enrich (ingest-enricher) <- evaluate (ingest-alert-evaluator)
   and push (ingest-loki-pusher) of the enriched record; an alert event's push <- evaluate; a
   dead-lettered record's enrich carries ingestwatch.dead_letter.reason = its dead letter's
   dlq.reason, status ERROR, and nothing follows it (supervisor/traces.py, stage_problems).
   Spans leave in batches (1 s): Jaeger is polled for up to a minute.
Prints one line per check and exits 1 if any failed. The stack stops at the end (and if this
process dies: the stack's watchdog), unless --keep.
"""
import argparse
import collections
import json
import pathlib
import re
import subprocess
import sys
import time

import yaml

from e2e_support import (ALERTS, DLQ, ENRICHED, RAW, REPO, RULES, Producer, RawOutcomes,
                         StoredLines, TraceSample, alert_time, describe_trace_problems,
                         http_json, http_text, log, metric_sum, ndjson_of_inputs, on_stack,
                         read_topic, run_time, to_epoch, trace_problems, wait_for)

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--dir", help="run directory (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="leave the stack running")
    args = ap.parse_args()
    build_dir = pathlib.Path(args.build_dir).resolve()
    started = time.time()
    checks = on_stack("e2e", args.build_dir, args.dir, args.keep, lambda run_dir, env, checks: run(
        build_dir, run_dir, env, checks, started))
    if checks is None:
        return 1
    print(f"e2e: {sum(ok for _, ok, _ in checks.results)}/{len(checks.results)} checks passed "
          f"in {time.time() - started:.0f} s")
    return 1 if checks.failed else 0


def run(build_dir, run_dir, env, checks, started) -> None:
    lines, scenario_files = ndjson_of_inputs()

    # --- publish through one producer that Prometheus scrapes ------------------------------
    producer = Producer(build_dir, env, run_dir)
    subprocess.run([str(REPO / "scripts/prometheus-run-dir"), str(run_dir / "prometheus"),
                    f"ingest-producer=127.0.0.1:{producer.port}"], check=True)
    log(f"publishing {len(lines)} records (data/logs.json and {len(scenario_files)} scenarios)")
    producer.proc.stdin.write("".join(line + "\n" for line in lines))
    producer.proc.stdin.flush()
    settled = lambda text: metric_sum(text, "ingestwatch_records_out_total") + metric_sum(
        text, "ingestwatch_records_dead_lettered_total")
    wait_for("the producer to deliver every record",
             lambda: settled(http_text(producer.metrics_url)) >= len(lines), 120, 0.2)
    # Three successful scrapes of it (samples of its series, not just of `up`: a scrape can
    # fail on a busy machine), so rate() over $__rate_interval finds two samples at some step
    # with room to spare (two were seen not to be enough); then it leaves Prometheus's targets
    # before it exits (a target that vanishes is a service down).
    query = f"{env['PROMETHEUS_URL']}/api/v1/query"
    scraped_producer = ('count_over_time(ingestwatch_delivery_latency_seconds_count'
                        '{job="ingest-producer"}[5m])')
    wait_for("three scrapes of the producer", lambda: any(
        float(r["value"][1]) >= 3
        for r in http_json(query, {"query": scraped_producer})["data"]["result"]), 90, 1)
    scrapes = {"producer": http_text(producer.metrics_url)}
    subprocess.run([str(REPO / "scripts/prometheus-run-dir"), str(run_dir / "prometheus"),
                    "ingest-producer="], check=True)
    summary = producer.finish()
    with open(run_dir / "published", "a") as f:
        f.write(f"stdin read={summary['read']} sent={summary['sent']} "
                f"dead_lettered={summary['dead_lettered']}\n")
    checks.check("producer", summary["read"] == len(lines) and
                 summary["sent"] + summary["dead_lettered"] == len(lines),
                 f"read {summary['read']}, published {summary['sent']}, dead-lettered "
                 f"{summary['dead_lettered']} of {len(lines)}")

    log("waiting until every record is settled")
    wait = subprocess.run([str(REPO / "scripts/stack"), "wait", str(run_dir), "--timeout",
                           "300"], stdout=subprocess.PIPE, text=True)
    if wait.returncode != 0:
        raise RuntimeError("scripts/stack wait timed out")
    log(f"settled: {wait.stdout.strip()}")
    for name, key in (("enricher", "ENRICHER_METRICS"), ("alert-evaluator", "EVALUATOR_METRICS"),
                      ("loki-pusher", "PUSHER_METRICS")):
        scrapes[name] = http_text(env[key])

    # --- 1. Kafka: one outcome per raw record ------------------------------------------------
    bootstrap = env["BOOTSTRAP"]
    raw, enriched, dead = (read_topic(bootstrap, t) for t in (RAW, ENRICHED, DLQ))
    by_stage = collections.Counter((r["headers"].get("dlq.stage"), r["headers"].get("dlq.reason"))
                                   for r in dead)
    outcomes = RawOutcomes(raw, enriched, dead)
    producer_rejects = sum(n for (stage, _), n in by_stage.items() if stage == "producer")
    checks.check("kafka: one outcome per raw record",
                 outcomes.once and len(raw) == summary["sent"] and
                 producer_rejects == summary["dead_lettered"],
                 f"{len(raw)} raw records: {len(enriched)} enriched, "
                 f"{len(raw) - len(enriched)} dead-lettered by the enricher; "
                 f"{producer_rejects} rejected by the producer; dead letters by stage and reason: "
                 + ", ".join(f"{s}/{r} {n}" for (s, r), n in sorted(by_stage.items()))
                 + ("" if outcomes.once else f"; without outcome {outcomes.without[:3]}, twice "
                    f"{outcomes.twice[:3]}, not a raw record {outcomes.stray[:3]}"))

    # --- 2. The log store: each enriched record and each alert event exactly once ---------------
    alert_records = read_topic(bootstrap, ALERTS)
    runs = StoredLines(env["LOKI_URL"], "ingestion-logs")
    want = collections.Counter(r["payload"] for r in enriched)
    problems = runs.problems(enriched, run_time)
    checks.check("store: every enriched record exactly once (two routes)",
                 runs.lines == want and not problems,
                 f"{runs.lines.total()} lines in {{job=\"ingestion-logs\"}}, {len(enriched)} "
                 f"enriched records; {sum(1 for n in runs.lines.values() if n > 1)} more than "
                 f"once, {len(runs.lines - want)} not enriched; {problems or 'both routes agree'}")
    # The evaluator goes on deciding at wall pace after `wait`: an event written meanwhile
    # reaches the store a batch later (and VictoriaLogs makes a push searchable within about a
    # second). Read both again until they agree, for a few seconds at most.
    for _ in range(10):
        alerts = StoredLines(env["LOKI_URL"], "ingestion-alerts")
        in_kafka = collections.Counter(r["payload"] for r in alert_records)
        if alerts.lines == in_kafka and not alerts.count_mismatch:
            break
        time.sleep(1)
        alert_records = read_topic(bootstrap, ALERTS)
    problems = alerts.problems(alert_records, alert_time)
    alert_payloads = [r["payload"] for r in alert_records]
    alert_events = [json.loads(p) for p in alert_payloads]
    checks.check("store: every alert event exactly once (two routes)",
                 alerts.lines == in_kafka and not problems,
                 f"{alerts.lines.total()} lines in {{job=\"ingestion-alerts\"}}, "
                 f"{len(alert_events)} events in {ALERTS}; {problems or 'both routes agree'}" +
                 ("" if alerts.lines == in_kafka else
                  f"; not stored {list((in_kafka - alerts.lines).elements())[:3]}, "
                  f"not in Kafka {list((alerts.lines - in_kafka).elements())[:3]}"))

    # --- 3. Alerts ---------------------------------------------------------------------------
    transitions = collections.Counter(
        (e["fingerprint"], e["status"], e["startsAt"], e.get("endsAt")) for e in alert_events)
    fired = collections.Counter(e["labels"]["alertname"] for e in alert_events
                                if e["status"] == "firing")
    checks.check("evaluator: no transition twice, all six rules fire",
                 max(transitions.values(), default=0) == 1 and set(RULES) <= set(fired),
                 f"{len(alert_events)} events; firing by rule: " +
                 ", ".join(f"{r} {fired[r]}" for r in RULES))
    # The evaluator decides up to its event-time clock (the input's low watermark minus the
    # allowed lateness, then wall pace once idle): episodes after it are not due yet.
    evaluator_metrics = http_text(env["EVALUATOR_METRICS"])
    clock = metric_sum(evaluator_metrics, "ingestwatch_alert_clock_timestamp_seconds")
    late = metric_sum(evaluator_metrics, "ingestwatch_alert_late_runs_total")
    due, missing = scenario_episodes(alert_events, clock)
    checks.check("evaluator: the scenarios' expected episodes, exact instants, no late run",
                 not missing and late == 0 and due > 0,
                 f"{due} instants of data/scenarios/expected.yaml due by the clock "
                 f"({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(clock))}), "
                 f"{len(missing)} missing{': ' + '; '.join(missing[:5]) if missing else ''}; "
                 f"{late:.0f} late runs")

    # Prometheus sees the whole replay at once (processing time), so its windows hold every
    # run: what it must fire follows from the enriched records themselves.
    expected_alerts = prometheus_expected([json.loads(r["payload"]) for r in enriched])

    def prometheus_alerts():
        result = http_json(f"{env['PROMETHEUS_URL']}/api/v1/query", {
            "query": 'ALERTS{alertstate="firing"}'})["data"]["result"]
        return {alert_key(r["metric"]) for r in result}

    try:
        wait_for("Prometheus's ALERTS to match", lambda: prometheus_alerts() == expected_alerts,
                 150, 5)
        ok = True
    except TimeoutError:
        ok = False
    firing = prometheus_alerts()
    per_rule = collections.Counter(name for name, _ in firing)
    checks.check("prometheus: ALERTS is exactly what the replayed runs imply", ok,
                 ", ".join(f"{r} {per_rule[r]}" for r in RULES) +
                 ("" if ok else f"; missing {sorted(expected_alerts - firing)[:4]}, "
                  f"unexpected {sorted(firing - expected_alerts)[:4]}"))
    # Alertmanager holds what the evaluator has firing (it posts at once, then every minute)
    # and what Prometheus has firing: both send it, with the same labels for the same alert.
    def evaluator_firing():
        return {alert_key(dict(re.findall(r'(\w+)="([^"]*)"', line)))
                for line in http_text(env["EVALUATOR_METRICS"]).splitlines()
                if line.startswith("ingestwatch_alerts{") and 'alertstate="firing"' in line}

    def alertmanager_alerts():
        return {alert_key(a["labels"])
                for a in http_json(f"{env['ALERTMANAGER_URL']}/api/v2/alerts")}

    try:
        wait_for("Alertmanager to hold the firing alerts",
                 lambda: evaluator_firing() | prometheus_alerts() == alertmanager_alerts(), 90, 2)
        ok = True
    except TimeoutError:
        ok = False
    held = alertmanager_alerts()
    from_evaluator = evaluator_firing()
    checks.check("alertmanager: holds exactly the firing alerts of the evaluator and Prometheus",
                 ok and from_evaluator <= held,
                 f"{len(held)} alerts ({len(from_evaluator)} firing in the evaluator), rules: " +
                 ", ".join(sorted({n for n, _ in held})))

    # --- 4. Dashboards ----------------------------------------------------------------------
    # rate() over $__rate_interval (4 scrapes) needs two samples of each service since the
    # records flowed: wait for three scrapes of every long-running service.
    scraped = 'min by (job) (count_over_time(up{job=~"ingest-(enricher|alert-evaluator|loki-pusher)"}[5m]))'
    wait_for("three scrapes of every service", lambda: (lambda r: len(r) == 3 and all(
        float(x["value"][1]) >= 3 for x in r))(http_json(query, {"query": scraped})["data"][
            "result"]), 90, 2)
    scrape_files = []
    for name, text in scrapes.items():
        path = run_dir / f"scrape-{name}.txt"
        path.write_text(text)
        scrape_files += ["--scrape", str(path)]
    dash = subprocess.run(
        [sys.executable, str(REPO / "grafana/tests/check_dashboards.py"), *scrape_files,
         "--prometheus", env["PROMETHEUS_URL"], "--prom-start", str(int(started)),
         "--prom-end", str(int(time.time())),
         *map(str, sorted((REPO / "grafana/dashboards").glob("*.json")))],
        capture_output=True, text=True)
    print(dash.stdout.rstrip(), flush=True)
    checks.check("dashboards: every query against the real services and Prometheus",
                 dash.returncode == 0, dash.stdout.strip().splitlines()[-1] if dash.stdout
                 else dash.stderr.strip())

    # --- 5. Traces ----------------------------------------------------------------------------
    scrapes = {name: http_text(env[key]) for name, key in (
        ("enricher", "ENRICHER_METRICS"), ("alert-evaluator", "EVALUATOR_METRICS"),
        ("loki-pusher", "PUSHER_METRICS"))}
    check_traces(env, raw, enriched, dead, read_topic(bootstrap, ALERTS), scrapes, checks)


def check_traces(env, raw, enriched, dead, alert_records, scrapes, checks) -> None:
    sample = TraceSample(raw, enriched, dead, alert_records)
    checks.check("traces: every raw record's traceparent is sampled (ratio 1 in the stack)",
                 raw and sample.unsampled == 0,
                 f"{len(raw)} raw records, {sample.unsampled} not sampled (flags other than 01)")
    log(f"looking up {len(sample.wanted())} traces in Jaeger ({env['JAEGER_URL']})")
    problems = trace_problems(env["JAEGER_URL"], sample.wanted(), 60)
    whole = {t: p for t, p in problems.items() if t in sample.enriched}
    dropped = {name: metric_sum(text, "ingestwatch_trace_spans_dropped_total")
               for name, text in scrapes.items()}
    checks.check("traces: publish <- enrich <- evaluate and push, parent links intact (Jaeger)",
                 sample.enriched and not whole,
                 f"{len(sample.enriched)} traces of enriched records looked up by their "
                 f"traceparent's trace id, {len(sample.enriched) - len(whole)} whole"
                 + (f"; {describe_trace_problems(whole)}" if whole else "")
                 + "; spans dropped: " + ", ".join(f"{name} {n:.0f}"
                                                   for name, n in dropped.items()))
    letters = {t: p for t, p in problems.items() if t in sample.dead_lettered}
    reasons = collections.Counter(sample.dead_lettered.values())
    checks.check("traces: a dead-lettered record's enrich span carries its dlq.reason",
                 sample.dead_lettered and not letters,
                 f"{len(sample.dead_lettered)} traces of the enricher's dead letters ("
                 + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) + "), "
                 f"{len(sample.dead_lettered) - len(letters)} right"
                 + (f"; {describe_trace_problems(letters)}" if letters else ""))


def alert_key(labels: dict) -> tuple:
    return (labels["alertname"], tuple(sorted(
        (k, v) for k, v in labels.items() if k in ("source", "objet", "resource"))))


def prometheus_expected(runs: list) -> set:
    """The alerts prometheus/rules/ingestion-alerts.yml fire while every replayed run is inside
    every window: the rules' conditions over all runs of each key. A p95 above a bucket bound
    holds exactly when fewer than 0.95·n values are at or below it (the rules' comment)."""
    runs_of, failed_of, values = (collections.Counter(), collections.Counter(),
                                  collections.defaultdict(list))
    for r in runs:
        source, objet = r["source"]["name"], r["objet"]["name"]
        runs_of[source] += 1
        if r["etat"] == "FAILED":
            failed_of[(source, objet)] += 1
        perf = r.get("performance") or {}
        for field, resource in (("duree_secondes", "duration"), ("cpu_time_sec", "cpu"),
                                ("memory_used_bytes", "memory")):
            if perf.get(field) is not None:
                values[(source, resource)].append(perf[field])
    out = set()
    for (source, objet), n in failed_of.items():
        out.add(("IngestionFailureDetected", (("objet", objet), ("source", source))))
        if n > 3:
            out.add(("IngestionObjectErrorBurst", (("objet", objet), ("source", source))))
    for source, n in runs_of.items():
        out.add(("IngestionSourceSilent", (("source", source),)))  # last runs are from 2025
        failed = sum(f for (s, _), f in failed_of.items() if s == source)
        if n >= 10 and failed / n > 0.02:
            out.add(("IngestionHighFailureRate", (("source", source),)))
    bounds = {"duration": 60, "cpu": 60, "memory": 157286400}
    for (source, resource), vs in values.items():
        if sum(v <= bounds[resource] for v in vs) < 0.95 * len(vs):
            out.add(("IngestionLatencyP95Degraded", (("source", source),)) if resource ==
                    "duration" else ("IngestionResourceOveruse",
                                     (("resource", resource), ("source", source))))
    return out


def scenario_episodes(events: list, clock: float) -> tuple[int, list]:
    """(instants due by `clock`, those of them with no matching event): each episode of
    data/scenarios/expected.yaml fires at starts_at and, unless resolved_at is null, resolves
    at resolved_at, both exact to the millisecond."""
    expected = yaml.safe_load((REPO / "data/scenarios/expected.yaml").read_text())["alerts"]
    seen = set()
    for e in events:
        labels = tuple(sorted((k, v) for k, v in e["labels"].items()
                              if k not in ("alertname", "severity")))
        at = e["startsAt"] if e["status"] == "firing" else e.get("endsAt")
        seen.add((e["status"], e["labels"]["alertname"], labels, e["startsAt"], at))
    due, missing = 0, []
    for a in expected:
        labels = tuple(sorted(a["labels"].items()))
        for status, at in (("firing", a["starts_at"]), ("resolved", a["resolved_at"])):
            if at is None or to_epoch(at) > clock:
                continue
            due += 1
            if (status, a["alertname"], labels, a["starts_at"], at) not in seen:
                missing.append(f"{a['alertname']} {dict(labels)} {status} at {at}")
    return due, missing


if __name__ == "__main__":
    sys.exit(main())
