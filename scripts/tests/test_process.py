#!/usr/bin/env python3
"""Unit tests of scripts/supervisor/process.py, the machinery scripts/stack and
scripts/kafka-local share: real processes, real signals, real locks."""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import SupervisorTestCase, wait_until  # noqa: E402

from supervisor import process  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def uptime_ticks() -> float:
    return float(Path("/proc/uptime").read_text().split()[0]) * CLK_TCK


class ProcStartTest(SupervisorTestCase):
    def test_start_time_of_a_live_process(self):
        pid = self.fake()
        start = process.proc_start(pid)
        self.assertIsNotNone(start)
        # Just started: its start time is about now (a misread field would not be).
        self.assertLess(abs(uptime_ticks() - start), 10 * CLK_TCK)
        self.assertEqual(process.proc_start(pid), start)

    def test_a_command_name_with_parentheses_and_spaces(self):
        # /proc/PID/stat holds "pid (comm) state ...": a comm of "x) y z" must not shift fields.
        link = self.tmp / "x) y z"
        link.symlink_to(sys.executable)
        ready = self.tmp / "ready"
        proc = self.child([str(link), "-c", f"open({str(ready)!r}, 'w').close(); "
                           "import time; time.sleep(60)"])
        self.assertTrue(wait_until(ready.exists))
        self.assertIn(b"(x) y z)", Path(f"/proc/{proc.pid}/stat").read_bytes())
        self.assertLess(abs(uptime_ticks() - process.proc_start(proc.pid)), 10 * CLK_TCK)

    def test_a_zombie_and_a_reaped_process_are_gone(self):
        proc = self.child(["true"])
        self.assertTrue(wait_until(lambda: b") Z " in Path(f"/proc/{proc.pid}/stat").read_bytes()))
        self.assertIsNone(process.proc_start(proc.pid))  # exited, not reaped yet: a zombie
        self.assertFalse(process.alive(proc.pid))
        proc.wait()
        self.assertIsNone(process.proc_start(proc.pid))
        self.assertIsNone(process.proc_start(0))
        self.assertFalse(process.alive(None))


class PidFileTest(SupervisorTestCase):
    def test_round_trip_and_garbage(self):
        path = self.tmp / "x.pid"
        self.assertIsNone(process.read_pidfile(path))
        process.write_pidfile(path, 1234)
        self.assertEqual(path.read_text(), "1234\n")
        self.assertEqual(process.read_pidfile(path), 1234)
        self.assertFalse(Path(f"{path}.tmp").exists())
        for garbage in ("", "12a\n", "-5\n", "1 2\n", "\n1\n"):
            path.write_text(garbage)
            self.assertIsNone(process.read_pidfile(path), garbage)

    def test_a_pid_file_names_a_process_only_while_it_is_ours(self):
        path = self.tmp / "x.pid"
        ours = self.fake(mark=("IW_TEST_MARK", str(self.tmp)))
        stranger = self.fake()  # alive, but without our mark: a reused pid, say
        marked = lambda pid: process.has_mark(pid, "IW_TEST_MARK", str(self.tmp))  # noqa: E731
        process.write_pidfile(path, ours)
        self.assertEqual(process.pid_from_file(path, marked), ours)
        process.write_pidfile(path, stranger)
        self.assertIsNone(process.pid_from_file(path, marked))
        self.kill(ours)
        process.write_pidfile(path, ours)
        self.assertIsNone(process.pid_from_file(path, marked))  # gone

    def test_the_mark_is_one_exact_entry(self):
        pid = self.fake(mark=("IW_TEST_MARK", f"{self.tmp}/a"))
        self.assertTrue(process.has_mark(pid, "IW_TEST_MARK", f"{self.tmp}/a"))
        self.assertFalse(process.has_mark(pid, "IW_TEST_MARK", str(self.tmp)))  # a prefix
        self.assertFalse(process.has_mark(pid, "IW_TEST_MARK", f"{self.tmp}/a/b"))
        self.assertEqual(process.env_value(pid, "IW_TEST_MARK"), f"{self.tmp}/a")


class SpawnTest(SupervisorTestCase):
    def test_detached_marked_logged_and_its_pid_file_written_before_the_exec(self):
        pidfile = self.tmp / "p.pid"
        log = self.tmp / "p.log"
        log.write_text("earlier run\n")
        code = ("import os, sys; print(open(sys.argv[1]).read().strip() == str(os.getpid()), "
                "os.getsid(0) == os.getpid(), os.environ.get('IW_TEST_MARK'), flush=True)")
        proc = process.spawn([sys.executable, "-c", code, str(pidfile)], log=log,
                             pidfile=pidfile, mark=("IW_TEST_MARK", "here"))
        self.procs.append(proc)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(log.read_text(), "earlier run\nTrue True here\n")
        self.assertEqual(process.read_pidfile(pidfile), proc.pid)

    def test_no_descriptor_of_ours_is_inherited(self):
        read_end, write_end = os.pipe()
        os.set_inheritable(read_end, True)
        os.set_inheritable(write_end, True)
        self.addCleanup(os.close, read_end)
        self.addCleanup(os.close, write_end)
        lock = process.FileLock(self.tmp / ".lock")
        lock.acquire()
        self.addCleanup(lock.release)
        pid = self.fake()
        self.assertEqual(sorted(os.listdir(f"/proc/{pid}/fd")), ["0", "1", "2"])
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/0"), "/dev/null")
        self.assertEqual(os.getsid(pid), pid)  # a session of its own

    def test_sigterm_is_not_inherited_ignored(self):
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            pid = self.fake()
        finally:
            signal.signal(signal.SIGTERM, previous)
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(next(line.split()[1] for line in status.splitlines()
                           if line.startswith("SigIgn:")), 16)
        self.assertFalse(ignored & (1 << (signal.SIGTERM - 1)))
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_until(lambda: not process.alive(pid)))

    def test_a_program_that_cannot_start(self):
        pidfile = self.tmp / "p.pid"
        log = self.tmp / "p.log"
        with self.assertRaises(process.Fatal) as caught:
            process.spawn([str(self.tmp / "no-such-program")], log=log, pidfile=pidfile)
        self.assertIn("did not start", str(caught.exception))
        self.assertFalse(pidfile.exists())
        self.assertIn("no-such-program", log.read_text())

    def test_truncated_log_and_separate_stderr(self):
        log, err = self.tmp / "out.log", self.tmp / "out.log.stderr"
        log.write_text("old\n")
        proc = process.spawn(
            [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"],
            log=log, stderr_log=err, append=False, new_session=False)
        proc.wait(timeout=30)
        self.assertEqual((log.read_text(), err.read_text()), ("out\n", "err\n"))


class SignalTest(SupervisorTestCase):
    def test_no_signal_to_a_process_that_is_not_ours(self):
        pid = self.fake()
        self.assertFalse(process.send_signal(pid, signal.SIGKILL, lambda _pid: False))
        time.sleep(0.2)
        self.assertTrue(process.alive(pid))
        self.assertTrue(process.send_signal(pid, signal.SIGKILL, lambda _pid: True))
        self.reap(pid)
        self.assertFalse(process.send_signal(pid, signal.SIGKILL))

    def test_terminate_sigterm_then_sigkill_after_the_grace(self):
        polite = self.fake()
        stubborn = self.fake(ignore_term=True)
        stranger = self.fake()  # its pid is listed, but it is not ours (any more)
        stopped, killed = [], []
        t0 = time.monotonic()
        left = process.terminate(
            {"polite": (polite, lambda _pid: True), "stubborn": (stubborn, lambda _pid: True),
             "stranger": (stranger, lambda _pid: False)},
            grace=1.0, kill_wait=5.0, poll=0.05,
            on_stopped=lambda name, pid: stopped.append(name),
            on_kill=lambda name, pid: killed.append(name))
        elapsed = time.monotonic() - t0
        self.assertEqual(left, [])
        self.assertEqual(stopped, ["polite"])
        self.assertEqual(killed, ["stubborn"])
        self.assertGreaterEqual(elapsed, 1.0)  # SIGKILL only after the grace
        self.assertLess(elapsed, 5.0)
        self.assertFalse(process.alive(polite))
        self.assertFalse(process.alive(stubborn))
        self.assertTrue(process.alive(stranger))

    def test_gone_only_once_it_is_no_longer_running(self):
        # A killed process loses its environment a moment before it is gone: not a stop yet.
        for _ in range(20):
            pid = self.fake(mark=("IW_TEST_MARK", "x"))
            left = process.terminate({"p": (pid, lambda p: process.has_mark(p, "IW_TEST_MARK",
                                                                          "x"))},
                                     grace=0, kill_wait=10, poll=0.001)
            self.assertEqual(left, [])
            self.assertFalse(process.alive(pid))

    def test_wait_gone(self):
        pid = self.fake(lifetime=0.5)
        self.assertFalse(process.wait_gone(pid, 0.1))
        self.assertTrue(process.wait_gone(pid, 10))
        self.assertTrue(process.wait_gone(pid, 1, start=12345))  # another process than this


class WatchTest(SupervisorTestCase):
    def test_owner_gone(self):
        owner = self.fake()
        threading.Timer(0.3, self.kill, [owner]).start()
        t0 = time.monotonic()
        # (The TTL is a safety net: a watch that missed the owner's exit returns its reason.)
        self.assertEqual(process.watch(owner=owner, ttl=10, poll=0.05),
                         f"owner pid {owner} is gone")
        self.assertLess(time.monotonic() - t0, 5)

    def test_owner_gone_before_the_watch_started(self):
        owner = self.fake()
        self.kill(owner)
        self.assertEqual(process.watch(owner=owner, ttl=10, poll=0.05),
                         f"owner pid {owner} is gone")

    def test_owner_pid_reused(self):
        starts = iter([100, 100, 100, 200])  # the same pid, another process from the 4th look
        self.assertEqual(process.watch(owner=42, ttl=10, poll=0.01,
                                       start_of=lambda _pid: next(starts, 200)),
                         "owner pid 42 is gone")

    def test_ttl(self):
        owner = self.fake()
        t0 = time.monotonic()
        self.assertEqual(process.watch(owner=owner, ttl=0.5, poll=0.05), "ttl of 0.5s expired")
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertTrue(process.alive(owner))

    def test_subject_exits_first(self):
        owner, subject = self.fake(), self.fake(lifetime=0.3)
        self.assertIsNone(process.watch(owner=owner, ttl=30, subject=subject, poll=0.05))


class LockTest(SupervisorTestCase):
    def test_exclusion_within_and_across_processes(self):
        first, second = process.dir_lock(self.tmp / "d"), process.dir_lock(self.tmp / "d")
        self.assertTrue(first.acquire())
        self.assertTrue((self.tmp / "d/.lock").exists())
        self.assertFalse(second.acquire(blocking=False))
        first.release()
        self.assertTrue(second.acquire(blocking=False))
        second.release()

        holder = self.child(
            [sys.executable, "-c",
             "import sys, time; sys.path.insert(0, sys.argv[1]); from supervisor import process;"
             "process.dir_lock(sys.argv[2]).acquire(); print('held', flush=True); time.sleep(60)",
             str(Path(process.__file__).parent.parent), str(self.tmp / "d")],
            stdout=subprocess.PIPE, text=True)
        self.assertEqual(holder.stdout.readline(), "held\n")
        self.assertFalse(first.acquire(blocking=False))
        holder.kill()
        holder.wait()
        holder.stdout.close()
        self.assertTrue(first.acquire(blocking=False))  # released with its holder
        first.release()

    def test_a_detached_child_does_not_keep_the_lock(self):
        lock = process.dir_lock(self.tmp)
        lock.acquire()
        self.fake()  # outlives the release below
        lock.release()
        self.assertTrue(process.dir_lock(self.tmp).acquire(blocking=False))


class LoopbackTest(SupervisorTestCase):
    def test_free_ports_are_distinct(self):
        ports = process.free_ports(3)
        self.assertEqual(len(set(ports)), 3)
        self.assertTrue(all(0 < p < 65536 for p in ports))

    def test_http_get(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code = 200 if self.path == "/ok" else 503
                self.send_response(code)
                self.end_headers()
                self.wfile.write(f"answer {code}".encode())

            def log_message(self, *_args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)  # bound until the end
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        self.assertEqual(process.http_get(base + "/ok"), (200, b"answer 200"))
        self.assertEqual(process.http_get(base + "/busy"), (503, b"answer 503"))
        # A port this test holds bound but not listening: refused, no answer.
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        self.addCleanup(held.close)
        self.assertEqual(process.http_get(f"http://127.0.0.1:{held.getsockname()[1]}/"), (0, b""))
        self.assertFalse(process.tcp_connects("127.0.0.1", held.getsockname()[1]))
        self.assertEqual(process.http_get("not a url"), (0, b""))


if __name__ == "__main__":
    unittest.main()
