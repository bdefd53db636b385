"""What the supervisor tests share: temp directories, fake processes that stop by themselves
(each sleeps at most a minute), the two commands run as a caller runs them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import warnings
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))

from supervisor import process  # noqa: E402

LIFETIME = 60  # seconds: no fake process outlives a test run by more
# A fake process: sleeps, optionally ignoring SIGTERM; touches READY (argv[1]) once its handlers
# are set; any further arguments only make its command line look like something else.
FAKE = """
import signal, sys, time
if sys.argv[2] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
time.sleep(float(sys.argv[3]))
"""


def wait_until(predicate, timeout: float = 10.0, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


class SupervisorTestCase(unittest.TestCase):
    """A temp directory per test; every process a test starts is killed at its end."""

    def setUp(self):
        # Watchdogs and other detached processes outlive the Popen object that started them on
        # purpose. (Here, not at import: the test runner resets the filters before running.)
        warnings.filterwarnings("ignore", message=r"subprocess \d+ is still running",
                                category=ResourceWarning)
        self.tmp = Path(tempfile.mkdtemp(prefix="iw-supervisor-test-"))
        self.procs: list[subprocess.Popen] = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.kill()
                except OSError:
                    pass
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fake(self, *extra: str, ignore_term: bool = False, mark: tuple[str, str] | None = None,
             env: dict | None = None, pidfile: Path | None = None, lifetime: float = LIFETIME,
             session: bool = True) -> int:
        """Starts a fake process (detached as the supervisor starts its processes) and waits
        until it has set its signal handlers; returns its pid."""
        ready = self.tmp / f"ready-{len(self.procs)}-{time.monotonic_ns()}"
        proc = process.spawn(
            [sys.executable, "-c", FAKE, str(ready), "ignore-term" if ignore_term else "-",
             str(lifetime), *extra],
            log=self.tmp / "fakes.log", pidfile=pidfile, env=env, mark=mark,
            new_session=session)
        self.procs.append(proc)
        self.assertTrue(wait_until(ready.exists), "a fake process did not start")
        return proc.pid

    def child(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, **kwargs)
        self.procs.append(proc)
        return proc

    def reap(self, pid: int) -> None:
        """Waits for one of our fake processes to exit (so that it leaves no zombie)."""
        for proc in self.procs:
            if proc.pid == pid:
                proc.wait(timeout=30)

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        self.reap(pid)

    def path_without(self, *programs_kept: str) -> str:
        """A PATH holding only python3 (the scripts' interpreter) and PROGRAMS_KEPT."""
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir(exist_ok=True)
        for name, target in (("python3", sys.executable),
                             *((p, shutil.which(p)) for p in programs_kept)):
            if target and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(target)
        return str(bin_dir)

    def run_script(self, name: str, *args: str, env: dict | None = None, timeout: float = 60,
                   **kwargs) -> subprocess.CompletedProcess:
        """scripts/NAME ARGS..., as a caller runs it (its own interpreter from the shebang)."""
        environment = dict(os.environ)
        environment["INGESTWATCH_CACHE"] = str(self.tmp / "cache")  # never the real cache
        environment.update(env or {})
        return subprocess.run([str(SCRIPTS / name), *args], env=environment, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              **kwargs)
