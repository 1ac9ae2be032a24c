#!/usr/bin/env python3
"""Generate the secret-scan *throughput* corpus: a tree of realistic source-like text.

    python3 benches/secret-scan/gen_corpus.py OUT_DIR [--size-mb 200] [--seed 1]

Deterministic for a given seed and size (pure synthetic text, no machine-specific
input). The mix imitates a polyglot repository: Rust, Python, TypeScript, Go, YAML,
TOML, JSON, Markdown, shell, .env, lockfiles, and a few minified bundles with very
long lines. It deliberately contains the words scanners key on (token, password,
secret, key, auth, URLs, hashes, base64) at a realistic density, so keyword
prefilters are exercised, but no credential-shaped values.

Output goes under OUT_DIR (keep it in target/bench-data/, which git ignores).
"""

import argparse
import base64
import os
import random
import sys

WORDS = (
    "alpha beta gamma delta config client server request response handler buffer "
    "reader writer stream parser lexer span node tree graph edge cache entry "
    "value key map list queue stack index offset length count size limit timeout "
    "retry backoff error result option state context session user account project "
    "stage pipeline plugin runtime engine module crate package version manifest "
    "digest hash checksum signature verify sign encode decode permission grant policy "
    "scope audit record journal event log level "
    "format render template schema field column row table query cursor commit branch "
    "tag remote origin fetch push merge build test bench deploy release artifact"
).split()

HEX = "0123456789abcdef"


def ident(r, parts=None):
    n = parts or r.choice((1, 1, 2, 2, 3))
    return "_".join(r.choice(WORDS) for _ in range(n))


def camel(r):
    w = [r.choice(WORDS) for _ in range(r.choice((1, 2, 3)))]
    return w[0] + "".join(x.title() for x in w[1:])


def typename(r):
    return "".join(r.choice(WORDS).title() for _ in range(r.choice((1, 2))))


def sentence(r, n=None):
    n = n or r.randint(4, 14)
    return " ".join(r.choice(WORDS) for _ in range(n))


def url(r):
    # Real code has about one URL per 5 KB: most "links" here are relative paths.
    if r.random() < 0.8:
        return "../%s/%s.%s" % (r.choice(WORDS), ident(r), r.choice(("md", "html", "rs")))
    return "https://%s.%s/%s/%s" % (r.choice(WORDS), r.choice(("com", "org", "io", "dev")), r.choice(WORDS), ident(r))


def hexs(r, n):
    return "".join(r.choice(HEX) for _ in range(n))


# Share of generated blocks that mention a secret-ish word (token, password, secret,
# Authorization, URLs with credentials placeholders...). Measured on ~30 MB of
# crates.io sources: one prefilter keyword hit per ~3.7 KB; a block here is ~150 B.
KEYWORD_SHARE = 0.04


def pick(r, normal, keyword):
    return r.choice(keyword) if r.random() < KEYWORD_SHARE else r.choice(normal)


def rust_lines(r):
    t, f, v = typename(r), ident(r), ident(r, 1)
    return pick(r, [
        [f"pub fn {f}(&self, {v}: &{t}) -> Result<{typename(r)}, Error> {{",
         f"    let {ident(r)} = self.{ident(r)}.get(&{v}).ok_or(Error::{typename(r)})?;",
         f"    for {ident(r,1)} in {v}.iter() {{",
         f"        if {ident(r,1)}.{ident(r)} > {r.randint(0, 4096)} {{ continue; }}",
         f"        self.{ident(r)}.push({ident(r,1)}.clone());",
         "    }",
         f"    Ok({t}::new({v}))",
         "}"],
        [f"/// {sentence(r).capitalize()}.", f"/// See <{url(r)}> for the {sentence(r, 3)}."],
        [f"#[derive(Debug, Clone, PartialEq)]", f"pub struct {t} {{", f"    pub {ident(r)}: {typename(r)},",
         f"    {ident(r)}: Vec<{typename(r)}>,", "}"],
        [f"const {ident(r).upper()}: &str = \"{sentence(r, 2)}\";", f"const {ident(r).upper()}: u32 = {r.randint(0, 1 << 20)};"],
        [f"    // TODO({ident(r,1)}): {sentence(r)}"],
        [f"use crate::{ident(r,1)}::{{{typename(r)}, {typename(r)}}};", f"use std::{r.choice(('fs','io','sync','collections'))}::{typename(r)};"],
        [f"impl {t} {{", f"    pub fn new() -> Self {{ Self::default() }}", "}"],
    ], [
        [f"let token = self.next_token()?;", f"match token.kind {{ TokenKind::{typename(r)} => {{}} _ => return Err(self.unexpected(token)) }}"],
        [f"let password_hash = hash_password(&{v}, &salt)?;", f"assert_eq!({v}.len(), {r.randint(1, 64)});"],
        [f"let secret = secrets.get(\"{ident(r).upper()}\").ok_or_else(|| anyhow!(\"missing secret\"))?;"],
        [f"    token: Option<{typename(r)}>,"],
    ])


def python_lines(r):
    f, v = ident(r), ident(r, 1)
    return pick(r, [
        [f"def {f}(self, {v}, {ident(r,1)}=None):", f'    """{sentence(r).capitalize()}."""',
         f"    if {v} is None:", f"        raise ValueError(\"{sentence(r, 5)}\")",
         f"    return self.{ident(r)}[{v}]"],
        [f"class {typename(r)}({typename(r)}):", f"    {ident(r)} = {r.randint(0, 999)}", "    pass"],
        [f"import {ident(r,1)}", f"from {ident(r,1)}.{ident(r,1)} import {typename(r)}"],
        [f"    # {sentence(r)}"],
        [f"resp = requests.get(\"{url(r)}\", timeout={r.randint(1, 30)})"],
        [f"for {v} in {ident(r)}:", f"    total += {v}.{ident(r)}"],
    ], [
        [f"api_token = os.environ.get(\"{ident(r).upper()}_TOKEN\")", f"headers = {{\"Authorization\": f\"Bearer {{api_token}}\"}}"],
        [f"PASSWORD_MIN_LENGTH = {r.randint(8, 16)}"],
    ])


def ts_lines(r):
    c = camel(r)
    return pick(r, [
        [f"export function {c}({camel(r)}: {typename(r)}): Promise<{typename(r)}> {{",
         f"  const {camel(r)} = await fetch(`{url(r)}/${{{camel(r)}}}`);",
         f"  return {camel(r)}.json();", "}"],
        [f"import {{ {typename(r)}, {typename(r)} }} from './{ident(r,1)}';"],
        [f"// {sentence(r)}"],
        [f"interface {typename(r)} {{ {camel(r)}: string; {camel(r)}?: number }}"],
    ], [
        [f"const token = localStorage.getItem('{camel(r)}');", f"if (!token) {{ throw new Error('{sentence(r, 4)}'); }}"],
        [f"interface {typename(r)} {{ user: string; password?: string }}"],
    ])


def go_lines(r):
    return pick(r, [
        [f"func ({ident(r,1)[0]} *{typename(r)}) {typename(r)}(ctx context.Context, {camel(r)} string) error {{",
         f"\tif err := {ident(r,1)[0]}.{camel(r)}(ctx); err != nil {{", f"\t\treturn fmt.Errorf(\"{sentence(r, 3)}: %w\", err)", "\t}",
         "\treturn nil", "}"],
        [f"// {typename(r)} {sentence(r)}."],
    ], [
        [f"\ttoken, err := auth.{typename(r)}(ctx, cfg.{typename(r)})"],
    ])


def yaml_lines(r):
    return pick(r, [
        [f"{ident(r)}:", f"  {ident(r)}: {r.randint(0, 100)}", f"  {ident(r)}: \"{sentence(r, 3)}\"", f"  enabled: {r.choice(('true','false'))}"],
        ["steps:", f"  - name: {sentence(r, 3)}", f"    run: cargo {r.choice(('build','test','clippy'))} --{ident(r,1)}"],
        [f"# {sentence(r)}"],
        [f"image: {ident(r,1)}/{ident(r,1)}:{r.randint(1,9)}.{r.randint(0,20)}", f"url: {url(r)}"],
    ], [
        ["    env:", f"      GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}"],
        [f"  password: ${{DB_PASSWORD}}"],
    ])


def toml_lines(r):
    return r.choice([
        [f"[{ident(r)}]", f"{ident(r)} = \"{sentence(r, 2)}\"", f"{ident(r)} = {r.randint(0, 1000)}"],
        [f"{ident(r,1)} = {{ version = \"{r.randint(0,3)}.{r.randint(0,30)}\", features = [\"{ident(r,1)}\"] }}"],
        [f"# {sentence(r)}"],
    ])


def md_lines(r):
    return pick(r, [
        [f"## {sentence(r, 3).title()}", "", sentence(r, 20).capitalize() + ".", ""],
        [f"- {sentence(r)} ([docs]({url(r)}))"],
        [sentence(r, 25).capitalize() + "."],
    ], [
        ["```sh", f"export {ident(r).upper()}_TOKEN=<your token>", f"gantry run --{ident(r,1)}", "```"],
    ])


def sh_lines(r):
    return pick(r, [
        [f"if [ -z \"${{{ident(r).upper()}}}\" ]; then", f"  echo \"{sentence(r, 4)}\" >&2", "  exit 1", "fi"],
        [f"curl -sSf {url(r)} -o {ident(r,1)}.tar.gz"],
        [f"# {sentence(r)}"],
    ], [
        [f"TOKEN=\"$(cat /run/secrets/{ident(r,1)})\"", f"curl -sSf -H \"Authorization: Bearer $TOKEN\" {url(r)}"],
    ])


def json_obj(r, depth=0):
    items = []
    for _ in range(r.randint(2, 6)):
        k = camel(r)
        if depth < 2 and r.random() < 0.3:
            items.append(f'"{k}": {json_obj(r, depth + 1)}')
        else:
            items.append(f'"{k}": ' + r.choice([str(r.randint(0, 9999)), f'"{sentence(r, 3)}"', "true", "null", f'"{url(r)}"']))
    return "{" + ", ".join(items) + "}"


def cargo_lock(r, n):
    out = ["# This file is automatically @generated by Cargo.", "version = 4", ""]
    for _ in range(n):
        out += ["[[package]]", f'name = "{ident(r).replace("_", "-")}"', f'version = "{r.randint(0,3)}.{r.randint(0,40)}.{r.randint(0,20)}"',
                'source = "registry+https://github.com/rust-lang/crates.io-index"', f'checksum = "{hexs(r, 64)}"', ""]
    return "\n".join(out) + "\n"


def package_lock(r, n):
    out = ['{', '  "name": "app",', '  "lockfileVersion": 3,', '  "packages": {']
    for i in range(n):
        name = ident(r).replace("_", "-")
        integ = base64.b64encode(r.randbytes(64)).decode()
        out += [f'    "node_modules/{name}": {{', f'      "version": "{r.randint(0,9)}.{r.randint(0,20)}.{r.randint(0,9)}",',
                f'      "resolved": "https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",',
                f'      "integrity": "sha512-{integ}"', "    }" + ("," if i < n - 1 else "")]
    out += ["  }", "}"]
    return "\n".join(out) + "\n"


def minified(r, size):
    parts = []
    total = 0
    while total < size:
        tok = "c.token?c:" if r.random() < 0.02 else ""
        p = f"function {camel(r)}(a,b){{var c=a.{camel(r)}||{{}};return {tok}b({r.randint(0,99)})}};var {camel(r)}=\"{sentence(r,2)}\";"
        parts.append(p)
        total += len(p)
    return "".join(parts) + "\n"


KINDS = [
    # (weight, extension, line generator)
    (30, "rs", rust_lines), (14, "py", python_lines), (12, "ts", ts_lines), (8, "go", go_lines),
    (6, "yaml", yaml_lines), (4, "toml", toml_lines), (8, "md", md_lines), (3, "sh", sh_lines),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--size-mb", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    target = int(a.size_mb * 1_000_000)
    os.makedirs(a.out, exist_ok=True)

    # Pools of generated blocks per kind: files are drawn from them (fast, and
    # repetition across files is what real repositories look like too).
    pools = {}
    for _, ext, gen in KINDS:
        pools[ext] = ["\n".join(gen(r)) for _ in range(6000)]
    weights = [w for w, _, _ in KINDS]

    written = 0
    n = 0
    while written < target:
        d = os.path.join(a.out, f"pkg{n // 200:04d}", r.choice(("src", "lib", "tests", "docs", "scripts", "config")))
        os.makedirs(d, exist_ok=True)
        roll = r.random()
        if roll < 0.035:
            d = os.path.join(d, f"m{n}")  # lockfiles keep their real names
            os.makedirs(d, exist_ok=True)
            if roll < 0.02:
                name, text = "Cargo.lock", cargo_lock(r, r.randint(50, 400))
            else:
                name, text = "package-lock.json", package_lock(r, r.randint(50, 400))
        elif roll < 0.06:
            name, text = f"{ident(r)}.json", json_obj(r) + "\n"
        elif roll < 0.065:
            name, text = f"{ident(r,1)}.min.js", minified(r, r.randint(50_000, 400_000))
        else:
            _, ext, _ = r.choices(KINDS, weights)[0]
            pool = pools[ext]
            blocks = r.randint(20, 400)
            start = r.randrange(len(pool))
            text = "\n".join(pool[(start + i * 7) % len(pool)] for i in range(blocks)) + "\n"
            name = f"{ident(r)}_{n}.{ext}"
        with open(os.path.join(d, name), "w") as fh:
            fh.write(text)
        written += len(text.encode())
        n += 1
    print(f"wrote {n} files, {written / 1e6:.1f} MB under {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
