#!/usr/bin/env python3
"""make k8s-test: the Helm chart installed into a real Kubernetes control plane on loopback.

Starts, from the binaries scripts/k8s-build made (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok), a one-machine control plane on free 127.0.0.1 ports with certificates
made here by openssl, three kwok nodes (pods are scheduled, become Running and Ready, and are
deleted as on a kubelet, but run no container: no image is pulled), then proves with Helm
(scripts/deploy-tools) and the API:

  1. prometheus-operator's ServiceMonitor and PrometheusRule CRDs are applied and Established;
  2. `helm install --wait` of deploy/helm/ingestwatch with the default values, and with
     values-production.yaml (its Secrets made beforehand, as docs/DEPLOY.md says), leaves every
     Deployment the chart renders available, its pods Running and Ready on the kwok nodes with
     the chart's security context, and the Services, ConfigMaps, PodDisruptionBudgets,
     ServiceMonitor, PrometheusRules, HorizontalPodAutoscalers and dashboard ConfigMaps there;
  3. `helm upgrade` with a changed value (logLevel=debug) rolls the pods of every Deployment
     (all new pods, the old ones gone) and the ConfigMaps say the new level;
  4. a bad value is refused by the chart's values schema, on upgrade (the release keeps its
     revision) and on install (nothing is created);
  5. `helm uninstall` leaves nothing behind: every namespaced object in the releases'
     namespaces is as it was before the install, and no object anywhere carries a release's
     label.

Everything it starts runs in one process group: stopped at exit (also on an error, Ctrl-C or
SIGTERM), and by a detached watchdog when this process is gone or after --ttl seconds. Its
files live in a temporary directory, removed at the end (kept, with the logs, on a failure).

Usage: scripts/k8s_test.py [--ttl SECONDS] [--keep]
       scripts/k8s_test.py watchdog --pgid N --owner PID --ttl SECONDS --dir DIR  (internal)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHART = REPO / "deploy" / "helm" / "ingestwatch"
sys.path.insert(0, str(HERE))

from supervisor import process  # noqa: E402

PREFIX = "k8s-test"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
NODES = 3
SERVICE_CIDR = "10.96.0.0/24"  # ClusterIPs are only allocated: there is no kube-proxy
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# Objects that come and go by themselves, not the chart's: left out of "nothing left behind".
TRANSIENT_RESOURCES = {"events", "events.events.k8s.io"}


def log(message: str) -> None:
    print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A check that did not hold."""


# ---------------------------------------------------------------- tools and certificates

def parse_tool_paths(text: str) -> dict[str, str]:
    """The NAME=PATH lines scripts/k8s-build and scripts/deploy-tools print."""
    paths = {}
    for line in text.splitlines():
        name, sep, path = line.partition("=")
        if sep and name and path and " " not in name:
            paths[name] = path
    return paths


def tools() -> dict[str, str]:
    """Builds what is missing (first time only) and returns every tool's path."""
    found: dict[str, str] = {}
    for script in ("k8s-build", "deploy-tools"):
        out = subprocess.run([str(HERE / script)], stdout=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise Failure(f"scripts/{script} failed")
        found.update(parse_tool_paths(out.stdout))
    missing = [n for n in (*COMPONENTS, "kwok_stages", "helm", "crds") if n not in found]
    if missing:
        raise Failure(f"no path for {', '.join(missing)}")
    if shutil.which("openssl") is None:
        raise Failure("openssl is needed for the certificates")
    return found


@dataclass
class Pki:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def make_pki(directory: Path, openssl: str = "openssl") -> Pki:
    """A CA, the apiserver's serving certificate (127.0.0.1, localhost and the in-cluster names),
    a client certificate in system:masters for everything that calls the API, and the service
    account signing key pair. Short-lived, never leaves the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    p = Pki(*(directory / n for n in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key",
                                      "admin.crt", "admin.key", "sa.key", "sa.pub")))

    def run(*args: str) -> None:
        r = subprocess.run([openssl, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            raise Failure(f"openssl {args[0]}: {r.stderr.strip()}")

    def key(path: Path) -> None:
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))

    def issue(name: str, cert: Path, keyfile: Path, subject: str, ext: str) -> None:
        key(keyfile)
        csr = directory / f"{name}.csr"
        extfile = directory / f"{name}.ext"
        extfile.write_text(ext)
        run("req", "-new", "-key", str(keyfile), "-subj", subject, "-out", str(csr))
        run("x509", "-req", "-in", str(csr), "-CA", str(p.ca_cert), "-CAkey", str(p.ca_key),
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(extfile), "-out", str(cert))
        process.remove(csr, extfile)

    key(p.ca_key)
    run("req", "-x509", "-new", "-key", str(p.ca_key), "-subj", "/CN=ingestwatch-k8s-test-ca",
        "-days", "2", "-sha256", "-out", str(p.ca_cert))
    issue("apiserver", p.server_cert, p.server_key, "/CN=kube-apiserver",
          "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,"
          "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
          "DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\n")
    issue("admin", p.admin_cert, p.admin_key, "/O=system:masters/CN=ingestwatch-k8s-test",
          "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=clientAuth\n")
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(p.sa_key))
    run("pkey", "-in", str(p.sa_key), "-pubout", "-out", str(p.sa_pub))
    for f in directory.iterdir():
        f.chmod(0o600)
    return p


def kubeconfig(server: str, pki: Pki) -> str:
    """A kubeconfig (JSON, which every client reads as YAML) for the admin certificate."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "k8s-test", "cluster": {
            "server": server, "certificate-authority": str(pki.ca_cert)}}],
        "users": [{"name": "admin", "user": {
            "client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)}}],
        "contexts": [{"name": "k8s-test", "context": {"cluster": "k8s-test", "user": "admin"}}],
        "current-context": "k8s-test",
    }, indent=2) + "\n"


# ---------------------------------------------------------------- the control plane

@dataclass
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok_server: int
    kwok_node: int


def component_argv(bins: dict[str, str], ports: Ports, pki: Pki, d: Path) -> dict[str, list[str]]:
    """Every component's command line: loopback addresses only, state under `d`."""
    etcd_url = f"http://127.0.0.1:{ports.etcd_client}"
    peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
    kcfg = str(d / "admin.kubeconfig")
    return {
        "etcd": [
            bins["etcd"], "--name=k8s-test", f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=k8s-test={peer_url}", "--log-level=warn",
            # A throw-away cluster: no fsync (a crash loses it anyway).
            "--unsafe-no-fsync=true",
        ],
        "kube-apiserver": [
            bins["kube-apiserver"], f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={ports.apiserver}", f"--cert-dir={d / 'apiserver'}",
            f"--tls-cert-file={pki.server_cert}", f"--tls-private-key-file={pki.server_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # The default reconciler refuses a loopback address for the kubernetes Service's
            # endpoints; nothing here goes through that Service.
            "--endpoint-reconciler-type=none",
            "--profiling=false", "--v=0",
        ],
        "kube-controller-manager": [
            bins["kube-controller-manager"], f"--kubeconfig={kcfg}",
            f"--authentication-kubeconfig={kcfg}", f"--authorization-kubeconfig={kcfg}",
            "--bind-address=127.0.0.1", f"--secure-port={ports.controller_manager}",
            f"--cert-dir={d / 'controller-manager'}", "--leader-elect=false",
            f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=false", "--profiling=false", "--v=0",
        ],
        "kube-scheduler": [
            bins["kube-scheduler"], f"--kubeconfig={kcfg}",
            f"--authentication-kubeconfig={kcfg}", f"--authorization-kubeconfig={kcfg}",
            "--bind-address=127.0.0.1", f"--secure-port={ports.scheduler}",
            f"--cert-dir={d / 'scheduler'}", "--leader-elect=false", "--profiling=false",
            "--v=0",
        ],
        "kwok": [
            bins["kwok"], f"--kubeconfig={kcfg}", f"--config={bins['kwok_stages']}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            # Where the API server would reach the "kubelet" (logs, exec): kwok itself, on
            # loopback. Pod IPs come from kwok's --cidr and are never connected to.
            "--node-ip=127.0.0.1", f"--node-port={ports.kwok_node}",
            f"--server-address=127.0.0.1:{ports.kwok_server}",
        ],
    }


class Group:
    """The processes of one run, in one process group (led by the first one started): stop()
    ends them all at once, and so does the watchdog when this process is gone."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.pgid: int | None = None
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              ) -> subprocess.Popen:
        logfile = self.directory / f"{name}.log"
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=env, close_fds=True, process_group=self.pgid or 0,
                preexec_fn=_default_signals)
        if self.pgid is None:
            self.pgid = proc.pid
        self.procs[name] = proc
        return proc

    def run(self, argv: list[str], env: dict[str, str], timeout: float,
            ) -> subprocess.CompletedProcess:
        """A short command (helm) in the group, so the watchdog ends it too."""
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              process_group=self.pgid or 0, preexec_fn=_default_signals)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise Failure(f"{name} exited ({proc.returncode}); see {self.directory}/{name}.log")

    def stop(self, grace: float = 2.0) -> None:
        # A throw-away cluster: kube-apiserver's graceful shutdown (10 s and more) buys nothing.
        if self.pgid is not None:
            # Our children stay in the group as zombies until reaped: reap while waiting.
            stop_group(self.pgid, grace, reap=lambda: [p.poll() for p in self.procs.values()])


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_group(pgid: int, grace: float, poll: float = 0.1,
               reap: Callable[[], object] = lambda: None) -> bool:
    """SIGTERM to the group, SIGKILL to what is left after `grace` s; whether it is gone.
    reap() is called while waiting (a parent must reap its children for them to go)."""
    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            reap()
            if not group_alive(pgid) or time.monotonic() >= deadline:
                return
            time.sleep(poll)

    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    wait(grace)
    if group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait(5)
    return not group_alive(pgid)


def watchdog(pgid: int, owner: int, ttl: float, directory: Path, poll: float = 1.0) -> str | None:
    """The watchdog's loop: returns None when the group is gone by itself (the driver stopped
    it); else stops the group once the owner is gone or the TTL expired, removes the directory
    unless DIR/keep exists, and returns why."""
    owner_start = process.proc_start(owner)
    deadline = time.monotonic() + ttl
    while True:
        if not group_alive(pgid):
            return None
        if owner_start is None or process.proc_start(owner) != owner_start:
            why = f"owner pid {owner} is gone"
            break
        if ttl > 0 and time.monotonic() >= deadline:
            why = f"ttl of {ttl:g}s expired"
            break
        time.sleep(poll)
    stop_group(pgid, grace=2)
    if not (directory / "keep").exists():
        shutil.rmtree(directory, ignore_errors=True)
    return why


def start_watchdog(group: Group, ttl: float) -> subprocess.Popen:
    assert group.pgid is not None
    return process.spawn(
        [sys.executable, str(Path(__file__).resolve()), "watchdog", "--pgid", str(group.pgid),
         "--owner", str(os.getpid()), "--ttl", str(ttl), "--dir", str(group.directory)],
        log=group.directory / "watchdog.log")


# ---------------------------------------------------------------- the API

class Api:
    """The Kubernetes API over HTTPS with the admin client certificate (what kubectl does)."""

    def __init__(self, server: str, pki: Pki):
        self.server = server
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", timeout: float = 30,
                ) -> tuple[int, dict | str]:
        req = urllib.request.Request(self.server + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        # 429 "storage is (re)initializing" right after a CRD is Established, or priority and
        # fairness: retried after the time the server asks for, as client-go does.
        for attempt in range(10):
            try:
                with self.opener.open(req, timeout=timeout) as answer:
                    status, raw = answer.status, answer.read()
            except urllib.error.HTTPError as e:
                status, raw = e.code, e.read()
                if status == 429 and attempt < 9:
                    time.sleep(min(float(e.headers.get("Retry-After") or 1), 5))
                    continue
            except (OSError, urllib.error.URLError) as e:
                return 0, str(e)
            break
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> dict:
        status, body = self.request("GET", path)
        if status != 200 or not isinstance(body, dict):
            raise Failure(f"GET {path}: {status} {str(body)[:300]}")
        return body

    def get_or_none(self, path: str) -> dict | None:
        status, body = self.request("GET", path)
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise Failure(f"GET {path}: {status} {str(body)[:300]}")
        return body

    def create(self, path: str, obj: dict | bytes, content_type: str = "application/json",
               ) -> dict:
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        status, answer = self.request("POST", path, body, content_type)
        if status not in (200, 201, 202) or not isinstance(answer, dict):
            raise Failure(f"POST {path}: {status} {str(answer)[:300]}")
        return answer

    def items(self, path: str, selector: str = "") -> list[dict]:
        query = "?" + urllib.parse.urlencode({"labelSelector": selector}) if selector else ""
        return self.get(path + query).get("items", [])


def wait_for(what: str, check: Callable[[], object], timeout: float,
             group: Group | None = None, poll: float = 0.5) -> object:
    """Calls check() until it returns something true (returned) or raises no Failure; the last
    Failure's text in the error after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = "not yet"
    while True:
        if group is not None:
            group.check_alive()
        try:
            result = check()
            if result:
                return result
        except Failure as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not after {timeout:g}s ({last})")
        time.sleep(poll)


def condition(obj: dict, kind: str) -> str | None:
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def deployment_available(d: dict) -> str | None:
    """None when the Deployment has rolled out and every replica is available; else why not."""
    spec, status = d.get("spec", {}), d.get("status", {})
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < d.get("metadata", {}).get("generation", 0):
        return "its controller has not seen the latest spec"
    for key in ("updatedReplicas", "readyReplicas", "availableReplicas"):
        if status.get(key, 0) != want:
            return f"{key} {status.get(key, 0)} of {want}"
    if status.get("replicas", 0) != want:
        return f"{status.get('replicas', 0)} pods for {want} replicas (a rollout is under way)"
    if condition(d, "Available") != "True":
        return "not Available"
    return None


def pod_ready(pod: dict) -> str | None:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "being deleted"
    if pod.get("status", {}).get("phase") != "Running":
        return f"phase {pod.get('status', {}).get('phase')}"
    if condition(pod, "Ready") != "True":
        return "not Ready"
    return None


def rendered_names(manifest: str, kind: str) -> list[str]:
    """The names of the objects of `kind` in a rendered manifest (helm template's output):
    every document's top-level kind and its metadata.name."""
    names = []
    for doc in re.split(r"^---\s*$", manifest, flags=re.M):
        if re.search(rf"^kind:\s*{re.escape(kind)}\s*$", doc, flags=re.M):
            m = re.search(r"^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*[\"']?([^\s\"']+)", doc,
                          flags=re.M)
            if m:
                names.append(m.group(1))
    return names


def schema_refusal(stderr: str) -> bool:
    """Whether Helm's error is its values-schema check (and not, say, a template or an API
    error)."""
    return "values don't meet the specifications of the schema" in stderr


# ---------------------------------------------------------------- snapshots

@dataclass(frozen=True)
class Resource:
    path: str  # /api/v1 or /apis/GROUP/VERSION
    name: str  # plural
    namespaced: bool
    key: str  # name, or name.group


def discover(api: Api) -> list[Resource]:
    """Every listable resource type the server serves (preferred version of each group)."""
    found = []
    versions = [("/api/v1", "")]
    for g in api.get("/apis").get("groups", []):
        versions.append((f"/apis/{g['preferredVersion']['groupVersion']}", g["name"]))
    for path, group in versions:
        for r in api.get(path).get("resources", []):
            if "/" in r["name"] or "list" not in r.get("verbs", []):
                continue
            key = f"{r['name']}.{group}" if group else r["name"]
            found.append(Resource(path, r["name"], r.get("namespaced", False), key))
    return found


def snapshot(api: Api, resources: Iterable[Resource], namespaces: Iterable[str],
             ) -> set[tuple[str, str, str]]:
    """(resource, namespace, name) of every object in those namespaces, events left out."""
    objs = set()
    for r in resources:
        if not r.namespaced or r.key in TRANSIENT_RESOURCES:
            continue
        for ns in namespaces:
            for o in api.items(f"{r.path}/namespaces/{ns}/{r.name}"):
                objs.add((r.key, ns, o["metadata"]["name"]))
    return objs


def labelled(api: Api, resources: Iterable[Resource], selector: str,
             ) -> set[tuple[str, str, str]]:
    """(resource, namespace, name) of every object anywhere that matches the label selector."""
    objs = set()
    for r in resources:
        if r.key in TRANSIENT_RESOURCES:
            continue
        for o in api.items(f"{r.path}/{r.name}", selector):
            objs.add((r.key, o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return objs


def describe(objs: Iterable[tuple[str, str, str]]) -> str:
    return ", ".join(f"{r}/{n}" + (f" in {ns}" if ns else "") for r, ns, n in sorted(objs))


# ---------------------------------------------------------------- the test

@dataclass
class Release:
    name: str
    namespace: str
    values: list[str] = field(default_factory=list)  # helm -f/--set arguments
    deployments: list[str] = field(default_factory=list)


class Run:
    def __init__(self, bins: dict[str, str], directory: Path, group: Group):
        self.bins = bins
        self.d = directory
        self.group = group
        self.passed: list[str] = []
        self.t0 = time.monotonic()

    def ok(self, what: str) -> None:
        self.passed.append(what)
        log(f"ok ({time.monotonic() - self.t0:5.1f}s) {what}")

    # --- the cluster

    def start_cluster(self) -> None:
        self.pki = make_pki(self.d / "pki")
        p = process.free_ports(7)
        self.ports = Ports(*p)
        self.server = f"https://127.0.0.1:{self.ports.apiserver}"
        (self.d / "admin.kubeconfig").write_text(kubeconfig(self.server, self.pki))
        argv = component_argv(self.bins, self.ports, self.pki, self.d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = str(self.d)  # kwok reads ~/.kwok/kwok.yaml when there is one
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(k, None)
        env["NO_PROXY"] = "127.0.0.1,localhost"
        self.env = env

        self.group.start("etcd", argv["etcd"], env)
        self.watchdog = start_watchdog(self.group, self.ttl)
        wait_for("etcd healthy", lambda: process.http_get(
            f"http://127.0.0.1:{self.ports.etcd_client}/health")[1].find(b'"true"') >= 0,
            60, self.group)
        self.group.start("kube-apiserver", argv["kube-apiserver"], env)
        self.api = Api(self.server, self.pki)
        wait_for("kube-apiserver ready", lambda: self.api.request("GET", "/readyz")[0] == 200,
                 180, self.group)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            self.group.start(name, argv[name], env)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=insecure))

        def healthy(port: int) -> bool:
            try:
                with opener.open(f"https://127.0.0.1:{port}/healthz", timeout=2) as a:
                    return a.status == 200
            except (OSError, urllib.error.URLError):
                return False

        wait_for("kube-controller-manager healthy",
                 lambda: healthy(self.ports.controller_manager), 120, self.group)
        wait_for("kube-scheduler healthy", lambda: healthy(self.ports.scheduler), 120,
                 self.group)
        version = self.api.get("/version")["gitVersion"]
        self.ok(f"control plane {version} up on 127.0.0.1 (etcd, kube-apiserver, "
                "kube-controller-manager, kube-scheduler, kwok)")

        for i in range(NODES):
            self.api.create("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": f"kwok-node-{i}", "annotations": {KWOK_ANNOTATION: "fake"},
                             "labels": {"kubernetes.io/hostname": f"kwok-node-{i}",
                                        "kubernetes.io/os": "linux", "type": "kwok"}},
            })

        def nodes_ready() -> bool:
            nodes = self.api.items("/api/v1/nodes", "type=kwok")
            not_ready = [n["metadata"]["name"] for n in nodes if condition(n, "Ready") != "True"]
            if len(nodes) != NODES or not_ready:
                raise Failure(f"not Ready: {', '.join(not_ready) or 'nodes missing'}")
            return True

        wait_for("kwok nodes Ready", nodes_ready, 60, self.group)
        self.ok(f"{NODES} kwok nodes Ready")

    # --- helm

    def helm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        env = dict(self.env)
        env.update(KUBECONFIG=str(self.d / "admin.kubeconfig"),
                   HELM_CACHE_HOME=str(self.d / "helm" / "cache"),
                   HELM_CONFIG_HOME=str(self.d / "helm" / "config"),
                   HELM_DATA_HOME=str(self.d / "helm" / "data"))
        return self.group.run([self.bins["helm"], *args], env, timeout)

    def helm_ok(self, *args: str, timeout: float = 300) -> str:
        r = self.helm(*args, timeout=timeout)
        if r.returncode != 0:
            raise Failure(f"helm {' '.join(args[:2])} failed: {r.stderr.strip()[-2000:]}")
        return r.stdout

    # --- steps

    def apply_crds(self) -> None:
        crds = Path(self.bins["crds"])
        names = []
        for kind in ("servicemonitors", "prometheusrules"):
            path = crds / f"monitoring.coreos.com_{kind}.yaml"
            # The API server takes YAML as it takes JSON.
            self.api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                            path.read_bytes(), "application/yaml")
            names.append(f"{kind}.monitoring.coreos.com")
        for name in names:
            wait_for(f"CRD {name} Established", lambda name=name: condition(self.api.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
                "Established") == "True", 60, self.group)
        wait_for("monitoring.coreos.com/v1 served", lambda: self.api.request(
            "GET", "/apis/monitoring.coreos.com/v1")[0] == 200, 60, self.group)
        self.ok("ServiceMonitor and PrometheusRule CRDs Established")

    def namespace(self, name: str) -> None:
        self.api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}})

        def settled() -> bool:  # what the controllers add to every namespace
            return bool(self.api.get_or_none(f"/api/v1/namespaces/{name}/serviceaccounts/default")
                        and self.api.get_or_none(
                            f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt"))

        wait_for(f"namespace {name} settled", settled, 60, self.group)

    def secret(self, namespace: str, name: str, data: dict[str, str],
               kind: str = "Opaque") -> None:
        self.api.create(f"/api/v1/namespaces/{namespace}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name}, "stringData": data})

    def expected_deployments(self, rel: Release) -> list[str]:
        manifest = self.helm_ok("template", rel.name, str(CHART), "-n", rel.namespace,
                                *rel.values, "--show-only", "templates/deployment.yaml")
        names = rendered_names(manifest, "Deployment")
        if len(names) < 3:
            raise Failure(f"{rel.name}: the chart renders {len(names)} Deployments, not >= 3")
        return names

    def pods_of(self, ns: str, d: dict) -> list[dict]:
        sel = ",".join(f"{k}={v}" for k, v in d["spec"]["selector"]["matchLabels"].items())
        return self.api.items(f"/api/v1/namespaces/{ns}/pods", sel)

    def check_release(self, rel: Release) -> bool:
        """kubectl-level checks of an installed release."""
        ns = rel.namespace
        apps = f"/apis/apps/v1/namespaces/{ns}/deployments"
        nodes = {n["metadata"]["name"] for n in self.api.items("/api/v1/nodes", "type=kwok")}
        for name in rel.deployments:
            d = self.api.get(f"{apps}/{name}")
            why = deployment_available(d)
            if why:
                raise Failure(f"Deployment {name} in {ns}: {why}")
            pods = self.pods_of(ns, d)
            if len(pods) != d["spec"]["replicas"]:
                raise Failure(f"Deployment {name}: {len(pods)} pods for {d['spec']['replicas']}")
            for pod in pods:
                pname = pod["metadata"]["name"]
                why = pod_ready(pod)
                if why:
                    raise Failure(f"pod {pname}: {why}")
                if pod["spec"].get("nodeName") not in nodes:
                    raise Failure(f"pod {pname}: on {pod['spec'].get('nodeName')}, no kwok node")
                sc = pod["spec"].get("securityContext", {})
                csc = pod["spec"]["containers"][0].get("securityContext", {})
                if (sc.get("runAsUser") != 10001 or not csc.get("readOnlyRootFilesystem")
                        or csc.get("capabilities", {}).get("drop") != ["ALL"]):
                    raise Failure(f"pod {pname}: not the chart's security context")
            for path in (f"/api/v1/namespaces/{ns}/services/{name}",
                         f"/api/v1/namespaces/{ns}/configmaps/{name}"):
                self.api.get(path)
        sel = f"app.kubernetes.io/instance={rel.name}"
        for path, at_least in (
                (f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", 3),
                (f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/servicemonitors", 1),
                (f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/prometheusrules", 2)):
            n = len(self.api.items(path, sel))
            if n < at_least:
                raise Failure(f"{rel.name}: {n} {path.rsplit('/', 1)[1]}, expected {at_least}")
        return True

    def release_checks_hold(self, rel: Release) -> None:
        # Retried a while: an autoscaler may be raising the replicas to its minimum just now.
        wait_for(f"{rel.name} in {rel.namespace}", lambda: self.check_release(rel), 90,
                 self.group)
        self.ok(f"{rel.name} in {rel.namespace}: {len(rel.deployments)} Deployments available "
                f"({', '.join(rel.deployments)}), pods Running and Ready on kwok nodes; "
                "Services, ConfigMaps, PDBs, ServiceMonitor, PrometheusRules there")

    def install(self, rel: Release) -> None:
        rel.deployments = self.expected_deployments(rel)
        t = time.monotonic()
        self.helm_ok("install", rel.name, str(CHART), "-n", rel.namespace, *rel.values,
                     "--wait", "--timeout", "5m")
        self.ok(f"helm install --wait {rel.name} ({' '.join(rel.values) or 'default values'}) "
                f"in {time.monotonic() - t:.1f}s")
        self.release_checks_hold(rel)

    def autoscalers_act(self, rel: Release, hpas: list[dict]) -> None:
        """The controller manager's autoscaler finds each HPA's Deployment (scaleTargetRef) and
        holds it at minReplicas at least; without an external metrics API it can do no more
        (ScalingActive False)."""
        apps = f"/apis/apps/v1/namespaces/{rel.namespace}/deployments"
        scaled = []
        for hpa in hpas:
            target = hpa["spec"]["scaleTargetRef"]
            least = hpa["spec"].get("minReplicas", 1)
            if target.get("kind") != "Deployment" or target["name"] not in rel.deployments:
                raise Failure(f"HPA {hpa['metadata']['name']}: target {target}, not a "
                              "Deployment of the release")

            def held(name=target["name"], least=least, hpa_name=hpa["metadata"]["name"]):
                d = self.api.get(f"{apps}/{name}")
                if d["spec"].get("replicas", 1) < least:
                    raise Failure(f"{name}: {d['spec'].get('replicas', 1)} replicas, HPA "
                                  f"minimum {least}")
                why = deployment_available(d)
                if why:
                    raise Failure(f"{name}: {why}")
                h = self.api.get(f"/apis/autoscaling/v2/namespaces/{rel.namespace}/"
                                 f"horizontalpodautoscalers/{hpa_name}")
                if condition(h, "AbleToScale") != "True":
                    raise Failure(f"HPA {hpa_name}: not AbleToScale")
                return True

            # The autoscaler syncs every 15 s.
            wait_for(f"HPA {hpa['metadata']['name']} acts", held, 90, self.group)
            scaled.append(f"{target['name']} at >= {least}")
        self.ok(f"{rel.name} in {rel.namespace}: {len(hpas)} HorizontalPodAutoscalers act on "
                f"their Deployments ({', '.join(scaled)}, available)")

    def upgrade_rolls(self, rel: Release) -> None:
        ns = rel.namespace
        apps = f"/apis/apps/v1/namespaces/{ns}/deployments"
        before = {}
        for name in rel.deployments:
            d = self.api.get(f"{apps}/{name}")
            before[name] = {p["metadata"]["uid"] for p in self.pods_of(ns, d)}
        rel.values = [*rel.values, "--set", "logLevel=debug"]
        self.helm_ok("upgrade", rel.name, str(CHART), "-n", ns, *rel.values, "--wait",
                     "--timeout", "5m")

        def rolled() -> bool:
            for name in rel.deployments:
                d = self.api.get(f"{apps}/{name}")
                why = deployment_available(d)
                if why:
                    raise Failure(f"{name}: {why}")
                uids = {p["metadata"]["uid"] for p in self.pods_of(ns, d)}
                if uids & before[name]:
                    raise Failure(f"{name}: {len(uids & before[name])} old pods still there")
                if not uids:
                    raise Failure(f"{name}: no pods")
            return True

        wait_for(f"{rel.name}: every Deployment rolled", rolled, 120, self.group)
        for name in rel.deployments:
            cm = self.api.get(f"/api/v1/namespaces/{ns}/configmaps/{name}")
            text = "".join(cm.get("data", {}).values())
            if not re.search(r"^\s*level: debug\s*$", text, flags=re.M):
                raise Failure(f"ConfigMap {name}: no 'level: debug' after the upgrade")
        self.release_checks_hold(rel)
        self.ok(f"helm upgrade {rel.name} --set logLevel=debug rolled the pods of every "
                "Deployment (all new, the old ones gone)")

    def revision(self, rel: Release) -> int:
        secrets = self.api.items(f"/api/v1/namespaces/{rel.namespace}/secrets",
                                 f"owner=helm,name={rel.name}")
        return max((int(s["metadata"]["labels"].get("version", 0)) for s in secrets), default=0)

    def bad_values_refused(self, rel: Release) -> None:
        rev = self.revision(rel)
        r = self.helm("upgrade", rel.name, str(CHART), "-n", rel.namespace, *rel.values,
                      "--set", "logLevel=verbose", "--wait", "--timeout", "1m")
        if r.returncode == 0 or not schema_refusal(r.stderr) or "logLevel" not in r.stderr:
            raise Failure(f"helm upgrade --set logLevel=verbose: exit {r.returncode}, not the "
                          f"schema's refusal: {r.stderr.strip()[-500:]}")
        if self.revision(rel) != rev:
            raise Failure(f"{rel.name}: revision {self.revision(rel)} after a refused upgrade")
        bad = "ingestwatch-bad"
        r = self.helm("install", bad, str(CHART), "-n", rel.namespace,
                      "--set", "enricher.replicas=-1", "--wait", "--timeout", "1m")
        if r.returncode == 0 or not schema_refusal(r.stderr) or "replicas" not in r.stderr:
            raise Failure(f"helm install --set enricher.replicas=-1: exit {r.returncode}, not "
                          f"the schema's refusal: {r.stderr.strip()[-500:]}")
        left = labelled(self.api, self.resources, f"app.kubernetes.io/instance={bad}")
        left |= {("secrets", rel.namespace, s["metadata"]["name"]) for s in self.api.items(
            f"/api/v1/namespaces/{rel.namespace}/secrets", f"owner=helm,name={bad}")}
        if left:
            raise Failure(f"a refused install left {describe(left)}")
        self.ok("bad values refused by the values schema: upgrade logLevel=verbose (revision "
                f"stays {rev}), install enricher.replicas=-1 (nothing created)")

    def uninstall(self, rels: list[Release], namespaces: list[str],
                  before: set[tuple[str, str, str]]) -> None:
        for rel in rels:
            self.helm_ok("uninstall", rel.name, "-n", rel.namespace, "--wait", "--timeout", "2m")

        def clean() -> bool:
            now = snapshot(self.api, self.resources, namespaces)
            extra = now - before
            gone = before - now
            anywhere = set()
            for rel in rels:
                anywhere |= labelled(self.api, self.resources,
                                     f"app.kubernetes.io/instance={rel.name}")
            if extra or gone or anywhere:
                raise Failure("; ".join(filter(None, [
                    extra and f"left behind: {describe(extra)}",
                    gone and f"gone though not the chart's: {describe(gone)}",
                    anywhere and f"still labelled with a release: {describe(anywhere)}"])))
            return True

        wait_for("nothing left after helm uninstall", clean, 90, self.group, poll=2)
        self.ok(f"helm uninstall left nothing behind ({len(before)} objects in "
                f"{', '.join(namespaces)} as before the installs; no object anywhere labelled "
                "with a release)")

    def main(self) -> None:
        self.start_cluster()
        self.apply_crds()
        self.resources = discover(self.api)
        default = Release("ingestwatch", "iw-default")
        prod = Release("ingestwatch", "iw-production",
                       ["-f", str(CHART / "values-production.yaml")])
        namespaces = [default.namespace, prod.namespace, "monitoring"]
        for ns in namespaces:
            self.namespace(ns)
        # values-production.yaml's Secrets, made beforehand as docs/DEPLOY.md says.
        self.secret(prod.namespace, "ingestwatch-kafka",
                    {"username": "ingestwatch", "password": "k8s-test"})
        self.secret(prod.namespace, "kafka-cluster-ca",
                    {"ca.crt": self.pki.ca_cert.read_text()})
        self.secret(prod.namespace, "ingestwatch-loki", {"password": "k8s-test"})
        self.secret(prod.namespace, "registry-credentials",
                    {".dockerconfigjson": json.dumps({"auths": {}})},
                    "kubernetes.io/dockerconfigjson")
        before = snapshot(self.api, self.resources, namespaces)

        self.install(default)
        self.install(prod)
        hpas = self.api.items(f"/apis/autoscaling/v2/namespaces/{prod.namespace}/"
                              "horizontalpodautoscalers", "app.kubernetes.io/instance=ingestwatch")
        dashboards = self.api.items("/api/v1/namespaces/monitoring/configmaps",
                                    "grafana_dashboard=1")
        if len(hpas) < 2 or not dashboards:
            raise Failure(f"production: {len(hpas)} HPAs, {len(dashboards)} dashboard "
                          "ConfigMaps in monitoring")
        self.autoscalers_act(prod, hpas)
        self.ok(f"production: {len(dashboards)} dashboard ConfigMaps in namespace monitoring")
        self.upgrade_rolls(default)
        self.bad_values_refused(default)
        self.uninstall([default, prod], namespaces, before)


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    bins = tools()
    log(f"tools ready in {time.monotonic() - t0:.1f}s")
    directory = Path(tempfile.mkdtemp(prefix="ingestwatch-k8s-test-"))
    group = Group(directory)
    r = Run(bins, directory, group)
    r.ttl = args.ttl
    ok = interrupted = False
    error = "stopped"

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        r.main()
        ok = True
    except Failure as e:
        error = f"FAILED: {e}"
    except KeyboardInterrupt:
        error = "interrupted"
        interrupted = True
    finally:
        # A failure keeps the directory and shows the logs; an interruption (Ctrl-C, SIGTERM)
        # only stops.
        keep = args.keep or not (ok or interrupted)
        if keep:
            (directory / "keep").touch()
        if not ok and not interrupted:
            for name in COMPONENTS:
                process.show_log(log, directory / f"{name}.log", 10)
        if not ok:
            log(error)
        group.stop()
        if keep:
            log(f"logs and state kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    failed = 0 if ok else 1
    print(f"k8s-test: {len(r.passed)} passed, {failed} failed "
          f"({time.monotonic() - t0:.0f}s in all)")
    return 0 if ok else 130 if interrupted else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["watchdog"]:
        p = argparse.ArgumentParser(prog="k8s_test.py watchdog")
        p.add_argument("--pgid", type=int, required=True)
        p.add_argument("--owner", type=int, required=True)
        p.add_argument("--ttl", type=float, required=True)
        p.add_argument("--dir", type=Path, required=True)
        a = p.parse_args(argv[1:])
        why = watchdog(a.pgid, a.owner, a.ttl, a.dir)
        if why:
            print(f"{PREFIX} watchdog: stopped the control plane: {why}", flush=True)
        return 0
    p = argparse.ArgumentParser(prog="k8s_test.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--ttl", type=float, default=1200,
                   help="the watchdog stops everything after this many seconds (default 1200)")
    p.add_argument("--keep", action="store_true", help="keep the directory and logs")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
