#!/usr/bin/env python3
"""dep-audit vs cargo-audit, side by side on the same Cargo.lock files and the same
RustSec snapshot, fully offline.

Usage: python3 benches/dep-audit/compare.py [--runs N]      (from the repository root)

Needs ../shared/data/advisories (the frozen advisory snapshots; absent for users and
CI: the script then says so and exits 0) and cargo-audit from crates.io
(`CARGO_AUDIT`, else on PATH; install with `cargo install cargo-audit --locked`).
Prints the markdown tables of RESULTS.md.

cargo-audit runs fully offline: `--no-fetch` (no advisory-db update) and
`--no-yanked` (no crates.io index lookups for yanked versions, which `--no-fetch`
alone does not turn off: they are network requests inside the timed run).

What is compared, per lockfile:
- the set of (advisory id, package@version) pairs each tool reports (vulnerabilities and the informational
  unmaintained/unsound warnings; cargo-audit's `yanked` check needs the network and is
  off with `--no-yanked`),
- the wall time of one whole run (process start, database load, audit), median of N.
dep-audit runs twice: on RustSec's native markdown database (the one cargo-audit
reads) and on the OSV export of the same database (the one gantry vendors).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# ../shared beside the checkout (CI, /work/main) or two levels up (helper worktrees).
SHARED = os.environ.get("GANTRY_ADVISORIES") or next(
    (
        p
        for p in (
            os.path.join(ROOT, "..", "shared", "data", "advisories"),
            os.path.join(ROOT, "..", "..", "shared", "data", "advisories"),
        )
        if os.path.isdir(p)
    ),
    os.path.join(ROOT, "..", "shared", "data", "advisories"),
)
LOCKFILES = [
    ("gantry (this repo)", "Cargo.lock"),
    ("dep-audit fixture", "plugins/dep-audit/tests/fixtures/workspace/Cargo.lock"),
    ("old-web (hyper/tokio 2021)", "benches/dep-audit/lockfiles/old-web/Cargo.lock"),
    ("old-misc (regex/smallvec/yaml)", "benches/dep-audit/lockfiles/old-misc/Cargo.lock"),
    # Issue 15 regressions: a pre-release (markdown matching) and advisories sharing an
    # alias / a placeholder-id copy in the OSV export.
    ("hyper-rc (hyper 1.0.0-rc.1)", "plugins/dep-audit/tests/fixtures/workspace/prerelease/Cargo.lock"),
    ("hpke (hpke-rs 0.5.0, matrix-sdk-base 0.14.0)", "plugins/dep-audit/tests/fixtures/workspace/identity/Cargo.lock"),
]


def find_cargo_audit():
    for cand in (
        os.environ.get("CARGO_AUDIT"),
        shutil.which("cargo-audit"),
    ):
        if cand and os.path.exists(cand):
            return cand
    return None


def timed(cmd, runs):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = p
    return statistics.median(times), out


def cargo_audit_ids(stdout):
    d = json.loads(stdout)
    items = list(d["vulnerabilities"]["list"])
    for kind, ws in d.get("warnings", {}).items():
        items.extend(w for w in ws if w.get("advisory"))
    return {
        f'{v["advisory"]["id"]} {v["package"]["name"]}@{v["package"]["version"]}' for v in items
    }


def dep_audit_ids(stdout):
    lines = stdout.strip().splitlines()
    findings = json.loads(lines[-1])
    return {f'{f["rule_id"]} {f["package"]}@{f["version"]}' for f in findings if f["ids"]}


def main():
    runs = 5
    if "--runs" in sys.argv:
        runs = int(sys.argv[sys.argv.index("--runs") + 1])
    native_db = os.path.join(SHARED, "rustsec")
    osv_db = os.path.join(SHARED, "rustsec-osv")
    if not os.path.isdir(native_db) or not os.path.isdir(osv_db):
        print(f"skipped: advisory snapshots not found at {SHARED} (set GANTRY_ADVISORIES)")
        return 0
    ca = find_cargo_audit()
    if ca is None:
        print("skipped: cargo-audit not found (cargo install cargo-audit --locked, or set CARGO_AUDIT)")
        return 0
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "dep-audit", "--example", "native-audit"],
        cwd=ROOT,
        check=True,
    )
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours = os.path.join(target, "release", "examples", "native-audit")
    version = subprocess.run([ca, "--version"], capture_output=True, text=True).stdout.strip()

    # Both tools read the same files: a private workspace with the lockfiles and the
    # two databases (cargo-audit needs no git repository with --no-fetch).
    work = tempfile.mkdtemp(prefix="dep-audit-bench-")
    try:
        shutil.copytree(native_db, os.path.join(work, "rustsec"))
        shutil.copytree(osv_db, os.path.join(work, "rustsec-osv"))
        rows, agree_rows = [], []
        for label, rel in LOCKFILES:
            src = os.path.join(ROOT, rel)
            dst_dir = os.path.join(work, "locks", label.split()[0])
            os.makedirs(dst_dir, exist_ok=True)
            lock = os.path.join(dst_dir, "Cargo.lock")
            shutil.copy(src, lock)
            lock_rel = os.path.relpath(lock, work)
            t_ca, p = timed(
                [ca, "audit", "--db", os.path.join(work, "rustsec"), "--no-fetch",
                 "--no-yanked", "--file", lock, "--json"],
                runs,
            )
            ca_ids = cargo_audit_ids(p.stdout)
            t_native, p = timed([ours, work, "--db", "rustsec", "--path", lock_rel, "--json"], runs)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return 1
            native_ids = dep_audit_ids(p.stdout)
            t_osv, p = timed([ours, work, "--db", "rustsec-osv", "--path", lock_rel, "--json"], runs)
            osv_ids = dep_audit_ids(p.stdout)
            packages = p.stdout.split("packages=")[1].split()[0]
            both = ca_ids & native_ids
            rows.append(
                f"| {label} | {packages} | {t_ca * 1000:.0f} ms | {t_native * 1000:.0f} ms | {t_osv * 1000:.0f} ms |"
            )
            only_ca = sorted(ca_ids - native_ids)
            only_ours = sorted(native_ids - ca_ids)
            osv_diff = sorted(osv_ids ^ native_ids)
            agree_rows.append(
                f"| {label} | {len(ca_ids)} | {len(native_ids)} | {len(osv_ids)} | {len(both)} | "
                f"{', '.join(only_ca) or '—'} | {', '.join(only_ours) or '—'} | {', '.join(osv_diff) or '—'} |"
            )
            print(f"{label}: {'; '.join(sorted(native_ids | ca_ids)) or '(none)'}", file=sys.stderr)
        print(f"{version} vs dep-audit native-audit (release build), median of {runs} runs, "
              f"{os.cpu_count()} CPUs\n")
        print("| lockfile | packages audited by dep-audit | cargo-audit (RustSec md) | dep-audit (RustSec md) | dep-audit (RustSec OSV) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print("\n".join(rows))
        print()
        print("| lockfile | cargo-audit findings | dep-audit findings (md) | dep-audit findings (OSV) | in both | only cargo-audit | only dep-audit | md vs OSV differ |")
        print("| --- | ---: | ---: | ---: | ---: | --- | --- | --- |")
        print("\n".join(agree_rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
