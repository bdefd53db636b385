"""Shared by the deploy checks (deploy/CMakeLists.txt): paths, the cached tools, running a
service's own --check-config, and reporting."""

import os
import subprocess
import sys
import tempfile

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SKIP = 77

# The services: compose service / chart component -> binary, default port.
SERVICES = {
    "producer": ("ingest-producer", 9464),
    "enricher": ("ingest-enricher", 9465),
    "alert-evaluator": ("ingest-alert-evaluator", 9466),
    "loki-pusher": ("ingest-loki-pusher", 9467),
}


class Failures:
    """Collects every problem, so one run reports them all."""

    def __init__(self):
        self.items = []

    def __call__(self, message):
        self.items.append(message)

    def check(self, condition, message):
        if not condition:
            self.items.append(message)
        return condition

    def finish(self, what):
        if self.items:
            for m in self.items:
                print(f"FAIL: {m}", file=sys.stderr)
            print(f"{what}: {len(self.items)} problem(s)", file=sys.stderr)
            sys.exit(1)
        print(f"{what}: OK")
        sys.exit(0)


def skip(message):
    print(f"skipped: {message}")
    sys.exit(SKIP)


def tool_paths():
    """NAME -> path of scripts/deploy-tools' tools; skips the test when they are missing."""
    script = os.path.join(REPO, "scripts", "deploy-tools")
    out = subprocess.run([script, "--installed"], capture_output=True, text=True)
    paths = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    if out.returncode != 0:
        skip("the deploy tools are not installed (CTest deploy.tools runs scripts/deploy-tools)")
    return paths


def in_venv(paths):
    """Runs the calling script again under the deploy venv's python (kubernetes-validate,
    jsonschema), unless it already is."""
    python = paths["python"]
    if os.path.realpath(sys.prefix) != os.path.realpath(os.path.dirname(os.path.dirname(python))):
        os.execv(python, [python] + sys.argv)


def parse_binaries(values):
    """['producer=/path/ingest-producer', ...] -> {'producer': '/path/...'}."""
    result = {}
    for v in values or []:
        name, _, path = v.partition("=")
        result[name] = path
    return result


def check_config(binary, config_text, env=None, files=None):
    """Runs `binary --check-config --config F` on config_text with exactly the environment env
    (plus PATH) and the files {path-in-config: content} made available: each path is
    written under a temporary directory and rewritten in the text (and in env values).
    Returns (exit status, the effective configuration it printed (stdout, YAML), stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        text = config_text
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for path, content in sorted((files or {}).items(), key=lambda kv: -len(kv[0])):
            local = os.path.join(tmp, "files", path.lstrip("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "w") as f:
                f.write(content)
            text = text.replace(path, local)
        for k, v in (env or {}).items():
            for path in sorted(files or {}, key=len, reverse=True):
                if v.startswith(path):
                    v = os.path.join(tmp, "files", path.lstrip("/")) + v[len(path):]
                    break
            run_env[k] = v
        config = os.path.join(tmp, "config.yml")
        with open(config, "w") as f:
            f.write(text)
        proc = subprocess.run([binary, "--check-config", "--config", config], env=run_env,
                              capture_output=True, text=True, timeout=60)
        return proc.returncode, proc.stdout.replace(tmp, "<tmp>"), proc.stderr.replace(tmp, "<tmp>")
