"""Tests of scripts/fresh-machine-check's pure parts: which Debian mirrors the rootfs comes
from, how Go and Node.js are mounted into the container, and the summary. (The check itself
runs for 30 to 60 minutes in a container: it is run by hand before resolving, not here.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "fresh-machine-check"
_loader = importlib.machinery.SourceFileLoader("fresh_machine_check", str(SCRIPT))
_spec = importlib.util.spec_from_loader("fresh_machine_check", _loader)
fmc = importlib.util.module_from_spec(_spec)
sys.modules["fresh_machine_check"] = fmc  # dataclasses look their module up
_loader.exec_module(fmc)

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
"""

NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""


class DebianMirrors(unittest.TestCase):
    def test_deb822_sources_keep_the_bookworm_suites_of_deb_entries(self):
        self.assertEqual(
            fmc.debian_mirrors({"/etc/apt/sources.list.d/debian.sources": DEB822,
                                "/etc/apt/sources.list.d/nodesource.sources": NODESOURCE}),
            ["deb http://mirror.example/debian bookworm bookworm-updates main",
             "deb http://mirror.example/debian-security bookworm-security main"])

    def test_one_line_sources_with_options_and_comments(self):
        text = ("# deb http://old.example/debian buster main\n"
                "deb [arch=amd64] http://mirror.example/debian bookworm main contrib\n"
                "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n")
        self.assertEqual(fmc.debian_mirrors({"/etc/apt/sources.list": text}),
                         ["deb http://mirror.example/debian bookworm main"])

    def test_files_apt_does_not_read_are_ignored_and_nothing_found_means_debian_org(self):
        self.assertEqual(
            fmc.debian_mirrors({"/etc/apt/sources.list.d/x.sources.disabled-by-farm": DEB822}),
            fmc.DEFAULT_MIRRORS)


class Prerequisites(unittest.TestCase):
    def test_a_distribution_node_mounts_the_binary_and_npm_with_links(self):
        p = fmc.prerequisites("/usr/local/go", "/usr/bin/node",
                              "/usr/lib/node_modules/npm/bin/npm-cli.js")
        self.assertEqual(p.mounts, [("/usr/local/go", "/usr/local/go"),
                                    ("/usr/bin/node", "/usr/bin/node"),
                                    ("/usr/lib/node_modules/npm",
                                     "/usr/lib/node_modules/npm")])
        self.assertEqual(p.links["npm"], "/usr/lib/node_modules/npm/bin/npm-cli.js")
        self.assertTrue(p.path.startswith(f"/usr/local/go/bin:{fmc.PREREQUISITE_BIN}:"))

    def test_a_tarball_node_mounts_its_prefix_whole(self):
        p = fmc.prerequisites("/opt/go", "/opt/node-v20.20.2/bin/node",
                              "/opt/node-v20.20.2/lib/node_modules/npm/bin/npm-cli.js")
        self.assertEqual(p.mounts, [("/opt/go", "/opt/go"),
                                    ("/opt/node-v20.20.2", "/opt/node-v20.20.2")])
        self.assertEqual(p.links, {})
        self.assertTrue(p.path.startswith("/opt/go/bin:/opt/node-v20.20.2/bin:"))
        self.assertNotIn(fmc.PREREQUISITE_BIN, p.path)


class NetworkTrust(unittest.TestCase):
    def test_the_local_cas_and_the_variables_naming_system_paths_go_in(self):
        args = fmc.network_trust({"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
                                  "PIP_CERT": "/home/me/my.pem", "HOME": "/root"},
                                 ["/usr/local/share/ca-certificates/egress.crt"])
        self.assertEqual(args, ["-v", f"{fmc.LOCAL_CA_DIR}:{fmc.LOCAL_CA_DIR}:ro",
                                "-e", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"])

    def test_nothing_without_local_cas_or_variables(self):
        self.assertEqual(fmc.network_trust({}, []), [])


class Summary(unittest.TestCase):
    def test_each_step_with_its_time_and_result(self):
        text = fmc.summary([fmc.Step("mmdebstrap", 82.4, True, Path("a")),
                            fmc.Step("make test", 1503, False, Path("b"))])
        self.assertIn("  mmdebstrap     1m22s  passed\n", text)
        self.assertIn("  make test     25m03s  FAILED", text)


if __name__ == "__main__":
    unittest.main()
