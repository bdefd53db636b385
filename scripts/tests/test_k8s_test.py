"""scripts/k8s_test.py's parts that need no control plane: tool paths, certificates, command
lines, the checks on API objects, rendered names, the snapshot comparison, and the process
group with its watchdog (fake processes that stop by themselves)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))

import k8s_test  # noqa: E402
from helpers import wait_until  # noqa: E402


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="k8s-test-unit-"))
        self.addCleanup(shutil.rmtree, self.dir, True)


class ToolPathsTest(unittest.TestCase):
    def test_name_path_lines(self):
        text = ("etcd=/c/bin/etcd\nhelm=/c/helm-v3/helm\nk8s-build: a message\n\n"
                "kwok_stages=/c/s.yaml\n")
        self.assertEqual(k8s_test.parse_tool_paths(text), {
            "etcd": "/c/bin/etcd", "helm": "/c/helm-v3/helm", "kwok_stages": "/c/s.yaml"})

    def test_a_sentence_with_an_equals_sign_is_no_path(self):
        self.assertEqual(k8s_test.parse_tool_paths("note: a = b\n"), {})


@unittest.skipUnless(shutil.which("openssl"), "openssl is needed")
class PkiTest(TempDir):
    def test_certificates_chain_to_the_ca_and_say_what_the_cluster_needs(self):
        pki = k8s_test.make_pki(self.dir / "pki")

        def openssl(*args):
            return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True
                                  ).stdout

        for cert in (pki.server_cert, pki.admin_cert):
            self.assertIn(": OK", openssl("verify", "-CAfile", str(pki.ca_cert), str(cert)))
        server = openssl("x509", "-in", str(pki.server_cert), "-noout", "-text")
        self.assertIn("IP Address:127.0.0.1", server)
        self.assertIn("TLS Web Server Authentication", server)
        admin = openssl("x509", "-in", str(pki.admin_cert), "-noout", "-subject")
        self.assertIn("O = system:masters", admin)  # what makes it cluster-admin under RBAC
        self.assertIn("PUBLIC KEY", pki.sa_pub.read_text())
        for f in (self.dir / "pki").iterdir():
            self.assertEqual(f.stat().st_mode & 0o077, 0, f)
        self.assertEqual(sorted(p.name for p in (self.dir / "pki").iterdir() if
                                p.suffix in (".csr", ".ext")), [])

    def test_kubeconfig_names_the_server_and_the_admin_certificate(self):
        pki = k8s_test.make_pki(self.dir / "pki")
        cfg = json.loads(k8s_test.kubeconfig("https://127.0.0.1:6443", pki))
        self.assertEqual(cfg["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443")
        self.assertEqual(cfg["users"][0]["user"]["client-certificate"], str(pki.admin_cert))
        self.assertEqual(cfg["current-context"], cfg["contexts"][0]["name"])


class ComponentArgvTest(unittest.TestCase):
    def setUp(self):
        d = Path("/state")
        self.pki = k8s_test.Pki(*(d / n for n in "abcdefgh"))
        self.ports = k8s_test.Ports(*range(40001, 40008))
        bins = {n: f"/bin/{n}" for n in (*k8s_test.COMPONENTS, "kwok_stages")}
        self.argv = k8s_test.component_argv(bins, self.ports, self.pki, d)

    def test_every_component_and_nothing_else(self):
        self.assertEqual(sorted(self.argv), sorted(k8s_test.COMPONENTS))

    def test_loopback_only(self):
        for name, argv in self.argv.items():
            text = " ".join(argv)
            self.assertNotIn("0.0.0.0", text, name)
            self.assertNotIn("localhost", text, name)
        self.assertIn("--bind-address=127.0.0.1", self.argv["kube-apiserver"])
        self.assertIn("--bind-address=127.0.0.1", self.argv["kube-controller-manager"])
        self.assertIn("--bind-address=127.0.0.1", self.argv["kube-scheduler"])
        self.assertIn("--server-address=127.0.0.1:40006", self.argv["kwok"])
        self.assertIn("--listen-client-urls=http://127.0.0.1:40001", self.argv["etcd"])

    def test_apiserver_on_loopback_needs_no_endpoint_reconciler(self):
        self.assertIn("--endpoint-reconciler-type=none", self.argv["kube-apiserver"])
        self.assertIn("--etcd-servers=http://127.0.0.1:40001", self.argv["kube-apiserver"])

    def test_kwok_manages_only_the_annotated_nodes_with_the_stages(self):
        self.assertIn("--manage-all-nodes=false", self.argv["kwok"])
        self.assertIn(f"--manage-nodes-with-annotation-selector={k8s_test.KWOK_ANNOTATION}=fake",
                      self.argv["kwok"])
        self.assertIn("--config=/bin/kwok_stages", self.argv["kwok"])


def deployment(want=2, **status):
    d = {"metadata": {"generation": 3}, "spec": {"replicas": want},
         "status": {"observedGeneration": 3, "replicas": want, "updatedReplicas": want,
                    "readyReplicas": want, "availableReplicas": want,
                    "conditions": [{"type": "Available", "status": "True"}]}}
    d["status"].update(status)
    return d


class ObjectChecksTest(unittest.TestCase):
    def test_available_deployment(self):
        self.assertIsNone(k8s_test.deployment_available(deployment()))

    def test_not_available(self):
        cases = {
            "controller has not seen": deployment(observedGeneration=2),
            "availableReplicas 1 of 2": deployment(availableReplicas=1),
            "updatedReplicas 0 of 2": deployment(updatedReplicas=0),
            "rollout is under way": deployment(replicas=3),
            "not Available": deployment(conditions=[{"type": "Available", "status": "False"}]),
        }
        for why, d in cases.items():
            self.assertIn(why, k8s_test.deployment_available(d) or "", why)

    def test_pod_ready(self):
        pod = {"metadata": {}, "status": {"phase": "Running",
                                          "conditions": [{"type": "Ready", "status": "True"}]}}
        self.assertIsNone(k8s_test.pod_ready(pod))
        self.assertEqual(k8s_test.pod_ready({"metadata": {}, "status": {"phase": "Pending"}}),
                         "phase Pending")
        deleting = json.loads(json.dumps(pod))
        deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        self.assertEqual(k8s_test.pod_ready(deleting), "being deleted")

    def test_schema_refusal_is_told_from_other_errors(self):
        self.assertTrue(k8s_test.schema_refusal(
            "Error: INSTALLATION FAILED: values don't meet the specifications of the schema(s) "
            "in the following chart(s):\ningestwatch:\n- logLevel: value must be one of ..."))
        self.assertFalse(k8s_test.schema_refusal(
            "Error: INSTALLATION FAILED: context deadline exceeded"))


class RenderedNamesTest(unittest.TestCase):
    MANIFEST = """---
# Source: ingestwatch/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-ingestwatch-enricher
  labels:
    app.kubernetes.io/name: ingestwatch
spec:
  template:
    metadata:
      name: not-this-one
---
apiVersion: v1
kind: Service
metadata:
  name: rel-ingestwatch-enricher-svc
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    a: b
  name: "rel-ingestwatch-loki-pusher"
"""

    def test_top_level_kind_and_name_only(self):
        self.assertEqual(k8s_test.rendered_names(self.MANIFEST, "Deployment"),
                         ["rel-ingestwatch-enricher", "rel-ingestwatch-loki-pusher"])
        self.assertEqual(k8s_test.rendered_names(self.MANIFEST, "Service"),
                         ["rel-ingestwatch-enricher-svc"])

    def test_the_charts_deployments(self):
        # The Helm of scripts/deploy-tools, if installed (--installed never installs).
        tools = subprocess.run([str(SCRIPTS / "deploy-tools"), "--installed"],
                               capture_output=True, text=True)
        helm = k8s_test.parse_tool_paths(tools.stdout).get("helm", "")
        if not os.access(helm, os.X_OK):
            self.skipTest("scripts/deploy-tools has not installed Helm")
        out = subprocess.run([helm, "template", "rel", str(k8s_test.CHART),
                              "--show-only", "templates/deployment.yaml"],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(k8s_test.rendered_names(out, "Deployment"), [
            "rel-ingestwatch-enricher", "rel-ingestwatch-alert-evaluator",
            "rel-ingestwatch-loki-pusher"])


class FakeApi:
    """items(path, selector) from a dict of path -> objects."""

    def __init__(self, objects):
        self.objects = objects

    def items(self, path, selector=""):
        out = []
        for o in self.objects.get(path, []):
            labels = o["metadata"].get("labels", {})
            if all(labels.get(k) == v for k, v in
                   (kv.split("=") for kv in selector.split(",") if kv)):
                out.append(o)
        return out


def obj(name, ns=None, **labels):
    m = {"name": name, "labels": labels}
    if ns:
        m["namespace"] = ns
    return {"metadata": m}


class SnapshotTest(unittest.TestCase):
    RESOURCES = [
        k8s_test.Resource("/api/v1", "configmaps", True, "configmaps"),
        k8s_test.Resource("/api/v1", "events", True, "events"),
        k8s_test.Resource("/api/v1", "nodes", False, "nodes"),
        k8s_test.Resource("/apis/apps/v1", "deployments", True, "deployments.apps"),
    ]

    def test_namespaced_objects_without_events(self):
        api = FakeApi({
            "/api/v1/namespaces/a/configmaps": [obj("kube-root-ca.crt")],
            "/api/v1/namespaces/a/events": [obj("e1")],
            "/apis/apps/v1/namespaces/a/deployments": [obj("d")],
            "/apis/apps/v1/namespaces/b/deployments": [obj("other")],
        })
        self.assertEqual(k8s_test.snapshot(api, self.RESOURCES, ["a"]), {
            ("configmaps", "a", "kube-root-ca.crt"), ("deployments.apps", "a", "d")})

    def test_labelled_anywhere(self):
        api = FakeApi({
            "/api/v1/configmaps": [obj("x", "a", **{"app.kubernetes.io/instance": "rel"}),
                                   obj("y", "b")],
            "/api/v1/nodes": [obj("n", **{"app.kubernetes.io/instance": "rel"})],
        })
        found = k8s_test.labelled(api, self.RESOURCES, "app.kubernetes.io/instance=rel")
        self.assertEqual(found, {("configmaps", "a", "x"), ("nodes", "", "n")})
        self.assertEqual(k8s_test.describe(found), "configmaps/x in a, nodes/n")


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


class GroupTest(TempDir):
    def test_stop_ends_the_whole_group_and_reaps_it(self):
        g = k8s_test.Group(self.dir)
        a = g.start("a", SLEEPER)
        b = g.start("b", SLEEPER)
        self.assertEqual(os.getpgid(b.pid), a.pid)
        self.assertNotEqual(os.getpgid(a.pid), os.getpgrp())
        t = time.monotonic()
        g.stop(grace=5)
        self.assertLess(time.monotonic() - t, 4)  # SIGTERM is enough; zombies do not linger
        self.assertFalse(k8s_test.group_alive(a.pid))
        self.assertIsNotNone(a.returncode)
        self.assertIsNotNone(b.returncode)

    def test_check_alive_names_a_component_that_exited(self):
        g = k8s_test.Group(self.dir)
        g.start("lead", SLEEPER)
        g.start("quitter", [sys.executable, "-c", "raise SystemExit(3)"])
        self.addCleanup(g.stop, 2)
        self.assertTrue(wait_until(lambda: g.procs["quitter"].poll() is not None))
        with self.assertRaisesRegex(k8s_test.Failure, "quitter exited \\(3\\)"):
            g.check_alive()

    def test_a_command_run_in_the_group(self):
        g = k8s_test.Group(self.dir)
        lead = g.start("lead", SLEEPER)
        self.addCleanup(g.stop, 2)
        r = g.run([sys.executable, "-c", "import os; print(os.getpgrp())"], dict(os.environ), 10)
        self.assertEqual(int(r.stdout), lead.pid)

    def test_a_member_ignoring_sigterm_is_killed_after_the_grace(self):
        g = k8s_test.Group(self.dir)
        g.start("lead", SLEEPER)
        stubborn = g.start("stubborn", [sys.executable, "-c",
                                        "import signal, time\n"
                                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                        "time.sleep(60)"])
        time.sleep(0.5)
        g.stop(grace=1)
        self.assertEqual(stubborn.returncode, -9)


class WatchdogTest(TempDir):
    def start_group(self):
        # The group's members are the watchdog's, not ours: started by a shell that exits, as
        # when the driver dies (orphans are reaped by init, not by us).
        state = self.dir / "state"
        state.mkdir()
        pidfile = self.dir / "leader"
        subprocess.run(["setsid", "-f", "bash", "-c",
                        f"echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; "
                        "sleep 60 & exec sleep 60"], check=True)
        self.assertTrue(wait_until(pidfile.exists))
        pgid = int(pidfile.read_text())
        self.assertEqual(os.getpgid(pgid), pgid)
        self.addCleanup(lambda: k8s_test.stop_group(pgid, 1))
        return pgid, state

    def test_owner_gone_stops_the_group_and_removes_the_directory(self):
        pgid, state = self.start_group()
        owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
        t = time.monotonic()
        why = k8s_test.watchdog(pgid, owner.pid, ttl=30, directory=state, poll=0.1)
        owner.wait()
        self.assertEqual(why, f"owner pid {owner.pid} is gone")
        self.assertLess(time.monotonic() - t, 10)
        self.assertTrue(wait_until(lambda: not k8s_test.group_alive(pgid)))
        self.assertFalse(state.exists())

    def test_ttl_stops_the_group_and_keep_keeps_the_directory(self):
        pgid, state = self.start_group()
        (state / "keep").touch()
        why = k8s_test.watchdog(pgid, os.getpid(), ttl=0.5, directory=state, poll=0.1)
        self.assertEqual(why, "ttl of 0.5s expired")
        self.assertTrue(wait_until(lambda: not k8s_test.group_alive(pgid)))
        self.assertTrue(state.exists())

    def test_a_group_gone_by_itself_ends_the_watch(self):
        pgid, state = self.start_group()
        k8s_test.stop_group(pgid, 1)
        self.assertTrue(wait_until(lambda: not k8s_test.group_alive(pgid)))
        self.assertIsNone(k8s_test.watchdog(pgid, os.getpid(), ttl=30, directory=state,
                                            poll=0.1))
        self.assertTrue(state.exists())


if __name__ == "__main__":
    unittest.main()
