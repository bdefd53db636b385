#!/usr/bin/env python3
"""Tests of scripts/kafka-local without a real broker: its command line (the errors and exit
codes of the bash version it replaced), the cache keys an existing cache is checked against,
and stop, crash, status and the watchdog on fake brokers (processes whose command line is a
broker's of DIR). The real broker runs in the CTest fixture `kafka` and the integration tests."""

import os
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import SupervisorTestCase, wait_until  # noqa: E402

from supervisor import kafka_local, process  # noqa: E402


class CommandLineTest(SupervisorTestCase):
    def check(self, args, code, stderr="", stdout=None):
        run = self.run_script("kafka-local", *args)
        self.assertEqual(run.returncode, code, f"{args}: {run.stderr}")
        self.assertIn(stderr, run.stderr, args)
        if stdout is not None:
            self.assertIn(stdout, run.stdout, args)
        return run

    def test_usage(self):
        run = self.check([], 2, "Usage:")
        self.assertEqual(run.stdout, "")
        for args in (["--help"], ["-h"], ["help"], ["start", "--help"], ["stop", "-h"],
                     ["status", "--help"]):
            run = self.check(args, 0, stdout="Usage:")
            for command in ("fetch", "start", "stop", "crash", "restart", "status", "bootstrap",
                            "create-topics", "--owner-pid PID", "--ttl SECONDS"):
                self.assertIn(command, run.stdout)

    def test_argument_errors_exit_1(self):
        d = str(self.tmp / "k")
        for args, message in (
                (["bogus"], "kafka-local: error: unknown command: bogus (see --help)"),
                (["fetch", "x"], "fetch takes no arguments"),
                (["start", "--dir", d, "--heap", "12x"], "bad --heap: 12x"),
                (["start", "--dir", d, "--heap", "32m"], "--heap must be at least 64m"),
                (["start", "--dir", d, "--prop", "novalue"], "bad --prop (want KEY=VALUE)"),
                (["start", "--dir", d, "--prop", "=x"], "bad --prop"),
                (["start", "--dir", d, "--owner-pid", "x1"], "bad --owner-pid: x1"),
                (["start", "--dir", d, "--owner-pid", "999999999"],
                 "--owner-pid 999999999 is not running"),
                (["start", "--dir", d, "--ttl", "1x"], "bad --ttl: 1x"),
                (["start", "--dir", d, "--timeout"], "--timeout needs a value"),
                (["start", "--frob"], "unknown argument: --frob"),
                (["stop", "--frob"], "unknown argument: --frob"),
                (["stop", "--dir"], "--dir needs a value"),
                (["stop", "--dir="], "empty --dir"),
                (["create-topics"], "usage: create-topics BOOTSTRAP NAME:PARTITIONS..."),
                (["create-topics", "127.0.0.1:1"], "usage: create-topics"),
                (["restart", "--dir", d], f"nothing to restart in {d} (use start)"),
                (["restart", "-h"], "unknown argument: -h"),
                (["bootstrap", "--dir", d], f"no broker running in {d}")):
            self.check(args, 1, message)
        self.assertFalse((self.tmp / "cache").exists())  # no fetch was tried

    def test_nothing_running(self):
        d = str(self.tmp / "none")
        self.check(["stop", "--dir", d], 0)
        self.assertFalse(Path(d).exists())
        run = self.check(["status", "--dir", d], 1)
        self.assertEqual(run.stdout, "stopped\n")
        run = self.check(["status", f"--dir={d}"], 1)
        self.assertEqual(run.stdout, "stopped\n")
        self.check(["crash", "--dir", d], 0)


class CacheTest(SupervisorTestCase):
    """An existing cache stays valid: the keys are the bash version's, byte for byte."""

    def config(self, **env):
        return kafka_local.Config({"INGESTWATCH_CACHE": str(self.tmp / "cache"),
                                   "HOME": str(self.tmp), "PATH": os.environ["PATH"], **env})

    def test_paths_from_the_environment(self):
        cfg = kafka_local.Config({"HOME": "/h"})
        self.assertEqual(cfg.cache,
                         Path(f"/h/.cache/ingestwatch/kafka-{kafka_local.KAFKA_VERSION}"))
        self.assertEqual((cfg.java, cfg.default_dir, cfg.cds_enabled), (
            "java", "/tmp/ingestwatch-kafka", True))
        cfg = kafka_local.Config({"HOME": "/h", "INGESTWATCH_CACHE": "/c", "JAVA_HOME": "/j",
                                  "KAFKA_LOCAL_DIR": "/k", "KAFKA_LOCAL_CDS": "0",
                                  "KAFKA_LOCAL_JVM_OPTS": " -Da=1  -Db=2 "})
        self.assertEqual((cfg.libs, cfg.java, cfg.default_dir, cfg.cds_enabled, cfg.jvm_opts), (
            Path(f"/c/kafka-{kafka_local.KAFKA_VERSION}/libs"), "/j/bin/java", "/k", False,
            ["-Da=1", "-Db=2"]))

    def test_the_version_is_the_poms(self):
        pom = kafka_local.POM.read_text()
        self.assertIn(f"<kafka.version>{kafka_local.KAFKA_VERSION}</kafka.version>", pom)
        # scripts/run-local looks for the fetch marker under this version too.
        self.assertIn(f"kafka-{kafka_local.KAFKA_VERSION}/.fetch-complete",
                      (kafka_local.SCRIPTS / "run-local").read_text())

    def test_fetch_fingerprint_is_the_bash_one(self):
        bash = subprocess.run(
            ["bash", "-c", 'printf "%s\\n" "$1" | cat - "$2" | sha256sum | cut -d" " -f1', "-",
             kafka_local.KAFKA_VERSION, str(kafka_local.POM)],
            stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        self.assertEqual(kafka_local.fetch_fingerprint(), bash)

    def test_cds_key_is_the_bash_one(self):
        java_home = self.tmp / "jdk"
        (java_home / "bin").mkdir(parents=True)
        (java_home / "lib/server").mkdir(parents=True)
        java = java_home / "bin/java"
        java.write_text("#!/bin/sh\n")
        java.chmod(0o755)
        (java_home / "lib/server/libjvm.so").write_bytes(b"x" * 1234)
        cfg = self.config(JAVA_HOME=str(java_home))
        cfg.cache.mkdir(parents=True)
        cfg.marker.write_text("abc\n")
        # The bash version's cds_key(), verbatim.
        script = r'''
JAVA=$1 MARKER=$2
real=$(readlink -f "$(command -v "$JAVA")")
lib="${real%/bin/java}/lib/server/libjvm.so"
{
	cat "$MARKER"
	printf '%s\n' "$real"
	stat -c '%s %Y' "$real"
	[[ -f $lib ]] && stat -c '%s %Y' "$lib"
} 2>/dev/null | sha256sum | cut -d' ' -f1
'''
        def bash_key():
            return subprocess.run(["bash", "-c", script, "-", cfg.java, str(cfg.marker)],
                                  stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        self.assertEqual(kafka_local.cds_key(cfg), bash_key())
        (java_home / "lib/server/libjvm.so").unlink()  # no libjvm.so: keyed without it
        self.assertEqual(kafka_local.cds_key(cfg), bash_key())
        self.assertFalse(kafka_local.cds_current(cfg))
        cfg.cds_key_file.write_text(bash_key() + "\n")
        self.assertTrue(kafka_local.cds_current(cfg))
        self.assertFalse(kafka_local.cds_usable(cfg))  # no archive
        cfg.cds_archive.write_bytes(b"archive")
        self.assertTrue(kafka_local.cds_usable(cfg))
        self.assertEqual(kafka_local.cds_flags(cfg)[0], "-Xshare:auto")
        cfg.marker.write_text("another fetch\n")
        self.assertFalse(kafka_local.cds_usable(cfg))

    def test_a_complete_fetch_is_a_no_op(self):
        cfg = self.config(KAFKA_LOCAL_CDS="0", PATH=str(self.tmp / "empty"))  # no mvn, no java
        cfg.libs.mkdir(parents=True)
        cfg.marker.write_text(kafka_local.fetch_fingerprint() + "\n")
        kafka_local.do_fetch(cfg)  # the log4j file is all it writes
        self.assertTrue(kafka_local.log4j_current(cfg))
        self.assertEqual(cfg.log4j.read_text(), kafka_local.LOG4J_TEXT)
        cfg.marker.write_text("stale\n")  # another pom: fetch again, which needs mvn
        old_path = os.environ["PATH"]
        os.environ["PATH"] = str(self.tmp / "empty")
        try:
            with self.assertRaisesRegex(process.Fatal, "mvn not found"):
                kafka_local.do_fetch(cfg)
        finally:
            os.environ["PATH"] = old_path


class StartPartsTest(unittest.TestCase):
    def test_heap_mb(self):
        for heap, mb in (("512m", 512), ("512M", 512), ("1g", 1024), ("2G", 2048),
                         ("65536k", 64), ("134217728", 128)):
            self.assertEqual(kafka_local.heap_mb(heap), mb, heap)

    def test_cluster_id(self):
        ids = {kafka_local.new_cluster_id() for _ in range(200)}
        self.assertEqual(len(ids), 200)
        for cid in ids:
            self.assertRegex(cid, r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")

    def test_server_properties(self):
        text = kafka_local.server_properties(Path("/d"), 1111, 2222, ["a=1", "num.partitions=3"])
        lines = text.splitlines()
        self.assertIn("listeners=PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222", lines)
        self.assertIn("controller.quorum.voters=1@127.0.0.1:2222", lines)
        self.assertIn("advertised.listeners=PLAINTEXT://127.0.0.1:1111", lines)
        self.assertIn("log.dirs=/d/data", lines)
        self.assertEqual(lines[-3:], ["# --prop overrides", "a=1", "num.partitions=3"])
        self.assertNotIn("--prop", kafka_local.server_properties(Path("/d"), 1, 2, []))


class FakeBrokerTest(SupervisorTestCase):
    """Brokers that are sleeping processes with a broker's command line."""

    def setUp(self):
        super().setUp()
        self.dir = self.tmp / "kafka"
        (self.dir / "data").mkdir(parents=True)
        (self.dir / "kafka.log").write_text("the broker's log\n")

    def broker(self, ignore_term=False, lifetime=60.0):
        pid = self.fake("kafka.Kafka", f"{self.dir}/server.properties", ignore_term=ignore_term,
                        pidfile=self.dir / "kafka.pid", lifetime=lifetime)
        return pid

    def listening(self) -> socket.socket:
        """A port this test holds, listening: TCP connects, but it is no Kafka broker."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        self.addCleanup(s.close)
        (self.dir / "bootstrap").write_text(f"127.0.0.1:{s.getsockname()[1]}\n")
        return s

    def test_stop(self):
        pid = self.broker()
        (self.dir / "bootstrap").write_text("127.0.0.1:1\n")
        run = self.run_script("kafka-local", "stop", "--dir", str(self.dir))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn(f"kafka-local: stopping broker pid {pid} in {self.dir}", run.stderr)
        self.assertFalse(process.alive(pid))
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), [".lock", "kafka.log"])

    def test_stop_sigkills_after_the_grace(self):
        pid = self.broker(ignore_term=True)
        old = kafka_local.STOP_GRACE_SECONDS
        kafka_local.STOP_GRACE_SECONDS = 0.5
        try:
            kafka_local.stop(self.dir, log=process.Log("t", quiet=True))
        finally:
            kafka_local.STOP_GRACE_SECONDS = old
        self.assertFalse(process.alive(pid))

    def test_a_reused_pid_is_not_the_broker(self):
        stranger = self.fake(pidfile=self.dir / "kafka.pid")  # alive, not a broker of DIR
        other_dir = self.fake("kafka.Kafka", "/elsewhere/server.properties")
        for args in (["stop"], ["crash"], ["status"], ["bootstrap"]):
            self.run_script("kafka-local", *args, "--dir", str(self.dir))
            if args == ["crash"]:
                process.write_pidfile(self.dir / "kafka.pid", stranger)
        process.write_pidfile(self.dir / "kafka.pid", other_dir)
        self.run_script("kafka-local", "stop", "--dir", str(self.dir))
        time.sleep(0.3)
        self.assertTrue(process.alive(stranger))
        self.assertTrue(process.alive(other_dir))

    def test_crash_sigkills_and_keeps_the_data(self):
        pid = self.broker(ignore_term=True)
        (self.dir / "bootstrap").write_text("127.0.0.1:1\n")
        run = self.run_script("kafka-local", "crash", "--dir", str(self.dir), timeout=5)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn(f"crashing broker pid {pid}", run.stderr)
        self.assertFalse(process.alive(pid))
        self.assertTrue((self.dir / "data").is_dir())
        self.assertTrue((self.dir / "bootstrap").is_file())
        self.assertFalse((self.dir / "kafka.pid").exists())

    def test_status_and_bootstrap(self):
        self.broker()
        addr = "127.0.0.1:%d" % self.listening().getsockname()[1]
        no_kcat = {"PATH": self.path_without()}  # a plain TCP connect then
        run = self.run_script("kafka-local", "status", "--dir", str(self.dir), env=no_kcat)
        self.assertEqual((run.returncode, run.stdout), (0, f"running {addr}\n"))
        run = self.run_script("kafka-local", "bootstrap", "--dir", str(self.dir))
        self.assertEqual((run.returncode, run.stdout), (0, f"{addr}\n"))
        if process.which("kcat"):  # kcat asks for metadata, which this port never answers
            run = self.run_script("kafka-local", "status", "--dir", str(self.dir))
            self.assertEqual((run.returncode, run.stdout), (2, f"unresponsive {addr}\n"))
        self.assertEqual(kafka_local.status(self.tmp / "none"), ("stopped", 1))

    def test_watchdog_stops_the_broker_when_its_owner_is_gone(self):
        broker, owner = self.broker(), self.fake()
        kafka_local.start_watchdog(self.dir, broker, str(owner), 0)
        watchdog = process.read_pidfile(self.dir / "watchdog.pid")
        self.assertEqual(kafka_local.watchdog_pid(self.dir), watchdog)
        self.assertTrue(wait_until(lambda: "watching broker" in self.watchdog_log()))
        time.sleep(1.2)
        self.assertTrue(process.alive(broker))
        self.kill(owner)
        self.assertTrue(wait_until(lambda: not process.alive(broker), 10))
        self.assertTrue(wait_until(lambda: not process.alive(watchdog), 10))
        log = self.watchdog_log()
        self.assertIn(f"owner pid {owner} is gone: stopping broker {broker}", log)
        self.assertIn("watchdog exiting", log)
        self.assertFalse((self.dir / "data").exists())
        self.assertFalse((self.dir / "watchdog.pid").exists())

    def test_watchdog_ttl(self):
        broker = self.broker()
        t0 = time.monotonic()
        kafka_local.start_watchdog(self.dir, broker, "", 1)
        self.assertTrue(wait_until(lambda: not process.alive(broker), 10))
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertTrue(wait_until(lambda: "ttl of 1s expired" in self.watchdog_log()))

    def test_watchdog_exits_with_the_broker_and_is_replaced_by_the_next(self):
        broker, owner = self.broker(), self.fake()
        kafka_local.start_watchdog(self.dir, broker, str(owner), 0)
        first = process.read_pidfile(self.dir / "watchdog.pid")
        self.assertTrue(wait_until(lambda: "watching broker" in self.watchdog_log()))
        kafka_local.start_watchdog(self.dir, broker, str(owner), 0)  # a repeated start
        second = process.read_pidfile(self.dir / "watchdog.pid")
        self.assertTrue(wait_until(lambda: self.watchdog_log().count("watching broker") == 2))
        self.assertNotEqual(first, second)
        self.assertTrue(wait_until(lambda: not process.alive(first), 5))
        self.assertTrue(process.alive(second))
        self.kill(broker)  # exits by itself: the watchdog follows, the owner stays
        self.assertTrue(wait_until(lambda: not process.alive(second), 10))
        self.assertTrue(process.alive(owner))
        self.assertFalse((self.dir / "watchdog.pid").exists())

    def test_stop_waits_for_the_lock(self):
        pid = self.broker()
        lock = process.dir_lock(self.dir)
        lock.acquire()
        stopper = self.child([str(kafka_local.SCRIPT), "stop", "--dir", str(self.dir)],
                             stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        self.assertIsNone(stopper.poll())  # waiting for the lock
        self.assertTrue(process.alive(pid))
        lock.release()
        self.assertEqual(stopper.wait(timeout=30), 0)
        self.assertFalse(process.alive(pid))

    def watchdog_log(self) -> str:
        try:
            return (self.dir / "watchdog.log").read_text()
        except OSError:
            return ""


if __name__ == "__main__":
    unittest.main()
