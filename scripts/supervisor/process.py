"""Process machinery shared by scripts/stack and scripts/kafka-local.

One implementation of each mechanism:
- a process is named for good by its pid and its start time (proc_start); a pid file names a
  process of ours only while that process is alive and carries our mark (an environment entry
  such as IW_STACK_DIR=DIR, or a command line), so a reused pid is never taken for ours;
- spawn() starts a process detached: its own session (a Ctrl-C in the terminal does not reach
  it), stdin from /dev/null, output appended to a log, no descriptor of ours but 0-2 (a lock, a
  caller's pipe), default SIGINT/SIGTERM/SIGHUP, and its pid file written by the child itself
  before it execs, so the file never holds a wrapper's pid and exists as soon as the process
  does;
- FileLock: one start or stop at a time per directory (flock, released when the holder dies);
- watch(): the watchdog loop, until an owner is gone or a TTL expires;
- terminate(): SIGTERM, SIGKILL for what is still there after a grace;
- free_ports(), http_get(): loopback helpers.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Mapping


class Fatal(Exception):
    """An error a command reports as "PREFIX: error: MESSAGE" before exiting 1."""


class Usage(Exception):
    """-h/--help inside a command's options: the usage on stdout, exit 0."""


def require_numbers(**options: str | None) -> None:
    """Fatal "bad --NAME: VALUE" for each option that is not None and not a non-negative
    integer (an empty value is bad: `--timeout ""`)."""
    for name, value in options.items():
        if value is not None and not re.fullmatch(r"[0-9]+", value):
            raise Fatal(f"bad --{name.replace('_', '-')}: {value}")


Command = Callable[[list[str]], int]


def run_command_line(argv: list[str], usage: str, commands: Mapping[str, Command],
                     log: Log) -> int:
    """The command line of scripts/stack and scripts/kafka-local: COMMAND ARGS..., the usage on
    -h/--help (exit 0) or without a command (stderr, exit 2), Fatal as "error:" and exit 1,
    Ctrl-C as exit 130."""
    usage = usage.strip("\n") + "\n"
    if not argv:
        sys.stderr.write(usage)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd in ("-h", "--help", "help"):
        sys.stdout.write(usage)
        return 0
    try:
        if cmd not in commands:
            raise Fatal(f"unknown command: {cmd} (see --help)")
        return commands[cmd](args)
    except Usage:
        sys.stdout.write(usage)
        return 0
    except Fatal as e:
        log.error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived while interruptible() handlers were installed."""


TERMINATING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def interruptible() -> None:
    """From now on SIGINT, SIGTERM and SIGHUP raise Interrupted (a failed start cleans up)."""
    for sig in TERMINATING_SIGNALS:
        signal.signal(sig, _raise_interrupted)


def set_signals(handler) -> None:
    """SIGINT, SIGTERM and SIGHUP to `handler` (signal.SIG_DFL, signal.SIG_IGN, a function)."""
    for sig in TERMINATING_SIGNALS:
        signal.signal(sig, handler)


class Log:
    """Progress and errors on stderr, one "PREFIX: text" line each; quiet=True drops them."""

    def __init__(self, prefix: str, quiet: bool = False):
        self.prefix = prefix
        self.quiet = quiet

    def __call__(self, *parts: object) -> None:
        if self.quiet:
            return
        try:
            print(f"{self.prefix}: {' '.join(str(p) for p in parts)}", file=sys.stderr,
                  flush=True)
        except (OSError, ValueError):
            pass  # stderr closed: progress is not worth failing for

    def error(self, message: str) -> None:
        self(f"error: {message}")

    def quieter(self) -> "Log":
        return Log(self.prefix, quiet=True)


def timestamp() -> str:
    """Local time as `date '+%F %T'` prints it."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- processes

def proc_start(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie process, None otherwise: with
    the pid, it names one process for good."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ...": comm may hold spaces and parentheses; the last ") " ends it.
    fields = stat[stat.rfind(b") ") + 2:].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])  # field 22 of /proc/PID/stat


def alive(pid: int | None) -> bool:
    return pid is not None and proc_start(pid) is not None


def environ(pid: int) -> list[bytes]:
    """The environment entries of a process ([] when unreadable)."""
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def env_value(pid: int, key: str) -> str | None:
    """The last value of KEY in a process's environment, None without one."""
    prefix = key.encode() + b"="
    found = None
    for entry in environ(pid):
        if entry.startswith(prefix):
            found = entry[len(prefix):].decode(errors="replace")
    return found


def has_mark(pid: int, key: str, value: str) -> bool:
    """The process carries KEY=VALUE in its environment (exactly that entry)."""
    return f"{key}={value}".encode() in environ(pid)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]]


def read_pidfile(path: Path | str) -> int | None:
    """The pid on the first line of a pid file, None when absent or not a number."""
    try:
        with open(path) as f:
            line = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(line) if re.fullmatch(r"[0-9]+", line) else None


def write_pidfile(path: Path | str, pid: int) -> None:
    """Written aside, then renamed: a reader never sees half a pid."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def remove(*paths: Path | str) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def pid_from_file(path: Path | str, ours: Callable[[int], bool]) -> int | None:
    """The pid in a pid file if that process is alive and ours(pid) says it is ours."""
    pid = read_pidfile(path)
    if pid is None or not alive(pid) or not ours(pid):
        return None
    return pid


def send_signal(pid: int, sig: int, ours: Callable[[int], bool] | None = None) -> bool:
    """Sends `sig` to pid if it is (still) ours. Through a pidfd where the kernel has them: the
    check and the signal then concern the same process, even if the pid is reused in between.
    Returns whether the signal was sent."""
    fd = None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):
        fd = None  # no pidfd here: the plain kill below
    try:
        if ours is not None and not ours(pid):
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, sig)
        else:
            os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if fd is not None:
            os.close(fd)


def _child_setup(pidfile: str | None):
    """Runs in the child between fork and exec: default handlers for the signals a stop sends
    (an ignored SIGTERM would be inherited through the exec), then the pid file."""
    def setup():
        for sig in TERMINATING_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        if pidfile:
            tmp = pidfile + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            os.rename(tmp, pidfile)
    return setup


def spawn(argv: list[str], *, log: Path | str, pidfile: Path | str | None = None,
          env: Mapping[str, str] | None = None, mark: tuple[str, str] | None = None,
          cwd: Path | str | None = None, new_session: bool = True, append: bool = True,
          stderr_log: Path | str | None = None) -> subprocess.Popen:
    """Starts argv detached: stdin from /dev/null, stdout and stderr to `log` (appended unless
    append=False; stderr to `stderr_log` if given), only fds 0-2 inherited, in a session of its
    own unless new_session=False. `env` (default: ours) plus the mark KEY=VALUE is its
    environment. The pid file, if any, is written by the child just before the exec. Raises
    Fatal when the program cannot be started (and says why in the log)."""
    environment = dict(os.environ if env is None else env)
    if mark is not None:
        environment[mark[0]] = mark[1]
    mode = "ab" if append else "wb"
    if pidfile is not None:
        remove(pidfile)
    with open(log, mode) as out:
        err = open(stderr_log, mode) if stderr_log is not None else None
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=err if err is not None else subprocess.STDOUT, cwd=cwd, env=environment,
                close_fds=True, start_new_session=new_session,
                preexec_fn=_child_setup(str(pidfile) if pidfile is not None else None))
        except (OSError, subprocess.SubprocessError) as e:
            if pidfile is not None:
                remove(pidfile)
            out.write(f"{argv[0]}: {e}\n".encode())
            raise Fatal(f"{Path(argv[0]).name} did not start: {e} (see {log})") from e
        finally:
            if err is not None:
                err.close()


def wait_gone(pid: int, timeout: float, start: int | None = None, poll: float = 0.1) -> bool:
    """Waits up to `timeout` s for the process (pid, start time: by default the one running now)
    to be gone; returns whether it is. A killed process loses its environment and command line
    a moment before it is gone: only its start time still names it then."""
    if start is None:
        start = proc_start(pid)
    deadline = time.monotonic() + timeout
    while True:
        if start is None or proc_start(pid) != start:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def terminate(targets: Mapping[str, tuple[int, Callable[[int], bool]]], grace: float, *,
              kill_wait: float = 5.0,
              on_stopped: Callable[[str, int], None] | None = None,
              on_kill: Callable[[str, int], None] | None = None,
              poll: float = 0.1) -> list[str]:
    """Stops processes together: SIGTERM to each, SIGKILL to those still running `grace` s
    later, then waits up to `kill_wait` s for those. `targets` maps a name to (pid, ours):
    ours(pid) says whether the process is ours; one that is not (or not alive) is left alone.
    From then on the process is its pid and start time, so a pid reused meanwhile is never
    signalled. on_stopped(name, pid) for each one gone before its SIGKILL, on_kill(name, pid)
    before each SIGKILL. Returns the names still running at the end."""
    pending: dict[str, tuple[int, int]] = {}
    for name, (pid, ours) in targets.items():
        start = proc_start(pid)
        if start is None:
            continue
        if send_signal(pid, signal.SIGTERM,
                       lambda p, start=start, ours=ours: proc_start(p) == start and ours(p)):
            pending[name] = (pid, start)

    def sweep(report: bool) -> None:
        for name, (pid, start) in list(pending.items()):
            if proc_start(pid) != start:
                if report and on_stopped is not None:
                    on_stopped(name, pid)
                del pending[name]

    deadline = time.monotonic() + grace
    while pending:
        sweep(report=True)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    for name, (pid, start) in pending.items():
        if on_kill is not None:
            on_kill(name, pid)
        send_signal(pid, signal.SIGKILL, lambda p, start=start: proc_start(p) == start)
    deadline = time.monotonic() + kill_wait
    while pending:
        sweep(report=False)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return list(pending)


def watch(owner: int | None = None, ttl: float = 0, subject: int | None = None,
          poll: float = 1.0, start_of: Callable[[int], int | None] = proc_start) -> str | None:
    """The watchdog loop. Returns why the watched processes must stop: "owner pid N is gone"
    once the owner has exited (or its pid names another process: the start time changed; an
    owner already gone counts at once), "ttl of Ns expired" once `ttl` s (0: none) have passed.
    Returns None without a reason when `subject` (a pid) exits first. A signal handler that
    raises ends the wait at once."""
    owner_start = start_of(owner) if owner is not None else None
    subject_start = start_of(subject) if subject is not None else None
    if subject is not None and subject_start is None:
        return None
    deadline = time.monotonic() + ttl
    while True:
        if subject is not None and start_of(subject) != subject_start:
            return None
        if owner is not None and (owner_start is None or start_of(owner) != owner_start):
            return f"owner pid {owner} is gone"
        if ttl > 0 and time.monotonic() >= deadline:
            return f"ttl of {ttl:g}s expired"
        time.sleep(poll)


# ---------------------------------------------------------------- locks

class FileLock:
    """An exclusive flock on a file (created), held until release() or the holder's death. Its
    descriptor is close-on-exec, and spawn() passes on no descriptor anyway, so a detached child
    never holds it."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        if self.fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *_exc) -> None:
        self.release()


def dir_lock(directory: Path | str) -> FileLock:
    """The lock of a state directory, DIR/.lock: one start or stop at a time per DIR."""
    return FileLock(Path(directory) / ".lock")


# ---------------------------------------------------------------- loopback, HTTP

def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 now (bound together, then let go: a port can
    be taken before its user binds it; callers pick again when that happens)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# Loopback only: never through a proxy the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET; status 0 without an answer (refused, timeout, bad URL)."""
    return _http(url, timeout)


def http_post(url: str, body: bytes, content_type: str,
              timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a POST; status 0 without an answer."""
    return _http(urllib.request.Request(url, data=body, method="POST",
                                        headers={"Content-Type": content_type}), timeout)


def _http(request, timeout: float) -> tuple[int, bytes]:
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except OSError:
            body = b""
        return e.code, body
    except (OSError, ValueError, urllib.error.URLError):
        return 0, b""


def tcp_connects(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path | str, lines: int) -> str:
    """The last lines of a text file ("" when unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])


def show_log(log: Log, path: Path | str, lines: int) -> None:
    """The end of a log on stderr, between two marker lines (nothing when there is no log)."""
    if not Path(path).is_file():
        return
    log(f"---- last lines of {path} ----")
    text = tail(path, lines)
    try:
        sys.stderr.write(text if not text or text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    log("----")


def which(program: str) -> str | None:
    """Like `command -v`: the path of an executable (a name with a slash is checked as is)."""
    if "/" in program:
        return program if os.access(program, os.X_OK) and os.path.isfile(program) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_quiet(argv: Iterable[str], **kwargs) -> int:
    """Runs a command, its return code (127 when it cannot be started)."""
    try:
        return subprocess.run(list(argv), **kwargs).returncode
    except (OSError, subprocess.SubprocessError):
        return 127
