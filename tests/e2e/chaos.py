#!/usr/bin/env python3
"""The fault suite (`make chaos`): faults injected while records flow, then nothing lost.

    chaos.py [--build-dir build] [--dir DIR] [--keep] [--feed-seconds 200] [--no-hostile]

Starts the local stack (scripts/stack), puts a small HTTP proxy between ingest-loki-pusher and
the log store (VictoriaLogs, on its Loki endpoint; the proxy makes it answer 429), and feeds
data/logs.json and the scenarios through ingest-producer at a steady pace for --feed-seconds while, in turn:

  SIGKILL ingest-enricher, ingest-loki-pusher, then ingest-producer (each restarted; the
  producer's unconfirmed records are sent again);
  the store answering 429 for 20 s;
  a broker crash (SIGKILL) and restart on its data;
  the store stopped for a minute, then started again on its data;
  the trace collector (Jaeger) gone for 30 s, its OTLP port held by a socket that accepts
  connections and never answers (a hung collector: each export waits out its timeout, the
  harsher of that and a refused connection, which fails at once), then started again;
  SIGKILL ingest-alert-evaluator (restarted).

The hostile phase (issue 15; tests/e2e/hostile.py, off with --no-hostile) mixes into the same
feed, from 95 s on: a 1.1 MB and a 20 MB line, a connector whose clock runs 2 h fast (its runs
stamped at the data's time plus 2 h), a run dated 2261, 2 000 new sources within a minute, and a
producer re-sending the last 500 records it was given. The broker crash above restarts the broker
with Kafka's default group.initial.rebalance.delay.ms (3 s) instead of the test broker's 0, so
the evaluator's SIGKILL and a clean restart after the feed read their alert history back on a
broker with the default delay.

Then, once everything is settled, it checks that nothing was lost and nothing doubled:
- every input record is in ingestion-logs (duplicates only from the producer's resend, counted);
- every raw record has exactly one outcome: one enriched record or one dead letter;
- each enriched record and each alert event reached the store or, refused, was dead-lettered by
  the pusher; no line is in the store without its record. Each is read back by two routes
  (e2e_support.StoredLines): a query listing the job's lines, the store's count per stream, and
  for a line the listing misses, a lookup by its exact time; a disagreement fails the check as a
  query artifact, a line neither finds as lost. VictoriaLogs keeps every entry it acknowledged,
  a re-sent one again (Loki would store it once): lines stored more than once are counted, not
  failed, since the pusher's restart and lost partitions re-send by design (at least once);
- no alert transition is in ingestion-alerts twice;
- nothing is stuck: every consumer caught up and nothing pending for the store, and every
  service still answering;
- the collector's outage held no stage (the enriched topic's end offset grew while it was
  down), the spans it could not take were dropped and counted
  (ingestwatch_trace_spans_dropped_total grew), and every service exports again once it is
  back (ingestwatch_trace_spans_exported_total grows), read from each service's /metrics;
- hostile phase: each oversized line dead-lettered as oversized_record with its exact size and
  SHA-256 (or taken whole, then given one outcome), the 2261 run dead-lettered as
  future_timestamp, and the well-behaved sources' alerts unchanged: the scenario sources'
  alert events are exactly data/scenarios/expected.yaml's episodes (every instant due by the
  data's end, to the millisecond, and no other transition of theirs).
Prints a table of the faults (the hostile ones with what became of them) and one of the checks;
exits 1 if a check failed. Bounded: about four minutes once the store and Jaeger are built (249 s
with the hostile phase and the collector's outage on a 2-core machine, 15/15 checks).
"""
import argparse
import collections
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import yaml

import hostile
from e2e_support import (ALERTS, DLQ, ENRICHED, RAW, REPO, Producer, RawOutcomes, StoredLines,
                         alert_time, end_offsets, http_text, load_env, log, metric_max,
                         metric_sum, ndjson_of_inputs, on_stack, read_topic, run_time, to_epoch,
                         wait_for)

STACK = str(REPO / "scripts/stack")


class LokiProxy:
    """Forwards pushes to the store's Loki endpoint, or answers 429 while told to."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.throttle = threading.Event()
        self.answered_429 = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.throttle.is_set() and "/api/v1/push" in self.path:
                    proxy.answered_429 += 1
                    self.send_response(429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body or None,
                                                 headers=headers, method=method)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as e:
                    status, payload = e.code, e.read()
                except OSError:
                    status, payload = 502, b"log store unreachable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self.forward("GET")

            def do_POST(self):
                self.forward("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class HungPort:
    """Holds a loopback port the way a hung collector does: connections are accepted and kept
    open, nothing is read and nothing answered, until close()."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        # A close() does not wake an accept() blocked in another thread (the port would stay
        # bound): the thread polls, and close() waits for it to go.
        self.sock.settimeout(0.2)
        self.closing = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.closing.set()
        self.thread.join()
        self.sock.close()
        for conn in self.held:
            conn.close()


class Feed:
    """Writes the scheduled items (hostile.Item: a line and the second it is due) to the current
    producer; survives a producer restart by giving the new one what the old one had not
    confirmed, and can re-send the last records given, as a producer without a checkpoint
    does after a crash."""

    def __init__(self, items, make_producer):
        self.items, self.make_producer = items, make_producer
        self.lock = threading.Lock()
        self.producer = make_producer()
        self.given = []  # the lines the current producer was given, in order
        self.next = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def write(self, line: str) -> None:
        try:
            self.producer.proc.stdin.write(line + "\n")
            self.producer.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # killed (or dead) under us: kill_producer() gives its lines again
        self.given.append(line)

    def run(self):
        start = time.monotonic()
        while True:
            with self.lock:
                if self.next >= len(self.items):
                    return
                self.write(self.items[self.next].line)
                self.next += 1
                due = self.items[self.next].at if self.next < len(self.items) else 0
            delay = start + due - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def kill_producer(self) -> str:
        """SIGKILL the producer; a new one is given at once every line the old one had not
        confirmed (delivered or dead-lettered), then the feed goes on."""
        with self.lock:
            metrics = http_text(self.producer.metrics_url)
            confirmed = int(metric_sum(metrics, "ingestwatch_records_out_total") +
                            metric_sum(metrics, "ingestwatch_records_dead_lettered_total"))
            self.producer.proc.kill()
            self.producer.proc.wait()
            unconfirmed = self.given[confirmed:]
            self.producer, self.given = self.make_producer(), []
            for line in unconfirmed:
                self.write(line)
        return f"{len(unconfirmed)} records sent again (unconfirmed when killed)"

    def resend(self, n: int) -> str:
        """The current producer is given its last `n` lines again."""
        with self.lock:
            again = self.given[-n:]
            for line in again:
                self.write(line)
        return f"the last {len(again)} records given to the producer sent again"

    def finish(self) -> dict:
        self.thread.join()
        return self.producer.finish()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--feed-seconds", type=float, default=200)
    ap.add_argument("--no-hostile", action="store_true",
                    help="without the hostile phase (the faults of the stack only)")
    args = ap.parse_args()
    build_dir = pathlib.Path(args.build_dir).resolve()
    faults = []
    started = time.time()
    checks = on_stack("chaos", args.build_dir, args.dir, args.keep, lambda run_dir, env, checks: run(
        args, build_dir, run_dir, env, checks, faults))
    if checks is None:
        return 1
    print()
    print("| fault | at (s) | back after (s) | what happened |")
    print("|---|---|---|---|")
    for name, at, back, note in sorted(faults, key=lambda fault: fault[1]):
        print(f"| {name} | {at:.0f} | {'-' if back is None else f'{back:.1f}'} | {note} |")
    print()
    print("| check | result | detail |")
    print("|---|---|---|")
    for name, ok, detail in checks.results:
        print(f"| {name} | {'ok' if ok else 'FAIL'} | {detail} |")
    print(f"\nchaos: {sum(ok for _, ok, _ in checks.results)}/{len(checks.results)} checks "
          f"passed in {time.time() - started:.0f} s")
    return 1 if checks.failed else 0


def restart_service(run_dir, name) -> float:
    t0 = time.monotonic()
    subprocess.run([STACK, "start-service", str(run_dir), name], check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def run(args, build_dir, run_dir, env, checks, faults) -> None:
    # The pusher talks to the store through the proxy from here on.
    proxy = LokiProxy(env["LOKI_URL"])
    subprocess.run([STACK, "stop-service", str(run_dir), "loki-pusher"], check=True)
    stack_env = run_dir / "stack.env"
    stack_env.write_text(stack_env.read_text().replace(env["LOKI_URL"], proxy.url))
    restart_service(run_dir, "loki-pusher")

    lines, _ = ndjson_of_inputs()
    base = hostile.base_schedule(lines, args.feed_seconds)
    plan = hostile.Plan().scaled(args.feed_seconds)
    extra = [] if args.no_hostile else hostile.hostile_items(plan, hostile.DataClock(base),
                                                             args.feed_seconds)
    items = hostile.merge(base, extra)
    producers = iter(range(1, 100))
    feed = Feed(items, lambda: Producer(build_dir, env, run_dir, f"chaos-{next(producers)}"))
    t0 = time.monotonic()
    feed.thread.start()
    log(f"feeding {len(items)} records over {args.feed_seconds:.0f} s while faults strike "
        f"({len(extra)} of them hostile)")
    # The hostile rows of the fault table; their outcome is filled in by verify().
    hostile_rows = {}
    for kind, name in (("big", "oversized lines"), ("fast", "a connector 2 h fast"),
                       ("future", "a run dated 2261"), ("flood", "new sources")):
        of_kind = [i for i in extra if i.kind == kind]
        if of_kind:
            if kind == "big":
                name = " and ".join(f"{len(i.line.encode()) / 1e6:g} MB" for i in of_kind) + \
                    " lines"
            elif kind == "flood":
                name = (f"{len(of_kind)} new sources in "
                        f"{of_kind[-1].at - of_kind[0].at:.0f} s")
            elif kind == "fast":
                name += f" ({len(of_kind)} runs)"
            hostile_rows[kind] = [f"hostile: {name}", of_kind[0].at, None, "(not checked)"]
            faults.append(hostile_rows[kind])

    def resend():
        when = time.monotonic() - t0
        faults.append(["hostile: producer resend", when, None, feed.resend(plan.resend_records)])
        log(f"producer: re-sent {plan.resend_records} records at {when:.0f} s")

    resender = None
    if not args.no_hostile:
        resender = threading.Timer(plan.resend_at, resend)
        resender.daemon = True
        resender.start()

    def at(seconds):
        delay = t0 + seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return time.monotonic() - t0

    def kill_and_restart(offset, service):
        when = at(offset)
        subprocess.run([STACK, "stop-service", str(run_dir), service, "--kill"], check=True,
                       stderr=subprocess.DEVNULL)
        faults.append([f"SIGKILL ingest-{service}", when, restart_service(run_dir, service),
                       "restarted by scripts/stack start-service"])
        log(f"{service}: killed at {when:.0f} s, back")

    kill_and_restart(10, "enricher")
    kill_and_restart(20, "loki-pusher")
    when = at(30)
    note = feed.kill_producer()
    faults.append(["SIGKILL ingest-producer", when, 0.0, note])

    when = at(40)
    proxy.throttle.set()
    time.sleep(20)
    proxy.throttle.clear()
    faults.append(["log store answering 429 for 20 s", when, 20.0,
                   f"{proxy.answered_429} pushes answered 429"])

    when = at(65)
    subprocess.run([str(REPO / "scripts/kafka-local"), "crash", "--dir", str(run_dir / "kafka")],
                   check=True, stderr=subprocess.DEVNULL)
    time.sleep(5)
    t1 = time.monotonic()
    # It comes back with Kafka's default initial rebalance delay (3 s for a new group), not the
    # test broker's 0: every consumer group started from here on (the services' restarts, the
    # evaluator's alert-history read, a group of its own each time) waits for it, as in
    # production. `restart` keeps server.properties as it is; a later line would override too.
    delay_note = ""
    if not args.no_hostile:
        props = run_dir / "kafka/server.properties"
        kept = [line for line in props.read_text().splitlines()
                if not line.startswith("group.initial.rebalance.delay.ms=")]
        props.write_text("\n".join(kept) + "\n")
        delay_note = "; back with the default group.initial.rebalance.delay.ms (3 s)"
    # Owned by this process like the rest of the stack, unless --keep keeps it for a look.
    owner = [] if args.keep else ["--owner-pid", str(os.getpid())]
    subprocess.run([str(REPO / "scripts/kafka-local"), "restart", "--dir",
                    str(run_dir / "kafka"), *owner], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    faults.append(["broker crash (SIGKILL), restart on its data", when,
                   5 + time.monotonic() - t1, "down 5 s" + delay_note])
    log("broker: crashed and restarted")

    when = at(85)
    command = stop_infra(run_dir, "victorialogs")
    time.sleep(60)
    t1 = time.monotonic()
    start_infra_again(run_dir, "victorialogs", command)
    wait_for("the log store to be ready again", lambda: ready(env["LOKI_URL"] + "/health"), 120,
             0.5)
    faults.append(["log store (VictoriaLogs) stopped for a minute, then started on its data",
                   when, 60 + time.monotonic() - t1, "pushes retried meanwhile"])
    log("log store: back after a minute")

    when = at(max(150, time.monotonic() - t0))
    note = collector_outage(run_dir, env, feed, checks)
    faults.append(["trace collector (Jaeger) gone 30 s, its OTLP port accepting and never "
                   "answering", when, time.monotonic() - t0 - when, note])
    log("collector: back after 30 s")

    # Last: its restart replays its input and waits for the group's session timeout.
    kill_and_restart(max(190, time.monotonic() - t0), "alert-evaluator")

    if resender is not None:
        resender.join()
    # No line, whatever its size, stops the producer: the last one reads its input to the end
    # and exits 0.
    try:
        summary = feed.finish()
        checks.check("the producer read every line and exited 0", True,
                     f"last producer: read {summary['read']}, published {summary['sent']}, "
                     f"dead-lettered {summary['dead_lettered']}")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        checks.check("the producer read every line and exited 0", False, str(e))
    if not args.no_hostile:
        # A clean restart once every alert of the feed is in ingestion-alerts: the read-back
        # (a new group, 3 s before its first assignment) must find them all, or the restarted
        # evaluator writes them again ("no alert transition twice" below).
        when = at(0)
        subprocess.run([STACK, "stop-service", str(run_dir), "alert-evaluator"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        faults.append(["hostile: ingest-alert-evaluator restarted (SIGTERM) after the feed",
                       when, restart_service(run_dir, "alert-evaluator"),
                       "broker with the default rebalance delay; history read back"])
        log("alert-evaluator: restarted after the feed")
    # `scripts/stack wait` counts from each service's start; these were restarted, so settled
    # means: every consumer has caught up and nothing is pending for Loki, for 5 s running.
    log("feed done; waiting until every record is settled")
    stable_since = [None]

    def settled():
        texts = [http_text(env[k]) for k in ("ENRICHER_METRICS", "EVALUATOR_METRICS",
                                              "PUSHER_METRICS")]
        quiet = all(metric_sum(t, "ingestwatch_consumer_lag_records") == 0 for t in texts) and \
            metric_sum(texts[2], "ingestwatch_loki_pending_bytes") == 0
        if not quiet:
            stable_since[0] = None
        elif stable_since[0] is None:
            stable_since[0] = time.monotonic()
        return quiet and time.monotonic() - stable_since[0] >= 5

    env.update(load_env(run_dir))  # the restarted services' new ports
    t1 = time.monotonic()
    try:
        wait_for("every consumer to catch up and the store to take everything", settled, 300,
                 0.5)
        stuck = None
    except TimeoutError as e:
        stuck = str(e)
    except OSError as e:  # a service no longer answers
        stuck = f"a service does not answer: {e}"
    checks.check("nothing stuck: every consumer caught up, nothing pending for the store",
                 stuck is None, stuck or f"settled {time.monotonic() - t1:.0f} s after the feed "
                 "(lag 0 on every input partition, 0 bytes pending, for 5 s)")
    verify(env, items, checks, hostile_rows, build_dir, run_dir)


def stop_infra(run_dir, name: str) -> tuple:
    """SIGTERM to a process of the stack's infrastructure (DIR/NAME.pid), once it is gone: its
    command line and working directory, to start it again as it was."""
    pid = int((run_dir / f"{name}.pid").read_text())
    command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.kill(pid, signal.SIGTERM)
    wait_for(f"{name} to stop", lambda: not pathlib.Path(f"/proc/{pid}").exists(), 60, 0.2)
    return command, cwd


def start_infra_again(run_dir, name: str, how: tuple) -> None:
    """Starts what stop_infra stopped, with the stack's mark (scripts/stack stop stops it)."""
    command, cwd = how
    with open(run_dir / f"logs/{name}.log", "a") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True,
                                env={**os.environ, "IW_STACK_DIR": str(run_dir)})
    (run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")


def span_counts(env, feed) -> dict:
    """{process: (spans exported, spans dropped)} from each /metrics: the three services and
    the current producer."""
    urls = {name: env[key] for name, key in (("enricher", "ENRICHER_METRICS"),
                                             ("alert-evaluator", "EVALUATOR_METRICS"),
                                             ("loki-pusher", "PUSHER_METRICS"))}
    urls["producer"] = feed.producer.metrics_url
    counts = {}
    for name, url in urls.items():
        try:
            text = http_text(url)
        except OSError:
            text = ""
        counts[name] = (metric_sum(text, "ingestwatch_trace_spans_exported_total"),
                        metric_sum(text, "ingestwatch_trace_spans_dropped_total"))
    return counts


def collector_outage(run_dir, env, feed, checks, seconds: float = 30) -> str:
    """Jaeger stopped and its OTLP port held by a HungPort for `seconds` while records flow,
    then Jaeger started again. Checks that no stage was held (the enriched topic's end offset
    grew meanwhile), that the spans it could not take were dropped and counted, and that every
    process exports again afterwards; returns the fault table's note."""
    env.update(load_env(run_dir))  # the services restarted before have new ports
    port = int(env["OTLP_ENDPOINT"].rsplit(":", 1)[1])
    before = span_counts(env, feed)
    command = stop_infra(run_dir, "jaeger")
    hung = HungPort(port)
    offset_at_start = end_offsets(env["BOOTSTRAP"], ENRICHED)
    time.sleep(seconds)
    offset_at_end = end_offsets(env["BOOTSTRAP"], ENRICHED)
    during = span_counts(env, feed)
    connections = len(hung.held)
    hung.close()
    start_infra_again(run_dir, "jaeger", command)
    wait_for("Jaeger to be ready again", lambda: ready(env["JAEGER_URL"] + "/api/services"), 60,
             0.5)
    checks.check("collector down 30 s: no stage held (records kept flowing)",
                 offset_at_end > offset_at_start,
                 f"{ENRICHED} end offsets {offset_at_start} -> {offset_at_end} while the "
                 f"collector was hung ({connections} export connections held unanswered)")
    dropped = {name: during[name][1] - before[name][1] for name in before}
    checks.check("collector down 30 s: the spans it could not take dropped and counted",
                 sum(dropped.values()) > 0,
                 "ingestwatch_trace_spans_dropped_total grew by " + ", ".join(
                     f"{name} {n:.0f}" for name, n in dropped.items()))
    # Exports resume: each process exports more than it had at the outage's end (the services'
    # batches go out every second while records flow).
    try:
        wait_for("every process to export spans again", lambda: all(
            after[0] > during[name][0] for name, after in span_counts(env, feed).items()),
            60, 1)
        resumed = True
    except TimeoutError:
        resumed = False
    after = span_counts(env, feed)
    checks.check("collector back: every process exports spans again", resumed,
                 "ingestwatch_trace_spans_exported_total since the collector came back: "
                 + ", ".join(f"{name} +{after[name][0] - during[name][0]:.0f}"
                             for name in after))
    return (f"{ENRICHED} end offsets +{offset_at_end - offset_at_start} meanwhile; spans "
            f"dropped: " + ", ".join(f"{name} {n:.0f}" for name, n in dropped.items()))


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def verify(env, items, checks, hostile_rows, build_dir, run_dir) -> None:
    bootstrap = env["BOOTSTRAP"]
    raw, enriched, dead = (read_topic(bootstrap, t) for t in (RAW, ENRICHED, DLQ))
    alert_records = read_topic(bootstrap, ALERTS)
    alert_payloads = [r["payload"] for r in alert_records]
    lines = [i.line for i in items]

    # Every input record reached ingestion-logs, or a producer dead letter holds it, or (too
    # large to hold) an oversized_record letter names its size and SHA-256.
    lost, doubled, whole, by_digest = hostile.input_accounting(lines, raw, dead)
    checks.check("no input record lost", not lost,
                 f"{len(lines)} input records, {len(raw)} in {RAW} ({doubled} sent twice by the "
                 f"restarted or re-sending producer), {whole} producer dead letters holding the "
                 f"record, {by_digest} oversized ones named by size and SHA-256, "
                 f"{sum(lost.values())} lost")

    outcomes = RawOutcomes(raw, enriched, dead)
    checks.check("one outcome per raw record (enricher killed, broker crashed)", outcomes.once,
                 f"{len(enriched)} enriched, {len(dead)} dead letters; {len(outcomes.without)} "
                 f"without an outcome, {len(outcomes.twice)} with two")

    # The store: each enriched record and each alert event (a Kafka record) has an outcome: a
    # line in the store, or the pusher's dead letter naming it. A restarted producer's duplicates
    # are records of their own (their lines name other raw offsets).
    pusher_letters = collections.Counter()
    letter_reasons = collections.defaultdict(collections.Counter)
    for r in dead:
        h = r["headers"]
        if h.get("dlq.stage") == "loki-pusher":
            pusher_letters[(h["dlq.topic"], int(h["dlq.partition"]), int(h["dlq.offset"]))] += 1
            letter_reasons[h["dlq.topic"]][h.get("dlq.reason")] += 1

    for job, topic, records, when in (("ingestion-logs", ENRICHED, enriched, run_time),
                                      ("ingestion-alerts", ALERTS, alert_records, alert_time)):
        stored = StoredLines(env["LOKI_URL"], job)
        expected = [r for r in records
                    if not pusher_letters[(topic, r["partition"], r["offset"])]]
        refused = len(records) - len(expected)
        # A record read again after a crash or a rebalance can be refused (too_far_behind)
        # although its first reading was stored: counted, as information.
        refused_stored = sum(1 for r in records if pusher_letters[
            (topic, r["partition"], r["offset"])] and stored.lines[r["payload"]] > 0)
        dropped = 0
        if topic == ENRICHED:
            # A re-sent run is another Kafka record with the same event.id: a pusher (or store)
            # that keeps one line per event stores one of them.
            expected, dropped = hostile.dedupe_expected(
                expected, stored.lines, lambda r: json.loads(r["payload"])["event"]["id"])
        payloads = {r["payload"] for r in records}
        strangers = sum(n for line, n in stored.lines.items() if line not in payloads)
        again = sum(n - 1 for n in stored.lines.values() if n > 1)
        problems = stored.problems(expected, when)
        checks.check(f"every {topic} record reached the store or was dead-lettered (two routes)",
                     not problems and strangers == 0,
                     f"{len(records)} records: {sum(stored.lines.values())} lines in "
                     f"{{job=\"{job}\"}} ({again} stored again after a re-send, {dropped} "
                     f"not stored as duplicates of a stored event.id), {refused} "
                     f"dead-lettered by the pusher {dict(letter_reasons[topic])} ({refused_stored} "
                     f"of them also stored, from an earlier reading), {strangers} "
                     f"without their record; {problems or 'both routes agree'}")

    events = [json.loads(p) for p in alert_payloads]
    transitions = collections.Counter(
        (e["fingerprint"], e["status"], e["startsAt"], e.get("endsAt")) for e in events)
    duplicated = sum(n - 1 for n in transitions.values() if n > 1)
    checks.check("no alert transition twice (evaluator killed and restarted)",
                 duplicated == 0 and events, f"{len(events)} alert events, {duplicated} duplicated")
    if hostile_rows:
        verify_hostile(env, items, raw, enriched, dead, events, checks, hostile_rows,
                       build_dir, run_dir)


def verify_hostile(env, items, raw, enriched, dead, events, checks, rows, build_dir,
                   run_dir) -> None:
    """What became of each hostile input (its row of the fault table), and the well-behaved
    sources' alerts."""
    metrics = {name: http_text(env[key]) for name, key in (
        ("enricher", "ENRICHER_METRICS"), ("evaluator", "EVALUATOR_METRICS"),
        ("pusher", "PUSHER_METRICS"))}
    by_kind = collections.defaultdict(list)
    for i in items:
        by_kind[i.kind].append(i)

    if "big" in rows:
        outcomes = [hostile.big_line_outcome(i.line, raw, dead) for i in by_kind["big"]]
        rows["big"][3] = "; ".join(
            f"{len(i.line.encode())} bytes: {what}" for i, (_, what) in zip(by_kind["big"],
                                                                             outcomes))
        checks.check("hostile: each oversized line dead-lettered with its size and SHA-256",
                     all(ok for ok, _ in outcomes), rows["big"][3])
    if "future" in rows:
        ok, what = hostile.future_outcome(by_kind["future"][0].line, enriched, dead)
        rows["future"][3] = what
        checks.check("hostile: the run dated 2261 dead-lettered future_timestamp", ok, what)
    if "fast" in rows:
        runs = sum(1 for r in enriched if f'"name":"{hostile.FAST_SOURCE}"' in r["payload"])
        rows["fast"][3] = (f"{runs} enriched runs of {hostile.FAST_SOURCE} (sent "
                           f"{len(by_kind['fast'])}, plus re-sends); late runs in the evaluator: "
                           f"{metric_sum(metrics['evaluator'], 'ingestwatch_alert_late_runs_total'):.0f}")
    if "flood" in rows:
        runs = sum(1 for r in enriched if f'"name":"{hostile.FLOOD_PREFIX}' in r["payload"])
        folded = {name: metric_sum(text, "ingestwatch_cardinality_folded_records_total",
                                   kind="source") for name, text in metrics.items()}
        tracked = {name: metric_max(text, "ingestwatch_cardinality_tracked", kind="source")
                   for name, text in metrics.items()}
        series = {name: sum(1 for line in text.splitlines() if line and line[0] != "#")
                  for name, text in metrics.items()}
        rows["flood"][3] = (f"{runs} enriched; folded into source=\"_other\": "
                            + ", ".join(f"{n} {v:.0f}" for n, v in folded.items())
                            + "; sources tracked: "
                            + ", ".join(f"{n} {v:.0f}" for n, v in tracked.items())
                            + "; /metrics series: "
                            + ", ".join(f"{n} {v}" for n, v in series.items()))
    duplicates = {name: metric_sum(text, "ingestwatch_duplicate_records_total")
                  for name, text in metrics.items()}
    checks.check("hostile: what was set apart, as counted (information)", True,
                 "duplicate runs dropped: " + ", ".join(
                     f"{n} {v:.0f}" for n, v in duplicates.items() if n != "enricher")
                 + "; dead letters by stage/reason: " + ", ".join(
                     f"{s}/{r} {n}" for (s, r), n in sorted(collections.Counter(
                         (d["headers"].get("dlq.stage"), d["headers"].get("dlq.reason"))
                         for d in dead).items())))

    # The well-behaved sources' alerts, every transition at an instant due by the end of their
    # data (their latest end minus the allowed lateness), (1) against a clean run of the same
    # data: a second evaluator fed their enriched records once each, in order, and (2) for the
    # scenario sources, against data/scenarios/expected.yaml's episodes, to the millisecond.
    # Neither the fast clock, nor 2261, nor the flood, nor the re-sent records, nor the
    # restarts may change them.
    ends = [to_epoch(json.loads(r["payload"])["event"]["end"]) for r in enriched
            if hostile.well_behaved(json.loads(r["payload"])["source"]["name"])]
    due_until = max(ends, default=0) - 300
    due_text = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(due_until))
    try:
        baseline, note = baseline_events(build_dir, run_dir, env, enriched, due_until)
        compared, missing, extra = hostile.compare_transitions(events, baseline, due_until,
                                                               to_epoch)
        checks.check("hostile: the well-behaved sources' alerts unchanged (vs a clean run)",
                     compared > 0 and not missing and not extra,
                     f"{compared} transitions of a clean run of the same data (every source but "
                     f"the hostile ones) up to {due_text}{note}: {len(missing)} missing, "
                     f"{len(extra)} not in the clean run"
                     + "".join(f"; missing {hostile.describe_key(k)}" for k in missing[:3])
                     + "".join(f"; extra {hostile.describe_key(k)}" for k in extra[:3]))
    except (TimeoutError, RuntimeError, subprocess.SubprocessError, OSError) as e:
        checks.check("hostile: the well-behaved sources' alerts unchanged (vs a clean run)",
                     False, f"the clean run failed: {e}")
    expected = yaml.safe_load((REPO / "data/scenarios/expected.yaml").read_text())["alerts"]
    due, missing, unexpected = hostile.scenario_alerts(events, expected, due_until, to_epoch)
    checks.check("hostile: the scenario sources' alerts exactly as expected.yaml",
                 due > 0 and not missing and not unexpected,
                 f"{due} instants of data/scenarios/expected.yaml due by {due_text}: "
                 f"{len(missing)} missing, {len(unexpected)} other transitions of theirs"
                 + "".join(f"; missing {hostile.describe_key(k)}" for k in missing[:3])
                 + "".join(f"; unexpected {hostile.describe_key(k)}" for k in unexpected[:3]))


BASELINE_TOPICS = ("chaos-baseline-enriched", "chaos-baseline-alerts", "chaos-baseline-dlq")


def baseline_events(build_dir, run_dir, env, enriched, due_until) -> tuple:
    """The alert events of a clean run of the well-behaved data, and a note: a second
    ingest-alert-evaluator on topics of its own (one partition each), fed
    hostile.baseline_input() (their enriched records once each, in τ order), read once it has
    read everything and its clock has passed `due_until`. Stopped before returning."""
    bootstrap = env["BOOTSTRAP"]
    source_topic, alerts_topic, dlq_topic = BASELINE_TOPICS
    payloads = hostile.baseline_input([r["payload"] for r in enriched])
    subprocess.run([str(REPO / "scripts/kafka-local"), "create-topics", bootstrap,
                    *(f"{t}:1" for t in BASELINE_TOPICS)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", source_topic, "-p", "0"],
                   input="".join(p + "\n" for p in payloads), text=True, check=True, timeout=120)
    log_path = run_dir / "logs/baseline-evaluator.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [str(build_dir / "services/alert-evaluator/ingest-alert-evaluator"),
             "--bootstrap-servers", bootstrap], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "IW_HTTP_LISTEN": "127.0.0.1:0", "IW_STACK_DIR": str(run_dir),
                 "IW_ALERT_EVALUATOR_INPUT_TOPIC": source_topic,
                 "IW_ALERT_EVALUATOR_OUTPUT_TOPIC": alerts_topic,
                 "IW_ALERT_EVALUATOR_DLQ_TOPIC": dlq_topic,
                 "IW_ALERT_EVALUATOR_GROUP_ID": "chaos-baseline",
                 "IW_ALERT_EVALUATOR_TRANSACTIONAL_ID": "chaos-baseline"})
    try:
        port = wait_for("the clean evaluator's port", lambda: (re.findall(
            r'"http_port":(\d+)', log_path.read_text()) or [None])[0], 60, 0.2)
        url = f"http://127.0.0.1:{port}/metrics"

        def read_all():
            text = http_text(url)
            return metric_sum(text, "ingestwatch_records_in_total") >= len(payloads) and \
                metric_sum(text, "ingestwatch_consumer_lag_records") == 0

        wait_for(f"the clean evaluator to read its {len(payloads)} records", read_all, 180, 0.5)
        try:
            wait_for("the clean evaluator's clock", lambda: metric_max(
                http_text(url), "ingestwatch_alert_clock_timestamp_seconds") >= due_until, 30,
                0.5)
            note = ""
        except TimeoutError:
            note = " (its clock metric did not pass that instant in 30 s)"
        time.sleep(1)  # the last transaction (100 ms commit interval)
        events = [json.loads(r["payload"]) for r in read_topic(bootstrap, alerts_topic)]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return events, f" ({len(payloads)} runs, {len(events)} alert events{note})"

if __name__ == "__main__":
    sys.exit(main())
