"""What the end-to-end test and the fault suite share: the stack, HTTP, Kafka and Loki reads."""
import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from supervisor import traces  # noqa: E402  (Jaeger's answers read, a record's trace checked)
from supervisor.stack import parse_env, with_tracing  # noqa: E402  (the one reader of stack.env)
RULES = ["IngestionFailureDetected", "IngestionHighFailureRate", "IngestionSourceSilent",
         "IngestionLatencyP95Degraded", "IngestionResourceOveruse", "IngestionObjectErrorBurst"]
RAW, ENRICHED, DLQ, ALERTS = ("ingestion-logs", "ingestion-logs-enriched", "ingestion-logs-dlq",
                              "ingestion-alerts")


def log(msg: str) -> None:
    print(f"{pathlib.Path(sys.argv[0]).stem}: {msg}", file=sys.stderr, flush=True)


def http_json(url: str, params: dict | None = None) -> dict:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.load(answer)


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read().decode()


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def metric_sum(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def metric_max(text: str, name: str, **labels) -> float:
    """The largest sample of a metric with these labels (0 when it has none)."""
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if (line.startswith(name + "{") or line.startswith(name + " "))
              and all(f'{k}="{v}"' in line for k, v in labels.items())]
    return max(values, default=0.0)


def read_topic(bootstrap: str, topic: str) -> list:
    """Every committed record of a topic: kcat's JSON envelopes (partition, offset, headers,
    key, payload)."""
    run = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-J", "-q",
                          "-X", "isolation.level=read_committed", "-o", "beginning"],
                         capture_output=True, text=True, check=True, timeout=120)
    records = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    for r in records:
        h = r.get("headers") or []
        r["headers"] = dict(zip(h[::2], h[1::2]))
    return records


def parse_end_offsets(text: str) -> dict[int, int]:
    """{partition: end offset} from kcat -Q's lines ("TOPIC [P] offset N")."""
    return {int(m[1]): int(m[2]) for m in re.finditer(r"\[(\d+)\]\s+offset\s+(-?\d+)", text)}


def end_offsets(bootstrap: str, topic: str, partitions: int = 3) -> int:
    """The sum of a topic's end offsets (kcat -Q, timestamp -1 = the end): it grows while
    records (and transaction markers) are written to it."""
    run = subprocess.run(["kcat", "-Q", "-b", bootstrap,
                          *(a for p in range(partitions) for a in ("-t", f"{topic}:{p}:-1"))],
                         capture_output=True, text=True, check=True, timeout=60)
    return sum(parse_end_offsets(run.stdout).values())


class Checks:
    def __init__(self):
        self.results = []

    def check(self, name: str, ok, detail: str) -> None:
        ok = bool(ok)
        self.results.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    @property
    def failed(self) -> bool:
        return any(not ok for _, ok, _ in self.results)


def ndjson_of_inputs() -> tuple[list, list]:
    """data/logs.json (a JSON array) as one line per element, then the scenarios' lines."""
    lines = [json.dumps(r, ensure_ascii=False) for r in
             json.loads((REPO / "data/logs.json").read_text())]
    for f in sorted((REPO / "data/scenarios").glob("*.ndjson")):
        lines += [line for line in f.read_text().splitlines() if line.strip()]
    return lines, sorted((REPO / "data/scenarios").glob("*.ndjson"))


class Producer:
    """One ingest-producer reading stdin, kept running while Prometheus scrapes it."""

    def __init__(self, build_dir: pathlib.Path, env: dict, run_dir: pathlib.Path,
                 name: str = "e2e"):
        self.log_path = run_dir / f"logs/producer-{name}.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(build_dir / "services/producer/ingest-producer"), "--bootstrap-servers",
             env["BOOTSTRAP"], "--format", "ndjson", "-"],
            stdin=subprocess.PIPE, stdout=self.log_file, stderr=subprocess.STDOUT, text=True,
            env=with_tracing({**os.environ, "IW_HTTP_LISTEN": "127.0.0.1:0",
                              "IW_STACK_DIR": str(run_dir)}, env))
        self.port = wait_for("the producer's port", lambda: (re.findall(
            r'"http_port":(\d+)', self.log_path.read_text()) or [None])[0], 30, 0.1)
        self.metrics_url = f"http://127.0.0.1:{self.port}/metrics"

    def finish(self) -> dict:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        summary = [json.loads(line) for line in self.log_path.read_text().splitlines()
                   if '"msg":"summary"' in line]
        if self.proc.returncode != 0 or not summary:
            raise RuntimeError(f"the producer failed; see {self.log_path}")
        return summary[-1]



def start_stack(run_dir: pathlib.Path, build_dir: pathlib.Path,
                owned: bool = True, trace_sampling: str = "1") -> dict | None:
    """scripts/stack start, owned by this process unless not `owned` (its watchdog stops the
    stack once we are gone; a stack kept for a look afterwards must not be owned), its services
    tracing at `trace_sampling` (scripts/stack --trace-sampling: a ratio, "default" or "off");
    the stack's stack.env as a dict, or None when it did not start."""
    owner = ["--owner-pid", str(os.getpid())] if owned else []
    out = subprocess.run([str(REPO / "scripts/stack"), "start", str(run_dir), "--build-dir",
                          str(build_dir), *owner, "--trace-sampling", trace_sampling],
                         stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        return None
    return load_env(run_dir)


def load_env(run_dir: pathlib.Path) -> dict:
    """DIR/stack.env as a dict (start-service rewrites it: a restarted service has a new
    port)."""
    return parse_env((run_dir / "stack.env").read_text())


def stop_stack(run_dir: pathlib.Path) -> None:
    subprocess.run([str(REPO / "scripts/stack"), "stop", str(run_dir)],
                   stdout=subprocess.DEVNULL)


def to_epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# ---- the log store: VictoriaLogs, fed by the pusher through its Loki endpoint -----------------
# Each check reads what is stored by two independent routes: every entry of a job listed by a
# LogsQL query, and the store's own count per stream (`stats by (_stream) count()`), over all
# time. An expected line missing from the list is looked up once more by its exact time. So a
# query artifact (the count or the exact lookup holds more than the list) cannot pass for a loss,
# nor a loss for an artifact: StoredLines.problems() names either.


def store_query(store: str, query: str) -> list:
    """The JSON lines VictoriaLogs answers to a LogsQL query over all time."""
    with urllib.request.urlopen(f"{store}/select/logsql/query?" + urllib.parse.urlencode(
            {"query": query}), timeout=120) as answer:
        return [json.loads(line) for line in answer.read().decode().splitlines() if line.strip()]


def to_nanos(stamp: str) -> int:
    """An RFC 3339 instant (VictoriaLogs' _time, an event's timestamps) as Unix nanoseconds,
    exactly: a float of seconds would round the nanoseconds away."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?",
                     stamp)
    if not m:
        raise ValueError(f"not an RFC 3339 instant: {stamp!r}")
    zone = "+00:00" if m[3] in (None, "Z") else m[3]
    seconds = int(datetime.fromisoformat(m[1] + zone).timestamp())
    return seconds * 1_000_000_000 + int(((m[2] or "") + "000000000")[:9])


class StoredLines:
    """What the log store holds for one job: each line with its stream (route 1), and the
    store's count per stream (route 2)."""

    def __init__(self, store: str, job: str):
        self.store, self.job = store, job
        rows = store_query(store, f'{{job="{job}"}} | fields _stream, _msg')
        self.lines = collections.Counter(r["_msg"] for r in rows)
        listed = collections.Counter(r["_stream"] for r in rows)
        counted = collections.Counter({r["_stream"]: int(r["n"]) for r in store_query(
            store, f'{{job="{job}"}} | stats by (_stream) count() n')})
        # A stream whose count differs from what the listing returned: the listing missed (or
        # invented) entries, whatever the pipeline did.
        self.count_mismatch = {s: (listed[s], counted[s]) for s in listed | counted
                               if listed[s] != counted[s]}

    def at(self, nanos: int) -> collections.Counter:
        """The lines of the job stored at exactly this instant (route 1b: by time)."""
        stamp = datetime.fromtimestamp(nanos // 1_000_000_000, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S") + f".{nanos % 1_000_000_000:09d}Z"
        return collections.Counter(r["_msg"] for r in store_query(
            self.store, f'{{job="{self.job}"}} _time:[{stamp}, {stamp}] | fields _msg'))

    def problems(self, records: list, filed_at) -> str:
        """'' when every one of `records` (kcat envelopes, read_topic()) is stored and both routes
        agree; else what disagrees, named by (partition, offset). filed_at(payload) is the
        instant a record is filed under (alert_time, run_time). Lost: a line neither route
        finds. Query artifact: a line the listing missed but the lookup by exact time found."""
        lost, artifacts = [], []
        for r in records:
            if self.lines[r["payload"]] > 0:
                continue
            key = (r["partition"], r["offset"])
            (artifacts if self.at(filed_at(r["payload"]))[r["payload"]] > 0 else lost).append(key)
        parts = []
        if artifacts:
            parts.append(f"{len(artifacts)} found only by exact time (query artifact) "
                         f"{artifacts[:3]}")
        if self.count_mismatch:
            parts.append(f"listing and count disagree on {len(self.count_mismatch)} streams "
                         f"{dict(list(self.count_mismatch.items())[:2])}")
        if lost:
            parts.append(f"{len(lost)} lost (neither route finds them) {lost[:3]}")
        return "; ".join(parts)


def alert_time(payload: str) -> int:
    """The instant an alert event is filed under: startsAt when firing, endsAt when resolved."""
    event = json.loads(payload)
    return to_nanos(event["startsAt"] if event["status"] == "firing" else event["endsAt"])


def run_time(payload: str) -> int:
    """The instant an enriched run is filed under: its @timestamp."""
    return to_nanos(json.loads(payload)["@timestamp"])


def on_stack(name: str, build_dir: str, dir_arg: str | None, keep: bool, body) -> Checks | None:
    """Starts a stack of its own (in dir_arg, or a new temporary directory), runs
    body(run_dir, env, checks), records an exception of the run as a failed check, and stops the
    stack unless `keep`. None when the stack did not start."""
    run_dir = pathlib.Path(dir_arg or tempfile.mkdtemp(prefix=f"iw-{name}-")).resolve()
    checks = Checks()
    log(f"starting the stack in {run_dir}")
    env = start_stack(run_dir, pathlib.Path(build_dir).resolve(), owned=not keep)
    if env is None:
        print(f"FAIL stack: scripts/stack start failed (logs in {run_dir}/logs)")
        return None
    try:
        body(run_dir, env, checks)
    except (TimeoutError, RuntimeError, subprocess.SubprocessError, OSError) as e:
        checks.check(f"{name} run", False, str(e))
    finally:
        if not keep:
            stop_stack(run_dir)
    return checks


class RawOutcomes:
    """What became of each record of ingestion-logs: an enriched record (its pipeline.raw names
    it) or a dead letter of a later stage (dlq.topic/partition/offset name it). The producer's
    own dead letters never reached ingestion-logs and are not outcomes of a raw record."""

    def __init__(self, raw: list, enriched: list, dead: list):
        outcomes = collections.Counter()
        for r in enriched:
            src = json.loads(r["payload"])["pipeline"]["raw"]
            outcomes[(src["topic"], src["partition"], src["offset"])] += 1
        for r in dead:
            h = r["headers"]
            if h.get("dlq.stage") != "producer" and h.get("dlq.topic") == RAW:
                outcomes[(RAW, int(h["dlq.partition"]), int(h["dlq.offset"]))] += 1
        keys = {(RAW, r["partition"], r["offset"]) for r in raw}
        self.without = [k for k in keys if outcomes[k] == 0]
        self.twice = [k for k in keys if outcomes[k] > 1]
        self.stray = [k for k in outcomes if k not in keys]  # an outcome of no raw record

    @property
    def once(self) -> bool:
        return not (self.without or self.twice or self.stray)


# ---- traces: Jaeger, fed by every process of the stack (OTLP/HTTP), read through its query API


class TraceSample:
    """The records whose traces the end-to-end test looks up in Jaeger, each by the trace id of
    its traceparent header: `enriched` {trace id: None} (evenly spread enriched records, then the
    records that caused an alert event: those traces hold an alert event's push too) and
    `dead_lettered` {trace id: dlq.reason} (the enricher's dead letters, every reason first).
    A dead letter's trace id is its own traceparent's, else the raw record's it names."""

    def __init__(self, raw: list, enriched: list, dead: list, alert_records: list,
                 per_kind: int = 40):
        raw_tp = {(r["partition"], r["offset"]): r["headers"].get("traceparent", "")
                  for r in raw}
        self.unsampled = sum(1 for tp in raw_tp.values() if not tp.endswith("-01"))
        self.enriched: dict[str, None] = {}
        ids = [traces.traceparent_trace_id(r["headers"].get("traceparent", ""))
               for r in enriched]
        ids = [i for i in ids if i]
        for i in ids[::max(1, len(ids) // per_kind)][:per_kind]:
            self.enriched[i] = None
        # An alert event decided on the evaluator's own clock, with no record behind it, may
        # carry a trace of its own: only those of a raw record's trace are looked up.
        raw_ids = {traces.traceparent_trace_id(tp) for tp in raw_tp.values()}
        alert_ids = [traces.traceparent_trace_id(r["headers"].get("traceparent", ""))
                     for r in alert_records]
        for i in [i for i in dict.fromkeys(alert_ids) if i in raw_ids][:per_kind]:
            self.enriched[i] = None
        self.dead_lettered: dict[str, str] = {}
        letters = [d for d in dead if d["headers"].get("dlq.stage") == "enricher"]
        by_reason = collections.defaultdict(list)
        for d in letters:
            h = d["headers"]
            own = traces.traceparent_trace_id(h.get("traceparent", ""))
            named = raw_tp.get((int(h.get("dlq.partition", -1)), int(h.get("dlq.offset", -1))),
                               "")
            trace_id = own or traces.traceparent_trace_id(named)
            if trace_id:
                by_reason[h.get("dlq.reason", "")].append(trace_id)
        # One of each reason first, then the rest in turn, up to per_kind.
        rounds = max((len(v) for v in by_reason.values()), default=0)
        for n in range(rounds):
            for reason in sorted(by_reason):
                if n < len(by_reason[reason]) and len(self.dead_lettered) < per_kind:
                    self.dead_lettered.setdefault(by_reason[reason][n], reason)
        for i in self.dead_lettered:
            self.enriched.pop(i, None)

    def wanted(self) -> dict[str, str | None]:
        """{trace id: the dead-letter reason its enrich span must carry, None if enriched}."""
        return {**self.enriched, **self.dead_lettered}


def trace_problems(jaeger: str, wanted: dict, timeout: float) -> dict[str, list[str]]:
    """Looks each trace of `wanted` (TraceSample.wanted()) up in Jaeger until it passes
    traces.stage_problems or `timeout` runs out (spans arrive in batches, a second apart):
    {trace id: its problems} of those that never passed ({} when all did)."""
    deadline = time.monotonic() + timeout
    pending = dict(wanted)
    problems: dict[str, list[str]] = {}
    while True:
        for trace_id, reason in list(pending.items()):
            try:
                answer = http_json(f"{jaeger}/api/traces/{trace_id}")
            except urllib.error.HTTPError as e:  # 404 until its first span is stored
                answer = {"data": None, "errors": [{"code": e.code}]}
            found = traces.traces_of(answer)
            spans = traces.spans_of(found[0]) if found else []
            wrong = traces.stage_problems(spans, reason) if spans else ["not in Jaeger"]
            if wrong:
                problems[trace_id] = wrong
            else:
                problems.pop(trace_id, None)
                del pending[trace_id]
        if not pending or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def describe_trace_problems(problems: dict, limit: int = 6) -> str:
    """The commonest problems first, with how many traces have each and one trace id."""
    counts = collections.Counter(p for ps in problems.values() for p in ps)
    example = {}
    for trace_id, ps in problems.items():
        for p in ps:
            example.setdefault(p, trace_id)
    return "; ".join(f"{n} x {p} (e.g. {example[p]})" for p, n in counts.most_common(limit))
