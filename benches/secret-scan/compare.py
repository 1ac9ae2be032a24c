#!/usr/bin/env python3
"""Run secret scanners over the throughput corpus and the labelled corpus and print
a markdown table: throughput (MB/s), recall on planted secrets, false-positive rate
on planted decoys, and findings on unlabelled lines. Called by compare.sh.

Tools (each skipped with a visible note when unavailable):
- native:          secret-scan's engine built natively (examples/native-scan)
- gantry (wasm):   $GANTRY_SCAN_CMD, a shell command run with the directory appended
                   (or substituted for `{dir}`); its stdout may be SARIF, or a JSON
                   array of findings with `path`/`line`; otherwise only throughput
- ripsecrets:      `ripsecrets DIR` (grep-like `path:line:text` output)
- detect-secrets:  `detect-secrets scan --all-files .` in DIR (JSON results); slow,
                   so its throughput is measured on a --ds-mb subset of the corpus

All tools run pinned to one core (taskset -c 0) when taskset exists.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import defaultdict


def tree_bytes(d):
    return sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(d) for f in fs if not os.path.islink(os.path.join(dp, f)))


def pin(cmd):
    return (["taskset", "-c", "0"] + cmd) if shutil.which("taskset") else cmd


def run(cmd, cwd=None, shell=False):
    t0 = time.monotonic()
    p = subprocess.run(cmd if shell else pin(cmd), cwd=cwd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    return time.monotonic() - t0, p


def norm(path, root):
    path = path.strip()
    if path.startswith("file://"):
        path = path[len("file://"):]
    if os.path.isabs(path):
        path = os.path.relpath(path, root)
    return os.path.normpath(path).lstrip("./") if path.startswith("./") else os.path.normpath(path)


# ------------------------------------------------------------- tool adapters
# Each returns (seconds, set of (path, line)) or raises RuntimeError(note).

def tool_native(binary, d):
    secs, p = run([binary, d, "--json"])
    if p.returncode != 0:
        raise RuntimeError(f"native-scan failed: {p.stderr.strip()[:200]}")
    lines = p.stdout.split("\n", 1)
    found = set()
    if len(lines) > 1 and lines[1].strip():
        for f in json.loads(lines[1]):
            found.add((f["path"], f["line"]))
    return secs, found


def parse_findings_json(text, root):
    found = set()
    text = text.strip()
    if not text:
        return found, False
    start = min([i for i in (text.find("{"), text.find("[")) if i >= 0], default=-1)
    if start < 0:
        return found, False
    try:
        doc = json.loads(text[start:])
    except json.JSONDecodeError:
        # native-scan style: a stats line, then a JSON array line
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                try:
                    doc = json.loads(line)
                    break
                except json.JSONDecodeError:
                    pass
        else:
            return found, False
    if isinstance(doc, dict) and "runs" in doc:  # SARIF
        for r in doc["runs"]:
            for res in r.get("results", []):
                for loc in res.get("locations", [])[:1]:
                    pl = loc.get("physicalLocation", {})
                    uri = pl.get("artifactLocation", {}).get("uri", "")
                    found.add((norm(uri, root), pl.get("region", {}).get("startLine", 0)))
        return found, True
    if isinstance(doc, dict):
        doc = doc.get("findings", [])
    for f in doc:
        if isinstance(f, dict) and "path" in f and "line" in f:
            found.add((norm(f["path"], root), int(f["line"])))
    return found, True


def tool_gantry(cmd, d):
    full = cmd.replace("{dir}", shlex.quote(d)) if "{dir}" in cmd else f"{cmd} {shlex.quote(d)}"
    secs, p = run(f"taskset -c 0 {full}" if shutil.which("taskset") else full, shell=True)
    found, parsed = parse_findings_json(p.stdout, d)
    if not parsed and p.returncode not in (0, 1):
        raise RuntimeError(f"GANTRY_SCAN_CMD exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return secs, (found if parsed else None)


def tool_ripsecrets(binary, d):
    secs, p = run([binary, "."], cwd=d)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"ripsecrets exited {p.returncode}: {p.stderr.strip()[:200]}")
    found = set()
    for line in p.stdout.splitlines():
        m = re.match(r"^(.*?):(\d+):", line)
        if m:
            found.add((norm(m.group(1), d), int(m.group(2))))
    return secs, found


def tool_detect_secrets(binary, d):
    secs, p = run([binary, "scan", "--all-files", "."], cwd=d)
    if p.returncode != 0:
        raise RuntimeError(f"detect-secrets exited {p.returncode}: {p.stderr.strip()[-200:]}")
    doc = json.loads(p.stdout)
    found = set()
    for path, items in doc.get("results", {}).items():
        for it in items:
            found.add((norm(path, d), int(it["line_number"])))
    return secs, found


def subset(corpus, mb, out):
    """Hard-link the first files (sorted walk) of `corpus` up to `mb` MB into `out`."""
    marker = os.path.join(out, ".subset-done")
    if os.path.exists(marker):
        return out
    if os.path.exists(out):
        shutil.rmtree(out)
    total, limit = 0, mb * 1_000_000
    for dp, dns, fns in os.walk(corpus):
        dns.sort()
        for fn in sorted(fns):
            if total >= limit:
                break
            src = os.path.join(dp, fn)
            dst = os.path.join(out, os.path.relpath(src, corpus))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
            total += os.path.getsize(src)
    open(marker, "w").close()
    return out


def score(found, labels):
    by_path = defaultdict(list)
    for lab in labels:
        by_path[lab["path"]].append(lab)
    hit_labels = set()
    unlabelled = 0
    for path, line in found:
        matched = False
        for i, lab in enumerate(by_path.get(path, [])):
            if lab["line"] <= line <= lab["end_line"]:
                hit_labels.add(id(lab))
                matched = True
        if not matched:
            unlabelled += 1
    return hit_labels, unlabelled


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--labelled", required=True)
    ap.add_argument("--native", required=True, help="path of the native-scan binary")
    ap.add_argument("--ripsecrets", default=shutil.which("ripsecrets"))
    ap.add_argument("--detect-secrets", default=shutil.which("detect-secrets"))
    ap.add_argument("--ds-mb", type=float, default=10.0, help="corpus subset size for detect-secrets throughput")
    ap.add_argument("--tools", default="native,gantry,ripsecrets,detect-secrets", help="comma-separated subset to run")
    ap.add_argument("--repeat", type=int, default=2, help="throughput runs per tool (best is kept)")
    ap.add_argument("--per-kind", action="store_true", help="also print recall per kind")
    a = ap.parse_args()
    for attr in ("native", "ripsecrets", "detect_secrets"):
        if getattr(a, attr):
            setattr(a, attr, os.path.abspath(getattr(a, attr)))

    labels = json.load(open(os.path.join(a.labelled, "labels.json")))
    secrets = [x for x in labels if x["is_secret"]]
    decoys = [x for x in labels if not x["is_secret"]]
    corpus_bytes = tree_bytes(a.corpus)

    tools = [("secret-scan native", lambda d: tool_native(a.native, d), a.corpus)]
    gantry_cmd = os.environ.get("GANTRY_SCAN_CMD")
    tools.append(("secret-scan wasm (gantry)", (lambda d: tool_gantry(gantry_cmd, d)) if gantry_cmd else None, a.corpus))
    tools.append(("ripsecrets", (lambda d: tool_ripsecrets(a.ripsecrets, d)) if a.ripsecrets else None, a.corpus))
    want_ds = a.detect_secrets and "detect-secrets" in a.tools.split(",")
    ds_corpus = subset(a.corpus, a.ds_mb, a.corpus.rstrip("/") + f"-subset{int(a.ds_mb)}mb") if want_ds else None
    tools.append(("detect-secrets", (lambda d: tool_detect_secrets(a.detect_secrets, d)) if a.detect_secrets else None, ds_corpus))

    wanted = set(a.tools.split(","))
    keys = {"secret-scan native": "native", "secret-scan wasm (gantry)": "gantry", "ripsecrets": "ripsecrets", "detect-secrets": "detect-secrets"}
    tools = [t for t in tools if keys[t[0]] in wanted]
    rows, notes, per_kind = [], [], {}
    for name, fn, tp_dir in tools:
        if fn is None:
            why = "GANTRY_SCAN_CMD is not set" if "gantry" in name else "not installed"
            print(f"-- skipping {name}: {why}", file=sys.stderr)
            notes.append(f"{name}: skipped ({why})")
            continue
        try:
            print(f"-- {name}: throughput on {tp_dir}", file=sys.stderr)
            # Best of --repeat runs (page cache warm, less noise from other load).
            secs = min(fn(tp_dir)[0] for _ in range(a.repeat))
            mb = tree_bytes(tp_dir) / 1e6
            print(f"-- {name}: labelled corpus", file=sys.stderr)
            _, found = fn(a.labelled)
        except (RuntimeError, OSError, json.JSONDecodeError) as e:
            print(f"-- {name}: FAILED: {e}", file=sys.stderr)
            notes.append(f"{name}: failed ({e})")
            continue
        tp = f"{mb / secs:.1f}" + ("" if tp_dir == a.corpus else f" (on {mb:.0f} MB)")
        if found is None:
            rows.append((name, tp, "n/a", "n/a", "n/a"))
            notes.append(f"{name}: output not parseable as findings, quality not measured")
            continue
        hits, unlabelled = score(found, labels)
        rec = sum(1 for x in secrets if id(x) in hits)
        fp = sum(1 for x in decoys if id(x) in hits)
        rows.append((name, tp, f"{100 * rec / len(secrets):.1f}% ({rec}/{len(secrets)})",
                     f"{100 * fp / len(decoys):.1f}% ({fp}/{len(decoys)})", str(unlabelled)))
        kinds = defaultdict(lambda: [0, 0])
        for x in labels:
            kinds[(x["is_secret"], x["kind"])][1] += 1
            if id(x) in hits:
                kinds[(x["is_secret"], x["kind"])][0] += 1
        per_kind[name] = kinds

    print(f"\nThroughput corpus: {corpus_bytes / 1e6:.0f} MB ({a.corpus}); labelled corpus: "
          f"{len(secrets)} secrets of {len(set(x['kind'] for x in secrets))} kinds, {len(decoys)} decoys ({a.labelled}). One core.\n")
    print("| tool | throughput MB/s | recall (planted secrets) | decoy false positives | findings on unlabelled lines |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    for n in notes:
        print(f"\n- {n}")
    if a.per_kind and per_kind:
        names = list(per_kind)
        print("\n| kind | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        keys = sorted({k for v in per_kind.values() for k in v}, key=lambda k: (not k[0], k[1]))
        for k in keys:
            label = k[1] if k[0] else f"decoy: {k[1]}"
            cells = []
            for n in names:
                got, tot = per_kind[n].get(k, [0, 0])
                cells.append(f"{got}/{tot}")
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
