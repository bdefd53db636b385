"""scripts/kafka-local: a real single-node Apache Kafka broker (KRaft) without Docker, for tests
and local runs. The usage is scripts/kafka-local's docstring (--help)."""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import process
from .process import Fatal, Log, Usage

KAFKA_VERSION = "3.9.1"  # keep in sync with scripts/kafka/pom.xml
SCRIPTS = Path(__file__).resolve().parent.parent
SCRIPT = SCRIPTS / "kafka-local"
POM = SCRIPTS / "kafka" / "pom.xml"
STOP_GRACE_SECONDS = 30

LOG = Log("kafka-local")

LOG4J_TEXT = """\
# Written by scripts/kafka-local: quiet console logging (-> DIR/kafka.log).
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Keep the one "Kafka Server started" line.
log4j.logger.kafka.server.KafkaRaftServer=INFO
# Benign warning on every shutdown.
log4j.logger.org.apache.kafka.clients.NetworkClient=ERROR
"""


class Config:
    """Where things are, from the environment: INGESTWATCH_CACHE, KAFKA_LOCAL_DIR, JAVA_HOME,
    KAFKA_LOCAL_CDS, KAFKA_LOCAL_JVM_OPTS."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        cache_root = env.get("INGESTWATCH_CACHE") or os.path.join(
            env.get("HOME", os.path.expanduser("~")), ".cache/ingestwatch")
        self.cache = Path(cache_root) / f"kafka-{KAFKA_VERSION}"
        self.libs = self.cache / "libs"
        self.log4j = self.cache / "log4j.properties"
        self.marker = self.cache / ".fetch-complete"
        self.cds_archive = self.cache / "kafka-cds.jsa"
        self.cds_key_file = self.cache / "kafka-cds.key"
        self.default_dir = env.get("KAFKA_LOCAL_DIR") or "/tmp/ingestwatch-kafka"
        java_home = env.get("JAVA_HOME", "")
        self.java = f"{java_home}/bin/java" if java_home else "java"
        self.cds_enabled = env.get("KAFKA_LOCAL_CDS", "1") != "0"
        self.jvm_opts = env.get("KAFKA_LOCAL_JVM_OPTS", "").split()

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"


def _read_stripped(path: Path) -> str | None:
    """A file's text without its trailing newlines, as $(<file) reads it; None when absent."""
    try:
        return path.read_text().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------- processes

def broker_ours(directory: Path, pid: int) -> bool:
    """The process is the broker of DIR: its command line runs kafka.Kafka on
    DIR/server.properties."""
    line = " ".join(process.cmdline(pid))
    return "kafka.Kafka" in line and f"{directory}/server.properties" in line


def broker_pid(directory: Path) -> int | None:
    """The pid of the broker running in DIR (checked against its command line)."""
    return process.pid_from_file(directory / "kafka.pid", lambda pid: broker_ours(directory, pid))


def watchdog_ours(pid: int) -> bool:
    return "_watchdog" in process.cmdline(pid)


def watchdog_pid(directory: Path) -> int | None:
    return process.pid_from_file(directory / "watchdog.pid", watchdog_ours)


def broker_answers(addr: str) -> bool:
    """The broker at host:port answers a metadata request (kcat), or at least accepts a TCP
    connection (without kcat)."""
    if process.which("kcat"):
        try:
            out = subprocess.run(["kcat", "-b", addr, "-L", "-m", "2"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return b" broker 1 at " in out
    host, _, port = addr.rpartition(":")
    return port.isdigit() and process.tcp_connects(host, int(port))


# ---------------------------------------------------------------- fetch

def fetch_fingerprint() -> str:
    """Keyed on the version and the pom (the same bytes `sha256sum` saw in the bash version, so
    an existing cache stays valid)."""
    return hashlib.sha256(f"{KAFKA_VERSION}\n".encode() + POM.read_bytes()).hexdigest()


def fetch_done(cfg: Config, fingerprint: str) -> bool:
    return cfg.libs.is_dir() and _read_stripped(cfg.marker) == fingerprint


def log4j_current(cfg: Config) -> bool:
    return _read_stripped(cfg.log4j) == LOG4J_TEXT.rstrip("\n")


def cds_key(cfg: Config) -> str:
    """The archive's key: the fetch marker, the JVM binary and libjvm.so (path, size, mtime)."""
    data = b""
    try:
        data += cfg.marker.read_bytes()
    except OSError:
        pass
    found = process.which(cfg.java)
    real = os.path.realpath(found) if found else ""
    data += f"{real}\n".encode()
    lib = (real[:-len("/bin/java")] if real.endswith("/bin/java") else real) + \
        "/lib/server/libjvm.so"
    # `stat -c '%s %Y'` of each (not following a link), libjvm.so only if it is a file.
    for path in (real, lib):
        if not path or (path == lib and not os.path.isfile(lib)):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        data += f"{st.st_size} {int(st.st_mtime)}\n".encode()
    return hashlib.sha256(data).hexdigest()


def cds_current(cfg: Config) -> bool:
    """The key file matches (the archive may be absent if recording failed)."""
    return _read_stripped(cfg.cds_key_file) == cds_key(cfg)


def cds_usable(cfg: Config) -> bool:
    return (cfg.cds_enabled and cfg.cds_archive.is_file() and cfg.cds_archive.stat().st_size > 0
            and cds_current(cfg))


def cds_flags(cfg: Config) -> list[str]:
    return ["-Xshare:auto", f"-XX:SharedArchiveFile={cfg.cds_archive}"] if cds_usable(cfg) \
        else []


def _atomic_write(path: Path, text: str) -> None:
    tmp = Path(f"{path}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def do_fetch(cfg: Config, log: Log = LOG) -> None:
    """The Kafka jars from Maven Central (scripts/kafka/pom.xml) into the cache, the log4j file
    and, the first time, the AppCDS archive. A quick no-op once all of that is current."""
    if not POM.is_file():
        raise Fatal(f"missing {POM}")
    fp = fetch_fingerprint()
    if fetch_done(cfg, fp) and log4j_current(cfg) and (not cfg.cds_enabled or cds_current(cfg)):
        return
    cfg.cache.mkdir(parents=True, exist_ok=True)
    with process.FileLock(cfg.cache / ".fetch.lock"):
        if not fetch_done(cfg, fp):
            if not process.which("mvn"):
                raise Fatal("mvn not found (needed once to fetch Kafka jars)")
            if not process.which(cfg.java):
                raise Fatal("java not found")
            log(f"fetching Kafka {KAFKA_VERSION} jars into {cfg.libs} (one-off)...")
            tmp = cfg.cache / f"libs.tmp.{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            mvn = subprocess.Popen(
                ["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
                 "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for raw in mvn.stdout:
                # (mvn -q still emits bare ANSI resets; strip them.)
                line = re.sub(rb"\x1b\[[0-9;]*m", b"", raw).rstrip(b"\n")
                if line:
                    sys.stderr.buffer.write(line + b"\n")
                    sys.stderr.flush()
            if mvn.wait() != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise Fatal("mvn dependency:copy-dependencies failed")
            for jar in (f"kafka_2.13-{KAFKA_VERSION}.jar", f"kafka-clients-{KAFKA_VERSION}.jar",
                        "reload4j-*.jar", "slf4j-reload4j-*.jar"):
                if not glob.glob(str(tmp / jar)):
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise Fatal(f"fetch incomplete: no {jar}")
            shutil.rmtree(cfg.libs, ignore_errors=True)
            process.remove(cfg.marker)
            os.replace(tmp, cfg.libs)
            _atomic_write(cfg.marker, f"{fp}\n")
            log(f"fetched {len(list(cfg.libs.rglob('*.jar')))} jars")
        if not log4j_current(cfg):
            _atomic_write(cfg.log4j, LOG4J_TEXT)
        if cfg.cds_enabled and not cds_current(cfg):
            build_cds_archive(cfg, log)


# ---------------------------------------------------------------- AppCDS
# A dynamic AppCDS archive of the classes a broker loads roughly halves JVM start-up (broker
# ~2.0 s -> ~1.0 s, storage format ~0.6 s -> ~0.45 s). It is recorded once by a training broker
# run during fetch and keyed on the jar set and the JVM binary; an unusable archive is silently
# ignored by the JVM (-Xshare:auto). KAFKA_LOCAL_CDS=0 disables it.

def _human_size(size: int) -> str:
    """About as `du -h` prints a size."""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if unit == "":
                return f"{int(value)}"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return str(size)


def build_cds_archive(cfg: Config, log: Log) -> None:
    """Records the archive with one throw-away broker (called with the fetch lock held)."""
    directory = cfg.cache / f"cds-train.{os.getpid()}"
    tmp = Path(f"{cfg.cds_archive}.tmp.{os.getpid()}")
    log("recording AppCDS archive for faster broker start-up (one-off)...")
    process.remove(cfg.cds_archive, cfg.cds_key_file, tmp)
    shutil.rmtree(directory, ignore_errors=True)
    ok = False
    with process.dir_lock(directory):
        addr = fresh_start(cfg, directory, 512, 90, os.getpid(), 300, [],
                           extra_jvm=[f"-XX:ArchiveClassesAtExit={tmp}", "-Xlog:cds*=off"],
                           log=log)
        if addr is not None:
            if process.which("kcat"):  # exercise produce, fetch and consumer-group code
                for argv, stdin in (
                        (["kcat", "-b", addr, "-t", "warmup", "-P"], b"warmup\n"),
                        (["kcat", "-b", addr, "-t", "warmup", "-C", "-c", "1", "-e"], None),
                        (["kcat", "-b", addr, "-G", "warmup-group", "warmup", "-c", "1", "-e",
                          "-o", "beginning"], None),
                        (["kcat", "-b", addr, "-L"], None)):
                    try:
                        subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, timeout=60,
                                       stdin=None if stdin is not None else subprocess.DEVNULL)
                    except (OSError, subprocess.SubprocessError):
                        pass
            stop_locked(directory, log=log.quieter())  # the JVM writes the archive on exit
            if tmp.is_file() and tmp.stat().st_size > 0:
                os.replace(tmp, cfg.cds_archive)
                ok = True
    shutil.rmtree(directory, ignore_errors=True)
    process.remove(tmp)
    # The key even on failure, so that a start does not retry every time.
    cfg.cds_key_file.write_text(cds_key(cfg) + "\n")
    if ok:
        log(f"AppCDS archive ready ({_human_size(cfg.cds_archive.stat().st_size)})")
    else:
        log("warning: could not record AppCDS archive; starting without it")


# ---------------------------------------------------------------- start

def new_cluster_id() -> str:
    """A Kafka Uuid: 16 random bytes, base64url, no padding (never the reserved zero or one
    Uuids, never a leading '-')."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-") and not re.fullmatch(r"A{21}[AQ]", cid):
            return cid


def heap_mb(heap: str) -> int:
    """512m, 1g, 65536k or a number of bytes, in MiB."""
    h = heap.lower()
    if h.endswith("g"):
        return int(h[:-1]) * 1024
    if h.endswith("m"):
        return int(h[:-1])
    if h.endswith("k"):
        return int(h[:-1]) // 1024
    return int(h) // 1048576


def server_properties(directory: Path, bport: int, cport: int, props: list[str]) -> str:
    text = f"""\
# Written by scripts/kafka-local start; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{bport},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{bport}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={directory}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
# Small footprint for tests.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=16777216
"""
    if props:
        text += "# --prop overrides\n" + "".join(f"{kv}\n" for kv in props)
    return text


def launch_broker(cfg: Config, directory: Path, mb: int, extra_jvm: list[str]) -> int:
    """Starts the JVM detached (log DIR/kafka.log, cwd DIR); DIR/kafka.pid is written by the
    process itself just before it execs java. Returns its pid."""
    jvm = [f"-Xmx{mb}m", f"-Xms{min(mb, 64)}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
           f"-Dlog4j.configuration=file:{cfg.log4j}", f"-Dkafka.logs.dir={directory}",
           *extra_jvm]
    proc = process.spawn(
        [cfg.java, *jvm, *cfg.jvm_opts, "-cp", cfg.classpath, "kafka.Kafka",
         f"{directory}/server.properties"],
        log=directory / "kafka.log", pidfile=directory / "kafka.pid", cwd=directory)
    return proc.pid


def start_watchdog(directory: Path, broker: int, owner: str, ttl: int) -> None:
    """Replaces DIR's watchdog with one for this broker, owner and TTL."""
    old = watchdog_pid(directory)
    if old is not None:
        process.send_signal(old, signal.SIGTERM, watchdog_ours)
    try:
        process.spawn([sys.executable, str(SCRIPT), "_watchdog", str(directory), str(broker),
                       owner, str(ttl)],
                      log=directory / "watchdog.log", pidfile=directory / "watchdog.pid")
    except Fatal as e:
        raise Fatal(f"watchdog did not start (see {directory}/watchdog.log)") from e


def wait_ready(directory: Path, pid: int, addr: str, timeout: float, log: Log = LOG) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive(pid):
            log(f"broker process {pid} exited")
            return False
        asked = time.monotonic()
        if broker_answers(addr):
            return True
        if time.monotonic() >= deadline:
            return False
        # kcat waits up to 2 s for an answer; a plain connect (or a quick refusal) does not.
        time.sleep(max(0.0, 0.2 - (time.monotonic() - asked)))


def fresh_start(cfg: Config, directory: Path, mb: int, timeout: float, owner: int | str | None,
                ttl: int, props: list[str], extra_jvm: list[str] = (),
                log: Log = LOG) -> str | None:
    """Formats DIR/data and launches a broker in DIR (locked, nothing running), then waits until
    it answers. Returns its address; on failure shows the log, cleans up and returns None."""
    cds = cds_flags(cfg)
    owner = "" if owner is None else str(owner)
    t0 = time.monotonic()
    for attempt in (1, 2, 3):
        bport, cport = process.free_ports(2)
        addr = f"127.0.0.1:{bport}"
        shutil.rmtree(directory / "data", ignore_errors=True)
        process.remove(directory / "bootstrap")
        (directory / "server.properties").write_text(
            server_properties(directory, bport, cport, props))
        klog = directory / "kafka.log"
        klog.write_text("")
        with open(klog, "ab") as out:
            rc = process.run_quiet(
                [cfg.java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", *cds,
                 "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{cfg.log4j}",
                 "-cp", cfg.classpath, "kafka.tools.StorageTool", "format",
                 "-t", new_cluster_id(), "-c", f"{directory}/server.properties"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if rc != 0:
            process.show_log(log, klog, 40)
            log.error(f"formatting {directory}/data failed")
            return None
        pid = launch_broker(cfg, directory, mb, [*cds, *extra_jvm])
        (directory / "bootstrap").write_text(addr + "\n")
        if owner or ttl != 0:
            start_watchdog(directory, pid, owner, ttl)
        if wait_ready(directory, pid, addr, timeout - (time.monotonic() - t0), log):
            log(f"broker up in {directory} (pid {pid}) at {addr} after "
                f"{int(time.monotonic() - t0)}s")
            return addr
        if not process.alive(pid) and "Address already in use" in klog.read_text(
                errors="replace"):
            log(f"port clash on attempt {attempt}, retrying with new ports")
            stop_locked(directory, log=log.quieter())
            continue
        break
    process.show_log(log, directory / "kafka.log", 40)
    stop_locked(directory, log=log)
    log.error(f"broker in {directory} did not come up within {timeout:g}s")
    return None


# ---------------------------------------------------------------- stop

def stop_locked(directory: Path, only: int | None = None, log: Log = LOG) -> None:
    """Stops DIR's watchdog, then its broker (SIGTERM, SIGKILL after 30 s), with DIR locked;
    removes DIR/data, the pid files and DIR/bootstrap. With `only`, only if the broker is that
    pid."""
    me = os.getpid()
    wpid = watchdog_pid(directory)
    if wpid is not None and wpid != me:
        wstart = process.proc_start(wpid)
        process.send_signal(wpid, signal.SIGTERM, watchdog_ours)
        process.wait_gone(wpid, 3.0, wstart)
    pid = broker_pid(directory)
    if pid is not None:
        if only is not None and pid != only:
            return
        log(f"stopping broker pid {pid} in {directory}")
        process.terminate(
            {"broker": (pid, lambda p: broker_ours(directory, p))}, STOP_GRACE_SECONDS,
            kill_wait=10.0,
            on_kill=lambda _n, _p: log(
                f"broker did not exit within {STOP_GRACE_SECONDS}s, sending SIGKILL"))
    shutil.rmtree(directory / "data", ignore_errors=True)
    process.remove(directory / "kafka.pid", directory / "bootstrap")
    if process.read_pidfile(directory / "watchdog.pid") != me:
        process.remove(directory / "watchdog.pid")


def stop(directory: Path, log: Log = LOG) -> None:
    """`stop --dir DIR`: nothing to do when DIR does not exist."""
    if not directory.is_dir():
        return
    with process.dir_lock(directory):
        stop_locked(directory, log=log)


def status(directory: Path) -> tuple[str, int]:
    """("running ADDR", 0), ("unresponsive ADDR", 2: alive, not answering) or ("stopped", 1)."""
    if directory.is_dir() and broker_pid(directory) is not None:
        addr = _read_stripped(directory / "bootstrap")
        if addr:
            if broker_answers(addr):
                return f"running {addr}", 0
            return f"unresponsive {addr}", 2
    return "stopped", 1


# ---------------------------------------------------------------- commands

def _absolute(path: str) -> Path:
    """As `readlink -m`: absolute, symbolic links resolved as far as they exist."""
    return Path(os.path.realpath(path))


def parse_dir_opt(cfg: Config, args: list[str]) -> Path:
    """[--dir DIR | --dir=DIR] for stop, status, bootstrap and crash."""
    directory = cfg.default_dir
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--dir":
            if i + 1 >= len(args):
                raise Fatal("--dir needs a value")
            directory = args[i + 1]
            i += 2
        elif arg.startswith("--dir="):
            directory = arg[len("--dir="):]
            i += 1
        elif arg in ("-h", "--help"):
            raise Usage()
        else:
            raise Fatal(f"unknown argument: {arg}")
    if not directory:
        raise Fatal("empty --dir")
    return _absolute(directory)


def _options(args: list[str], names: tuple[str, ...], allow_help: bool) -> dict[str, list[str]]:
    """--NAME VALUE options (each may repeat; the last wins unless the caller takes them all)."""
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in names:
            if i + 1 >= len(args):
                raise Fatal(f"{arg} needs a value")
            values.setdefault(arg, []).append(args[i + 1])
            i += 2
        elif allow_help and arg in ("-h", "--help"):
            raise Usage()
        else:
            raise Fatal(f"unknown argument: {arg}")
    return values


def _last(values: dict[str, list[str]], name: str, default: str | None) -> str | None:
    return values[name][-1] if name in values else default


def cmd_fetch(cfg: Config, args: list[str]) -> int:
    if args:
        raise Fatal("fetch takes no arguments")
    do_fetch(cfg)
    print(cfg.libs)
    return 0


def cmd_start(cfg: Config, args: list[str]) -> int:
    opts = _options(args, ("--dir", "--heap", "--owner-pid", "--ttl", "--timeout", "--prop"),
                    allow_help=True)
    dir_arg = _last(opts, "--dir", cfg.default_dir)
    heap = _last(opts, "--heap", "512m")
    owner = _last(opts, "--owner-pid", "")
    ttl = _last(opts, "--ttl", "")
    timeout = _last(opts, "--timeout", "90")
    props = opts.get("--prop", [])
    if not dir_arg:
        raise Fatal("empty --dir")
    if not re.fullmatch(r"[0-9]+[kKmMgG]?", heap):
        raise Fatal(f"bad --heap: {heap}")
    process.require_numbers(owner_pid=owner or None, ttl=ttl or None, timeout=timeout)
    for kv in props:
        if not re.fullmatch(r".+=.*", kv, re.S):
            raise Fatal(f"bad --prop (want KEY=VALUE): {kv}")
    if owner and not process.alive(int(owner)):
        raise Fatal(f"--owner-pid {owner} is not running")
    mb = heap_mb(heap)
    if mb < 64:
        raise Fatal("--heap must be at least 64m")

    do_fetch(cfg)
    directory = _absolute(dir_arg)
    with process.dir_lock(directory):
        pid = broker_pid(directory)
        if pid is not None:
            addr = _read_stripped(directory / "bootstrap") or ""
            if wait_ready(directory, pid, addr, int(timeout)):
                if owner or ttl:
                    start_watchdog(directory, pid, owner, int(ttl or 0))
                LOG(f"already running in {directory}")
                print(addr, flush=True)
                return 0
            process.show_log(LOG, directory / "kafka.log", 40)
            raise Fatal(f"broker pid {pid} in {directory} is alive but not answering on {addr}; "
                        f"run: {SCRIPT} stop --dir {directory}")
        # Leftovers of a crashed or killed run.
        stop_locked(directory, log=LOG.quieter())
        addr = fresh_start(cfg, directory, mb, int(timeout), owner, int(ttl or 0), props)
    if addr is None:
        return 1
    print(addr, flush=True)
    return 0


def cmd_stop(cfg: Config, args: list[str]) -> int:
    stop(parse_dir_opt(cfg, args))
    return 0


def cmd_crash(cfg: Config, args: list[str]) -> int:
    """SIGKILL, keeping data, ports and cluster id, as a machine or process crash would: fault
    tests need a broker that dies without cleaning up and comes back on the same address."""
    directory = parse_dir_opt(cfg, args)
    with process.dir_lock(directory):
        pid = broker_pid(directory)
        start = process.proc_start(pid) if pid is not None else None
        if pid is not None and start is not None:
            LOG(f"crashing broker pid {pid} in {directory} (SIGKILL, data kept)")
            process.send_signal(pid, signal.SIGKILL,
                                lambda p: process.proc_start(p) == start and broker_ours(
                                    directory, p))
            process.wait_gone(pid, 10.0, start)
        process.remove(directory / "kafka.pid")
    return 0


def cmd_restart(cfg: Config, args: list[str]) -> int:
    opts = _options(args, ("--dir", "--owner-pid", "--ttl", "--timeout"), allow_help=False)
    dir_arg = _last(opts, "--dir", cfg.default_dir)
    if not dir_arg:
        raise Fatal("empty --dir")
    directory = _absolute(dir_arg)
    owner = _last(opts, "--owner-pid", "")
    ttl = _last(opts, "--ttl", "")
    timeout = _last(opts, "--timeout", "90")
    process.require_numbers(owner_pid=owner or None, ttl=ttl or None, timeout=timeout)
    if not ((directory / "server.properties").is_file() and (directory / "data").is_dir()
            and (directory / "bootstrap").is_file()):
        raise Fatal(f"nothing to restart in {directory} (use start)")
    with process.dir_lock(directory):
        addr = _read_stripped(directory / "bootstrap") or ""
        pid = broker_pid(directory)
        if pid is None:
            pid = launch_broker(cfg, directory, heap_mb("512m"), cds_flags(cfg))
        if owner or ttl:
            start_watchdog(directory, pid, owner, int(ttl or 0))
        if not wait_ready(directory, pid, addr, int(timeout)):
            process.show_log(LOG, directory / "kafka.log", 40)
            raise Fatal(f"broker in {directory} did not come back within {timeout}s")
        LOG(f"broker restarted in {directory} (pid {pid}) at {addr}")
    print(addr, flush=True)
    return 0


def cmd_status(cfg: Config, args: list[str]) -> int:
    line, code = status(parse_dir_opt(cfg, args))
    print(line)
    return code


def cmd_bootstrap(cfg: Config, args: list[str]) -> int:
    directory = parse_dir_opt(cfg, args)
    if directory.is_dir() and broker_pid(directory) is not None:
        try:
            text = (directory / "bootstrap").read_text()
        except OSError:
            text = ""
        if text:
            sys.stdout.write(text)
            return 0
    raise Fatal(f"no broker running in {directory}")


def cmd_create_topics(cfg: Config, args: list[str]) -> int:
    """Each NAME:PARTITIONS with Kafka's own TopicCommand, one JVM per topic side by side
    (TopicCommand creates one topic per run), unless the topic exists."""
    if len(args) < 2 or not args[0]:
        raise Fatal("usage: create-topics BOOTSTRAP NAME:PARTITIONS...")
    bootstrap, specs = args[0], args[1:]
    do_fetch(cfg)
    jobs = []
    for spec in specs:
        name = spec.rpartition(":")[0] if ":" in spec else spec
        partitions = spec.rpartition(":")[2]
        jobs.append(subprocess.Popen(
            [cfg.java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{cfg.log4j}",
             "-cp", cfg.classpath, "org.apache.kafka.tools.TopicCommand",
             "--bootstrap-server", bootstrap, "--create", "--if-not-exists", "--topic", name,
             "--partitions", partitions, "--replication-factor", "1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
    return 1 if any(job.wait() != 0 for job in jobs) else 0


def cmd_watchdog(cfg: Config, args: list[str]) -> int:
    """Internal: _watchdog DIR BROKER_PID OWNER_PID|"" TTL_SECONDS (0: none). Stops the broker
    once its owner is gone or the TTL expired; exits with the broker."""
    directory, broker, owner, ttl = Path(args[0]), int(args[1]), args[2], int(args[3])
    me = os.getpid()
    process.set_signals(lambda *_: os._exit(0))  # replaced or stopped: nothing to clean
    try:
        if process.proc_start(broker) is None:
            return 0
        LOG(f"{process.timestamp()} watching broker {broker} (owner pid: {owner or 'none'}, "
            f"ttl: {ttl}s)")
        reason = process.watch(owner=int(owner) if owner else None, ttl=ttl, subject=broker)
        if reason is not None:
            LOG(f"{process.timestamp()} {reason}: stopping broker {broker}")
            with process.dir_lock(directory):
                stop_locked(directory, only=broker)
        LOG(f"{process.timestamp()} watchdog exiting")
    finally:
        if process.read_pidfile(directory / "watchdog.pid") == me:
            process.remove(directory / "watchdog.pid")
    return 0


COMMANDS = {
    "fetch": cmd_fetch, "start": cmd_start, "stop": cmd_stop, "status": cmd_status,
    "bootstrap": cmd_bootstrap, "create-topics": cmd_create_topics, "crash": cmd_crash,
    "restart": cmd_restart, "_watchdog": cmd_watchdog,
}


def main(argv: list[str], usage: str) -> int:
    cfg = Config()
    commands = {name: (lambda args, command=command: command(cfg, args))
                for name, command in COMMANDS.items()}
    return process.run_command_line(argv, usage, commands, LOG)
