#!/usr/bin/env python3
"""The fault suite (`make chaos`): faults injected while records flow, then nothing lost.

    chaos.py [--build-dir build] [--dir DIR] [--keep] [--feed-seconds 200]

Starts the local stack (scripts/stack), puts a small HTTP proxy between ingest-loki-pusher and
the log store (VictoriaLogs, on its Loki endpoint; the proxy makes it answer 429), and feeds
data/logs.json and the scenarios through ingest-producer at a steady pace for --feed-seconds while, in turn:

  SIGKILL ingest-enricher, ingest-loki-pusher, then ingest-producer (each restarted; the
  producer's unconfirmed records are sent again);
  the store answering 429 for 20 s;
  a broker crash (SIGKILL) and restart on its data;
  the store stopped for a minute, then started again on its data;
  SIGKILL ingest-alert-evaluator (restarted).

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
- no alert transition is in ingestion-alerts twice.
Prints a table of the faults and one of the checks; exits 1 if a check failed. Bounded: about
five minutes once the store is built.
"""
import argparse
import collections
import http.server
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from e2e_support import (ALERTS, DLQ, ENRICHED, RAW, REPO, Producer, RawOutcomes, StoredLines,
                         alert_time, http_text, load_env, log, metric_sum, ndjson_of_inputs,
                         on_stack, read_topic, run_time, wait_for)

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


class Feed:
    """Writes the input lines to the current producer at a steady pace; survives a producer
    restart by sending again what that producer had not confirmed."""

    def __init__(self, lines, seconds, make_producer):
        self.lines, self.make_producer = lines, make_producer
        self.interval = seconds / len(lines)
        self.lock = threading.Lock()
        self.producer = make_producer()
        self.base = 0  # index of the first line the current producer was given
        self.next = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        start = time.monotonic()
        while True:
            with self.lock:
                if self.next >= len(self.lines):
                    return
                try:
                    self.producer.proc.stdin.write(self.lines[self.next] + "\n")
                    self.producer.proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass  # killed under us: kill_producer() resets the position
                self.next += 1
            delay = start + self.next * self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def kill_producer(self) -> str:
        """SIGKILL the producer; a new one takes over from its first unconfirmed line."""
        with self.lock:
            metrics = http_text(self.producer.metrics_url)
            confirmed = int(metric_sum(metrics, "ingestwatch_records_out_total") +
                            metric_sum(metrics, "ingestwatch_records_dead_lettered_total"))
            self.producer.proc.kill()
            self.producer.proc.wait()
            resend_from = self.base + confirmed
            given = self.next
            self.producer = self.make_producer()
            self.base = self.next = resend_from
        return f"{given - resend_from} records sent again (unconfirmed when killed)"

    def finish(self):
        self.thread.join()
        self.producer.finish()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--feed-seconds", type=float, default=200)
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
    for name, at, back, note in faults:
        print(f"| {name} | {at:.0f} | {back:.1f} | {note} |")
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
    producers = iter(range(1, 100))
    feed = Feed(lines, args.feed_seconds,
                lambda: Producer(build_dir, env, run_dir, f"chaos-{next(producers)}"))
    t0 = time.monotonic()
    feed.thread.start()
    log(f"feeding {len(lines)} records over {args.feed_seconds:.0f} s while faults strike")

    def at(seconds):
        delay = t0 + seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return time.monotonic() - t0

    def kill_and_restart(offset, service):
        when = at(offset)
        subprocess.run([STACK, "stop-service", str(run_dir), service, "--kill"], check=True,
                       stderr=subprocess.DEVNULL)
        faults.append((f"SIGKILL ingest-{service}", when, restart_service(run_dir, service),
                       "restarted by scripts/stack start-service"))
        log(f"{service}: killed at {when:.0f} s, back")

    kill_and_restart(10, "enricher")
    kill_and_restart(20, "loki-pusher")
    when = at(30)
    note = feed.kill_producer()
    faults.append(("SIGKILL ingest-producer", when, 0.0, note))

    when = at(40)
    proxy.throttle.set()
    time.sleep(20)
    proxy.throttle.clear()
    faults.append(("log store answering 429 for 20 s", when, 20.0,
                   f"{proxy.answered_429} pushes answered 429"))

    when = at(65)
    subprocess.run([str(REPO / "scripts/kafka-local"), "crash", "--dir", str(run_dir / "kafka")],
                   check=True, stderr=subprocess.DEVNULL)
    time.sleep(5)
    t1 = time.monotonic()
    # Owned by this process like the rest of the stack, unless --keep keeps it for a look.
    owner = [] if args.keep else ["--owner-pid", str(os.getpid())]
    subprocess.run([str(REPO / "scripts/kafka-local"), "restart", "--dir",
                    str(run_dir / "kafka"), *owner], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    faults.append(("broker crash (SIGKILL), restart on its data", when,
                   5 + time.monotonic() - t1, "down 5 s"))
    log("broker: crashed and restarted")

    when = at(85)
    store_pid = int((run_dir / "victorialogs.pid").read_text())
    command = pathlib.Path(f"/proc/{store_pid}/cmdline").read_bytes().split(b"\0")[:-1]
    cwd = os.readlink(f"/proc/{store_pid}/cwd")
    os.kill(store_pid, signal.SIGTERM)
    wait_for("the log store to stop", lambda: not pathlib.Path(f"/proc/{store_pid}").exists(),
             60, 0.2)
    time.sleep(60)
    t1 = time.monotonic()
    with open(run_dir / "logs/victorialogs.log", "a") as out:
        store = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                 start_new_session=True,
                                 env={**os.environ, "IW_STACK_DIR": str(run_dir)})
    (run_dir / "victorialogs.pid").write_text(f"{store.pid}\n")
    wait_for("the log store to be ready again", lambda: ready(env["LOKI_URL"] + "/health"), 120,
             0.5)
    faults.append(("log store (VictoriaLogs) stopped for a minute, then started on its data",
                   when, 60 + time.monotonic() - t1, "pushes retried meanwhile"))
    log("log store: back after a minute")

    # Last: its restart replays its input and waits for the group's session timeout.
    kill_and_restart(max(165, time.monotonic() - t0), "alert-evaluator")

    feed.finish()
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
    wait_for("every consumer to catch up and the store to take everything", settled, 300, 0.5)
    verify(env, lines, checks)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def verify(env, lines, checks) -> None:
    bootstrap = env["BOOTSTRAP"]
    raw, enriched, dead = (read_topic(bootstrap, t) for t in (RAW, ENRICHED, DLQ))
    alert_records = read_topic(bootstrap, ALERTS)
    alert_payloads = [r["payload"] for r in alert_records]

    # Every input record reached ingestion-logs (or was the producer's dead letter).
    want = collections.Counter(json.dumps(json.loads(line), sort_keys=True) for line in lines)
    got = collections.Counter(json.dumps(json.loads(r["payload"]), sort_keys=True) for r in raw)
    got_dead = collections.Counter(json.dumps(json.loads(r["payload"]), sort_keys=True)
                                   for r in dead if r["headers"].get("dlq.stage") == "producer")
    lost = want - got - got_dead
    doubled = sum(n - 1 for n in got.values() if n > 1)
    checks.check("no input record lost", not lost,
                 f"{len(lines)} input records, {len(raw)} in {RAW} ({doubled} sent twice by the "
                 f"restarted producer), {sum(got_dead.values())} producer dead letters, "
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
        payloads = {r["payload"] for r in records}
        strangers = sum(n for line, n in stored.lines.items() if line not in payloads)
        again = sum(n - 1 for n in stored.lines.values() if n > 1)
        refused = len(records) - len(expected)
        problems = stored.problems(expected, when)
        checks.check(f"every {topic} record reached the store or was dead-lettered (two routes)",
                     not problems and strangers == 0,
                     f"{len(records)} records: {sum(stored.lines.values())} lines in "
                     f"{{job=\"{job}\"}} ({again} stored again after a re-send), {refused} "
                     f"dead-lettered by the pusher {dict(letter_reasons[topic])}, {strangers} "
                     f"without their record; {problems or 'both routes agree'}")

    events = [json.loads(p) for p in alert_payloads]
    transitions = collections.Counter(
        (e["fingerprint"], e["status"], e["startsAt"], e.get("endsAt")) for e in events)
    duplicated = sum(n - 1 for n in transitions.values() if n > 1)
    checks.check("no alert transition twice (evaluator killed)", duplicated == 0 and events,
                 f"{len(events)} alert events, {duplicated} duplicated")


if __name__ == "__main__":
    sys.exit(main())
