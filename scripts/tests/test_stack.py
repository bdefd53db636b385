#!/usr/bin/env python3
"""Tests of scripts/stack without the real stack: its command line (the errors and exit codes of
the bash version it replaced), DIR/stack.env as bash and the tests read it, and stop, status,
stop-service, the watchdog, the directory lock, publish and wait on fake processes (sleeping
processes with the stack's IW_STACK_DIR mark and pid files), a fake producer and fake /metrics
pages served from this test. The real stack runs in the end-to-end test and the fault suite."""

import http.server
import importlib.util
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import SCRIPTS, SupervisorTestCase, wait_until  # noqa: E402

from supervisor import process, stack  # noqa: E402

# Values no stack.env reader may get wrong: spaces, quotes, $, backquotes, backslashes, globs.
ODD_VALUES = {
    "STACK_DIR": "/tmp/a b/c", "BUILD_DIR": "/x/it's", "BOOTSTRAP": "127.0.0.1:9092",
    "LOKI_URL": 'http://127.0.0.1:1/$HOME`id`"q"', "PROMETHEUS_URL": "back\\slash",
    "ALERTMANAGER_URL": "star*?[ab]~", "ENRICHER_METRICS": "",
    "EVALUATOR_METRICS": "ünïcode; rm -rf x", "PUSHER_METRICS": "http://127.0.0.1:2/metrics",
    "JAEGER_URL": "http://127.0.0.1:3", "OTLP_ENDPOINT": "http://127.0.0.1:4",
    "TRACE_SAMPLING": "0.5"}


def bash_values(script: str, path: Path) -> dict:
    """The values of the stack.env keys after bash runs SCRIPT (which reads $1)."""
    out = subprocess.run(
        ["bash", "-c", script + '\nfor k in "${@:2}"; do printf "%s\\0" "${!k}"; done', "-",
         str(path), *stack.ENV_KEYS], stdout=subprocess.PIPE, check=True).stdout
    return dict(zip(stack.ENV_KEYS, out.decode().split("\0")[:-1]))


class EnvFileTest(SupervisorTestCase):
    def write(self, values) -> Path:
        path = self.tmp / "stack.env"
        path.write_text(stack.format_env(values))
        return path

    def test_round_trip(self):
        path = self.write(ODD_VALUES)
        self.assertEqual(stack.parse_env(path.read_text()), ODD_VALUES)
        lines = path.read_text().splitlines()
        self.assertEqual(lines[0], stack.ENV_HEADER)
        self.assertEqual([line.split("=")[0] for line in lines[1:]], list(stack.ENV_KEYS))

    def test_source_and_eval_in_bash(self):
        path = self.write({**ODD_VALUES, "EVALUATOR_METRICS": "new\nline\ttab"})
        expected = {**ODD_VALUES, "EVALUATOR_METRICS": "new\nline\ttab"}
        self.assertEqual(bash_values('source "$1"', path), expected)
        self.assertEqual(bash_values('eval "$(cat "$1")"', path), expected)
        self.assertEqual(stack.parse_env(path.read_text()), expected)

    def test_plain_values_stay_unquoted(self):
        text = stack.format_env({"STACK_DIR": "/work/main/.run", "ENRICHER_METRICS":
                                 "http://127.0.0.1:40553/metrics", "BOOTSTRAP": "127.0.0.1:1"})
        self.assertIn("STACK_DIR=/work/main/.run\n", text)
        self.assertIn("ENRICHER_METRICS=http://127.0.0.1:40553/metrics\n", text)
        self.assertIn("PUSHER_METRICS=''\n", text)

    def test_reads_what_the_bash_version_wrote(self):
        # printf %q, as the bash scripts/stack wrote stack.env.
        path = self.tmp / "old.env"
        with path.open("w") as out:
            subprocess.run(
                ["bash", "-c",
                 'for kv in "$@"; do printf "%s=%q\\n" "${kv%%=*}" "${kv#*=}"; done', "-",
                 *(f"{k}={v}" for k, v in ODD_VALUES.items())], stdout=out, check=True)
        self.assertEqual(stack.parse_env(path.read_text()), ODD_VALUES)

    def test_the_e2e_tests_read_it(self):
        spec = importlib.util.spec_from_file_location(
            "e2e_support", SCRIPTS.parent / "tests/e2e/e2e_support.py")
        e2e_support = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(e2e_support)
        self.write(ODD_VALUES)
        self.assertEqual(e2e_support.load_env(self.tmp), ODD_VALUES)


class TracingTest(unittest.TestCase):
    ENDPOINT = "http://127.0.0.1:4318"

    def test_every_trace_by_default(self):
        self.assertEqual(stack.tracing_env({"OTLP_ENDPOINT": self.ENDPOINT}), {
            "OTEL_SDK_DISABLED": None, "OTEL_EXPORTER_OTLP_ENDPOINT": self.ENDPOINT,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": None,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1",
            "OTEL_BSP_MAX_QUEUE_SIZE": "16384"})

    def test_a_ratio_default_and_off(self):
        env = stack.tracing_env({"OTLP_ENDPOINT": self.ENDPOINT, "TRACE_SAMPLING": "0.01"})
        self.assertEqual(env["OTEL_TRACES_SAMPLER_ARG"], "0.01")
        env = stack.tracing_env({"OTLP_ENDPOINT": self.ENDPOINT, "TRACE_SAMPLING": "default"})
        self.assertEqual(env["OTEL_EXPORTER_OTLP_ENDPOINT"], self.ENDPOINT)
        self.assertIsNone(env["OTEL_TRACES_SAMPLER_ARG"])  # the services' own ratio
        self.assertIsNone(env["OTEL_TRACES_SAMPLER"])
        self.assertIsNone(env["OTEL_BSP_MAX_QUEUE_SIZE"])  # and queue
        off = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": None,
               "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": None}
        self.assertEqual(stack.tracing_env({"OTLP_ENDPOINT": self.ENDPOINT,
                                            "TRACE_SAMPLING": "off"}), off)
        self.assertEqual(stack.tracing_env({"OTLP_ENDPOINT": ""}), off)

    def test_the_inherited_environment_does_not_win(self):
        inherited = {"PATH": "/bin", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere",
                     "OTEL_TRACES_SAMPLER_ARG": "0.5", "OTEL_SDK_DISABLED": "true"}
        env = stack.with_tracing(inherited, {"OTLP_ENDPOINT": self.ENDPOINT})
        self.assertEqual(env, {"PATH": "/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": self.ENDPOINT,
                               "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                               "OTEL_TRACES_SAMPLER_ARG": "1", "OTEL_BSP_MAX_QUEUE_SIZE": "16384"})
        self.assertEqual(inherited["OTEL_TRACES_SAMPLER_ARG"], "0.5")  # a copy
        env = stack.with_tracing(inherited, {"OTLP_ENDPOINT": self.ENDPOINT,
                                             "TRACE_SAMPLING": "off"})
        self.assertEqual(env, {"PATH": "/bin", "OTEL_TRACES_SAMPLER_ARG": "0.5",
                               "OTEL_SDK_DISABLED": "true"})

    def test_sampling_option(self):
        for good in ("0", "1", "0.01", "1.0", ".5", "default", "off"):
            self.assertEqual(stack.check_sampling(good), good)
        for bad in ("", "2", "1.01", "-0.1", "1e-2", "inf", "nan", "all", "0,5"):
            with self.assertRaises(process.Fatal, msg=bad):
                stack.check_sampling(bad)

    def test_jaeger_listens_only_where_told_on_loopback(self):
        import yaml  # python3-yaml: the tests' only non-standard module, as in tests/e2e
        config = yaml.safe_load(stack.jaeger_config(4318, 16686, 16685))
        self.assertEqual(config["receivers"], {"otlp": {"protocols": {
            "http": {"endpoint": "127.0.0.1:4318"}}}})  # no gRPC, Jaeger or Zipkin receiver
        query = config["extensions"]["jaeger_query"]
        self.assertEqual((query["http"]["endpoint"], query["grpc"]["endpoint"]),
                         ("127.0.0.1:16686", "127.0.0.1:16685"))
        self.assertEqual(config["service"]["extensions"], ["jaeger_storage", "jaeger_query"])
        self.assertIs(query["enable_tracing"], False)  # no self-export to 127.0.0.1:4317
        self.assertEqual(config["service"]["telemetry"]["metrics"], {"level": "none"})
        self.assertEqual(config["service"]["pipelines"]["traces"]["receivers"], ["otlp"])
        backend = config["extensions"]["jaeger_storage"]["backends"][query["storage"]["traces"]]
        self.assertIn("memory", backend)
        self.assertEqual(config["exporters"]["jaeger_storage_exporter"]["trace_storage"],
                         query["storage"]["traces"])


class MetricsTest(unittest.TestCase):
    TEXT = """# HELP ingestwatch_records_out_total Records written.
# TYPE ingestwatch_records_out_total counter
ingestwatch_records_out_total{topic="ingestion-logs-enriched"} 4102
ingestwatch_records_out_total{topic="ingestion-logs-dlq"} 8
ingestwatch_records_out_total_extra{topic="ingestion-logs-enriched"} 1000
ingestwatch_records_in_total 4110
ingestwatch_alert_clock_timestamp_seconds{partition="0"} 1758000000.5
ingestwatch_alert_clock_timestamp_seconds{partition="1"} 1758000100.25
ingestwatch_loki_pending_bytes NaN
"""

    def test_sum_and_max(self):
        self.assertEqual(stack.metric_sum(self.TEXT, "ingestwatch_records_out_total"), 4110)
        self.assertEqual(stack.metric_sum(self.TEXT, "ingestwatch_records_out_total",
                                          'topic="ingestion-logs-enriched"'), 4102)
        self.assertEqual(stack.metric_sum(self.TEXT, "ingestwatch_records_in_total"), 4110)
        self.assertEqual(stack.metric_sum(self.TEXT, "absent"), 0)
        self.assertEqual(stack.metric_sum("", "x"), 0)
        self.assertEqual(stack.metric_sum(self.TEXT, "ingestwatch_loki_pending_bytes"), 0)
        self.assertEqual(stack.metric_max_ms(
            self.TEXT, "ingestwatch_alert_clock_timestamp_seconds"), 1758000100250)
        self.assertEqual(stack.metric_max_ms(self.TEXT, "absent"), 0)

    def test_duration(self):
        for text, ms in (("300", 300000), ("5m", 300000), ("1h30m", 5400000), ("500ms", 500),
                         ("2d", 172800000), ("1w", 604800000), ("1m30s250ms", 90250),
                         ("", 0), ("5x", -1), ("m", -1), ("1.5m", -1), ("5m ", -1)):
            self.assertEqual(stack.duration_ms(text), ms, text)


class CommandLineTest(SupervisorTestCase):
    def check(self, args, code, stderr="", stdout=None):
        run = self.run_script("stack", *args)
        self.assertEqual(run.returncode, code, f"{args}: {run.stderr}")
        self.assertIn(stderr, run.stderr, args)
        if stdout is not None:
            self.assertEqual(run.stdout, stdout, args)
        return run

    def test_usage(self):
        run = self.check([], 2, "Usage:", stdout="")
        for args in (["--help"], ["-h"], ["help"]):
            run = self.check(args, 0)
            for line in ("scripts/stack start         DIR [--build-dir B] [--owner-pid PID]",
                         "[--hold SERVICE]...", "scripts/stack stop          DIR",
                         "scripts/stack status        DIR", "scripts/stack publish       DIR FILE",
                         "scripts/stack wait          DIR [--timeout SECONDS]",
                         "scripts/stack start-service DIR SERVICE [--timeout SECONDS]",
                         "scripts/stack stop-service  DIR SERVICE [--kill]", "DIR/stack.env",
                         "IW_STACK_DIR=DIR"):
                self.assertIn(line, run.stdout)

    def test_argument_errors_exit_1(self):
        d = str(self.tmp / "s")
        build = self.tmp / "build"
        for args, message in (
                (["bogus"], "stack: error: unknown command: bogus (see --help)"),
                (["start"], "DIR missing (see --help)"),
                (["start", "--owner-pid", "1"], "DIR missing"),
                (["start", d, "--timeout"], "--timeout needs a value"),
                (["start", d, "--hold", "nope"],
                 "unknown service: nope (one of: enricher alert-evaluator loki-pusher)"),
                (["start", d, "--owner-pid", "12a"], "bad --owner-pid: 12a"),
                (["start", d, "--owner-pid", "999999999"], "--owner-pid 999999999 is not running"),
                (["start", d, "--timeout", "1x"], "bad --timeout: 1x"),
                (["start", d, "--frob"], "unknown argument: --frob"),
                (["start", d, "--trace-sampling", "1.5"], "bad --trace-sampling: 1.5"),
                (["start", d, "--trace-sampling", "-0"], "bad --trace-sampling: -0"),
                (["start", d, "--trace-sampling", "nan"], "bad --trace-sampling: nan"),
                (["start", d, "--trace-sampling", "none"], "bad --trace-sampling: none"),
                (["start", d, "--trace-sampling"], "--trace-sampling needs a value"),
                (["start", d, "--build-dir", str(build)],
                 f"{build}/services/producer/ingest-producer is not built (make build)"),
                (["stop", d, "extra"], "stop takes only DIR"),
                (["publish", d], "publish needs at least one FILE"),
                (["publish", d, "/etc/hostname"], f"no stack running in {d} (no stack.env; run: "),
                (["wait", d], "no stack running"),
                (["wait", d, "--timeout", "x"], "--timeout needs a number of seconds"),
                (["wait", d, "--frob"], "unknown argument: --frob"),
                (["start-service", d], "unknown service:  (one of:"),
                (["start-service", d, "enricher", "--timeout"], "--timeout needs a number"),
                (["start-service", d, "enricher", "--bad"], "unknown argument: --bad"),
                (["start-service", d, "enricher"], "no stack running"),
                (["stop-service", d, "nope"], "unknown service: nope"),
                (["stop-service", d, "enricher", "--frob"], "unknown argument: --frob"),
                (["stop-service", d, "enricher", "--kill"], "ingest-enricher is not running")):
            self.check(args, 1, message)
        self.assertFalse(Path(d, "stack.env").exists())

    def test_nothing_running(self):
        d = self.tmp / "none"
        self.check(["stop", str(d)], 0, stdout="")
        self.assertFalse(d.exists())
        self.check(["status", str(d)], 1, stdout="".join(
            f"{name} stopped\n" for name in ("victorialogs", "alertmanager", "prometheus",
                                              "jaeger", "kafka", *stack.SERVICES)))


class RunDirTestCase(SupervisorTestCase):
    """A run directory whose processes are sleeping fakes with the stack's mark."""

    ARGS = {"victorialogs": ["-httpListenAddr=127.0.0.1:1111", "-storageDataPath=x"],
            "alertmanager": ["--web.listen-address=127.0.0.1:2222", "--cluster.listen-address="],
            "prometheus": ["--config.file=x", "--web.listen-address=127.0.0.1:3333"]}

    def setUp(self):
        super().setUp()
        self.dir = self.tmp / "run"
        (self.dir / "logs").mkdir(parents=True)
        self.mark = ("IW_STACK_DIR", str(self.dir))

    def start_fakes(self, names, ignore_term=False, env=None) -> dict:
        return {name: self.fake(*self.ARGS.get(name, []), mark=self.mark,
                                pidfile=self.dir / f"{name}.pid", ignore_term=ignore_term,
                                env=env)
                for name in names}

    def write_env(self, **values):
        (self.dir / "stack.env").write_text(stack.format_env(
            {"STACK_DIR": str(self.dir), **values}))


class FakeStackTest(RunDirTestCase):

    def test_stop_kills_only_the_processes_of_its_pid_files_that_carry_its_mark(self):
        ours = self.start_fakes(["producer", "alert-evaluator", "loki-pusher", "prometheus",
                                 "alertmanager", "victorialogs", "jaeger", "watchdog"])
        (self.dir / "jaeger.yaml").write_text("service: {}\n")
        # enricher.pid names a live process without the mark (a reused pid); another stack's
        # process carries another run directory's mark.
        stranger = self.fake(pidfile=self.dir / "enricher.pid")
        neighbour = self.fake(mark=("IW_STACK_DIR", f"{self.dir}-2"))
        process.write_pidfile(self.dir / "prometheus.pid", ours["prometheus"])
        unlisted = self.fake(mark=self.mark)  # ours, but in no pid file
        for data in ("victorialogs", "alertmanager", "prometheus/data"):
            (self.dir / data).mkdir(parents=True, exist_ok=True)
        self.write_env()
        (self.dir / "logs/enricher.log").write_text("kept\n")

        run = self.run_script("stack", "stop", str(self.dir))
        self.assertEqual((run.returncode, run.stdout), (0, ""), run.stderr)
        for name, pid in ours.items():
            self.assertFalse(process.alive(pid), name)
            if name != "watchdog":
                self.assertIn(f"stack: stopped {name} (pid {pid})", run.stderr)
        for pid in (stranger, neighbour, unlisted):
            self.assertTrue(process.alive(pid))
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()),
                         [".lock", "logs", "prometheus"])
        self.assertEqual((self.dir / "logs/enricher.log").read_text(), "kept\n")
        # Services first, then the infrastructure.
        self.assertLess(run.stderr.index("stopped loki-pusher"),
                        run.stderr.index("stopped victorialogs"))
        self.assertLess(run.stderr.index("stopped loki-pusher"),
                        run.stderr.index("stopped jaeger"))

    def test_sigkill_after_the_grace(self):
        pids = self.start_fakes(["enricher"], ignore_term=True)
        old = stack.GRACE_SECONDS
        stack.GRACE_SECONDS = 0.5
        try:
            stack.Stack(self.dir, log=process.Log("t", quiet=True)).stop_names(["enricher"])
        finally:
            stack.GRACE_SECONDS = old
        self.assertFalse(process.alive(pids["enricher"]))
        self.assertFalse((self.dir / "enricher.pid").exists())

    def test_status(self):
        pids = self.start_fakes(["victorialogs", "alertmanager", "prometheus", "jaeger",
                                 "enricher", "loki-pusher"])
        self.write_env(ENRICHER_METRICS="http://127.0.0.1:4444/metrics",
                       PUSHER_METRICS="http://127.0.0.1:5555/metrics",
                       JAEGER_URL="http://127.0.0.1:6666")
        run = self.run_script("stack", "status", str(self.dir))
        self.assertEqual(run.returncode, 1)  # no broker, no evaluator
        self.assertEqual(run.stdout, (
            f"victorialogs running {pids['victorialogs']} http://127.0.0.1:1111\n"
            f"alertmanager running {pids['alertmanager']} http://127.0.0.1:2222\n"
            f"prometheus running {pids['prometheus']} http://127.0.0.1:3333\n"
            f"jaeger running {pids['jaeger']} http://127.0.0.1:6666\n"
            "kafka stopped\n"
            f"enricher running {pids['enricher']} http://127.0.0.1:4444/metrics\n"
            "alert-evaluator stopped\n"
            f"loki-pusher running {pids['loki-pusher']} http://127.0.0.1:5555/metrics\n"))

    def test_stop_service(self):
        pids = self.start_fakes(["enricher", "loki-pusher"], ignore_term=True)
        others = self.start_fakes(["alert-evaluator"])
        t0 = time.monotonic()
        run = self.run_script("stack", "stop-service", str(self.dir), "enricher", "--kill")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertLess(time.monotonic() - t0, 10)  # SIGKILL, no grace
        self.assertIn(f"stack: killed enricher (pid {pids['enricher']})", run.stderr)
        self.assertFalse(process.alive(pids["enricher"]))
        self.assertTrue(process.alive(pids["loki-pusher"]))
        run = self.run_script("stack", "stop-service", str(self.dir), "alert-evaluator")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn(f"stopped alert-evaluator (pid {others['alert-evaluator']})", run.stderr)
        self.assertFalse((self.dir / "alert-evaluator.pid").exists())
        self.assertTrue(process.alive(pids["loki-pusher"]))

    def test_start_service_needs_a_running_stack(self):
        self.start_fakes(["victorialogs", "alertmanager", "prometheus"])
        self.write_env()
        run = self.run_script("stack", "start-service", str(self.dir), "enricher")
        self.assertEqual(run.returncode, 1)
        self.assertIn(f"the stack in {self.dir} is not running", run.stderr)  # no broker
        pids = self.start_fakes(["enricher"])
        run = self.run_script("stack", "status", str(self.dir))
        self.assertIn(f"enricher running {pids['enricher']}", run.stdout)

    def test_watchdog_stops_the_stack_when_its_owner_is_gone(self):
        pids = self.start_fakes(["enricher", "loki-pusher", "victorialogs"])
        stranger = self.fake(pidfile=self.dir / "prometheus.pid")
        owner = self.fake()
        self.write_env()
        run_dir = stack.Stack(self.dir)
        run_dir.start_watchdog(str(owner))
        watchdog = run_dir.pid_of("watchdog")
        self.assertIsNotNone(watchdog)  # marked, its pid file written
        log = self.dir / "logs/watchdog.log"
        self.assertTrue(wait_until(lambda: log.exists() and "watching owner" in log.read_text()))
        time.sleep(1.2)
        self.assertTrue(all(process.alive(pid) for pid in pids.values()))
        self.kill(owner)
        self.assertTrue(wait_until(lambda: not process.alive(watchdog), 15))
        for name, pid in pids.items():
            self.assertFalse(process.alive(pid), name)
        self.assertTrue(process.alive(stranger))
        text = log.read_text()
        self.assertIn(f"owner pid {owner} is gone: stopping the stack", text)
        self.assertIn("stack: stopped enricher", text)
        self.assertTrue(text.rstrip().endswith("stopped"))
        self.assertFalse((self.dir / "stack.env").exists())
        self.assertFalse((self.dir / "watchdog.pid").exists())

    def test_one_stop_at_a_time(self):
        pids = self.start_fakes(["enricher"])
        lock = process.dir_lock(self.dir)
        lock.acquire()
        stopper = self.child([str(stack.SCRIPT), "stop", str(self.dir)],
                             stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        self.assertIsNone(stopper.poll())  # waiting for the lock
        self.assertTrue(process.alive(pids["enricher"]))
        lock.release()
        self.assertEqual(stopper.wait(timeout=30), 0)
        self.assertFalse(process.alive(pids["enricher"]))


FAKE_PRODUCER = """#!{python}
import json, os, sys
assert sys.argv[1] == "--bootstrap-servers" and sys.argv[2] == "127.0.0.1:9", sys.argv
lines = sum(1 for _ in open(sys.argv[3]))
compact = {{"separators": (",", ":")}}  # as the producer logs
print(json.dumps({{"msg": "started", "http_port": 1}}, **compact))
print(json.dumps({{"msg": "summary", "read": lines, "sent": lines - 1, "dead_lettered": 1,
                   "mark": os.environ.get("IW_STACK_DIR"),
                   "listen": os.environ.get("IW_HTTP_LISTEN"),
                   "otel": {{k: v for k, v in os.environ.items() if k.startswith("OTEL_")}}}},
                 **compact))
print("the producer's stderr", file=sys.stderr)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


class PublishTest(RunDirTestCase):
    def setUp(self):
        super().setUp()
        build = self.tmp / "build"
        producer = build / "services/producer/ingest-producer"
        producer.parent.mkdir(parents=True)
        producer.write_text(FAKE_PRODUCER.format(python=sys.executable))
        producer.chmod(0o755)
        self.write_env(BUILD_DIR=str(build), BOOTSTRAP="127.0.0.1:9",
                       OTLP_ENDPOINT="http://127.0.0.1:7", TRACE_SAMPLING="1")
        self.files = []
        for name, lines in (("a.ndjson", 3), ("b.json", 5)):
            path = self.tmp / name
            path.write_text("{}\n" * lines)
            self.files.append(str(path))

    def test_publish(self):
        run = self.run_script("stack", "publish", str(self.dir), *self.files)
        self.assertEqual(run.returncode, 0, run.stderr)
        expected = (f"{self.files[0]} read=3 sent=2 dead_lettered=1\n"
                    f"{self.files[1]} read=5 sent=4 dead_lettered=1\n")
        self.assertEqual(run.stdout, expected)
        self.assertEqual((self.dir / "published").read_text(), expected)
        log = (self.dir / "logs/producer-2-b.log").read_text()
        self.assertIn(f'"mark":"{self.dir}"', log)
        self.assertIn('"listen":"127.0.0.1:0"', log)
        # Its spans go to the stack's Jaeger, every trace kept.
        self.assertIn('"otel":{"OTEL_EXPORTER_OTLP_ENDPOINT":"http://127.0.0.1:7",'
                      '"OTEL_TRACES_SAMPLER":"parentbased_traceidratio",'
                      '"OTEL_TRACES_SAMPLER_ARG":"1","OTEL_BSP_MAX_QUEUE_SIZE":"16384"}', log)
        self.assertTrue((self.dir / "logs/producer-1-a.log").is_file())
        self.assertFalse((self.dir / "producer.pid").exists())
        run = self.run_script("stack", "publish", str(self.dir), self.files[0])
        self.assertTrue((self.dir / "logs/producer-3-a.log").is_file())  # numbered on

    def test_a_failed_producer(self):
        run = self.run_script("stack", "publish", str(self.dir), *self.files,
                              env={"FAKE_EXIT": "3"})
        self.assertEqual((run.returncode, run.stdout), (1, ""))
        self.assertIn("the producer's stderr", run.stderr)
        self.assertIn(f"stack: error: ingest-producer failed on {self.files[0]} (exit 3; see "
                      f"{self.dir}/logs/producer-1-a.log)", run.stderr)
        self.assertFalse((self.dir / "published").exists())
        self.assertFalse((self.dir / "producer.pid").exists())
        run = self.run_script("stack", "publish", str(self.dir), str(self.tmp / "absent"))
        self.assertIn("cannot read", run.stderr)


class WaitTest(RunDirTestCase):
    """`wait` against /metrics pages this test serves (on a port it holds until the end)."""

    LAST_RUN = 1758000100

    def setUp(self):
        super().setUp()
        self.pages = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path, "").encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        self.write_env(ENRICHER_METRICS=f"{base}/enricher/metrics",
                       EVALUATOR_METRICS=f"{base}/evaluator/metrics",
                       PUSHER_METRICS=f"{base}/pusher/metrics")
        (self.dir / "published").write_text("a read=7 sent=6 dead_lettered=1\n"
                                            "b read=4 sent=4 dead_lettered=0\n")
        self.settled(clock_behind=30)

    def settled(self, clock_behind: int, enricher_lag: int = 0, pending: int = 0):
        self.pages["/enricher/metrics"] = f"""
ingestwatch_records_out_total{{topic="ingestion-logs-enriched"}} 8
ingestwatch_records_out_total{{topic="ingestion-logs-dlq"}} 2
ingestwatch_records_dead_lettered_total{{reason="a"}} 1
ingestwatch_records_dead_lettered_total{{reason="b"}} 1
ingestwatch_consumer_lag_records{{partition="0"}} {enricher_lag}
ingestion_last_run_timestamp_seconds{{source="x"}} {self.LAST_RUN - 500}
ingestion_last_run_timestamp_seconds{{source="y"}} {self.LAST_RUN}
"""
        self.pages["/evaluator/metrics"] = f"""
ingestwatch_records_in_total 8
ingestwatch_consumer_lag_records 0
ingestwatch_records_out_total{{topic="ingestion-alerts"}} 3
ingestwatch_alert_clock_timestamp_seconds {self.LAST_RUN - clock_behind}
"""
        self.pages["/pusher/metrics"] = f"""
ingestwatch_records_in_total 11
ingestwatch_records_out_total{{topic="loki"}} 10
ingestwatch_records_dead_lettered_total 1
ingestwatch_consumer_lag_records 0
ingestwatch_loki_pending_bytes {pending}
"""

    STATE = ("published=10 enriched=8 enricher_dead_lettered=2 evaluated=8 alert_events=3 "
             "pushed=10 pusher_dead_lettered=1\n")

    def wait(self, timeout="5"):
        return self.run_script("stack", "wait", str(self.dir), "--timeout", timeout)

    def test_settled(self):
        self.start_fakes(["enricher", "loki-pusher"])
        self.start_fakes(["alert-evaluator"],
                         env={"IW_ALERT_EVALUATOR_ALLOWED_LATENESS": "1m"})
        run = self.wait()
        self.assertEqual((run.returncode, run.stdout), (0, self.STATE), run.stderr)

    def test_the_evaluator_clock_within_its_allowed_lateness(self):
        self.settled(clock_behind=90)  # 90 s behind the latest run: settled only with >= 2m
        self.start_fakes(["enricher", "loki-pusher"])
        self.start_fakes(["alert-evaluator"],
                         env={"IW_ALERT_EVALUATOR_ALLOWED_LATENESS": "1m"})
        run = self.wait("1")
        self.assertEqual((run.returncode, run.stdout), (1, ""))
        self.assertIn("stack: error: not settled within 1s: " + self.STATE.strip(), run.stderr)
        self.kill(process.read_pidfile(self.dir / "alert-evaluator.pid"))
        self.start_fakes(["alert-evaluator"],
                         env={"IW_ALERT_EVALUATOR_ALLOWED_LATENESS": "2m"})
        self.assertEqual(self.wait().stdout, self.STATE)

    def test_lag_and_pending_bytes_are_not_settled(self):
        self.start_fakes(["enricher", "loki-pusher", "alert-evaluator"])
        self.settled(clock_behind=0, enricher_lag=1)
        run = self.wait("1")
        self.assertEqual(run.returncode, 1)
        self.assertIn("(lag enricher 1, evaluator 0, pusher 0; 0 bytes pending", run.stderr)
        self.settled(clock_behind=0, pending=100)
        self.assertEqual(self.wait("1").returncode, 1)

    def test_a_service_that_does_not_run_is_not_waited_for(self):
        self.start_fakes(["enricher", "alert-evaluator"])  # no pusher: its pending bytes
        self.settled(clock_behind=0, pending=100)           # do not count
        run = self.wait()
        self.assertEqual((run.returncode, run.stdout), (0, self.STATE.replace(
            "pushed=10 pusher_dead_lettered=1", "pushed=0 pusher_dead_lettered=0")), run.stderr)


if __name__ == "__main__":
    unittest.main()
