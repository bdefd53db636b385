"""Tests of deps/check_deps.py: each kind of file a denied dependency can hide in is caught, an
allowed one is not, and on the real tree the check sees the dependencies it must see."""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import check_deps  # noqa: E402

DENY_LIST = check_deps.HERE / "deny-list.tsv"


def run_check(files: dict[str, str]) -> tuple[int, str]:
    """check_deps on a tree holding `files` (not a git repository: every file is read)."""
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            path = Path(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = check_deps.main(["--root", root, "--deny-list", str(DENY_LIST)])
        return code, out.getvalue()


class DeniedDependencies(unittest.TestCase):
    def assert_denied(self, files: dict[str, str], where: str, name: str) -> None:
        code, out = run_check(files)
        self.assertEqual(code, 1, out)
        self.assertIn(where, out)
        self.assertIn(name, out)

    def test_go_mod_require_block_of_an_agpl_module(self):
        self.assert_denied({"tools/x/go.mod": "module x\n\ngo 1.26\n\nrequire (\n"
                            "\tgithub.com/google/uuid v1.6.0\n"
                            "\tgithub.com/grafana/loki/v3 v3.5.0 // indirect\n)\n"},
                           "tools/x/go.mod:7", "github.com/grafana/loki/v3")

    def test_go_mod_single_require_and_a_toolchain_line(self):
        code, out = run_check({"go.mod": "module x\ngo 1.26\ntoolchain go1.27.1\n"
                               "require github.com/grafana/tempo v2.0.0\n"})
        self.assertEqual(code, 1)
        self.assertIn("go.mod:3: go golang.org/toolchain go1.27.1", out)
        self.assertIn("go.mod:4: go github.com/grafana/tempo", out)

    def test_go_install_in_a_build_script_with_the_version_in_a_variable(self):
        self.assert_denied({"scripts/helm-build": "#!/usr/bin/env bash\n"
                            "version=${HELM_VERSION:-v3.22.0}\n"
                            "go install \"helm.sh/helm/v3/cmd/helm@$version\"\n"},
                           "scripts/helm-build:3", "helm.sh/helm/v3/cmd/helm v3.22.0")

    def test_a_package_below_a_denied_module(self):
        self.assert_denied({"tests/build.py": "import subprocess\nsubprocess.run(['go', "
                            "'install', 'github.com/grafana/loki/v3/cmd/logcli@v3.4.2'])\n"},
                           "tests/build.py:2", "logcli")

    def test_a_toolchain_other_than_the_approved_one(self):
        self.assert_denied({"Makefile": "build:\n\tGOTOOLCHAIN=go1.26.9 go build ./...\n"},
                           "Makefile:2", "golang.org/toolchain go1.26.9")

    def test_an_unapproved_release_of_an_allowed_module(self):
        self.assert_denied({"scripts/jaeger-build": "#!/bin/sh\ngo get -tool "
                            "github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0\n"},
                           "scripts/jaeger-build:2", "jaeger")


class AllowedDependencies(unittest.TestCase):
    def test_approved_versions_and_unrelated_names_pass(self):
        code, out = run_check({
            "scripts/build": "#!/bin/sh\nGOTOOLCHAIN=go1.27.3 go install "
                             "helm.sh/helm/v3/cmd/helm@v3.21.4\nGOTOOLCHAIN=local go version\n"
                             "go get github.com/grafana/lokiclient@v1.0.0\n",
            "go.mod": "module x\ngo 1.26\nrequire github.com/grafana/grafana-plugin-sdk-go "
                      "v0.300.0\n",
            "README.md": "we do not use github.com/grafana/loki/v3@v3.5.0\n",
        })
        self.assertEqual(code, 0, out)
        self.assertEqual(out, "")


class RealTree(unittest.TestCase):
    def test_the_tree_fetches_nothing_denied(self):
        refs = check_deps.tree_references(check_deps.HERE.parent)
        self.assertEqual(check_deps.violations(refs, check_deps.load_deny_list(DENY_LIST)), [])

    def test_the_check_sees_the_dependencies_the_build_scripts_fetch(self):
        # Without this, a parser that finds nothing would pass the test above.
        seen = {(r.registry, r.name, r.version)
                for r in check_deps.tree_references(check_deps.HERE.parent)}
        for expected in [
            ("go", "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs", "v1.52.2"),
            ("go", "helm.sh/helm/v3/cmd/helm", "v3.21.4"),
            ("npm", "@grafana/lezer-logql", "0.4.2"),
            ("maven", "org.apache.kafka:kafka_2.13", "3.9.1"),
        ]:
            self.assertIn(expected, seen)


class DenyListFile(unittest.TestCase):
    def test_a_malformed_row_is_an_error_with_its_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tsv") as bad:
            bad.write("# comment\ngo github.com/x/y *\n")
            bad.flush()
            with self.assertRaisesRegex(ValueError, r":2: want REGISTRY"):
                check_deps.load_deny_list(Path(bad.name))


if __name__ == "__main__":
    unittest.main()
