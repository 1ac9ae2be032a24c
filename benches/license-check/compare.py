#!/usr/bin/env python3
"""Runs cargo-deny and license-check's native build on the same Cargo.lock with the
same allow list and prints a markdown report (see compare.sh for the knobs).

Per-crate agreement: a crate is *accepted* by cargo-deny when no `rejected` or
`unlicensed` diagnostic names it; by license-check when its verdict is `allowed`.
Licence ids are compared as sets (cargo-deny `list` against license-check's
canonical expression). Crates present in only one tool's graph are listed apart:
license-check reads every `[[package]]` of Cargo.lock, cargo-deny the graph
`cargo metadata` resolves.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path


def sh(cmd, cwd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t0, p


def main():
    ap = argparse.ArgumentParser()
    for a in ["root", "out", "allow", "deny", "native", "registry"]:
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--identify", help="identify-texts binary: also measure licence text identification")
    a = ap.parse_args()
    root, out = Path(a.root), Path(a.out)
    allow = [x.strip() for x in a.allow.split(",") if x.strip()]

    deny_toml = out / "deny.toml"
    deny_toml.write_text(
        "[graph]\nall-features = true\n\n[licenses]\n"
        f"allow = {json.dumps(allow)}\n"
        "confidence-threshold = 0.9\nunused-allowed-license = \"allow\"\n\n"
        "[licenses.private]\nignore = false\n"
    )
    deny_cmd = [a.deny, "--offline", "--color", "never", "-f", "json",
                "--config", str(deny_toml), "check", "licenses"]
    if Path(a.deny).name == "cargo":
        deny_cmd.insert(1, "deny")

    def ours_cmd(allow_list):
        cfg = {"allow": allow_list, "cargo": {}, "files": {"paths": []}}
        return [a.native, str(root), "--registry", a.registry, "--config", json.dumps(cfg), "--json"]

    # Warm both (page cache, cargo metadata cache), then alternate timed runs.
    sh(deny_cmd, root)
    sh(ours_cmd(allow), root)
    t_deny, t_ours, t_meta = [], [], []
    meta_cmd = ["cargo", "metadata", "--format-version", "1", "--offline", "--all-features"]
    for _ in range(a.runs):
        t, _p = sh(meta_cmd, root)
        t_meta.append(t)
        t, p_deny = sh(deny_cmd, root)
        t_deny.append(t)
        t, p_ours = sh(ours_cmd(allow), root)
        t_ours.append(t)
    if p_ours.returncode != 0:
        sys.exit(f"native-check failed: {p_ours.stderr}")

    # cargo-deny verdicts from its JSON diagnostics (on stderr).
    deny_bad = {}
    for line in p_deny.stderr.splitlines():
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        f = d.get("fields", {})
        if f.get("severity") != "error" or f.get("code") not in ("rejected", "unlicensed"):
            continue
        for g in f.get("graphs", []):
            k = g.get("Krate", {})
            deny_bad[(k.get("name"), k.get("version"))] = f["code"]
    (out / "cargo-deny-check.jsonl").write_text(p_deny.stderr)

    _, p_list = sh([a.deny, "--offline", "--color", "never", "--config", str(deny_toml),
                    "list", "-f", "json", "-l", "crate"], root)
    deny_list = {}
    for key, v in json.loads(p_list.stdout or "{}").items():
        name, version = key.split(" ")[:2]
        deny_list[(name, version)] = set(v.get("licenses", []))

    ours_lines = p_ours.stdout.splitlines()
    (out / "license-check.json").write_text(ours_lines[1] + "\n")
    ours = {(p["name"], p["version"]): p for p in json.loads(ours_lines[1])}

    both = sorted(set(ours) & set(deny_list))
    only_ours = sorted(set(ours) - set(deny_list))
    only_deny = sorted(set(deny_list) - set(ours))
    agree_verdict, agree_ids, disagreements = 0, 0, []
    for k in both:
        o_ok = ours[k]["verdict"] == "allowed"
        d_ok = k not in deny_bad
        o_ids = set(re.findall(r"[A-Za-z0-9.+:-]+(?: WITH [A-Za-z0-9.-]+)?",
                               (ours[k]["license"] or "").replace(" AND ", " ").replace(" OR ", " ").replace("(", " ").replace(")", " "))) - {""}
        same_ids = o_ids == deny_list[k]
        agree_verdict += o_ok == d_ok
        agree_ids += same_ids
        if o_ok != d_ok or not same_ids:
            disagreements.append((k, ours[k]["verdict"], ours[k]["license"], deny_bad.get(k, "accepted"), sorted(deny_list[k])))

    # Which allow-list entries are actually needed: drop each, rerun, count the damage.
    base_bad = sum(1 for p in ours.values() if p["verdict"] != "allowed")
    needed = []
    for lic in allow:
        _, p = sh(ours_cmd([x for x in allow if x != lic]), root)
        pk = json.loads(p.stdout.splitlines()[1])
        extra = [f'{q["name"]} {q["version"]}' for q in pk if q["verdict"] != "allowed"
                 and ours.get((q["name"], q["version"]), {}).get("verdict") == "allowed"]
        needed.append((lic, extra))
    not_allowed = [p for p in ours.values() if p["verdict"] != "allowed"]

    md = []
    md.append("## license-check vs cargo-deny (gantry's Cargo.lock)\n")
    md.append(f"Allow list: `{', '.join(allow)}`. {a.runs} alternating runs each, median wall time "
              "(process start to exit, warm page cache, offline).\n")
    md.append("| tool | crates checked | not accepted | wall time (median) | min | max |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    md.append(f"| cargo-deny `check licenses` ({sh([a.deny, '--version'], root)[1].stdout.strip()}) | {len(deny_list)} | {len(deny_bad)} | "
              f"{statistics.median(t_deny)*1000:.0f} ms | {min(t_deny)*1000:.0f} ms | {max(t_deny)*1000:.0f} ms |")
    md.append(f"| license-check native (`native-check`) | {len(ours)} | {base_bad} | "
              f"{statistics.median(t_ours)*1000:.0f} ms | {min(t_ours)*1000:.0f} ms | {max(t_ours)*1000:.0f} ms |")
    md.append(f"| (for reference) `cargo metadata --offline --all-features`, which cargo-deny runs first | | | "
              f"{statistics.median(t_meta)*1000:.0f} ms | {min(t_meta)*1000:.0f} ms | {max(t_meta)*1000:.0f} ms |")
    md.append("")
    md.append(f"Per-crate agreement on the {len(both)} crates both tools see: verdict {agree_verdict}/{len(both)}, "
              f"licence ids {agree_ids}/{len(both)}.\n")
    if disagreements:
        md.append("| crate | license-check | expression | cargo-deny | cargo-deny ids |")
        md.append("| --- | --- | --- | --- | --- |")
        for k, ov, ol, dv, dl in disagreements:
            md.append(f"| {k[0]} {k[1]} | {ov} | `{ol}` | {dv} | {', '.join(dl)} |")
        md.append("")
    if only_ours:
        md.append(f"In Cargo.lock but not in cargo-deny's resolved graph ({len(only_ours)}): "
                  + ", ".join(f"{n} {v}" for n, v in only_ours) + "\n")
    if only_deny:
        md.append(f"In cargo-deny's graph only ({len(only_deny)}): " + ", ".join(f"{n} {v}" for n, v in only_deny) + "\n")
    md.append("### Not accepted with this allow list\n")
    for p in sorted(not_allowed, key=lambda p: p["name"]):
        md.append(f"- `{p['name']} {p['version']}`: {p['verdict']} (`{p['license']}`)")
    md.append("\n### Which allow-list entries gantry's tree needs\n")
    md.append("| entry | crates that need it (no other acceptable choice) |")
    md.append("| --- | --- |")
    for lic, extra in needed:
        md.append(f"| `{lic}` | {len(extra)}{': ' + ', '.join(extra[:6]) + (' …' if len(extra) > 6 else '') if extra else ' (not needed today)'} |")
    if a.identify:
        md.extend(identify_report(a.identify, Path(a.registry)))
    print("\n".join(md))


def identify_report(binary, registry):
    """Licence files in the registry cache: identified ids vs the crate's declared licence."""
    dirs = [d for d in sorted(registry.iterdir()) if d.is_dir()]
    t, p = sh([binary, *map(str, dirs)], registry)
    rows = [line.split("\t") for line in p.stdout.splitlines() if line.count("\t") == 3]
    known = [r for r in rows if r[3]]
    wrong = []
    for crate, name, declared, found in known:
        ids = {x.split("(")[0] for x in found.split()}
        declared_ids = set(re.findall(r"[A-Za-z0-9.+-]+", declared))
        if not ids <= declared_ids:
            wrong.append(f"`{crate}/{name}` (declared `{declared}`, read {', '.join(sorted(ids))})")
    md = ["\n### Licence text identification (templates) on the registry cache\n",
          f"{len(rows)} LICENSE/COPYING files of {len({r[0] for r in rows})} crate versions, {t*1000:.0f} ms: "
          f"{len(known)} identified, {len(rows) - len(known)} unknown (never guessed); "
          f"{len(known) - len(wrong)} of the identified agree with the crate's declared `license`."]
    if wrong:
        md.append("Identified ids outside the declared expression (files that bundle third-party texts):")
        md.extend(f"- {w}" for w in wrong)
    return md


if __name__ == "__main__":
    main()
