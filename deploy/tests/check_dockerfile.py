#!/usr/bin/env python3
"""Static checks of deploy/docker/Dockerfile (CTest deploy.dockerfile); no Docker engine runs
in `make test`, so the image itself is never built here.

- dockerfile-utils (npm; scripts/deploy-tools) lints it: no error or warning.
- The rules docs/DEPLOY.md states: multi-stage, every stage on debian:bookworm-slim; the final
  stage runs as a numeric non-root user, tini as entrypoint, an ingest-* binary as command;
  no ADD, no `latest`; apt-get with update, -y and --no-install-recommends in the RUN that
  installs, and the lists removed in it; the build with tests and benchmarks off and a
  portable IW_TARGET_ARCH by default.
- The build context: every COPY source exists and /.dockerignore lets in every file under
  it; every directory the CMake build reads outside its test-only blocks is copied.
- The builder installs only packages scripts/setup installs, and the binaries it copies out
  are the CMake targets' real paths.
- The runtime libraries: every library the built binaries need (their DT_NEEDED entries,
  resolved by ldconfig and mapped to Debian packages by dpkg) is a package the final stage
  installs (libc6 is Essential); every package it installs exists in Debian 12 (apt-cache).

Exit 77 (skipped) without the tools (readelf, dpkg, dockerfile-utils).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, SERVICES, Failures, parse_binaries, skip, tool_paths  # noqa: E402

DOCKERFILE = os.path.join(REPO, "deploy", "docker", "Dockerfile")
DOCKERIGNORE = os.path.join(REPO, ".dockerignore")
BASE = "debian:bookworm-slim"
ESSENTIAL = {"libc6"}  # Essential: yes in Debian, in every image
# Installed by the final stage for other reasons than a DT_NEEDED entry: time zones, CAs, PID 1,
# the health-check client; the C++ runtime, which bookworm-slim has already, named anyway.
NOT_LIBRARIES = {"tzdata", "ca-certificates", "tini", "curl", "libgcc-s1", "libstdc++6"}


def instructions(path):
    """[(line, INSTRUCTION, arguments)] with continuations joined and comments dropped."""
    result, buf, start = [], "", 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            stripped = line.strip()
            if not buf and (not stripped or stripped.startswith("#")):
                continue
            if buf and stripped.startswith("#"):
                continue
            if not buf:
                start = n
            if stripped.endswith("\\"):
                buf += stripped[:-1] + " "
                continue
            buf += stripped
            word, _, rest = buf.partition(" ")
            result.append((start, word.upper(), rest.strip()))
            buf = ""
    return result


def stages(instrs):
    """[{'from': image, 'name': alias, 'instrs': [...]}] with global ARG defaults substituted."""
    global_args, result = {}, []
    for n, word, rest in instrs:
        if word == "ARG" and not result:
            k, _, v = rest.partition("=")
            global_args[k] = v.strip('"')
        elif word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                           lambda m: global_args.get(m.group(1) or m.group(2), m.group(0)),
                           parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append({"from": image, "name": name, "line": n, "instrs": []})
        elif result:
            result[-1]["instrs"].append((n, word, rest))
    return result


def apt_installs(run):
    """Package names of each `apt-get install` in a RUN command."""
    packages = []
    for segment in re.split(r"&&|;", run):
        words = shlex.split(segment)
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            packages += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return packages


def setup_packages():
    with open(os.path.join(REPO, "scripts", "setup")) as f:
        text = f.read()
    body = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M).group(1)
    return {w for line in body.splitlines() for w in line.split("#")[0].split()}


def dockerignore_patterns():
    patterns = []
    with open(DOCKERIGNORE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                negate = line.startswith("!")
                p = os.path.normpath(line.lstrip("!").lstrip("/"))
                patterns.append((negate, p))
    return patterns


def glob_match(pattern, path):
    """Docker's .dockerignore match (Go filepath.Match, plus `**` for any directories)."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
            if pattern.startswith("/", i):
                regex = regex[:-2] + "(.*/)?"
                i += 1
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


def ignored(path, patterns):
    """Whether the build context leaves `path` out: a pattern matching the path or one of its
    parent directories applies, the last one that does wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negate, pattern in patterns:
        if any(glob_match(pattern, p) for p in prefixes):
            result = not negate
    return result


def tracked_files(directory):
    proc = subprocess.run(["git", "-C", REPO, "ls-files", "--cached", "--others",
                           "--exclude-standard", "--", directory], capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return [f for f in proc.stdout.splitlines() if os.path.isfile(os.path.join(REPO, f))]
    found = []
    for root, _, files in os.walk(os.path.join(REPO, directory)):
        found += [os.path.relpath(os.path.join(root, f), REPO) for f in files]
    return found


def cmake_reads(directories):
    """Top-level repo directories CMake reads (add_subdirectory of the root, PROJECT_SOURCE_DIR
    references), outside `if(IW_BUILD_TESTS)` / `if(IW_BUILD_BENCH)` blocks."""
    needed = set()
    root = os.path.join(REPO, "CMakeLists.txt")
    files = [root]
    for d in directories:
        files += [os.path.join(REPO, f) for f in tracked_files(d) if f.endswith("CMakeLists.txt")]
    # Modules count where the root includes them outside the test blocks (appended below).
    modules = {}
    for d in directories:
        for f in tracked_files(d):
            if f.endswith(".cmake"):
                modules[os.path.basename(f)[:-len(".cmake")]] = os.path.join(REPO, f)
    for path in files:
        depth, test_depth = 0, None
        with open(path) as f:
            for line in f:
                code = line.split("#")[0]
                if re.match(r"\s*if\s*\(", code):
                    depth += 1
                    if test_depth is None and re.search(r"IW_BUILD_(TESTS|BENCH)", code):
                        test_depth = depth
                elif re.match(r"\s*endif\s*\(", code):
                    if test_depth == depth:
                        test_depth = None
                    depth -= 1
                if test_depth is not None:
                    continue
                if path == root:
                    for d in re.findall(r"add_subdirectory\(\s*([\w.-]+)", code):
                        needed.add(d)
                    for m in re.findall(r"include\(\s*([\w.-]+)\s*\)", code):
                        if m in modules and modules[m] not in files:
                            files.append(modules[m])
                    for d in re.findall(r"CMAKE_CURRENT_SOURCE_DIR\}/([\w.-]+)", code):
                        needed.add(d)
                for d in re.findall(r"PROJECT_SOURCE_DIR\}/([\w.-]+)", code):
                    needed.add(d)
    return needed


def needed_packages(binaries, fail):
    """{package: {'binary:soname', ...}} for the DT_NEEDED libraries of the binaries, with one
    dpkg -S for all of them (it reads every package's file list)."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    cache = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout
    users = {}  # library path -> users
    for name, exe in sorted(binaries.items()):
        out = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True,
                             check=True).stdout
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out):
            so = re.escape(soname)
            m = (re.search(rf"^\s*{so} \([^)]*x86-64[^)]*\) => (\S+)", cache, re.M)
                 or re.search(rf"^\s*{so} \(.*\) => (\S+)", cache, re.M))
            if fail.check(m, f"{name}: {soname} not in the linker cache"):
                users.setdefault(m.group(1), set()).add(f"{name}:{soname}")
    # The names dpkg may know a library by: as found, resolved, and across usrmerge
    # (/lib is /usr/lib).
    aliases = {}
    for path in users:
        for p in {path, os.path.realpath(path)}:
            for q in {p, re.sub(r"^/usr/lib/", "/lib/", p), re.sub(r"^/lib/", "/usr/lib/", p)}:
                aliases.setdefault(q, path)
    out = subprocess.run(["dpkg", "-S"] + sorted(aliases), capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        if path in aliases:
            owner[aliases[path]] = pkgs.split(",")[0].split(":")[0].strip()
    packages = {}
    for path, who in users.items():
        if fail.check(path in owner,
                      f"{path} ({', '.join(sorted(who))}) belongs to no Debian package"):
            packages.setdefault(owner[path], set()).update(who)
    return packages


def check_lint(fail, tools):
    proc = subprocess.run([tools["dockerfile_utils"], "lint", "--json", DOCKERFILE],
                          capture_output=True, text=True)
    try:
        diagnostics = json.loads(proc.stdout or "[]")
    except ValueError:
        diagnostics = [{"message": proc.stdout + proc.stderr}]
    for d in diagnostics:
        line = d.get("range", {}).get("start", {}).get("line", -1) + 1
        fail(f"dockerfile-utils: line {line}: {d.get('message')}")
    print(f"dockerfile-utils lint: {len(diagnostics)} diagnostic(s)")


def check_rules(fail, instrs, all_stages):
    fail.check(len(all_stages) >= 2, "not a multi-stage build")
    for st in all_stages:
        fail.check(st["from"] == BASE, f"line {st['line']}: FROM {st['from']}, expected {BASE}")
    for n, word, rest in instrs:
        fail.check(word != "ADD", f"line {n}: ADD (use COPY)")
        fail.check(":latest" not in rest, f"line {n}: a :latest tag")
        if word == "RUN" and re.search(r"apt-get\s+(\S+\s+)*install", rest):
            fail.check("apt-get update" in rest,
                       f"line {n}: apt-get install without update in the same RUN")
            fail.check("--no-install-recommends" in rest,
                       f"line {n}: apt-get install pulls recommends")
            fail.check(re.search(r"install\s+(-\S+\s+)*-y", rest),
                       f"line {n}: apt-get install without -y")
            fail.check("rm -rf /var/lib/apt/lists/*" in rest,
                       f"line {n}: apt lists left in the layer")
    words = {}
    for n, word, rest in all_stages[-1]["instrs"]:
        words.setdefault(word, []).append((n, rest))
    user = words.get("USER", [(0, "")])[-1][1]
    fail.check(re.fullmatch(r"[1-9]\d*(:\d+)?", user),
               f"final stage: USER {user!r} is not a numeric non-root uid")
    entry = json.loads(words.get("ENTRYPOINT", [(0, "[]")])[-1][1])
    fail.check(entry[:1] == ["/usr/bin/tini"], f"final stage: ENTRYPOINT {entry}, expected tini")
    cmd = json.loads(words.get("CMD", [(0, "[]")])[-1][1])
    fail.check(cmd[:1] and cmd[0] in {b for b, _ in SERVICES.values()}, f"final stage: CMD {cmd}")
    exposed = {int(p) for _, rest in words.get("EXPOSE", []) for p in rest.split()}
    fail.check(exposed == {p for _, p in SERVICES.values()},
               f"final stage: EXPOSE {sorted(exposed)}, expected the services' ports")
    build = all_stages[0]["instrs"]
    build_run = " ".join(rest for _, w, rest in build if w == "RUN")
    for flag in ("-DIW_BUILD_TESTS=OFF", "-DIW_BUILD_BENCH=OFF",
                 '-DIW_TARGET_ARCH="${IW_TARGET_ARCH}"'):
        fail.check(flag in build_run, f"builder: cmake without {flag}")
    arch = [rest for _, w, rest in build if w == "ARG" and rest.startswith("IW_TARGET_ARCH")]
    fail.check(arch == ["IW_TARGET_ARCH=x86-64-v2"],
               f"builder: ARG {arch}, expected IW_TARGET_ARCH=x86-64-v2")
    runtime = [p for _, rest in words.get("RUN", []) for p in apt_installs(rest)]
    builder = [p for _, w, rest in build if w == "RUN" for p in apt_installs(rest)]
    return build_run, builder, runtime


def check_context(fail, build_stage):
    patterns = dockerignore_patterns()
    copied = set()
    for n, word, rest in build_stage["instrs"]:
        if word != "COPY" or "--from" in rest:
            continue
        for src in rest.split()[:-1]:
            rel = os.path.normpath(src)
            copied.add(rel.split("/")[0])
            if not fail.check(os.path.exists(os.path.join(REPO, rel)),
                              f"line {n}: COPY {src}: missing"):
                continue
            files = tracked_files(rel) if os.path.isdir(os.path.join(REPO, rel)) else [rel]
            left_out = [f for f in files if ignored(f, patterns) and "__pycache__" not in f]
            fail.check(not left_out,
                       f"line {n}: COPY {src}: .dockerignore leaves out {left_out[:5]}")
    for d in sorted(cmake_reads(sorted(copied))):
        fail.check(d in copied, f"the CMake build reads {d}/, which the builder does not COPY")
    for d in ("build", "data", ".git", "deploy"):
        fail.check(ignored(d + "/x", patterns), f".dockerignore lets {d}/ into the build context")


def check_binaries(fail, build_run, builder, binaries):
    setup = setup_packages()
    fail.check(set(builder) <= setup,
               f"builder installs what scripts/setup does not: {sorted(set(builder) - setup)}")
    cps = re.findall(r"(/build/\S+/(ingest-[\w-]+))", build_run)
    fail.check(cps, "builder copies no binary out of /build")
    for path, name in cps:
        exe = binaries.get(name)
        if fail.check(exe, f"no --binary {name}=PATH given"):
            fail.check(exe.endswith(path[len("/build"):]),
                       f"builder copies {path}, but CMake builds {name} at {exe}")
    copied = sorted(n for _, n in cps)
    fail.check(copied == sorted(binaries), f"binaries copied {copied}, given {sorted(binaries)}")


def check_runtime(fail, runtime, builder, binaries):
    needed = needed_packages(binaries, fail)
    for package, users in sorted(needed.items()):
        fail.check(package in runtime or package in ESSENTIAL,
                   f"runtime stage does not install {package} ({', '.join(sorted(users))})")
    unused = set(runtime) - set(needed) - NOT_LIBRARIES
    fail.check(not unused, f"runtime stage installs libraries no binary needs: {sorted(unused)}")
    if subprocess.run(["apt-cache", "show", "libc6"], capture_output=True).returncode == 0:
        proc = subprocess.run(["apt-cache", "show", "--no-all-versions"] + runtime + builder,
                              capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)", proc.stdout, re.M))
        for package in runtime + builder:
            fail.check(package in known, f"{package}: not a Debian 12 package")
        checked = "checked with apt-cache"
    else:
        checked = "not checked (no apt lists)"
    print(f"runtime: {len(runtime)} packages, covering the {len(needed)} needed by "
          f"{len(binaries)} binaries; names {checked}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", action="append", help="NAME=PATH of a binary the image holds")
    args = parser.parse_args()
    for tool in ("readelf", "dpkg", "ldconfig"):
        if not shutil.which(tool) and not os.path.exists(f"/sbin/{tool}"):
            skip(f"{tool} is not installed")
    tools = tool_paths()
    fail = Failures()
    check_lint(fail, tools)
    instrs = instructions(DOCKERFILE)
    all_stages = stages(instrs)
    build_run, builder, runtime = check_rules(fail, instrs, all_stages)
    check_context(fail, all_stages[0])
    binaries = parse_binaries(args.binary)
    check_binaries(fail, build_run, builder, binaries)
    check_runtime(fail, runtime, builder, binaries)
    fail.finish("Dockerfile")


if __name__ == "__main__":
    main()
