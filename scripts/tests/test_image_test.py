"""Tests of scripts/image_test.py's and scripts/image-build's own logic, with a fake container
engine: the stand-in binaries (argv, pid, environment, mounts), the comparison of make run's
summaries, the choice of the base image. (`make image` and `make image-test` themselves need
podman and take minutes: run by hand, docs/DEPLOY.md.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))
import image_test  # noqa: E402

_loader = importlib.machinery.SourceFileLoader("image_build", str(SCRIPTS / "image-build"))
_spec = importlib.util.spec_from_loader("image_build", _loader)
image_build = importlib.util.module_from_spec(_spec)
sys.modules["image_build"] = image_build
_loader.exec_module(image_build)

SUMMARY = """\
ingestwatch: make run - Kafka, VictoriaLogs, Prometheus, Alertmanager and the services
[  0s] starting the stack in /tmp/x

What happened
  ingest-producer         data/logs.json: 3600 records read, 3598 published to ingestion-logs, 2
                          dead-lettered (no usable Source)
  ingest-enricher         4110 read, 4102 enriched to ingestion-logs-enriched, 8 dead-lettered:
                          invalid_timestamp 2
  VictoriaLogs            4102 runs in {job="ingestion-logs"}, 340 alert events in

Alerts  (events on ingestion-alerts, firing series in Prometheus's ALERTS, Alertmanager's alerts)
  rule                                      fired  resolved  Prometheus  Alertmanager
  ✓ IngestionFailureDetected                  143       143          56            56
  ✗ IngestionHighFailureRate                    0         0           8             8
    IngestwatchServiceDown                      -         -           1             1
  1 of the 6 rules fired on ingestion-alerts: 143 firing and 143 resolved events (286 in all).
  Prometheus judges the same rules on the enricher's counters, in processing time: a replay
  of old logs reaches it as one burst "now", so its counts differ on purpose

Where to look
  Prometheus         http://127.0.0.1:1234/alerts
"""


class ComparableTest(unittest.TestCase):
    def test_keeps_counts_and_rule_events_only(self):
        lines = image_test.comparable(SUMMARY)
        self.assertEqual(lines[0], "What happened")
        self.assertIn("                          invalid_timestamp 2", lines)
        self.assertIn("  ✓ IngestionFailureDetected                  143       143", lines)
        self.assertIn("  ✗ IngestionHighFailureRate                    0         0", lines)
        self.assertTrue(lines[-1].startswith("  1 of the 6 rules fired"))
        text = "\n".join(lines)
        for timing in ("IngestwatchServiceDown", "Prometheus", "127.0.0.1", "[  0s]"):
            self.assertNotIn(timing, text)

    def test_prometheus_columns_do_not_count_events_do(self):
        host = image_test.comparable(SUMMARY)
        timing = SUMMARY.replace("143          56            56", "143           3             9")
        self.assertEqual(image_test.differences(host, image_test.comparable(timing)), [])
        fewer = SUMMARY.replace("4102 enriched", "4101 enriched")
        self.assertEqual(len(image_test.differences(host, image_test.comparable(fewer))), 1)
        fired = SUMMARY.replace("143       143", "142       143")
        self.assertEqual(len(image_test.differences(host, image_test.comparable(fired))), 1)

    def test_no_summary_compares_as_nothing(self):
        self.assertEqual(image_test.comparable("make run failed\n"), [])
        self.assertTrue(image_test.differences(image_test.comparable(SUMMARY), []))


class ContainerCommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)])
        (self.tmp / "stage").mkdir()
        (self.tmp / "data").mkdir()
        (self.tmp / "data" / "logs.json").write_text("[]")

    def command(self, args, environ=None):
        return image_test.container_command(
            ["podman", "--runtime", "runc"], "ingestwatch:dev", "42", "ingest-producer", args,
            environ or {}, str(self.tmp), self.tmp / "stage", 1234)

    def test_as_compose_runs_the_services(self):
        argv = self.command(["--bootstrap-servers", "127.0.0.1:9"],
                            {"IW_HTTP_LISTEN": "127.0.0.1:0", "HOME": "/root", "PATH": "/bin"})
        self.assertEqual(argv[:4], ["podman", "--runtime", "runc", "run"])
        for flag in ("--read-only", "--cap-drop=ALL", "no-new-privileges", "--network"):
            self.assertIn(flag, argv)
        self.assertEqual(argv[argv.index("--tmpfs") + 1], "/tmp")
        self.assertEqual(argv[argv.index("--network") + 1], "host")
        self.assertRegex(argv[argv.index("--name") + 1], r"^iw-image-test-42-1234-\d+$")
        self.assertEqual(argv[argv.index("--label") + 1], f"{image_test.LABEL}=42")
        self.assertIn("--timeout", argv)
        self.assertNotIn("--user", argv)  # the image's own USER
        self.assertIn("--rm", argv)  # the producer is one-shot
        self.assertEqual([a for a in argv if a.startswith("--env")],
                         ["--env=IW_HTTP_LISTEN=127.0.0.1:0"])
        self.assertEqual(argv[-4:], ["ingestwatch:dev", "ingest-producer", "--bootstrap-servers",
                                     "127.0.0.1:9"])

    def test_a_service_is_kept_for_its_exit_status(self):
        def argv(binary, args):
            return image_test.container_command(["podman"], "i", "1", binary, args, {}, "/",
                                                self.tmp / "stage", 2)
        self.assertNotIn("--rm", argv("ingest-enricher", ["--bootstrap-servers", "x"]))
        self.assertIn("--rm", argv("ingest-enricher", ["--check-config", "--config", "c"]))
        self.assertIn("--rm", argv("ingest-dlq", ["summary"]))

    def test_stale_runs_are_those_whose_test_is_gone(self):
        alive = {100}.__contains__
        self.assertEqual(image_test.stale_runs(["100", "200", "200", "300", "x"], alive),
                         ["200", "300"])

    def test_files_are_mounted_read_only_at_their_path(self):
        argv = self.command(["data/logs.json"])
        data = str(self.tmp / "data")
        self.assertIn(f"{data}:{data}:ro", argv)
        self.assertEqual(argv[-1], f"{data}/logs.json")  # relative: made absolute

    def test_a_private_directory_is_staged_readable(self):
        private = self.tmp / "private"
        private.mkdir(mode=0o700)
        (private / "config.yml").write_text("x: 1\n")
        (private / "config.yml").chmod(0o600)
        argv = self.command(["--config", str(private / "config.yml")])
        mount = next(a for a in argv if a.endswith(f":{private}:ro"))
        staged = Path(mount.split(":")[0])
        self.assertTrue(staged.is_relative_to(self.tmp / "stage"))
        self.assertEqual((staged / "config.yml").read_text(), "x: 1\n")
        self.assertTrue((staged / "config.yml").stat().st_mode & 0o004)
        self.assertTrue(staged.stat().st_mode & 0o005 == 0o005)

    def test_a_stand_in_becomes_the_engine_in_the_same_process(self):
        fake = self.tmp / "engine"
        fake.write_text('#!/bin/sh\nprintf "%s\\n" "$$" "$@"\n')
        fake.chmod(0o755)
        build = self.tmp / "build"
        image_test.write_stand_ins(build, [str(fake)], "img:1", "7", self.tmp / "stage")
        for path in image_test.BINARIES.values():
            self.assertTrue(os.access(build / path, os.X_OK), path)
        proc = subprocess.Popen([str(build / "services/enricher/ingest-enricher"), "--check"],
                                stdout=subprocess.PIPE, text=True,
                                env={"PATH": os.environ["PATH"], "IW_LOG_LEVEL": "debug"})
        out = proc.communicate(timeout=30)[0].splitlines()
        self.assertEqual(int(out[0]), proc.pid)  # SIGTERM to that pid reaches the client
        name = out[out.index("--name") + 1]
        self.assertRegex(name, rf"^iw-image-test-7-{proc.pid}-[1-9]\d*$")  # pid, start time
        self.assertIn("--env=IW_LOG_LEVEL=debug", out)
        self.assertEqual(out[-3:], ["img:1", "ingest-enricher", "--check"])


class ImageBuildTest(unittest.TestCase):
    """scripts/image-build's base image choice and build command, on a fake engine."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)])
        self.calls = self.tmp / "calls"
        self.images = self.tmp / "images"
        self.images.write_text("")
        self.engine = self.tmp / "engine"
        # image inspect NAME: known if listed; pull: fails; import TAR NAME: lists NAME.
        self.engine.write_text(f"""#!/bin/sh
echo "$*" >>{self.calls}
case "$1 $2" in
  "image inspect") grep -qx "$3" {self.images} ;;
  "pull "*) echo "Error: no such host" >&2; exit 125 ;;
  "import "*) eval last=\\${{$#}}; echo "$last" >>{self.images} ;;
esac
""")
        self.engine.chmod(0o755)
        fake_mmdebstrap = self.tmp / "bin" / "mmdebstrap"
        fake_mmdebstrap.parent.mkdir()
        fake_mmdebstrap.write_text(f'#!/bin/sh\necho "mmdebstrap $*" >>{self.calls}\n'
                                   'for a; do case "$a" in *.tar) : >"$a" ;; esac; done\n')
        fake_mmdebstrap.chmod(0o755)
        path = os.environ["PATH"]
        os.environ["PATH"] = f"{fake_mmdebstrap.parent}:{path}"
        self.addCleanup(os.environ.__setitem__, "PATH", path)
        for key in ("IW_IMAGE_BASE", "IW_IMAGE_BASE_REFRESH"):
            self.addCleanup(os.environ.__setitem__, key, os.environ.pop(key, ""))

    def base(self):
        return image_build.base_image([str(self.engine)], self.tmp / "cache")

    def test_registry_base_when_the_engine_has_it(self):
        self.images.write_text("debian:bookworm-slim\n")
        self.assertEqual(self.base(), "debian:bookworm-slim")
        self.assertNotIn("mmdebstrap", self.calls.read_text())

    def test_local_base_made_once_then_reused(self):
        self.assertEqual(self.base(), image_build.LOCAL_BASE)
        calls = self.calls.read_text()
        self.assertIn("pull docker.io/library/debian:bookworm-slim", calls)
        self.assertIn("mmdebstrap --variant=minbase", calls)
        self.assertIn("bookworm-security", calls)  # the machine's mirrors, security included
        tarball = self.tmp / "cache/image-base/debian-bookworm-minbase.tar"
        self.assertIn(f"import --change CMD [\"bash\"] {tarball} {image_build.LOCAL_BASE}",
                      calls)
        self.calls.write_text("")
        self.assertEqual(self.base(), image_build.LOCAL_BASE)  # imported: nothing again
        self.assertNotIn("mmdebstrap", self.calls.read_text())
        self.assertNotIn("pull", self.calls.read_text())
        self.images.write_text("")  # `podman system reset`: imported again from the tarball
        self.assertEqual(self.base(), image_build.LOCAL_BASE)
        self.assertNotIn("mmdebstrap", self.calls.read_text())
        self.assertIn("import", self.calls.read_text())

    def test_explicit_base_wins(self):
        os.environ["IW_IMAGE_BASE"] = "registry.example/debian:12"
        self.assertEqual(self.base(), "registry.example/debian:12")
        self.assertFalse(self.calls.exists())

    def test_build_command_passes_the_commit_and_podman_flags(self):
        podman = image_build.build_command(list(image_build.PODMAN), "b:1", "t:2", "abc123")
        self.assertIn("REVISION=abc123", podman)
        self.assertIn("DEBIAN_IMAGE=b:1", podman)
        self.assertEqual(podman[podman.index("--network") + 1], "host")
        self.assertIn("--runtime", podman)
        docker = image_build.build_command(["docker"], "b:1", "t:2", "abc123")
        self.assertNotIn("--network", docker)
        self.assertEqual(docker[-1], str(image_build.REPO))


class DockerfileTest(unittest.TestCase):
    def test_revision_reaches_cmake(self):
        text = (image_build.REPO / "deploy/docker/Dockerfile").read_text()
        build_stage = text.split("\nFROM ")[1]
        self.assertIn("ARG REVISION", build_stage)
        self.assertIn('-DIW_COMMIT="${REVISION}"', build_stage)


if __name__ == "__main__":
    unittest.main()
