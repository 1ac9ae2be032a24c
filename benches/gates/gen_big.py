#!/usr/bin/env python3
"""Generate the benchmark inputs for coverage-gate and bench-gate.

    gen_big.py OUT_DIR [--files 5000] [--benches 2000] [--seed 1]

OUT_DIR/ws/                 a workspace: src/pkgNN/modNNNN.py sources
OUT_DIR/ws/big.info         LCOV of it, absolute SF paths under /ci/build/ (like CI)
OUT_DIR/ws/big.xml          the same coverage as Cobertura (<source>/ci/build</source>)
OUT_DIR/ws/expected.json    totals computed here, to check every tool agrees
OUT_DIR/crit/target/criterion/   criterion layout with `new/` and saved `main/` runs
                            (estimates.json, benchmark.json, sample.json, tukey.json)

Deterministic for a seed. Line hit patterns mimic real code: functions either run or
not, with runs of uncovered lines inside partially covered ones.
"""
import argparse
import json
import os
import random


def gen_coverage(root, files, rng):
    ws = os.path.join(root, "ws")
    lcov = []
    classes = {}
    tot_lines = cov_lines = tot_br = cov_br = 0
    for i in range(files):
        pkg = f"pkg{i % 50:02d}"
        rel = f"src/{pkg}/mod{i:04d}.py"
        n = rng.randint(40, 400)
        src_lines = []
        hits = {}
        branches = {}
        func_covered = True
        for ln in range(1, n + 1):
            if ln % 25 == 1:
                func_covered = rng.random() < 0.8
                src_lines.append(f"def f{ln}(x):")
                hits[ln] = 1
                continue
            if rng.random() < 0.15:
                src_lines.append("")
                continue
            stmt = f"    y{ln} = x * {ln} + {rng.randint(0, 999)}"
            if rng.random() < 0.1:
                stmt = f"    if x > {ln}:"
                taken = (1 if func_covered else 0, 1 if func_covered and rng.random() < 0.6 else 0)
                branches[ln] = taken
            src_lines.append(stmt)
            hit = func_covered and rng.random() < 0.93
            hits[ln] = rng.randint(1, 500) if hit else 0
        path = os.path.join(ws, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(src_lines) + "\n")
        lcov.append("TN:")
        lcov.append(f"SF:/ci/build/{rel}")
        for ln in sorted(hits):
            lcov.append(f"DA:{ln},{hits[ln]}")
            if ln in branches:
                a, b = branches[ln]
                lcov.append(f"BRDA:{ln},0,0,{a if a else '-' if not hits[ln] else 0}")
                lcov.append(f"BRDA:{ln},0,1,{b if b else '-' if not hits[ln] else 0}")
        lh = sum(1 for h in hits.values() if h)
        bh = sum(a + b for a, b in branches.values())
        lcov.append(f"LF:{len(hits)}")
        lcov.append(f"LH:{lh}")
        lcov.append(f"BRF:{2 * len(branches)}")
        lcov.append(f"BRH:{bh}")
        lcov.append("end_of_record")
        classes.setdefault(pkg, []).append((rel, hits, branches))
        tot_lines += len(hits)
        cov_lines += lh
        tot_br += 2 * len(branches)
        cov_br += bh
    with open(os.path.join(ws, "big.info"), "w") as f:
        f.write("\n".join(lcov) + "\n")
    with open(os.path.join(ws, "big.xml"), "w") as f:
        w = f.write
        w('<?xml version="1.0" ?>\n')
        w('<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n')
        w(f'<coverage version="gen" lines-valid="{tot_lines}" lines-covered="{cov_lines}" '
          f'line-rate="{cov_lines / tot_lines:.4f}" branches-valid="{tot_br}" branches-covered="{cov_br}" '
          f'branch-rate="{cov_br / max(tot_br, 1):.4f}" complexity="0" timestamp="0">\n')
        w("\t<sources>\n\t\t<source>/ci/build</source>\n\t</sources>\n\t<packages>\n")
        for pkg, items in sorted(classes.items()):
            w(f'\t\t<package name="{pkg}" line-rate="0" branch-rate="0" complexity="0">\n\t\t\t<classes>\n')
            for rel, hits, branches in items:
                name = os.path.basename(rel)
                w(f'\t\t\t\t<class name="{name}" filename="{rel}" complexity="0" line-rate="0" branch-rate="0">\n')
                w("\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n")
                for ln in sorted(hits):
                    if ln in branches:
                        a, b = branches[ln]
                        c = a + b
                        w(f'\t\t\t\t\t\t<line number="{ln}" hits="{hits[ln]}" branch="true" '
                          f'condition-coverage="{c * 50}% ({c}/2)"/>\n')
                    else:
                        w(f'\t\t\t\t\t\t<line number="{ln}" hits="{hits[ln]}"/>\n')
                w("\t\t\t\t\t</lines>\n\t\t\t\t</class>\n")
            w("\t\t\t</classes>\n\t\t</package>\n")
        w("\t</packages>\n</coverage>\n")
    with open(os.path.join(ws, "expected.json"), "w") as f:
        json.dump({"lines_covered": cov_lines, "lines_total": tot_lines,
                   "branches_covered": cov_br, "branches_total": tot_br, "files": files}, f)


def estimate(mean, spread):
    def est(v):
        return {"confidence_interval": {"confidence_level": 0.95, "lower_bound": v * (1 - spread),
                                        "upper_bound": v * (1 + spread)},
                "point_estimate": v, "standard_error": v * spread / 2}
    return {"mean": est(mean), "median": est(mean * 0.98), "median_abs_dev": est(mean * 0.05),
            "slope": est(mean * 1.01), "std_dev": est(mean * 0.1)}


def gen_criterion(root, benches, rng):
    base = os.path.join(root, "crit", "target", "criterion")
    expected = {"regressions": 0}
    for i in range(benches):
        group, fn, param = f"group{i % 40:02d}", f"fn{i % 7}", str(10 * (i // 280 + 1))
        full = f"{group}/{fn}/{param}-{i}"
        old = rng.uniform(50, 5e6)
        r = rng.random()
        factor = 1.5 if r < 0.05 else 0.7 if r < 0.10 else rng.uniform(0.97, 1.03)
        if r < 0.05:
            expected["regressions"] += 1
        for run, mean in (("main", old), ("new", old * factor)):
            d = os.path.join(base, group, fn, f"{param}-{i}", run)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "estimates.json"), "w") as f:
                json.dump(estimate(mean, 0.03), f)
            with open(os.path.join(d, "benchmark.json"), "w") as f:
                json.dump({"group_id": group, "function_id": fn, "value_str": f"{param}-{i}", "throughput": None,
                           "full_id": full, "directory_name": f"{group}/{fn}/{param}-{i}", "title": full}, f)
            iters = [float(k * 10) for k in range(1, 21)]
            with open(os.path.join(d, "sample.json"), "w") as f:
                json.dump({"sampling_mode": "Linear", "iters": iters,
                           "times": [it * mean * rng.uniform(0.97, 1.03) for it in iters]}, f)
            with open(os.path.join(d, "tukey.json"), "w") as f:
                json.dump([mean * 0.8, mean * 0.9, mean * 1.1, mean * 1.2], f)
    with open(os.path.join(root, "crit", "expected.json"), "w") as f:
        json.dump(expected, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--benches", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    gen_coverage(a.out, a.files, rng)
    gen_criterion(a.out, a.benches, rng)


if __name__ == "__main__":
    main()
