#!/usr/bin/env python3
"""The end-to-end benchmark: the whole local stack next to a raw librdkafka two-hop pipe, on the
same broker, in the same run. bench/run calls it; it prints markdown rows of bench/run's table
(| measure | ingestwatch | baseline | ratio | bar | result |) and writes the notes that go
under the table to --notes.

    pipeline_bench.py [--build-dir build] [--notes FILE] [--dir DIR]

Sizes, from the environment: BENCH_E2E_RECORDS (100000; the throughput run), BENCH_E2E_RATE
(1000 records/s) and BENCH_E2E_SECONDS (30; the latency run at that fixed offered load),
BENCH_E2E_ROUNDS (3; throughput rounds, medians, sides interleaved), BENCH_E2E_LATENCY_ROUNDS
(1; latency rounds, the same way), BENCH_E2E_TRACING (1; 0 leaves the tracing rows out) and
BENCH_E2E_TRACING_ROUNDS (BENCH_E2E_ROUNDS; throughput rounds with tracing on).

The stack (scripts/stack start, owned by this process): one Kafka broker, VictoriaLogs (the log
store, on its Loki push endpoint), Prometheus,
Alertmanager, ingest-enricher (exactly once, its default), ingest-alert-evaluator and
ingest-loki-pusher. Input: ~500-byte run records from iw::loggen (pipeline_baseline gen), times
ending just before now. The raw pipe (bench/pipeline_baseline.cc): a raw producer, a raw
transactional consume -> produce relay (commits every 100 ms, the enricher's default
commit_interval) and a raw read_committed consumer, each a process, on topics of their own.

Measures (docs in bench/README.md):
- records/s: N records published as fast as possible (ingest-producer; the raw producer) until
  the last is stored in Loki (the pusher's ingestwatch_records_out_total{topic="loki"} less the
  alert events the evaluator wrote meanwhile, polled every 100 ms) or read by the raw pipe's last
  consumer; from just before the producer starts. Also against the raw pipe at least once.
- latency at a fixed offered load: per record, raw record's CreateTime -> the bench consumer
  reads its enriched record (ingestion-logs-enriched, read_committed; pipeline.raw names the raw
  record) or its relayed copy; p50/p99. Next to it, the services' own histograms (enricher record
  latency, pusher push latency; interpolated in their buckets as histogram_quantile does) and a
  count-based estimate of raw CreateTime -> stored in Loki.
- CPU-seconds per million records and peak RSS per process over the throughput run: services'
  utime + stime from /proc/<pid>/stat (before the run -> settled after it), VmHWM from
  /proc/<pid>/status after resetting it (clear_refs 5); one-shot processes (ingest-producer and
  the whole raw pipe) over their whole life, from wait4 in `pipeline_baseline measure`. The
  four services together against the raw pipe's three processes has a bar: <= 1.5. Under the
  table, for the median round, each process's CPU per million records, share of its side's CPU
  and share of a core at that records/s; and the stack's idle CPU (5 s, settled, nothing published).
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/e2e"))
from e2e_support import (ALERTS, ENRICHED, RAW, http_text, metric_sum,  # noqa: E402
                         start_stack, stop_stack, with_tracing)

CLK_TCK = os.sysconf("SC_CLK_TCK")
# The stack's long-running processes whose CPU the throughput run reads from /proc.
SERVICES = ("enricher", "alert-evaluator", "loki-pusher")
STACK_PROCESSES = SERVICES + ("victorialogs", "kafka", "prometheus")
# Done with a throughput run's records once the last one is stored in Loki: their CPU window
# ends there, as the raw pipe's processes' and the broker's during it do. The evaluator's goes on
# until the stack settled (it evaluates what it holds back once its event-time clock passes),
# less its idle rate over that wait; the log store's, Prometheus' and Jaeger's too (no raw
# counterpart: the whole window).
DONE_AT_LAST_STORED = ("enricher", "loki-pusher", "kafka")


def log(msg: str) -> None:
    print(f"pipeline_bench: {msg}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# ------------------------------------------------------------------------------ processes

class Child:
    """A one-shot process of ours, started through `pipeline_baseline measure`, which reports
    its CPU (utime + stime) and peak RSS (ru_maxrss). Not this process's wait4: Linux carries
    the memory high-water mark of the image a process exec'd from into its ru_maxrss, and
    subprocess execs from Python's memory, so a small program would show Python's RSS."""

    def __init__(self, name: str, cmd: list, log_dir: pathlib.Path, tool: pathlib.Path,
                 env: dict | None = None, ready: bool = False):
        # ENV, when given, is the child's whole environment (with_tracing removes variables).
        self.name = name
        # Only a process that says "ready" talks on stdout (then its summary); the others'
        # output (ingest-producer's logs) goes to the log file with stderr.
        self.log_path = log_dir / f"{name}.log"
        self.usage_path = log_dir / f"{name}.usage"
        self.stderr = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(c) for c in [tool, "measure", self.usage_path, *cmd]],
                                     stdout=subprocess.PIPE if ready else self.stderr,
                                     stderr=self.stderr, text=True,
                                     env=os.environ if env is None else env)
        self.code = None
        self.cpu = self.peak_rss_mib = float("nan")
        if ready:
            line = self.proc.stdout.readline()
            if line.strip() != "ready":
                self.wait()
                raise RuntimeError(f"{name} did not get ready (exit {self.code}; "
                                   f"{log_dir}/{name}.log)")

    def poll(self) -> bool:
        """True once it exited."""
        if self.code is None and self.proc.poll() is not None:
            self.code = self.proc.returncode
            self.stderr.close()
            try:
                cpu, rss_kib = self.usage_path.read_text().split()
                self.cpu, self.peak_rss_mib = float(cpu), int(rss_kib) / 1024
            except (OSError, ValueError):
                pass  # killed: no figures, and check() fails
        return self.code is not None

    def wait(self, timeout: float = 600) -> str:
        """Waits for the exit; its stdout after "ready"."""
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > deadline:
                self.proc.kill()  # `measure` takes its child along (PR_SET_PDEATHSIG)
                self.proc.wait()
                raise TimeoutError(f"{self.name} did not finish within {timeout:.0f} s")
            time.sleep(0.02)
        return self.proc.stdout.read() if self.proc.stdout else ""

    def check(self) -> None:
        if self.code != 0:
            raise RuntimeError(f"{self.name} exited {self.code} (see its log)")


def pid_of(run_dir: pathlib.Path, name: str) -> int:
    path = run_dir / ("kafka/kafka.pid" if name == "kafka" else f"{name}.pid")
    return int(path.read_text().split()[0])


def proc_cpu(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def vm_hwm_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_hwm(pid: int) -> bool:
    try:
        pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -------------------------------------------------------------------------------- metrics

def histogram(text: str, name: str) -> dict:
    """Cumulative bucket counts by upper bound, summed over label sets."""
    buckets = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    return buckets


def histogram_quantile(q: float, before: dict, after: dict) -> float | None:
    """Prometheus's histogram_quantile over the increase between two scrapes, in seconds."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts):
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below)
                                              if count > below else 0.0)
        lower, below = bound, count
    return None


class Stack:
    def __init__(self, run_dir: pathlib.Path, env: dict):
        self.dir, self.env = run_dir, env
        self.bootstrap = env["BOOTSTRAP"]

    def scrape(self, which: str) -> str:
        return http_text(self.env[which])

    def counts(self) -> dict:
        pusher, evaluator = self.scrape("PUSHER_METRICS"), self.scrape("EVALUATOR_METRICS")
        return {
            "t": time.time(),
            "loki": metric_sum(pusher, "ingestwatch_records_out_total", topic="loki"),
            "pusher_dlq": metric_sum(pusher, "ingestwatch_records_dead_lettered_total"),
            "alerts": metric_sum(evaluator, "ingestwatch_records_out_total", topic=ALERTS),
        }

    def span_counts(self) -> dict:
        """The long-running services' spans exported and dropped so far (the producer's are in
        its own /metrics, gone with it)."""
        return span_counts([self.scrape(m) for m in
                            ("ENRICHER_METRICS", "EVALUATOR_METRICS", "PUSHER_METRICS")])

    def enricher_counts(self) -> dict:
        text = self.scrape("ENRICHER_METRICS")
        return {"out": metric_sum(text, "ingestwatch_records_out_total", topic=ENRICHED),
                "dlq": metric_sum(text, "ingestwatch_records_dead_lettered_total")}

    def published(self, file: pathlib.Path, producer_log: pathlib.Path) -> None:
        """Books an ingest-producer run in DIR/published, as `scripts/stack publish` does: what
        `scripts/stack wait` waits for."""
        summary = [json.loads(line) for line in producer_log.read_text().splitlines()
                   if '"msg":"summary"' in line][-1]
        with open(self.dir / "published", "a") as out:
            out.write(f"{file} read={summary['read']} sent={summary['sent']} "
                      f"dead_lettered={summary['dead_lettered']}\n")

    def wait_settled(self, timeout: int = 300) -> None:
        if not (self.dir / "published").exists():
            return  # nothing published yet
        run = subprocess.run([str(REPO / "scripts/stack"), "wait", str(self.dir), "--timeout",
                              str(timeout)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        if run.returncode != 0:
            raise RuntimeError(f"the stack did not settle within {timeout} s")


# ------------------------------------------------------------------------------- tracing
# Every row above runs with tracing off (scripts/stack --trace-sampling off: the services and
# the bench's ingest-producer get OTEL_SDK_DISABLED=true). The tracing rows run the throughput
# side again on a second stack whose services export their spans to its Jaeger at the services'
# default ratio (--trace-sampling default: tracing.sampling_ratio, 0.01), ingest-producer too: it
# is the root, where each new trace is sampled or not (docs/TRACING.md).
TRACING_OFF, TRACING_DEFAULT = "off", "default"
SPANS_EXPORTED = "ingestwatch_trace_spans_exported_total"
SPANS_DROPPED = "ingestwatch_trace_spans_dropped_total"


def span_counts(texts: list) -> dict:
    """Spans exported and dropped (any reason), summed over the given /metrics texts."""
    return {"exported": sum(metric_sum(t, SPANS_EXPORTED) for t in texts),
            "dropped": sum(metric_sum(t, SPANS_DROPPED) for t in texts)}


def tracing_rows(off: list, on: list, records: int, thr: str) -> list:
    """The tracing rows: ingestwatch's throughput rounds with tracing at the default sampling
    (`on`) next to those with tracing off (`off`), records/s and the four processes' CPU-seconds
    per million records, each a ratio on / off (medians)."""
    ours_all = ("producer", "enricher", "loki-pusher", "alert-evaluator")
    per_m = lambda run: sum(run["cpu"][k] for k in ours_all) * 1e6 / records  # noqa: E731
    return [
        row(f"end to end records/s ({thr}) with tracing at the default sampling (0.01, "
            f"parent-based; spans to Jaeger over OTLP/HTTP) vs tracing off",
            med([o["rate"] for o in on]), med([o["rate"] for o in off])),
        row(f"the four ingestwatch processes together, CPU-seconds per million records "
            f"({thr}), tracing at the default sampling vs off",
            med([per_m(o) for o in on]), med([per_m(o) for o in off]), digits=2),
    ]


def tracing_note(on: list, records: int, ratio: float = 0.01, stages: int = 3) -> str:
    """What the traced rounds' services exported, against what the sampling should give
    (records x ratio traces, each with a span from each of the `stages` long-running services;
    the producer's own spans are in its /metrics, gone with it; alert events' pushes are extra):
    a row measured without spans leaving would say nothing, and the note says so."""
    exported = sum(o["spans"]["exported"] for o in on)
    dropped = sum(o["spans"]["dropped"] for o in on)
    expected = len(on) * records * ratio * stages
    text = (f"Tracing rows: {len(on)} throughput round{'s' if len(on) != 1 else ''} on a second "
            f"stack, every process exporting to its Jaeger at the services' default sampling; "
            f"the services exported {exported:.0f} spans and dropped {dropped:.0f} (about "
            f"{expected:.0f} expected: {ratio:g} of {records} records a round, a span from each "
            f"of the {stages} services). The tracing-off side is the rounds of the rows above, on "
            f"the first stack.")
    jaeger = med([o["cpu"]["jaeger"] * 1e6 / records for o in on if "jaeger" in o["cpu"]])
    if jaeger is not None:
        text += f" Jaeger took {jaeger:.2f} CPU-s per million records (median of the rounds)."
    if exported == 0:
        text += " NO SPAN WAS EXPORTED: the tracing rows measure nothing."
    return text


def stored(now: dict, before: dict) -> float:
    """Enriched records stored in Loki (or dead-lettered by the pusher) since `before`, at the
    least: every alert event the evaluator wrote meanwhile is counted as pushed already."""
    return (now["loki"] - before["loki"]) + (now["pusher_dlq"] - before["pusher_dlq"]) - (
        now["alerts"] - before["alerts"])


# ------------------------------------------------------------------------------- the sides

class Bench:
    def __init__(self, args, work: pathlib.Path, stack: Stack):
        self.args, self.work, self.stack = args, work, stack
        self.build = pathlib.Path(args.build_dir).resolve()
        self.tool = self.build / "bench/pipeline_baseline"
        self.producer_bin = self.build / "services/producer/ingest-producer"
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.n = 0

    def child(self, name, cmd, **kw) -> Child:
        self.n += 1
        return Child(f"{self.n:02d}-{name}", cmd, self.logs, self.tool, **kw)

    def ingest_producer(self, file: pathlib.Path, rate: int = 0) -> Child:
        cmd = [self.producer_bin, "--bootstrap-servers", self.stack.bootstrap]
        if rate:
            cmd += ["--rate", str(rate)]
        # Traced as scripts/stack traces the processes it starts (supervisor.stack.with_tracing).
        return self.child("ingest-producer", cmd + [file], env=with_tracing(
            {**os.environ, "IW_HTTP_LISTEN": "127.0.0.1:0", "IW_STACK_DIR": str(self.stack.dir)},
            self.stack.env))

    def raw_topics(self) -> tuple:
        suffix = random.randrange(10**9)
        a, b = f"bench-e2e-raw-{suffix}", f"bench-e2e-relayed-{suffix}"
        subprocess.run([str(self.tool), "topics", self.stack.bootstrap, a, b], check=True)
        return a, b

    # ---- throughput

    def ours_throughput(self, file: pathlib.Path, count: int, evaluator_idle: float) -> dict:
        """`evaluator_idle`: the evaluator's idle CPU-seconds per second (idle_cpu())."""
        st, run_dir = self.stack, self.stack.dir
        st.wait_settled()
        services = list(SERVICES)
        # Jaeger too where the stack runs one (its CPU is the tracing rows' business).
        names = STACK_PROCESSES + (("jaeger",) if (run_dir / "jaeger.pid").exists() else ())
        pids = {name: pid_of(run_dir, name) for name in names}
        cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
        window0 = time.monotonic()
        hwm_reset = all(reset_hwm(pids[name]) for name in services)
        before, enr0 = st.counts(), st.enricher_counts()
        spans0 = st.span_counts()
        t0 = time.time()
        producer = self.ingest_producer(file)
        deadline = time.monotonic() + 900
        while True:
            now = st.counts()
            if stored(now, before) >= count:
                break
            if producer.poll() and producer.code != 0:
                raise RuntimeError("ingest-producer failed")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all of {count} records in Loki within 900 s "
                                   f"({stored(now, before):.0f})")
            time.sleep(0.1)
        seconds = now["t"] - t0
        cpu_stored = {name: proc_cpu(pid) for name, pid in pids.items()}
        stored_at = time.monotonic()
        producer.wait()
        producer.check()
        st.published(file, producer.log_path)
        st.wait_settled()
        cpu1 = {name: proc_cpu(pid) for name, pid in pids.items()}
        settled_at = time.monotonic()
        window = settled_at - window0
        enr1 = st.enricher_counts()
        # What the evaluator burns idling while the stack settles is not per-record work; what
        # it evaluates meanwhile is.
        waited = (settled_at - stored_at) * evaluator_idle

        def window_cpu(name: str) -> float:
            if name in DONE_AT_LAST_STORED:
                return cpu_stored[name] - cpu0[name]
            if name == "alert-evaluator":
                return max(cpu_stored[name] - cpu0[name], cpu1[name] - cpu0[name] - waited)
            return cpu1[name] - cpu0[name]

        cpu = {name: window_cpu(name) for name in pids}
        out = {
            "rate": count / seconds,
            "seconds": seconds,
            "window": window,
            "run_window": stored_at - window0,
            "cpu": cpu,
            "rss": {name: vm_hwm_mib(pids[name]) for name in services},
            "hwm_reset": hwm_reset,
            "enricher_dlq": enr1["dlq"] - enr0["dlq"],
            "enriched": enr1["out"] - enr0["out"],
            "spans": {k: v - spans0[k] for k, v in st.span_counts().items()},
        }
        out["cpu"]["producer"] = producer.cpu
        out["rss"]["producer"] = producer.peak_rss_mib
        log(f"ingestwatch: {count} records in {seconds:.1f} s = {out['rate']:.0f} rec/s; CPU s "
            + ", ".join(f"{k} {v:.2f}" for k, v in out["cpu"].items()) + "; peak RSS MiB "
            + ", ".join(f"{k} {v:.1f}" for k, v in out["rss"].items()))
        return out

    def raw_pipe(self, file: pathlib.Path, count: int, mode: str, rate: int = 0) -> dict:
        """produce -> relay -> sink on fresh topics; returns rate, CPU, RSS and the sink's
        summary and TSV."""
        a, b = self.raw_topics()
        kafka = pid_of(self.stack.dir, "kafka")
        relay = self.child(f"raw-relay-{mode}", [self.tool, "relay", self.stack.bootstrap, a, b,
                                                 count, mode], ready=True)
        tsv = self.work / f"sink-{self.n}.tsv"
        sink = self.child("raw-sink", [self.tool, "sink", self.stack.bootstrap, b, count,
                                       "timestamp", tsv, 900], ready=True)
        kafka0 = proc_cpu(kafka)
        t0 = time.time()
        cmd = [self.tool, "produce", self.stack.bootstrap, a, file] + ([rate] if rate else [])
        producer = self.child("raw-producer", cmd)
        summary = json.loads(sink.wait(960).strip().splitlines()[-1])
        producer.wait()
        relay.wait()
        kafka1 = proc_cpu(kafka)
        for c in (sink, producer, relay):
            c.check()
        seconds = summary["last_read_us"] / 1e6 - t0
        log(f"raw pipe ({mode}{f', {rate}/s' if rate else ''}): {count} records in "
            f"{seconds:.1f} s = {count / seconds:.0f} rec/s; p50 {summary['p50_ms']:.1f} ms, "
            f"p99 {summary['p99_ms']:.1f} ms; CPU s producer {producer.cpu:.2f} relay "
            f"{relay.cpu:.2f} sink {sink.cpu:.2f}; peak RSS MiB {producer.peak_rss_mib:.1f} / "
            f"{relay.peak_rss_mib:.1f} / {sink.peak_rss_mib:.1f}")
        return {
            "rate": count / seconds,
            "seconds": seconds,
            "summary": summary,
            "cpu": {"producer": producer.cpu, "relay": relay.cpu, "sink": sink.cpu,
                    "kafka": kafka1 - kafka0},
            "rss": {"producer": producer.peak_rss_mib, "relay": relay.peak_rss_mib,
                    "sink": sink.peak_rss_mib},
        }

    def idle_cpu(self, seconds: float = 5.0) -> dict:
        """CPU-seconds per second each long-running process of the stack burns with nothing
        to do (settled, no producer): what the services' CPU windows count besides the work."""
        self.stack.wait_settled()
        pids = {name: pid_of(self.stack.dir, name) for name in STACK_PROCESSES}
        cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        idle = {name: (proc_cpu(pid) - cpu0[name]) / elapsed for name, pid in pids.items()}
        log("idle CPU, % of a core: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in idle.items()))
        return idle

    # ---- latency

    def ours_latency(self, file: pathlib.Path, count: int, rate: int) -> dict:
        st = self.stack
        st.wait_settled()
        tsv = self.work / f"sink-{self.n + 1}.tsv"
        sink = self.child("sink-enriched", [self.tool, "sink", st.bootstrap, ENRICHED, count,
                                            "pipeline", tsv, 900], ready=True)
        services = ["enricher", "alert-evaluator", "loki-pusher"]
        pids = {name: pid_of(st.dir, name) for name in services}
        cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
        pusher0, enricher0 = st.scrape("PUSHER_METRICS"), st.scrape("ENRICHER_METRICS")
        before = st.counts()
        samples = [before]
        producer = self.ingest_producer(file, rate)
        deadline = time.monotonic() + count / rate + 300
        while stored(samples[-1], before) < count:
            if producer.poll() and producer.code != 0:
                raise RuntimeError("ingest-producer failed")
            if time.monotonic() > deadline:
                raise TimeoutError("the latency run's records did not all reach Loki")
            time.sleep(0.1)
            samples.append(st.counts())
        producer.wait()
        producer.check()
        st.published(file, producer.log_path)
        summary = json.loads(sink.wait(300).strip().splitlines()[-1])
        sink.check()
        st.wait_settled()
        cpu = {name: proc_cpu(pid) - cpu0[name] for name, pid in pids.items()}
        cpu["producer"] = producer.cpu
        pusher1, enricher1 = st.scrape("PUSHER_METRICS"), st.scrape("ENRICHER_METRICS")

        def quantiles(before_text, after_text, name):
            b, a = histogram(before_text, name), histogram(after_text, name)
            return [histogram_quantile(q, b, a) for q in (0.5, 0.99)]

        # Raw CreateTime -> stored in Loki, by counts: the k-th record created against the
        # first 100 ms sample at which k records were stored (exact when Loki stores them in
        # the order they were created; a sample late at most).
        created = sorted(int(line.split()[0]) / 1000 for line in tsv.read_text().splitlines())
        to_loki, i = [], 0
        for k, c in enumerate(created, 1):
            while i < len(samples) and stored(samples[i], before) < k:
                i += 1
            if i == len(samples):
                break
            to_loki.append(samples[i]["t"] - c)
        to_loki.sort()
        out = {
            "summary": summary,
            "cpu": cpu,
            "push": quantiles(pusher0, pusher1, "ingestwatch_loki_push_latency_seconds"),
            "enricher": quantiles(enricher0, enricher1, "ingestwatch_record_latency_seconds"),
            "pusher": quantiles(pusher0, pusher1, "ingestwatch_record_latency_seconds"),
            "to_loki": [to_loki[int(q * len(to_loki))] * 1000 for q in (0.5, 0.99)]
            if to_loki else [None, None],
        }
        log(f"ingestwatch at {rate}/s: p50 {summary['p50_ms']:.1f} ms, p99 "
            f"{summary['p99_ms']:.1f} ms to the enriched topic; to Loki (by counts) "
            f"{out['to_loki']}")
        return out


# ---------------------------------------------------------------------------------- report

def fmt(x, digits=0) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}"


def row(measure, ours, base, ratio_digits=2, digits=0, result="reported",
        at_most: float | None = None) -> str:
    """One table row; with `at_most`, the bar ratio <= at_most and its verdict."""
    ratio = None if ours is None or base in (None, 0) else ours / base
    text = "—" if ratio is None else f"{ratio:.{ratio_digits}f}"
    bar = "—"
    if at_most is not None:
        bar = f"<= {at_most:.2f}"
        result = "—" if ratio is None else ("met" if ratio <= at_most else "MISSED")
    return f"| {measure} | {fmt(ours, digits)} | {fmt(base, digits)} | {text} | {bar} | {result} |"


# Labels of the processes in the CPU shares, each side's in its order.
OURS_LABELS = {"producer": "ingest-producer", "enricher": "ingest-enricher",
               "alert-evaluator": "ingest-alert-evaluator", "loki-pusher": "ingest-loki-pusher",
               "kafka": "Kafka", "victorialogs": "VictoriaLogs", "prometheus": "Prometheus"}
RAW_LABELS = {"producer": "raw producer", "relay": "raw relay", "sink": "raw sink",
              "kafka": "Kafka"}


def cpu_shares(run: dict, labels: dict, records: int) -> str:
    """Each process's CPU-seconds per million records, its share of its side's CPU, and the
    share of a core it takes at the side's records/s (CPU-seconds per record x records/s: its
    CPU window may be longer than the run: a one-shot process's life, the evaluator's until the
    stack settled)."""
    total = sum(run["cpu"][k] for k in labels)
    return ", ".join(
        f"{label} {run['cpu'][k] * 1e6 / records:.2f} CPU-s/M ({100 * run['cpu'][k] / total:.0f} "
        f"% of the side, {100 * run['cpu'][k] / run['seconds']:.0f} % of a core at that rate)"
        for k, label in labels.items())


def median_run(runs: list) -> dict:
    """The round whose records/s is the median."""
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--notes", help="file to write the notes under the table to")
    ap.add_argument("--dir", help="work directory (default: a new temporary one, removed)")
    args = ap.parse_args()
    records = env_int("BENCH_E2E_RECORDS", 100_000)
    rate = env_int("BENCH_E2E_RATE", 1000)
    seconds = env_int("BENCH_E2E_SECONDS", 30)
    rounds = env_int("BENCH_E2E_ROUNDS", 3)
    latency_rounds = env_int("BENCH_E2E_LATENCY_ROUNDS", 1)
    tracing_rounds = env_int("BENCH_E2E_TRACING_ROUNDS", rounds) if env_int(
        "BENCH_E2E_TRACING", 1) else 0
    latency_records = rate * seconds
    build = pathlib.Path(args.build_dir).resolve()
    for binary in ("bench/pipeline_baseline", "services/producer/ingest-producer",
                   "services/enricher/ingest-enricher", "services/loki-pusher/ingest-loki-pusher",
                   "services/alert-evaluator/ingest-alert-evaluator"):
        if not os.access(build / binary, os.X_OK):
            log(f"{build / binary} is not built: no end-to-end rows")
            return 0

    started = time.time()
    work = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="iw-bench-e2e-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    run_dir = work / "stack"
    # A file per throughput round, then per latency round: one generated sequence, each file
    # later in event time than the one before, used in that order (Loki refuses a stream going
    # back more than an hour). The raw pipe reads the same files.
    sizes = [records] * rounds + [latency_records] * latency_rounds + [records] * tracing_rounds
    subprocess.run([str(a) for a in (build / "bench/pipeline_baseline", "gen", work / "records",
                                      *sizes)], check=True)
    files = [work / f"records-{i}.ndjson" for i in range(len(sizes))]
    record_bytes = files[0].stat().st_size / records

    log(f"starting the stack in {run_dir}")
    t_stack = time.time()
    env = start_stack(run_dir, build, trace_sampling=TRACING_OFF)
    if env is None:
        log(f"the stack did not start (logs in {run_dir}/logs)")
        return 1
    stack_seconds = time.time() - t_stack
    stack = Stack(run_dir, env)
    bench = Bench(args, work, stack)
    ours_t, raw_t, raw_alo, ours_l, raw_l, traced = [], [], [], [], [], []
    loki_count = None
    try:
        idle = bench.idle_cpu()
        for r in range(rounds):
            # Interleaved, the first side alternating: neither the broker's state after the
            # previous side nor a burst of load elsewhere favours one.
            if r % 2 == 0:
                ours_t.append(bench.ours_throughput(files[r], records, idle["alert-evaluator"]))
                raw_t.append(bench.raw_pipe(files[r], records, "eos"))
            else:
                raw_t.append(bench.raw_pipe(files[r], records, "eos"))
                ours_t.append(bench.ours_throughput(files[r], records, idle["alert-evaluator"]))
            raw_alo.append(bench.raw_pipe(files[r], records, "alo"))
        for r in range(latency_rounds):
            lat = files[rounds + r]
            if r % 2 == 0:
                ours_l.append(bench.ours_latency(lat, latency_records, rate))
                raw_l.append(bench.raw_pipe(lat, latency_records, "eos", rate))
            else:
                raw_l.append(bench.raw_pipe(lat, latency_records, "eos", rate))
                ours_l.append(bench.ours_latency(lat, latency_records, rate))
        # Every enriched record in the log store, once: VictoriaLogs' own count of the whole run.
        answer = http_text(f"{env['LOKI_URL']}/select/logsql/query?" + urllib.parse.urlencode(
            {"query": f'{{job="{RAW}"}} | stats count() n'}))
        loki_count = sum(int(json.loads(line)["n"]) for line in answer.splitlines() if line)
    except (TimeoutError, RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        log(f"error: {e}; logs in {work}/logs and {run_dir}/logs")
        stop_stack(run_dir)
        return 1
    stop_stack(run_dir)
    if tracing_rounds:
        # A second stack, tracing on at the default sampling; the same sizes, later files.
        traced_dir = work / "stack-traced"
        log(f"starting the traced stack in {traced_dir}")
        traced_env = start_stack(traced_dir, build, trace_sampling=TRACING_DEFAULT)
        if traced_env is None:
            log(f"the traced stack did not start (logs in {traced_dir}/logs)")
            return 1
        bench.stack = Stack(traced_dir, traced_env)
        try:
            first = rounds + latency_rounds
            for r in range(tracing_rounds):
                # The first stack's idle rate: the traced one is not measured idle.
                traced.append(bench.ours_throughput(files[first + r], records,
                                                    idle["alert-evaluator"]))
        except (TimeoutError, RuntimeError, OSError, subprocess.SubprocessError,
                ValueError) as e:
            log(f"error: {e}; logs in {work}/logs and {traced_dir}/logs")
            stop_stack(traced_dir)
            return 1
        stop_stack(traced_dir)
    e2e_seconds = time.time() - started

    # ---- rows
    rows = []
    thr = f"{records} x {record_bytes:.0f} B as fast as possible"
    load = f"{rate} records/s offered for {seconds} s"
    ms = lambda seconds: None if seconds is None else seconds * 1000  # noqa: E731
    ours_rate = med([o["rate"] for o in ours_t])
    rows.append(row(
        f"end to end records/s ({thr}, until the last is stored in Loki): ingest-producer -> "
        f"ingest-enricher (exactly once) -> ingest-loki-pusher -> Loki, the alert evaluator "
        f"reading too, vs raw librdkafka produce -> transactional consume->produce -> "
        f"read_committed consume", ours_rate, med([o["rate"] for o in raw_t])))
    rows.append(row("end to end records/s vs the raw pipe at least once (no transactions)",
                    ours_rate, med([o["rate"] for o in raw_alo])))
    for q in ("p50", "p99"):
        rows.append(row(
            f"end-to-end latency {q}, ms, at {load}: raw record's CreateTime -> its enriched "
            f"record read from {ENRICHED} (read_committed) vs -> its relayed copy read",
            med([o["summary"][f"{q}_ms"] for o in ours_l]),
            med([o["summary"][f"{q}_ms"] for o in raw_l]), digits=1))
    for i, q in enumerate(("p50", "p99")):
        rows.append(row(
            f"latency {q}, ms, at {load}: raw record's CreateTime -> stored in Loki (the "
            f"pusher's stored count against the records' creation times, 100 ms samples)",
            med([o["to_loki"][i] for o in ours_l]), None))
    for i, q in enumerate(("p50", "p99")):
        rows.append(row(
            f"ingest-enricher's own record latency {q}, ms, at {load} "
            f"(ingestwatch_record_latency_seconds: arrival in {RAW} -> committed; in its "
            f"buckets)", med([ms(o["enricher"][i]) for o in ours_l]), None))
    for i, q in enumerate(("p50", "p99")):
        rows.append(row(
            f"ingest-loki-pusher's own record latency {q}, ms, at {load} "
            f"(ingestwatch_record_latency_seconds: arrival in {ENRICHED} -> accepted by Loki; "
            f"in its buckets)", med([ms(o["pusher"][i]) for o in ours_l]), None))
    for i, q in enumerate(("p50", "p99")):
        rows.append(row(
            f"ingest-loki-pusher's push latency {q}, ms, at {load} "
            f"(ingestwatch_loki_push_latency_seconds: request -> Loki's answer; in its buckets)",
            med([ms(o["push"][i]) for o in ours_l]), None))

    per_m = lambda cpu: cpu * 1e6 / records  # noqa: E731
    per_ml = lambda cpu: cpu * 1e6 / latency_records  # noqa: E731
    pairs = [("ingest-producer", "producer", "the raw producer", "producer"),
             ("ingest-enricher", "enricher", "the raw transactional relay", "relay"),
             ("ingest-loki-pusher", "loki-pusher", "the raw last consumer (reads only)", "sink"),
             ("ingest-alert-evaluator", "alert-evaluator",
              "the raw last consumer (no raw counterpart evaluates rules)", "sink")]
    ours_all = ("producer", "enricher", "loki-pusher", "alert-evaluator")
    raw_all = ("producer", "relay", "sink")
    for label, ours_key, base_label, base_key in pairs:
        rows.append(row(f"{label} CPU-seconds per million records ({thr}) vs {base_label}",
                        med([per_m(o["cpu"][ours_key]) for o in ours_t]),
                        med([per_m(o["cpu"][base_key]) for o in raw_t]), digits=2))
    rows.append(row(f"the four ingestwatch processes together, CPU-seconds per million records "
                    f"({thr}) vs the raw pipe's three processes",
                    med([per_m(sum(o["cpu"][k] for k in ours_all)) for o in ours_t]),
                    med([per_m(sum(o["cpu"][k] for k in raw_all)) for o in raw_t]), digits=2,
                    at_most=1.5))
    rows.append(row(f"Kafka broker CPU-seconds per million records ({thr}), during each side",
                    med([per_m(o["cpu"]["kafka"]) for o in ours_t]),
                    med([per_m(o["cpu"]["kafka"]) for o in raw_t]), digits=2))
    for name, what in (("victorialogs", "VictoriaLogs (the log store)"),
                       ("prometheus", "Prometheus (scraping the services)")):
        rows.append(row(f"{what} CPU-seconds per million records ({thr}); no raw counterpart",
                        med([per_m(o["cpu"][name]) for o in ours_t]), None, digits=2))
    for label, ours_key, base_label, base_key in pairs[:2]:
        rows.append(row(f"{label} CPU-seconds per million records at {load} vs {base_label} "
                        f"paced the same way", med([per_ml(o["cpu"][ours_key]) for o in ours_l]),
                        med([per_ml(o["cpu"][base_key]) for o in raw_l]), digits=1))
    rows.append(row(f"the four ingestwatch processes together, CPU-seconds per million records "
                    f"at {load}, vs the raw pipe's three",
                    med([per_ml(sum(o["cpu"][k] for k in ours_all)) for o in ours_l]),
                    med([per_ml(sum(o["cpu"][k] for k in raw_all)) for o in raw_l]), digits=1))
    for label, ours_key, base_label, base_key in pairs:
        rows.append(row(f"{label} peak RSS, MiB ({thr}) vs {base_label}",
                        med([o["rss"][ours_key] for o in ours_t]),
                        med([o["rss"][base_key] for o in raw_t]), digits=1))
    if traced:
        rows += tracing_rows(ours_t, traced, records, thr)
    print("\n".join(rows), flush=True)

    # ---- notes
    total = records * rounds + latency_records * latency_rounds
    enricher_dlq = sum(o["enricher_dlq"] for o in ours_t)
    notes = [
        f"End-to-end rows (medians of {rounds} throughput and {latency_rounds} latency "
        f"round{'s' if latency_rounds > 1 else ''}; pipeline_bench.py, "
        f"{e2e_seconds:.0f} s in all, {stack_seconds:.0f} s of it starting the stack): one "
        "local stack (scripts/stack) whose Kafka broker, Loki, Prometheus, Alertmanager and three "
        "services share this machine's cores with the benchmark's own processes, so every "
        "figure is to be read against its in-run baseline. Loki and Prometheus run on the "
        "same cores and only the ingestwatch side feeds Loki (the raw pipe's last hop reads "
        "and drops): the records/s ratio prices the Loki hop too. The raw pipe "
        "(bench/pipeline_baseline.cc) moves the input bytes unchanged with the same producer "
        "settings; the enricher writes records about twice as large. Latency: one bench "
        "consumer per side, started before the producer; the raw relay keeps the raw "
        "record's timestamp, the enriched record names the raw one (pipeline.raw). CPU: "
        "services from /proc/<pid>/stat from just before the throughput run: ingest-enricher, "
        "ingest-loki-pusher and the broker until the last record is stored in Loki (as the raw "
        "side's broker until its last record is read), ingest-alert-evaluator until the stack "
        "settled less its idle rate over that wait (it evaluates what it held back once its "
        "event-time clock passes), VictoriaLogs and Prometheus until the stack settled; "
        "one-shot processes (ingest-producer, the raw pipe) over their whole "
        "life (wait4's rusage, in `pipeline_baseline measure`). Peak RSS: VmHWM "
        + ("reset (clear_refs) before the run" if all(o["hwm_reset"] for o in ours_t) else
           "since each service started (clear_refs refused)")
        + "; one-shot processes' ru_maxrss.",
        f"Checks: Loki holds {loki_count} lines of {{job=\"{RAW}\"}} for the {total} records "
        f"published ({'all there' if loki_count == total else 'MISMATCH'}); the enricher "
        f"dead-lettered {enricher_dlq:.0f}.",
    ]
    ours_mid, raw_mid = median_run(ours_t), median_run(raw_t)
    notes.append(
        f"CPU by process over the throughput run whose records/s is the median: ingestwatch "
        f"({ours_mid['rate']:.0f} records/s): {cpu_shares(ours_mid, OURS_LABELS, records)}; "
        f"the raw pipe ({raw_mid['rate']:.0f} records/s): "
        f"{cpu_shares(raw_mid, RAW_LABELS, records)}. Idle (the stack settled, nothing "
        "published, 5 s), % of a core: "
        + ", ".join(f"{OURS_LABELS[k]} {100 * v:.1f}" for k, v in idle.items())
        + f"; in that round the last record was stored {ours_mid['run_window']:.1f} s after the "
        f"CPU windows opened and the stack settled {ours_mid['window']:.1f} s after, so idling "
        "alone counts "
        + ", ".join(f"{OURS_LABELS[k]} {idle[k] * ours_mid['run_window'] * 1e6 / records:.2f}"
                    for k in SERVICES)
        + " CPU-s per million records over the run (the evaluator's idle over the wait is "
        "taken off).")
    share = lambda o: 100 * o["cpu"]["producer"] / seconds  # noqa: E731
    notes.append(f"Pacing {rate} records/s, ingest-producer used "
                 f"{med([share(o) for o in ours_l]):.0f} % of a core (CPU-seconds over the "
                 f"{seconds} s), the raw producer {med([share(o) for o in raw_l]):.0f} %; on "
                 f"{os.cpu_count()} cores that is taken from the rest of the pipeline during the "
                 "latency run.")
    if traced:
        notes.append(tracing_note(traced, records))
    log(f"end-to-end part: {e2e_seconds:.0f} s")
    if args.notes:
        pathlib.Path(args.notes).write_text("\n\n".join(notes) + "\n")
    else:
        print("\n" + "\n\n".join(notes))
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
