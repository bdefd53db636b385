#!/usr/bin/env python3
"""Checks that nothing in the tree fetches a dependency of deps/deny-list.tsv.

It reads what the tree asks the registries for: the require, tool and toolchain lines of every
go.mod, the dependencies of every package.json and package-lock.json, the dependencies of every
pom.xml, and, in build scripts (shell, Python, CMake, Makefiles, Dockerfiles), every Go module
reference MODULE@VERSION, every GOTOOLCHAIN=VERSION and every pip pin NAME==VERSION, with
$VAR and ${VAR:-default} resolved from the same file's assignments. Each reference that a row
of the deny-list matches is printed as FILE:LINE: REGISTRY NAME VERSION: WHY; exit 1 if any.

  check_deps.py [--root DIR] [--deny-list FILE] [--list]
  --list  prints every reference found instead (what the check sees).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Reference:
    registry: str
    name: str
    version: str
    where: str  # FILE:LINE


@dataclass(frozen=True)
class DenyRule:
    registry: str
    name: str
    versions: str  # "*", "v1,v2" or "!v1"
    why: str

    def matches(self, ref: Reference) -> bool:
        if ref.registry != self.registry:
            return False
        if self.registry == "go":
            if ref.name != self.name and not ref.name.startswith(self.name + "/"):
                return False
        elif ref.name.lower() != self.name.lower():
            return False
        if self.versions == "*":
            return True
        if self.versions.startswith("!"):
            return ref.version != self.versions[1:]
        return ref.version in self.versions.split(",")


def load_deny_list(path: Path) -> list[DenyRule]:
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4 or fields[0] not in ("go", "npm", "maven", "pypi"):
            raise ValueError(f"{path}:{number}: want REGISTRY<TAB>NAME<TAB>VERSIONS<TAB>WHY")
        rules.append(DenyRule(*fields))
    return rules


# A Go module (or package) path with a version: host.tld/path@v1.2.3, @latest or @$VAR.
GO_REF = re.compile(r"\b([a-z0-9.-]+\.[a-z]{2,}(?:/[A-Za-z0-9._~+-]+)+)@"
                    r"(v[0-9][A-Za-z0-9.+-]*|latest|\$\{?[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}?)")
TOOLCHAIN = re.compile(r"\bGOTOOLCHAIN=[\"']?(\$\{?[A-Za-z_]\w*(?::-[^}]*)?\}?|[\w.+-]+)")
PIP_PIN = re.compile(r"[\"'\s(]([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*|\$\{?\w+\}?)")
ASSIGNMENT = re.compile(r"^\s*(?:export\s+|readonly\s+|local\s+)?([A-Za-z_]\w*)\s*=\s*"
                        r"(?:\$\{\w+:-([^}]*)\}|[\"']?([^\"'\s()$]+))")


def resolve(value: str, variables: dict[str, str]) -> str:
    """$VAR, ${VAR} or ${VAR:-default} -> the file's value for VAR (else the default)."""
    match = re.fullmatch(r"\$\{?([A-Za-z_]\w*)(?::-([^}]*))?\}?", value)
    if not match:
        return value
    return variables.get(match.group(1), match.group(2) or value)


def script_references(path: str, text: str) -> list[Reference]:
    variables: dict[str, str] = {}
    for line in text.splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            variables.setdefault(match.group(1), match.group(2) or match.group(3))
    refs = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path}:{number}"
        for module, version in GO_REF.findall(line):
            refs.append(Reference("go", module, resolve(version, variables), where))
        for value in TOOLCHAIN.findall(line):
            value = resolve(value, variables)
            if value not in ("local", "auto") and not value.startswith("$"):
                refs.append(Reference("go", "golang.org/toolchain", value.split("+")[0], where))
        for name, version in PIP_PIN.findall(line):
            refs.append(Reference("pypi", name, resolve(version, variables), where))
    return refs


def go_mod_references(path: str, text: str) -> list[Reference]:
    refs = []
    block = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//")[0].strip()
        where = f"{path}:{number}"
        words = line.split()
        if not words:
            continue
        if block:
            if words[0] == ")":
                block = None
            elif block == "require" and len(words) >= 2:
                refs.append(Reference("go", words[0], words[1], where))
            elif block == "tool":
                refs.append(Reference("go", words[0], "", where))
            continue
        if words[0] in ("require", "tool") and words[1:] == ["("]:
            block = words[0]
        elif words[0] == "require" and len(words) >= 3:
            refs.append(Reference("go", words[1], words[2], where))
        elif words[0] == "tool" and len(words) >= 2:
            refs.append(Reference("go", words[1], "", where))
        elif words[0] == "toolchain" and len(words) >= 2:
            refs.append(Reference("go", "golang.org/toolchain", words[1], where))
    return refs


def npm_references(path: str, text: str) -> list[Reference]:
    data = json.loads(text)
    refs = []
    for section in ("dependencies", "devDependencies", "optionalDependencies",
                    "peerDependencies"):
        for name, version in (data.get(section) or {}).items():
            refs.append(Reference("npm", name, str(version), f"{path}:1"))
    for key, package in (data.get("packages") or {}).items():  # package-lock.json v2/v3
        if "node_modules/" in key:
            name = key.rsplit("node_modules/", 1)[1]
            refs.append(Reference("npm", name, str(package.get("version", "")), f"{path}:1"))
    return refs


def pom_references(path: str, text: str) -> list[Reference]:
    root = ElementTree.fromstring(text)
    namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    properties = {}
    for props in root.iter(f"{namespace}properties"):
        for prop in props:
            properties[prop.tag[len(namespace):]] = (prop.text or "").strip()

    def field(element, name: str) -> str:
        value = (element.findtext(f"{namespace}{name}") or "").strip()
        return re.sub(r"\$\{([^}]+)\}", lambda m: properties.get(m.group(1), m.group(0)), value)

    refs = []
    for dependency in root.iter(f"{namespace}dependency"):
        name = f"{field(dependency, 'groupId')}:{field(dependency, 'artifactId')}"
        refs.append(Reference("maven", name, field(dependency, "version"), f"{path}:1"))
    return refs


SCRIPT_SUFFIXES = {".sh", ".py", ".cmake", ".mk", ".mjs", ".js", ".yml", ".yaml"}
SCRIPT_NAMES = {"Makefile", "CMakeLists.txt", "Dockerfile", "run"}


def file_references(path: str, text: str) -> list[Reference]:
    name = os.path.basename(path)
    if name == "go.mod":
        return go_mod_references(path, text)
    if name in ("package.json", "package-lock.json"):
        return npm_references(path, text)
    if name == "pom.xml":
        return pom_references(path, text)
    if (Path(name).suffix in SCRIPT_SUFFIXES or name in SCRIPT_NAMES
            or text.startswith("#!")):
        return script_references(path, text)
    return []


def tree_files(root: Path) -> list[str]:
    """The tree's files, as git sees them (tracked and new, not ignored); every file if no git."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    # The deny-list and its tests name what they deny; documentation only talks about it.
    return sorted(f for f in listed if not f.startswith("deps/") and not f.endswith(".md")
                  and (root / f).is_file())


def tree_references(root: Path) -> list[Reference]:
    refs = []
    for path in tree_files(root):
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files ask no registry for anything
        refs.extend(file_references(path, text))
    return refs


def violations(refs: list[Reference], rules: list[DenyRule]) -> list[tuple[Reference, DenyRule]]:
    return [(ref, rule) for ref in refs for rule in rules if rule.matches(ref)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent)
    parser.add_argument("--deny-list", type=Path, default=HERE / "deny-list.tsv")
    parser.add_argument("--list", action="store_true", help="print every reference found")
    args = parser.parse_args(argv)
    refs = tree_references(args.root)
    if args.list:
        for ref in refs:
            print(f"{ref.where}: {ref.registry} {ref.name} {ref.version}")
        return 0
    found = violations(refs, load_deny_list(args.deny_list))
    for ref, rule in found:
        print(f"{ref.where}: {ref.registry} {ref.name} {ref.version or '(any)'}: {rule.why}")
    print(f"deps: {len(refs)} references checked, {len(found)} denied", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
