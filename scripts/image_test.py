#!/usr/bin/env python3
"""image_test - `make image-test`: the container image (`make image`) run for real, next to the
host's build, on this machine's local stack (docs/DEPLOY.md, "The image, run for real").

Usage: scripts/image_test.py [--image TAG] [--build-dir B] [--work-dir DIR] [--keep]
       scripts/image_test.py exec ...      (internal: the stand-in binaries call it)

Each binary of the image is run through a stand-in in DIR/image-build/ (the layout of a build
directory: services/<name>/ingest-<name>, tools/dlq/ingest-dlq) that starts it in a container
as compose does: read-only root with a tmpfs /tmp, every capability dropped, no new privileges,
the image's own user (uid 10001), host network; the IW_* environment goes in, files named on the
command line are mounted read-only at their paths. With those stand-ins as the build directory,
the repository's own tools run the image unchanged:

  image      the image's user is 10001, its root is read-only, /tmp writable, no capability
             is effective, and ingestwatch_build_info{commit} is the commit the image was
             built from (its OCI revision label);
  configs    deploy/tests/check_compose.py configs and check_helm.py template (default,
             production, producer values): every configuration compose mounts and the chart
             renders passes --check-config inside the image;
  run        `make run` (scripts/run-local) twice: with the host's binaries (BUILD_DIR), then
             with the image's, each on a stack of its own (Kafka from scripts/kafka-local,
             VictoriaLogs, Prometheus, Alertmanager); data/logs.json and the scenarios flow end
             to end and the counts of the two summaries are equal (what each stage read, wrote
             and dead-lettered, the log store's entries, the dead-letter topic, the alert events
             per rule; Prometheus's and Alertmanager's columns differ by timing and are left
             out);
  health     compose's healthcheck command of each service, run in its container (podman
             exec), passes against the service's port, and fails against a closed one;
  drain      SIGTERM to each service once the replay is settled, on the host and in the
             container: it drains and stops ("draining", then "stopped" on signal 15; in the
             container the exit status is 0 too), and restarted it reads nothing again (its
             offsets were committed; the evaluator, which reads its input back at every start
             by design, writes no alert event again).

Everything it starts stops by itself: make run's stacks stop when this script ends (their
run-local gets SIGTERM from the kernel if this script dies, and the stacks have an owner-pid
watchdog); containers carry a label naming this run and are removed at the end, and each has a
--timeout (1 h) after which podman kills it anyway. DIR (default: a new directory under /tmp)
is removed on success unless --keep. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from supervisor.stack import parse_env  # noqa: E402  (the one reader of stack.env)

SERVICES = ("enricher", "alert-evaluator", "loki-pusher")
BINARIES = {"producer": "services/producer/ingest-producer",
            "enricher": "services/enricher/ingest-enricher",
            "alert-evaluator": "services/alert-evaluator/ingest-alert-evaluator",
            "loki-pusher": "services/loki-pusher/ingest-loki-pusher",
            "dlq": "tools/dlq/ingest-dlq"}
LABEL = "ingestwatch.image-test"
CONTAINER_TTL_S = 3600
HELM_VALUES = ("", "values-production.yaml", "ci/producer-values.yaml")
# What compose gives the ingestwatch services (docker-compose.yml, x-ingestwatch).
SECURITY = ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp", "--cap-drop=ALL",
            "--security-opt", "no-new-privileges"]
# Host network, and the ulimits runc needs here (it may not raise them: scripts/image-build).
HOST = ["--network", "host", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]


def log(message: str) -> None:
    print(f"image-test: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the stand-in binaries

def start_time(pid: int) -> str:
    """The process's start time (clock ticks since boot; "0" when it is gone): with the pid, a
    name no later process has (pids are reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "0"
    return stat.rpartition(")")[2].split()[19]


def container_name(run_id: str, pid: int) -> str:
    """The container a stand-in with this pid runs: named by the run, the pid and its start
    time, read while the process lives."""
    return f"iw-image-test-{run_id}-{pid}-{start_time(pid)}"


def mounts_for(args: list[str], stage: Path) -> list[str]:
    """Read-only bind mounts for the files named in args (absolute paths), at their own paths:
    the directory of each, staged as a copy readable by uid 10001 when it is not (a 0700
    temporary directory)."""
    out, seen = [], set()
    for path in args:
        if not path.startswith("/") or not os.path.isfile(path):
            continue
        directory = os.path.dirname(path)
        if directory in seen:
            continue
        seen.add(directory)
        source = directory
        if os.stat(directory).st_mode & 0o005 != 0o005:
            source = tempfile.mkdtemp(dir=stage)
            shutil.copytree(directory, source, dirs_exist_ok=True)
            for root, dirs, files in os.walk(source):
                for name in dirs + files + ["."]:
                    p = os.path.join(root, name)
                    os.chmod(p, os.stat(p).st_mode | (0o555 if os.path.isdir(p) else 0o444))
        out += ["-v", f"{source}:{directory}:ro"]
    return out


def container_command(engine: list[str], image: str, run_id: str, binary: str,
                      args: list[str], environ: dict[str, str], cwd: str, stage: Path,
                      pid: int) -> list[str]:
    """The `podman run` that stands in for BINARY ARGS run in cwd with environ: files named
    by a relative path are named by their absolute one."""
    args = [os.path.join(cwd, a) if a and not a.startswith(("-", "/")) and
            os.path.isfile(os.path.join(cwd, a)) else a for a in args]
    env = [f"--env={key}={value}" for key, value in sorted(environ.items())
           if key.startswith("IW_")]
    ttl = ["--timeout", str(CONTAINER_TTL_S)] if engine[0] != "docker" else []
    # A service's container is kept for its exit status (check_drain), removed at the end;
    # the one-shot ones (the producer, ingest-dlq, --check-config) go when they exit.
    service = binary in (f"ingest-{name}" for name in SERVICES) and "--check-config" not in args
    keep = [] if service else ["--rm"]
    return [*engine, "run", *keep, "--name", container_name(run_id, pid), "--label",
            f"{LABEL}={run_id}", *ttl, *SECURITY, *HOST,
            *env, *mounts_for(args, stage), image, binary, *args]


def cmd_exec(argv: list[str]) -> int:
    """exec ENGINE IMAGE RUN_ID STAGE BINARY ARGS...: replaces itself with the container's
    client, so the caller's pid is the container's and SIGTERM reaches the service."""
    engine, image, run_id, stage, binary, *args = argv
    command = container_command(shlex.split(engine), image, run_id, binary, args,
                                dict(os.environ), os.getcwd(), Path(stage), os.getpid())
    # The checks of deploy/tests run a binary with nothing but PATH and its settings; the
    # engine wants a HOME.
    env = {"HOME": pwd.getpwuid(os.getuid()).pw_dir, **os.environ}
    os.execvpe(command[0], command, env)
    return 127


def write_stand_ins(build: Path, engine: list[str], image: str, run_id: str,
                    stage: Path) -> None:
    for path in BINARIES.values():
        stand_in = build / path
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        words = [sys.executable, str(Path(__file__).resolve()), "exec", " ".join(engine),
                 image, run_id, str(stage), Path(path).name]
        stand_in.write_text("#!/bin/sh\n# " + Path(path).name + " in the image "
                            "(scripts/image_test.py)\nexec " + shlex.join(words) + ' "$@"\n')
        stand_in.chmod(0o755)


# ---------------------------------------------------------------- make run's summary

def comparable(summary: str) -> list[str]:
    """The lines of make run's summary that do not depend on timing: "What happened" (each
    stage's counts, the log store's, the dead-letter topic's) and the rules' fired and resolved
    events on ingestion-alerts, without the Prometheus and Alertmanager columns or the rules
    only they hold."""
    lines = summary.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("What happened")), None)
    if start is None:
        return []
    out = []
    for line in lines[start:]:
        if line.startswith("Where to look"):
            break
        if re.match(r"  [✓✗] \S", line):
            out.append(line[:59].rstrip())  # mark, rule, fired, resolved
        elif re.match(r"  \d+ of the 6 rules fired", line):
            out.append(line)
        elif line.startswith("Alerts"):
            out.append("Alerts")
        elif out and out[-1] == "Alerts":
            continue
        elif not out or not any(o == "Alerts" for o in out):
            out.append(line)  # What happened
    return [line for line in out if line.strip()]


def differences(host: list[str], image: list[str]) -> list[str]:
    diff = [f"host:  {h}\nimage: {i}" for h, i in zip(host, image) if h != i]
    if len(host) != len(image):
        diff.append(f"{len(host)} lines on the host, {len(image)} in the image")
    return diff


def _set_parent_death_signal() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: run-local gets SIGTERM if we die


class Run:
    """`make run` (scripts/run-local, attached): its stack stays up until stop()."""

    def __init__(self, run_dir: Path, build_dir: Path, log_path: Path):
        self.dir = run_dir
        self.lines: list[str] = []
        self.log_file = open(log_path, "w")
        self.proc = subprocess.Popen(
            [str(REPO / "scripts/run-local"), str(run_dir), str(build_dir)], cwd=REPO,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log_file, text=True,
            preexec_fn=_set_parent_death_signal)

    def summary(self) -> str | None:
        """make run's output up to its summary's end; None when it ended without one."""
        for line in self.proc.stdout:
            self.lines.append(line)
            self.log_file.write(line)
            self.log_file.flush()
            if "The stack stays up until Ctrl-C" in line:
                return "".join(self.lines)
        self.proc.wait()
        return None

    def env(self) -> dict[str, str]:
        return parse_env((self.dir / "stack.env").read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # make run's Ctrl-C: it stops its stack
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                subprocess.run([str(REPO / "scripts/stack"), "stop", str(self.dir)],
                               capture_output=True)
        self.log_file.close()


# ---------------------------------------------------------------- checks

class Checks:
    def __init__(self):
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok, detail: str) -> bool:
        ok = bool(ok)
        self.results.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok

    @property
    def failed(self) -> bool:
        return any(not ok for _, ok, _ in self.results)


def http_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read().decode()
    except OSError:
        return ""


def metric_sum(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def compose_healthchecks() -> dict[str, list[str]]:
    """service -> the `test` of its healthcheck in docker-compose.yml (CMD form)."""
    import yaml  # python3-yaml, scripts/setup
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return {name: compose["services"][name]["healthcheck"]["test"] for name in SERVICES}


def stack_cmd(*args: str) -> subprocess.CompletedProcess:
    """scripts/stack ARGS; its output is also appended to DIR/logs/image-test.log (DIR: the
    run directory, args[1])."""
    proc = subprocess.run([str(REPO / "scripts/stack"), *args], capture_output=True, text=True,
                          timeout=300)
    with open(Path(args[1]) / "logs" / "image-test.log", "a") as out:
        out.write(f"$ scripts/stack {' '.join(args)}  (exit {proc.returncode})\n"
                  f"{proc.stderr}{proc.stdout}")
    return proc


def pid_of(run_dir: Path, name: str) -> int | None:
    try:
        return int((run_dir / f"{name}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def started_lines(run_dir: Path, name: str) -> list[dict]:
    out = []
    for line in (run_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def check_drain(checks: Checks, where: str, run_dir: Path, engine: list[str] | None,
                run_id: str) -> None:
    """SIGTERM to each service: it drains and stops cleanly, and restarted it reads nothing
    again."""
    for name in SERVICES:
        pid = pid_of(run_dir, name)
        container = container_name(run_id, pid) if pid is not None else ""
        before = len(started_lines(run_dir, name))
        stopped = stack_cmd("stop-service", str(run_dir), name)
        records = started_lines(run_dir, name)[before:]
        msgs = [r.get("msg") for r in records]
        clean = "draining" in msgs and any(r.get("msg") == "stopped" and r.get("signal") == 15
                                           for r in records) and "stopped on error" not in msgs
        detail = f"log after SIGTERM: {msgs}"
        if engine is not None and pid is not None:
            inspect = subprocess.run([*engine, "inspect", "--format", "{{.State.ExitCode}}",
                                      container], capture_output=True, text=True)
            code = inspect.stdout.strip()
            clean = clean and code == "0"
            detail += f", container exit status {code or inspect.stderr.strip()}"
        checks.check(f"drain {where} {name}", stopped.returncode == 0 and clean, detail)
        restarted = stack_cmd("start-service", str(run_dir), name)
        errors = [line for line in restarted.stderr.splitlines() if "error" in line.lower()]
        if not checks.check(f"restart {where} {name}", restarted.returncode == 0,
                            " ".join((errors or restarted.stderr.strip().splitlines())[-1:])):
            continue
        url = parse_env(restarted.stdout)[{"enricher": "ENRICHER_METRICS",
                                           "alert-evaluator": "EVALUATOR_METRICS",
                                           "loki-pusher": "PUSHER_METRICS"}[name]]
        time.sleep(5)  # long enough to read what an uncommitted offset would give again
        text = http_text(url)
        lag = metric_sum(text, "ingestwatch_consumer_lag_records")
        if name == "alert-evaluator":
            # It reads its input back at every start, by design (docs/ALERTING.md): what its
            # committed position and its alert history keep it from is writing again.
            again = metric_sum(text, "ingestwatch_records_out_total")
            what = "alert events written again"
        else:
            again = metric_sum(text, "ingestwatch_records_in_total")
            what = "records read again"
        checks.check(f"offsets committed {where} {name}", text and again == 0 and lag == 0,
                     f"restarted: {again:.0f} {what}, lag {lag:.0f}")


def check_health(checks: Checks, run_dir: Path, engine: list[str], run_id: str) -> None:
    env = parse_env((run_dir / "stack.env").read_text())
    keys = {"enricher": "ENRICHER_METRICS", "alert-evaluator": "EVALUATOR_METRICS",
            "loki-pusher": "PUSHER_METRICS"}
    for name, test in compose_healthchecks().items():
        port = re.search(r":(\d+)/", env[keys[name]]).group(1)
        if not checks.check(f"healthcheck {name} is CMD", test[:1] == ["CMD"], str(test)):
            continue
        argv = [re.sub(r"127\.0\.0\.1:\d+/", f"127.0.0.1:{port}/", w) for w in test[1:]]
        container = container_name(run_id, pid_of(run_dir, name) or 0)
        good = subprocess.run([*engine, "exec", container, *argv], capture_output=True,
                              text=True, timeout=60)
        closed = [re.sub(r"127\.0\.0\.1:\d+/", "127.0.0.1:1/", w) for w in argv]
        bad = subprocess.run([*engine, "exec", container, *closed], capture_output=True,
                             text=True, timeout=60)
        checks.check(f"healthcheck {name}", good.returncode == 0 and bad.returncode != 0,
                     f"{' '.join(argv)}: exit {good.returncode} {good.stderr.strip()}; on a "
                     f"closed port: exit {bad.returncode}")


def check_image(checks: Checks, engine: list[str], image: str, run_id: str) -> str:
    """The image's user, file system, capabilities and revision label; returns the label."""
    inspect = subprocess.run([*engine, "image", "inspect", image], capture_output=True,
                             text=True)
    if not checks.check("image", inspect.returncode == 0, f"{image} ({inspect.stderr.strip()}"
                        " - make image builds it)" if inspect.returncode else image):
        return ""
    config = json.loads(inspect.stdout)[0]
    config = config.get("Config") or config.get("config") or {}
    revision = (config.get("Labels") or {}).get("org.opencontainers.image.revision", "")
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO,
                          capture_output=True, text=True).stdout.strip()
    checks.check("image revision", revision == head,
                 f"label {revision!r}, HEAD {head!r} (make image again after a commit)")
    # The root's mount options ("ro,..."): uid 10001 could not write there anyway.
    script = ("id -u; id -g; grep CapEff /proc/self/status; "
              "grep -E '^[^ ]+ / ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1 | "
              "sed 's/^/root-/'; touch /tmp/x && echo tmp-writable")
    run = subprocess.run([*engine, "run", "--rm", "--label", f"{LABEL}={run_id}", *SECURITY,
                          *HOST, image, "sh", "-c", script],
                         capture_output=True, text=True, timeout=120)
    out = run.stdout.split()
    checks.check("image user", out[:2] == ["10001", "10001"], f"uid, gid: {out[:2]}")
    checks.check("image capabilities", "CapEff:" in out and
                 out[out.index("CapEff:") + 1] == "0000000000000000", run.stdout.strip()
                 .replace("\n", "; "))
    checks.check("image file system", "root-ro" in out and "tmp-writable" in out,
                 "root read-only, /tmp writable" if run.returncode == 0 else run.stderr)
    return revision


def check_configs(checks: Checks, build: Path) -> None:
    binaries = [f"--binary={name}={build / path}" for name, path in BINARIES.items()
                if name != "dlq"]
    tests = REPO / "deploy/tests"
    runs = [("compose configurations", [str(tests / "check_compose.py"), "configs",
                                        "--promtool", "promtool", *binaries])]
    for values in HELM_VALUES:
        extra = ["--values", str(REPO / "deploy/helm/ingestwatch" / values)] if values else []
        runs.append((f"chart ConfigMaps ({values or 'values.yaml'})",
                     [str(tests / "check_helm.py"), "template", *extra, *binaries]))
    for what, argv in runs:
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              timeout=900)
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        failures = [line for line in lines if "FAIL" in line or "check-config" in line]
        checks.check(f"--check-config in the image: {what}", proc.returncode == 0,
                     f"{time.monotonic() - t0:.0f} s; " + ("; ".join(failures[-3:]) or
                                                           (lines[-1] if lines else "")))


def check_build_info(checks: Checks, env: dict[str, str], revision: str) -> None:
    for key in ("ENRICHER_METRICS", "EVALUATOR_METRICS", "PUSHER_METRICS"):
        commits = re.findall(r'ingestwatch_build_info\{[^}]*commit="([^"]*)"', http_text(env[key]))
        checks.check(f"build_info {key}", commits and commits[0] == revision and revision,
                     f"commit {commits[:1]}, image revision {revision!r}")


# ---------------------------------------------------------------- main

def cleanup_containers(engine: list[str], run_id: str) -> None:
    names = subprocess.run([*engine, "ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}"],
                           capture_output=True, text=True).stdout.split()
    if names:
        subprocess.run([*engine, "rm", "-f", "-t", "0", *names], capture_output=True)


def stale_runs(labels: list[str], alive) -> list[str]:
    """The run ids among `podman ps --format {{.Labels}}`-style LABEL values whose image test
    (the pid the id is) is gone: what a killed run left (its containers are stopped, its
    stack's SIGTERM reached them, but not removed)."""
    return sorted({run for run in labels if run.isdigit() and not alive(int(run))})


def cleanup_stale(engine: list[str]) -> None:
    listed = subprocess.run([*engine, "ps", "-a", "--filter", f"label={LABEL}", "--format",
                             f'{{{{index .Labels "{LABEL}"}}}}'], capture_output=True, text=True)
    for run in stale_runs(listed.stdout.split(), lambda pid: os.path.exists(f"/proc/{pid}")):
        log(f"removing the containers a killed run ({run}) left")
        cleanup_containers(engine, run)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["exec"]:
        return cmd_exec(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="ingestwatch:dev")
    parser.add_argument("--build-dir", type=Path, default=REPO / "build")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    t_start = time.monotonic()
    engine_out = subprocess.run([str(REPO / "scripts/image-build"), "--print-engine"],
                                capture_output=True, text=True)
    if engine_out.returncode != 0:
        log(engine_out.stderr.strip())
        return 1
    engine = shlex.split(engine_out.stdout.strip())
    build = args.build_dir.resolve()
    for name, path in BINARIES.items():
        if not os.access(build / path, os.X_OK):
            log(f"{build / path} is not built (make build): the host's run is the reference")
            return 1
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ingestwatch-image-test-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    run_id = str(os.getpid())
    stage = work / "stage"
    stage.mkdir(exist_ok=True)
    image_build = work / "image-build"
    write_stand_ins(image_build, engine, args.image, run_id, stage)
    runs: list[Run] = []

    def stop_everything() -> None:
        for r in runs:
            r.stop()
        cleanup_containers(engine, run_id)

    cleanup_stale(engine)
    atexit.register(stop_everything)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    log(f"{args.image} with {' '.join(engine)}; work directory {work}")
    checks = Checks()
    revision = check_image(checks, engine, args.image, run_id)
    if checks.failed and not revision:
        return 1
    check_configs(checks, image_build)

    summaries = {}
    for where, build_dir in (("host", build), ("image", image_build)):
        t0 = time.monotonic()
        log(f"make run with the {where}'s binaries (log: {work / where}.log)")
        run = Run(work / f"run-{where}", build_dir, work / f"{where}.log")
        runs.append(run)
        summary = run.summary()
        if not checks.check(f"make run ({where})", summary is not None,
                            f"{time.monotonic() - t0:.0f} s to its summary" if summary else
                            f"ended without a summary, see {work / where}.log"):
            break
        summaries[where] = comparable(summary)
        if where == "image":
            env = run.env()
            check_build_info(checks, env, revision)
            check_health(checks, run.dir, engine, run_id)
        check_drain(checks, where, run.dir, engine if where == "image" else None, run_id)
        run.stop()
    if len(summaries) == 2:
        diff = differences(summaries["host"], summaries["image"])
        checks.check("same counts as make run", summaries["host"] and not diff,
                     f"{len(summaries['host'])} summary lines equal" if not diff else
                     "\n".join(diff))
        print("\n".join(summaries["image"]))
    stop_everything()
    failed = [name for name, ok, _ in checks.results if not ok]
    log(f"{len(checks.results) - len(failed)} of {len(checks.results)} checks passed in "
        f"{time.monotonic() - t_start:.0f} s" + (f"; failed: {', '.join(failed)}" if failed
                                                  else ""))
    if not failed and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif failed:
        log(f"logs in {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
