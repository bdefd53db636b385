"""scripts/stack: the whole local ingestwatch stack in one run directory, without Docker. The
usage is scripts/stack's docstring (--help); docs/RUN.md tells the rest."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import kafka_local, process
from .process import Fatal, Interrupted, Log

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "scripts" / "stack"
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
SERVICES = ("enricher", "alert-evaluator", "loki-pusher")
INFRA = ("prometheus", "alertmanager", "victorialogs", "jaeger")
TOPICS = ("ingestion-logs:3", "ingestion-logs-enriched:3", "ingestion-alerts:3",
          "ingestion-logs-dlq:1")
GRACE_SECONDS = 20
QUEUE_SPANS = "16384"  # OTEL_BSP_MAX_QUEUE_SIZE with a sampling ratio (tracing_env)
MARK = "IW_STACK_DIR"  # every process of the stack carries IW_STACK_DIR=DIR
ENV_KEYS = ("STACK_DIR", "BUILD_DIR", "BOOTSTRAP", "LOKI_URL", "PROMETHEUS_URL",
            "ALERTMANAGER_URL", "ENRICHER_METRICS", "EVALUATOR_METRICS", "PUSHER_METRICS",
            "JAEGER_URL", "OTLP_ENDPOINT", "TRACE_SAMPLING")
METRICS_VAR = {"enricher": "ENRICHER_METRICS", "alert-evaluator": "EVALUATOR_METRICS",
               "loki-pusher": "PUSHER_METRICS"}
ENV_HEADER = "# Written by scripts/stack start; sourced by its other commands and by tests."

LOG = Log("stack")
T0 = time.monotonic()  # bash's $SECONDS counted from here


def seconds() -> float:
    return time.monotonic() - T0


class Failed(Exception):
    """A failed start: what it started is stopped, then exit 1."""


def prog() -> str:
    return sys.argv[0] if sys.argv and sys.argv[0] else str(SCRIPT)


def metrics_var(name: str) -> str:
    """The stack.env key of a service's /metrics URL."""
    if name not in METRICS_VAR:
        raise Fatal(f"unknown service: {name} (one of: {' '.join(SERVICES)})")
    return METRICS_VAR[name]


def set_dir(arg: str | None) -> Path:
    if not arg or arg.startswith("-"):
        raise Fatal("DIR missing (see --help)")
    return Path(os.path.realpath(arg))  # as readlink -m


# ---------------------------------------------------------------- stack.env

def format_env(values: dict[str, str]) -> str:
    return ENV_HEADER + "\n" + "".join(f"{key}={shlex.quote(values.get(key, ''))}\n"
                                       for key in ENV_KEYS)


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE assignments as `source` reads them: shell words (quoted, escaped or bare, a
    quoted value may span lines), comments from a word-initial #."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        words = list(lexer)
    except ValueError as e:
        raise Fatal(f"cannot read stack.env: {e}") from e
    values = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            values[key] = value
    return values


# ---------------------------------------------------------------- tracing

def check_sampling(value: str) -> str:
    """--trace-sampling's value: a ratio in [0, 1], "default" or "off"."""
    if value in ("default", "off"):
        return value
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not (0.0 <= ratio <= 1.0) or not re.fullmatch(r"[0-9.]+", value):
        raise Fatal(f"bad --trace-sampling: {value} (a ratio from 0 to 1, default or off)")
    return value


def tracing_env(values: dict[str, str]) -> dict[str, str | None]:
    """The OTEL_* variables the stack sets (a string) or removes from the inherited environment
    (None) for a process it starts (the services, ingest-producer), from stack.env's
    OTLP_ENDPOINT and TRACE_SAMPLING: spans to Jaeger's OTLP/HTTP receiver, sampled at the
    ratio (TRACE_SAMPLING "1", the default, keeps every trace: make run, the end-to-end test,
    the fault suite) with a span queue of QUEUE_SPANS (a replay publishes thousands of records
    at once: the default 2048 would drop spans of whole traces); "default" leaves the services'
    own ratio and queue (tracing.sampling_ratio 0.01, tracing.max_queue_spans 2048); "off" (or
    no endpoint) turns tracing off."""
    sampling = values.get("TRACE_SAMPLING") or "1"
    endpoint = values.get("OTLP_ENDPOINT", "")
    if sampling == "off" or not endpoint:
        return {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": None,
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": None}
    out: dict[str, str | None] = {"OTEL_SDK_DISABLED": None,
                                  "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": None,
                                  "OTEL_TRACES_SAMPLER": None, "OTEL_TRACES_SAMPLER_ARG": None,
                                  "OTEL_BSP_MAX_QUEUE_SIZE": None}
    if sampling != "default":
        out.update(OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                   OTEL_TRACES_SAMPLER_ARG=sampling, OTEL_BSP_MAX_QUEUE_SIZE=QUEUE_SPANS)
    return out


def with_tracing(base, values: dict[str, str]) -> dict[str, str]:
    """BASE (an environment) with tracing_env(VALUES) applied."""
    env = dict(base)
    for key, value in tracing_env(values).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def jaeger_config(otlp_port: int, query_port: int, grpc_port: int) -> str:
    """Jaeger v2's configuration (an OpenTelemetry Collector one) for the stack: the OTLP/HTTP
    receiver, in-memory storage, the query API and UI (HTTP; its gRPC API cannot be turned off,
    so it gets a loopback port too), and nothing else that listens: no OTLP/gRPC, no Jaeger or
    Zipkin receivers, no health-check, zpages or expvar extension, no internal metrics
    endpoint; nor does it trace itself."""
    return f"""\
# Written by scripts/stack start (supervisor/stack.py, jaeger_config); Jaeger v2, docs/RUN.md.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false  # (true by default) its own spans to OTLP/gRPC on 127.0.0.1:4317
    http:
      endpoint: 127.0.0.1:{query_port}
    grpc:
      endpoint: 127.0.0.1:{grpc_port}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_port}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


# ---------------------------------------------------------------- metrics

def _number(text: str) -> float:
    """A sample value as awk reads $NF: not a finite number counts as 0."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _samples(text: str, name: str, want: str = ""):
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and (
                not want or want in line):
            fields = line.split()
            if fields:
                yield _number(fields[-1])


def metric_sum(text: str, name: str, want: str = "") -> int:
    """Sum of the samples of metric NAME (only those whose line contains WANT, if given) in
    Prometheus text, rounded to an integer."""
    return int(f"{sum(_samples(text, name, want)):.0f}")


def metric_max_ms(text: str, name: str) -> int:
    """Largest sample of metric NAME, in milliseconds (0 without one)."""
    return int(f"{max([0.0, *_samples(text, name)]) * 1000:.0f}")


DURATION_MS = {"w": 604800000, "d": 86400000, "h": 3600000, "m": 60000, "s": 1000, "ms": 1}


def duration_ms(text: str) -> int:
    """A duration as the services read it (1h30m, 5m, 300s, 500ms; a bare number is seconds),
    in milliseconds; -1 when it is not one."""
    if re.fullmatch(r"[0-9]+", text):
        return int(text) * 1000
    total, rest = 0, text
    while m := re.match(r"([0-9]+)(ms|[wdhms])", rest):
        total += int(m[1]) * DURATION_MS[m[2]]
        rest = rest[m.end():]
    return total if rest == "" else -1


# ---------------------------------------------------------------- the stack

class Stack:
    def __init__(self, directory: Path, log: Log = LOG):
        self.dir = directory
        self.log = log
        self.env: dict[str, str] = {key: "" for key in ENV_KEYS}
        self.lock = process.dir_lock(directory)
        self.started_before: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        self.fail_scope: str | None = None
        self.victorialogs_bin = ""
        self.jaeger_bin = ""

    # -- processes

    def path(self, name: str) -> Path:
        return self.dir / name

    def logfile(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    def ours(self, pid: int) -> bool:
        return process.has_mark(pid, MARK, str(self.dir))

    def pid_of(self, name: str) -> int | None:
        """The pid in DIR/NAME.pid if that process is alive and was started by this stack."""
        return process.pid_from_file(self.path(f"{name}.pid"), self.ours)

    def launch(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Starts argv detached with IW_STACK_DIR=DIR, in the repository, output appended to
        DIR/logs/NAME.log; DIR/NAME.pid is written by the process itself before it execs."""
        try:
            return process.spawn(argv, log=self.logfile(name), pidfile=self.path(f"{name}.pid"),
                                 env=env, mark=(MARK, str(self.dir)), cwd=REPO).pid
        except Fatal as e:
            raise Fatal(f"{name} did not start (see {self.logfile(name)})") from e

    def stop_names(self, names, log: Log | None = None) -> None:
        """SIGTERM to each of NAMES that runs, SIGKILL to what is left after 20 s."""
        log = log or self.log
        targets = {}
        for name in names:
            pid = self.pid_of(name)
            if pid is not None:
                targets[name] = (pid, self.ours)
        process.terminate(
            targets, GRACE_SECONDS, kill_wait=5.0,
            on_stopped=lambda name, pid: log(f"stopped {name} (pid {pid})"),
            on_kill=lambda name, pid: log(
                f"{name} (pid {pid}) still there after {GRACE_SECONDS}s: SIGKILL"))
        process.remove(*(self.path(f"{name}.pid") for name in names))

    def stop_locked(self, log: Log | None = None) -> None:
        """Services first (their last spans still reach Jaeger), then Prometheus, Alertmanager,
        VictoriaLogs and Jaeger, then the broker, last the watchdog (the broker's own watchdog
        watches it); the data goes, the logs stay."""
        log = log or self.log
        self.stop_names(["producer", *SERVICES], log)
        self.stop_names(INFRA, log)
        kafka_local.stop(self.dir / "kafka", log=Log(f"{log.prefix}: kafka", quiet=log.quiet))
        wpid = self.pid_of("watchdog")
        if wpid is not None and wpid != os.getpid():
            process.send_signal(wpid, signal.SIGTERM, self.ours)
        process.remove(self.path("watchdog.pid"), self.path("stack.env"))
        process.remove(self.path("jaeger.yaml"))
        for data in ("victorialogs", "alertmanager", "prometheus/data"):
            shutil.rmtree(self.path(data), ignore_errors=True)

    def infra_running(self) -> bool:
        return all(self.pid_of(name) is not None for name in INFRA) and \
            kafka_local.status(self.dir / "kafka")[1] == 0

    def start_watchdog(self, owner: str) -> None:
        try:
            process.spawn([sys.executable, str(SCRIPT), "_watchdog", str(self.dir), owner],
                          log=self.logfile("watchdog"), pidfile=self.path("watchdog.pid"),
                          mark=(MARK, str(self.dir)))
        except Fatal as e:
            raise Fatal(f"the watchdog did not start (see {self.logfile('watchdog')})") from e

    # -- stack.env

    def load_env(self) -> None:
        path = self.path("stack.env")
        if not path.is_file():
            raise Fatal(f"no stack running in {self.dir} (no stack.env; run: {prog()} start "
                        f"{self.dir})")
        self.env.update(parse_env(path.read_text()))

    def write_env(self) -> None:
        tmp = self.path(".stack.env.tmp")
        tmp.write_text(format_env(self.env))
        os.replace(tmp, self.path("stack.env"))

    def metrics_url(self, name: str) -> str:
        return self.env.get(metrics_var(name), "")

    # -- HTTP, logs

    def wait_http(self, name: str, url: str, deadline: float, codes: tuple[int, ...]) -> int:
        """Waits until NAME (a process of ours) answers URL with one of CODES: 0; 1 when the
        process exited, 2 on timeout."""
        while True:
            if self.pid_of(name) is None:
                return 1
            if process.http_get(url)[0] in codes:
                return 0
            if time.monotonic() >= deadline:
                return 2
            time.sleep(0.2)

    def log_text(self, name: str) -> str:
        try:
            return self.logfile(name).read_text(errors="replace")
        except OSError:
            return ""

    def started_count(self, name: str) -> int:
        return sum('"msg":"started"' in line for line in self.log_text(name).splitlines())

    def logged_port(self, name: str) -> str:
        """The HTTP port a service logged in its last "started" line ("" while it has not)."""
        ports = re.findall(r'"http_port":([0-9]*)', self.log_text(name))
        return ports[-1] if ports else ""

    def show_log(self, name_or_path) -> None:
        path = name_or_path if isinstance(name_or_path, Path) else self.logfile(name_or_path)
        process.show_log(self.log, path, 25)

    # -- start

    def fail(self, message: str):
        raise Failed(message)

    def launch_infra(self, name: str) -> int:
        port = process.free_ports(1)[0]
        self.ports[name] = port
        if name == "jaeger":
            # Jaeger v2 (scripts/jaeger-build): port is its query API and UI; the OTLP/HTTP
            # receiver and the query's gRPC API get two more.
            otlp, grpc = process.free_ports(2)
            self.ports["jaeger-otlp"] = otlp
            config = self.path("jaeger.yaml")
            config.write_text(jaeger_config(otlp, port, grpc))
            self.launch(name, [self.jaeger_bin, "--config", str(config)])
        elif name == "victorialogs":
            self.path("victorialogs").mkdir(parents=True, exist_ok=True)
            # Retention counts from the entries' timestamps, which are event times: the default
            # 7 days would answer 2xx to a replay of older logs (data/ is from 2025) and
            # silently keep none of it. 100 years keeps any replay; -futureRetention is the
            # default's, written down (the pusher refuses entries more than limits.max_future
            # ahead before they get here).
            self.launch(name, [self.victorialogs_bin, f"-httpListenAddr=127.0.0.1:{port}",
                               f"-storageDataPath={self.dir}/victorialogs",
                               "-retentionPeriod=100y", "-futureRetention=2d",
                               "-loggerLevel=WARN"])
        elif name == "alertmanager":
            self.path("alertmanager").mkdir(parents=True, exist_ok=True)
            # --cluster.listen-address= : a single Alertmanager, no gossip port.
            self.launch(name, ["prometheus-alertmanager",
                               f"--config.file={REPO}/prometheus/alertmanager.yml",
                               f"--storage.path={self.dir}/alertmanager",
                               f"--web.listen-address=127.0.0.1:{port}",
                               "--cluster.listen-address="])
        else:
            self.env["PROMETHEUS_URL"] = f"http://127.0.0.1:{port}"
            self.prometheus_targets()
            self.launch(name, ["prometheus",
                               f"--config.file={self.dir}/prometheus/prometheus.yml",
                               f"--storage.tsdb.path={self.dir}/prometheus/data",
                               f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"])
        return port

    def start_infra(self, name: str, path: str, deadline: float, codes: tuple[int, ...]) -> None:
        """Launches NAME and waits until it answers at PATH; a port taken between the pick and
        the bind means another pick, up to three times."""
        rc, url = 2, ""
        for attempt in (1, 2, 3):
            port = self.launch_infra(name)
            url = f"http://127.0.0.1:{port}{path}"
            rc = self.wait_http(name, url, deadline, codes)
            if rc == 0:
                return
            if rc == 1 and "address already in use" in self.log_text(name).lower() \
                    and attempt < 3:
                self.log(f"{name}: port taken, trying others")
                self.logfile(name).write_text("")
                continue
            break
        self.show_log(name)
        if rc == 1:
            self.fail(f"{name} exited")
        self.fail(f"{name} did not answer {url} within the timeout")

    def start_jaeger(self, deadline: float) -> None:
        """Jaeger, ready once its query API answers and its OTLP receiver takes a (spanless)
        export: JAEGER_URL and OTLP_ENDPOINT in stack.env."""
        self.start_infra("jaeger", "/api/services", deadline, (200,))
        self.env["JAEGER_URL"] = f"http://127.0.0.1:{self.ports['jaeger']}"
        self.env["OTLP_ENDPOINT"] = f"http://127.0.0.1:{self.ports['jaeger-otlp']}"
        url = self.env["OTLP_ENDPOINT"] + "/v1/traces"
        while process.http_post(url, b"{}", "application/json")[0] != 200:
            if self.pid_of("jaeger") is None or time.monotonic() >= deadline:
                self.show_log("jaeger")
                self.fail(f"jaeger's OTLP receiver did not answer {url}")
            time.sleep(0.2)

    def prometheus_targets(self) -> None:
        """Prometheus's targets: the services that run (or ran: a crashed one shows as down),
        none for the producer."""
        def address(url: str) -> str:
            return url.removeprefix("http://").removesuffix("/metrics")

        args = ["ingest-producer=", f"prometheus={address(self.env['PROMETHEUS_URL'])}",
                f"alertmanager={address(self.env['ALERTMANAGER_URL'])}"]
        args += [f"ingest-{name}={address(self.metrics_url(name))}" for name in SERVICES]
        rc = process.run_quiet([str(REPO / "scripts/prometheus-run-dir"),
                                str(self.dir / "prometheus"), *args],
                               stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno())
        if rc != 0:
            raise Fatal(f"scripts/prometheus-run-dir failed (exit {rc})")

    def launch_service(self, name: str) -> None:
        """Starts a service with the stack's settings (tracing: tracing_env); remembers how
        many "started" lines its log had, for wait_service."""
        settings = {"IW_HTTP_LISTEN": "127.0.0.1:0"}
        if name == "alert-evaluator":
            settings["IW_ALERT_EVALUATOR_ALERTMANAGER_URL"] = self.env["ALERTMANAGER_URL"]
        elif name == "loki-pusher":
            # VictoriaLogs' Loki endpoint; disable_message_parsing keeps each line whole as the
            # entry's message instead of splitting its JSON into fields.
            settings.update({
                "IW_LOKI_PUSHER_URL": self.env["LOKI_URL"],
                "IW_LOKI_PUSHER_PUSH_PATH": "/insert/loki/api/v1/push?disable_message_parsing=1",
                "IW_LOKI_PUSHER_READY_PATH": "/insert/loki/ready"})
        self.started_before[name] = self.started_count(name)
        self.launch(name, [f"{self.env['BUILD_DIR']}/services/{name}/ingest-{name}",
                           "--bootstrap-servers", self.env["BOOTSTRAP"]],
                    env=with_tracing({**os.environ, **settings}, self.env))

    def wait_service(self, name: str, deadline: float, ready: bool = False) -> None:
        """Waits for the "started" line of a launched service and sets its *_METRICS; with
        `ready`, then waits for its /readyz."""
        while self.started_count(name) <= self.started_before.get(name, 0):
            if self.pid_of(name) is None:
                self.show_log(name)
                self.fail(f"ingest-{name} exited")
            if time.monotonic() >= deadline:
                self.fail(f"ingest-{name} did not log its port")
            time.sleep(0.1)
        self.env[metrics_var(name)] = f"http://127.0.0.1:{self.logged_port(name)}/metrics"
        if not ready:
            return
        url = self.metrics_url(name).removesuffix("/metrics") + "/readyz"
        rc = self.wait_http(name, url, deadline, (200,))
        if rc != 0:
            self.show_log(name)
            self.log(f"{url}: {process.http_get(url)[1].decode(errors='replace')}")
            self.fail(f"ingest-{name} " + ("exited" if rc == 1 else "is not ready in time"))

    def build_tool(self, script: str, what: str) -> str:
        """Runs scripts/SCRIPT (victorialogs-build, jaeger-build: built once, then cached) and
        returns the path it prints."""
        try:
            build = subprocess.run([str(REPO / "scripts" / script)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE)
        except OSError:
            build = None
        if build is None or build.returncode != 0:
            self.fail(f"could not build {what} (scripts/{script})")
        return build.stdout.decode().rstrip("\n")

    def start(self, owner: str, timeout: int, hold: list[str], build_dir: Path,
              sampling: str = "1") -> None:
        self.env.update(STACK_DIR=str(self.dir), BUILD_DIR=str(build_dir),
                        TRACE_SAMPLING=sampling)
        t0 = time.monotonic()
        if owner:
            self.start_watchdog(owner)

        # The downloads of a first run, side by side: Kafka's jars (Maven Central) while
        # VictoriaLogs and Jaeger build (Go module proxy).
        with open(self.logfile("kafka-fetch"), "wb") as fetch_log:
            fetch = subprocess.Popen([str(KAFKA_LOCAL), "fetch"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=fetch_log)
        self.victorialogs_bin = self.build_tool("victorialogs-build", "VictoriaLogs")
        self.jaeger_bin = self.build_tool("jaeger-build", "Jaeger")
        if fetch.wait() != 0:
            self.show_log(self.logfile("kafka-fetch"))
            self.fail("could not fetch Kafka (scripts/kafka-local fetch)")
        deadline = time.monotonic() + timeout

        # The log store, Alertmanager and Prometheus first: they get going while the broker's
        # JVM starts. Prometheus has no service targets yet; it gets them once the services have
        # their ports.
        for name in SERVICES:
            self.env[metrics_var(name)] = ""
        self.start_infra("victorialogs", "/health", deadline, (200,))
        self.start_infra("alertmanager", "/-/healthy", deadline, (200,))
        self.env["ALERTMANAGER_URL"] = f"http://127.0.0.1:{self.ports['alertmanager']}"
        self.start_infra("prometheus", "/-/ready", deadline, (200,))
        self.env["LOKI_URL"] = f"http://127.0.0.1:{self.ports['victorialogs']}"
        self.start_jaeger(deadline)
        self.log(f"victorialogs: up on {self.env['LOKI_URL']}; alertmanager: up on "
                 f"{self.env['ALERTMANAGER_URL']}; prometheus: up on "
                 f"{self.env['PROMETHEUS_URL']}; jaeger: up on {self.env['JAEGER_URL']} "
                 f"(OTLP/HTTP {self.env['OTLP_ENDPOINT']}, sampling "
                 f"{self.env['TRACE_SAMPLING']})")

        args = ["--dir", str(self.dir / "kafka")]
        if owner:
            watchdog = self.pid_of("watchdog")
            args += ["--owner-pid", str(watchdog) if watchdog is not None else ""]
        with open(self.logfile("kafka-start"), "ab") as kafka_log:
            out = subprocess.run([str(KAFKA_LOCAL), "start", *args], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=kafka_log)
        lines = out.stdout.decode(errors="replace").splitlines()
        self.env["BOOTSTRAP"] = lines[-1] if lines else ""
        if not re.fullmatch(r"127\.0\.0\.1:[0-9]+", self.env["BOOTSTRAP"]):
            self.show_log(self.logfile("kafka-start"))
            self.fail("the Kafka broker did not start")
        self.log(f"kafka: up at {self.env['BOOTSTRAP']} ({int(time.monotonic() - t0)}s)")
        with open(self.logfile("kafka-start"), "ab") as kafka_log:
            rc = process.run_quiet([str(KAFKA_LOCAL), "create-topics", self.env["BOOTSTRAP"],
                                    *TOPICS], stdin=subprocess.DEVNULL, stdout=kafka_log,
                                   stderr=subprocess.STDOUT)
        if rc != 0:
            self.show_log(self.logfile("kafka-start"))
            self.fail("could not create the topics")
        self.log(f"kafka: topics {' '.join(t.rpartition(':')[0] for t in TOPICS)} created")

        for name in SERVICES:
            if name not in hold:
                self.launch_service(name)
        started = []
        for name in SERVICES:
            if name not in hold:
                self.wait_service(name, deadline)
                started.append(name)
        self.log(f"services: started ({' '.join(started) or 'none'}"
                 f"{'; held: ' + ' '.join(hold) if hold else ''})")
        self.prometheus_targets()
        for name in started:
            self.wait_service(name, deadline, ready=True)
        self.write_env()
        self.log(f"up in {int(time.monotonic() - t0)}s; {self.dir}/stack.env")

    def cleanup_after(self, error: BaseException) -> int:
        """A failed start leaves nothing running (start-service: nothing of that service)."""
        self.log.error("interrupted" if isinstance(error, Interrupted) else str(error))
        process.set_signals(signal.SIG_IGN)  # a second Ctrl-C does not cut the stop short
        try:
            if self.fail_scope:
                self.stop_names([self.fail_scope])
            else:
                self.stop_locked()
        except Exception as e:  # the error above is the one to report
            self.log(f"while stopping: {e}")
        return 1


# ---------------------------------------------------------------- commands

def _timeout_options(args: list[str], default: int) -> int:
    """[--timeout SECONDS] (start-service, wait)."""
    timeout = default
    i = 0
    while i < len(args):
        if args[i] == "--timeout":
            if i + 1 >= len(args) or not re.fullmatch(r"[0-9]+", args[i + 1]):
                raise Fatal("--timeout needs a number of seconds")
            timeout = int(args[i + 1])
            i += 2
        else:
            raise Fatal(f"unknown argument: {args[i]}")
    return timeout


def cmd_start(args: list[str]) -> int:
    directory = set_dir(args[0] if args else None)
    owner, timeout, hold, build_dir, sampling = "", "300", [], str(REPO / "build"), "1"
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg not in ("--build-dir", "--owner-pid", "--timeout", "--hold", "--trace-sampling"):
            raise Fatal(f"unknown argument: {arg}")
        if i + 1 >= len(rest):
            raise Fatal(f"{arg} needs a value")
        value = rest[i + 1]
        if arg == "--build-dir":
            build_dir = value
        elif arg == "--owner-pid":
            owner = value
        elif arg == "--timeout":
            timeout = value
        elif arg == "--trace-sampling":
            sampling = check_sampling(value)
        else:
            metrics_var(value)
            if value not in hold:
                hold.append(value)
        i += 2
    if owner and not re.fullmatch(r"[0-9]+", owner):
        raise Fatal(f"bad --owner-pid: {owner}")
    if owner and not process.alive(int(owner)):
        raise Fatal(f"--owner-pid {owner} is not running")
    if not re.fullmatch(r"[0-9]+", timeout):
        raise Fatal(f"bad --timeout: {timeout}")
    build = Path(os.path.realpath(build_dir))
    for name in ("producer", *SERVICES):
        binary = build / "services" / name / f"ingest-{name}"
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise Fatal(f"{binary} is not built (make build)")
    for tool in ("prometheus", "prometheus-alertmanager"):
        if not process.which(tool):
            raise Fatal(f"{tool} not found (scripts/setup installs it)")

    stack = Stack(directory)
    stack.lock.acquire()
    if stack.path("stack.env").is_file() and stack.infra_running():
        stack.log(f"already running in {directory}")
        if owner and stack.pid_of("watchdog") is None:
            stack.start_watchdog(owner)
        sys.stdout.write(stack.path("stack.env").read_text())
        return 0
    stack.stop_locked(stack.log.quieter())  # what a killed run left
    shutil.rmtree(stack.path("logs"), ignore_errors=True)
    process.remove(stack.path("published"))
    stack.path("logs").mkdir(parents=True, exist_ok=True)
    process.interruptible()
    try:
        stack.start(owner, int(timeout), hold, build, sampling)
    except (Failed, Fatal, Interrupted) as e:
        return stack.cleanup_after(e)
    process.set_signals(signal.SIG_DFL)
    sys.stdout.write(stack.path("stack.env").read_text())
    return 0


def cmd_stop(args: list[str]) -> int:
    directory = set_dir(args[0] if args else None)
    if len(args) > 1:
        raise Fatal("stop takes only DIR")
    if not directory.is_dir():
        return 0
    stack = Stack(directory)
    stack.lock.acquire()
    stack.stop_locked()
    return 0


def cmd_watchdog(args: list[str]) -> int:
    """Internal: _watchdog DIR OWNER_PID. Stops the stack once the owner is gone."""
    stack = Stack(set_dir(args[0]))
    owner = int(args[1])
    me = os.getpid()
    if process.read_pidfile(stack.path("watchdog.pid")) != me:
        process.write_pidfile(stack.path("watchdog.pid"), me)
    process.set_signals(lambda *_: os._exit(0))
    stack.log(f"{process.timestamp()} watching owner pid {owner}")
    process.watch(owner=owner)
    stack.log(f"{process.timestamp()} owner pid {owner} is gone: stopping the stack")
    process.set_signals(signal.SIG_DFL)
    stack.lock.acquire()
    stack.stop_locked()
    stack.log(f"{process.timestamp()} stopped")
    return 0


def cmd_status(args: list[str]) -> int:
    stack = Stack(set_dir(args[0] if args else None))
    if stack.path("stack.env").is_file():
        stack.load_env()
    everything = True
    for name in ("victorialogs", "alertmanager", "prometheus", "jaeger"):
        pid = stack.pid_of(name)
        if pid is not None and name == "jaeger":
            print(f"{name} running {pid} {stack.env.get('JAEGER_URL', '')}", flush=True)
        elif pid is not None:
            port = ""
            for arg in process.cmdline(pid):
                m = re.search(r"(listen-address=127.0.0.1:|httpListenAddr=127.0.0.1:)([0-9]*)",
                              arg)
                if m:
                    port = m[2]
                    break
            print(f"{name} running {pid} http://127.0.0.1:{port}", flush=True)
        else:
            print(f"{name} stopped", flush=True)
            everything = False
    line, code = kafka_local.status(stack.dir / "kafka")
    if code == 0:
        state, _, addr = line.partition(" ")
        pid = (stack.dir / "kafka/kafka.pid").read_text().rstrip("\n")
        print(f"kafka {state} {pid} {addr}", flush=True)
    else:
        print(f"kafka {line}", flush=True)
        everything = False
    for name in SERVICES:
        pid = stack.pid_of(name)
        if pid is not None:
            print(f"{name} running {pid} {stack.metrics_url(name)}", flush=True)
        else:
            print(f"{name} stopped", flush=True)
            everything = False
    return 0 if everything else 1


def cmd_start_service(args: list[str]) -> int:
    stack = Stack(set_dir(args[0] if args else None))
    name = args[1] if len(args) > 1 else ""
    metrics_var(name)
    timeout = _timeout_options(args[2:], 120)
    stack.lock.acquire()
    stack.load_env()
    if not stack.infra_running():
        raise Fatal(f"the stack in {stack.dir} is not running")
    pid = stack.pid_of(name)
    if pid is not None:
        raise Fatal(f"ingest-{name} is already running (pid {pid})")
    stack.fail_scope = name
    process.interruptible()
    t0 = time.monotonic()
    try:
        stack.launch_service(name)
        stack.wait_service(name, time.monotonic() + timeout)
        stack.prometheus_targets()
        stack.write_env()
        stack.wait_service(name, time.monotonic() + timeout, ready=True)
    except (Failed, Fatal, Interrupted) as e:
        return stack.cleanup_after(e)
    process.set_signals(signal.SIG_DFL)
    stack.log(f"{name}: up in {int(time.monotonic() - t0)}s at {stack.metrics_url(name)}")
    sys.stdout.write(stack.path("stack.env").read_text())
    return 0


def cmd_stop_service(args: list[str]) -> int:
    stack = Stack(set_dir(args[0] if args else None))
    name = args[1] if len(args) > 1 else ""
    metrics_var(name)
    option = args[2] if len(args) > 2 else ""
    if option == "--kill":
        pid = stack.pid_of(name)
        start = process.proc_start(pid) if pid is not None else None
        if pid is None or start is None:
            raise Fatal(f"ingest-{name} is not running")
        process.send_signal(pid, signal.SIGKILL,
                            lambda p: process.proc_start(p) == start and stack.ours(p))
        if not process.wait_gone(pid, 60.0, start, poll=0.05):
            raise Fatal(f"ingest-{name} (pid {pid}) is still there after SIGKILL")
        stack.log(f"killed {name} (pid {pid})")
    elif option == "":
        stack.lock.acquire()
        stack.stop_names([name])
    else:
        raise Fatal(f"unknown argument: {option}")
    return 0


def summary_field(text: str, key: str) -> str:
    """KEY's number in the producer's "summary" log line ("" without one)."""
    found = []
    for line in text.splitlines():
        if '"msg":"summary"' in line:
            found += re.findall(rf'"{re.escape(key)}":([0-9]*)', line)
    return "\n".join(found)


def cmd_publish(args: list[str]) -> int:
    stack = Stack(set_dir(args[0] if args else None))
    files = args[1:]
    if not files:
        raise Fatal("publish needs at least one FILE")
    stack.load_env()
    for file in files:
        if not os.access(file, os.R_OK):
            raise Fatal(f"cannot read {file}")
    published = stack.path("published")
    for file in files:
        n = 1
        if published.is_file():
            n = published.read_bytes().count(b"\n") + 1
        base = os.path.basename(file)
        stem = base.rsplit(".", 1)[0] if "." in base else base
        log = stack.dir / "logs" / f"producer-{n}-{stem}.log"
        proc = process.spawn(
            [f"{stack.env['BUILD_DIR']}/services/producer/ingest-producer",
             "--bootstrap-servers", stack.env["BOOTSTRAP"], file],
            log=log, stderr_log=f"{log}.stderr", append=False, new_session=False,
            env=with_tracing({**os.environ, "IW_HTTP_LISTEN": "127.0.0.1:0"}, stack.env),
            mark=(MARK, str(stack.dir)))
        process.write_pidfile(stack.path("producer.pid"), proc.pid)
        try:
            rc = proc.wait()
        finally:
            process.remove(stack.path("producer.pid"))
        if rc != 0:
            rc = 128 - rc if rc < 0 else rc  # killed by a signal: as the shell says it
            sys.stderr.write(process.tail(f"{log}.stderr", 5))
            raise Fatal(f"ingest-producer failed on {file} (exit {rc}; see {log})")
        text = log.read_text(errors="replace")
        line = (f"{file} read={summary_field(text, 'read')} sent={summary_field(text, 'sent')} "
                f"dead_lettered={summary_field(text, 'dead_lettered')}")
        print(line, flush=True)
        with open(published, "a") as out:
            out.write(line + "\n")
    return 0


def cmd_wait(args: list[str]) -> int:
    stack = Stack(set_dir(args[0] if args else None))
    timeout = _timeout_options(args[1:], 300)
    stack.load_env()
    try:
        text = stack.path("published").read_text(errors="replace")
    except OSError:
        text = ""  # nothing published yet is 0
    published = sum(int(n or 0) for n in re.findall(r" sent=([0-9]*)", text))
    deadline = seconds() + timeout
    last = shown = ""
    shown_at = 0.0
    # A service that does not run (held, stopped, crashed) is not waited for.
    has_enr = stack.pid_of("enricher") is not None
    has_pu = stack.pid_of("loki-pusher") is not None
    evaluator = stack.pid_of("alert-evaluator")
    has_ev = evaluator is not None
    lateness = "5m"
    if has_ev:
        # The evaluator has evaluated everything it read once its event-time clock has reached
        # the latest run's end minus its allowed lateness: it holds runs back that long
        # (docs/ALERTING.md, "The evaluation clock"). Reading alone is not enough.
        lateness = process.env_value(evaluator, "IW_ALERT_EVALUATOR_ALLOWED_LATENESS") or ""
    lateness_ms = duration_ms(lateness or "5m")
    if lateness_ms < 0:
        lateness_ms = 5 * 60000

    def scrape(present: bool, key: str) -> str:
        if not present:
            return ""
        return process.http_get(stack.env.get(key, ""))[1].decode(errors="replace")

    while True:
        enr = scrape(has_enr, "ENRICHER_METRICS")
        ev = scrape(has_ev, "EVALUATOR_METRICS")
        pu = scrape(has_pu, "PUSHER_METRICS")
        e_out = metric_sum(enr, "ingestwatch_records_out_total", 'topic="ingestion-logs-enriched"')
        e_dlq = metric_sum(enr, "ingestwatch_records_dead_lettered_total")
        e_lag = metric_sum(enr, "ingestwatch_consumer_lag_records")
        e_last = metric_max_ms(enr, "ingestion_last_run_timestamp_seconds")
        v_in = metric_sum(ev, "ingestwatch_records_in_total")
        v_lag = metric_sum(ev, "ingestwatch_consumer_lag_records")
        v_alerts = metric_sum(ev, "ingestwatch_records_out_total", 'topic="ingestion-alerts"')
        v_clock = metric_max_ms(ev, "ingestwatch_alert_clock_timestamp_seconds")
        p_in = metric_sum(pu, "ingestwatch_records_in_total")
        p_out = metric_sum(pu, "ingestwatch_records_out_total", 'topic="loki"')
        p_dlq = metric_sum(pu, "ingestwatch_records_dead_lettered_total")
        p_lag = metric_sum(pu, "ingestwatch_consumer_lag_records")
        p_pending = metric_sum(pu, "ingestwatch_loki_pending_bytes")
        settled = True
        if has_enr and not (enr and e_out + e_dlq >= published and e_lag == 0):
            settled = False
        if has_ev and not (ev and v_in >= e_out and v_lag == 0 and
                           (e_last == 0 or v_clock >= e_last - lateness_ms)):
            settled = False
        if has_pu and not (pu and p_in >= e_out + v_alerts and p_out + p_dlq >= p_in and
                           p_lag == 0 and p_pending == 0):
            settled = False
        state = (f"published={published} enriched={e_out} enricher_dead_lettered={e_dlq} "
                 f"evaluated={v_in} alert_events={v_alerts} pushed={p_out} "
                 f"pusher_dead_lettered={p_dlq}")
        if settled and state == last:
            print(state, flush=True)
            return 0
        now = seconds()
        if (state != shown and now >= shown_at + 2) or now >= shown_at + 10:
            if has_ev:
                clock = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(v_clock // 1000)) \
                    if v_clock > 0 else "none"
                evaluator_part = f"evaluator {v_in}/{e_out} read (clock {clock}),"
            else:
                evaluator_part = "evaluator not running,"
            stack.log(f"waiting: enricher {e_out + e_dlq}/{published} settled, {evaluator_part} "
                      f"loki-pusher {p_out + p_dlq}/{e_out + v_alerts} done (lag "
                      f"{e_lag + v_lag + p_lag}, {p_pending} bytes pending for the log store)")
            shown, shown_at = state, now
        if now >= deadline:
            stack.log(f"error: not settled within {timeout}s: {state} (lag enricher {e_lag}, "
                      f"evaluator {v_lag}, pusher {p_lag}; {p_pending} bytes pending for the log "
                      f"store)")
            return 1
        last = state if settled else ""
        time.sleep(0.5)


COMMANDS = {
    "start": cmd_start, "stop": cmd_stop, "status": cmd_status, "publish": cmd_publish,
    "wait": cmd_wait, "start-service": cmd_start_service, "stop-service": cmd_stop_service,
    "_watchdog": cmd_watchdog,
}


def main(argv: list[str], usage: str) -> int:
    return process.run_command_line(argv, usage, COMMANDS, LOG)
