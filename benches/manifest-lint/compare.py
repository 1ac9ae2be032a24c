#!/usr/bin/env python3
"""Compare gantry's manifest-lint with checkov on a corpus of real Kubernetes manifests.

Usage: benches/manifest-lint/compare.py CORPUS [--runs N] [--config JSON] [--show CHECK]... [--json OUT]

CORPUS is a directory of manifests (`corpus.sh OUT` gathers the one RESULTS.md
describes; `$MANIFEST_CORPUS` is used when no argument is given). Skips cleanly, with
a message and exit 0, when the corpus or checkov (`pip install checkov`; `$CHECKOV`
names the executable) is absent.

In one run it:
- builds the native linter (`cargo build --release -p manifest-lint --example native-lint`),
- runs checkov (`--framework kubernetes --skip-download -o json`, the whole corpus in
  one process) and the native linter (the whole corpus in one process, each top-level
  directory of the corpus — one source repository — linted on its own, so that
  cross-object rules do not match a ServiceAccount of one project to a Deployment of
  another) N times each, alternating, and keeps the best wall time of each,
- compares results per checkov check as (file, resource, check id) triples, where the
  resource is checkov's `Kind.namespace.name` and gantry's findings count under every
  checkov id their rule carries as an alias: both / only checkov / only gantry. checkov
  reports a container check once per object; so does this comparison.
- prints markdown tables (agreement, checks with no counterpart, time) for
  RESULTS.md. `--show CKV_K8S_21` lists that check's disagreeing triples.
"""

import argparse
import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def timed(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - t0, p


def checkov_triples(text, root):
    """checkov's JSON (one report, or a list of reports) → failed triples and files."""
    data = json.loads(text) if text.strip() else []
    if isinstance(data, dict):
        data = [data]
    failed, files = set(), set()
    for report in data:
        if report.get("check_type") != "kubernetes":
            continue
        for r in report.get("results", {}).get("failed_checks", []):
            path = r["file_path"].lstrip("/")
            files.add(path)
            failed.add((path, r["resource"], r["check_id"]))
        for r in report.get("results", {}).get("passed_checks", []):
            files.add(r["file_path"].lstrip("/"))
    return failed, files


def gantry_triples(doc):
    out = set()
    for f in doc["findings"]:
        o = f.get("object")
        if not o:
            continue
        res = f'{o["kind"]}.{o["namespace"]}.{o["name"]}'
        for c in f.get("checkov", []):
            out.add((f["file"], res, c))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=os.environ.get("MANIFEST_CORPUS"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--show", action="append", default=[])
    ap.add_argument("--json", help="write the raw comparison here")
    ap.add_argument("--config", help="manifest-lint config as JSON, e.g. '{\"require-namespace\": true}'")
    args = ap.parse_args()

    if not args.corpus or not pathlib.Path(args.corpus).is_dir():
        print("SKIPPED: no manifest corpus (pass a directory, or gather one with "
              "benches/manifest-lint/corpus.sh OUT)")
        return 0
    corpus = pathlib.Path(args.corpus).resolve()
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not checkov:
        print("SKIPPED: `checkov` not found (pip install checkov, or set CHECKOV)")
        return 0

    build = subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "manifest-lint", "--example", "native-lint"],
        cwd=REPO)
    if build.returncode != 0:
        print("error: building native-lint failed", file=sys.stderr)
        return 1
    native = REPO / "target/release/examples/native-lint"
    rules = json.loads(subprocess.run([str(native), "--rules"], capture_output=True,
                                      text=True, check=True).stdout)
    alias = {c: r["id"] for r in rules for c in r["checkov"]}

    ck_cmd = [checkov, "-d", str(corpus), "--framework", "kubernetes", "-o", "json",
              "--quiet", "--skip-download", "--compact"]
    subdirs = sorted(p.name for p in corpus.iterdir() if p.is_dir())
    ml_cmd = [str(native)] + (["--config", args.config] if args.config else []) + (subdirs or ["."])
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    best_ck = best_ml = None
    ck_out = ml_out = None
    for _ in range(max(1, args.runs)):
        t, p = timed(ck_cmd, env=env, cwd=corpus)
        if p.returncode not in (0, 1):
            print(f"error: checkov failed ({p.returncode}): {p.stderr[-2000:]}", file=sys.stderr)
            return 1
        best_ck = t if best_ck is None else min(best_ck, t)
        ck_out = p.stdout
        t, p = timed(ml_cmd, cwd=corpus)
        if p.returncode != 0:
            print(f"error: native-lint failed: {p.stderr[-2000:]}", file=sys.stderr)
            return 1
        best_ml = t if best_ml is None else min(best_ml, t)
        ml_out = p.stdout

    ck, ck_files = checkov_triples(ck_out, corpus)
    ml_doc = json.loads(ml_out)
    ml = gantry_triples(ml_doc)
    # Only files both tools read as Kubernetes manifests are compared.
    common = ck_files & set(ml_doc["files"])
    ck = {t for t in ck if t[0] in common}
    ml = {t for t in ml if t[0] in common}

    ids = sorted({t[2] for t in ck} | {t[2] for t in ml},
                 key=lambda c: (c.split("_")[0], int(c.rsplit("_", 1)[1]) if c.rsplit("_", 1)[1].isdigit() else 0))
    print(f"corpus: {corpus}: {len(ml_doc['files'])} files with manifests (gantry), "
          f"{len(ck_files)} (checkov), {len(common)} compared; {ml_doc['objects']} objects "
          f"and services, {len(ml_doc['findings'])} gantry findings\n")
    print("| checkov check | gantry rule | both | only checkov | only gantry |")
    print("| --- | --- | ---: | ---: | ---: |")
    tot = collections.Counter()
    unmatched = []
    for c in ids:
        b = len({t for t in ck if t[2] == c} & {t for t in ml if t[2] == c})
        oc = len({t for t in ck if t[2] == c} - {t for t in ml if t[2] == c})
        og = len({t for t in ml if t[2] == c} - {t for t in ck if t[2] == c})
        if c not in alias:
            unmatched.append((c, oc))
            continue
        tot.update(both=b, ck=oc, ml=og)
        print(f"| {c} | `{alias[c]}` | {b} | {oc} | {og} |")
    print(f"| **total** | | **{tot['both']}** | **{tot['ck']}** | **{tot['ml']}** |")
    if unmatched:
        print("\ncheckov checks with no gantry rule (failures on the compared files):\n")
        print("| checkov check | failures |\n| --- | ---: |")
        for c, n in unmatched:
            print(f"| {c} | {n} |")
    own = collections.Counter(f["rule"] for f in ml_doc["findings"] if not f.get("checkov"))
    if own:
        print("\ngantry rules with no checkov check (findings on the whole corpus, Compose included):\n")
        print("| gantry rule | findings |\n| --- | ---: |")
        for r, n in sorted(own.items()):
            print(f"| `{r}` | {n} |")
    print(f"\n| tool | wall time, best of {args.runs} |\n| --- | ---: |")
    print(f"| checkov ({checkov}) | {best_ck:.2f} s |")
    print(f"| manifest-lint (native, release) | {best_ml:.3f} s |")
    for c in args.show:
        print(f"\n### {c}: only checkov")
        for t in sorted(t for t in ck - ml if t[2] == c)[:40]:
            print(" ", t[0], t[1])
        print(f"### {c}: only gantry")
        for t in sorted(t for t in ml - ck if t[2] == c)[:40]:
            print(" ", t[0], t[1])
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({
            "only_checkov": sorted(ck - ml), "only_gantry": sorted(ml - ck),
            "both": sorted(ck & ml)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
