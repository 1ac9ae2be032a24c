#!/usr/bin/env bash
# Compare secret-scan (native and, via gantry, wasm) with ripsecrets and detect-secrets:
# throughput on a generated source corpus, recall / decoy false positives on a
# labelled corpus. Prints a markdown table.
#
#   benches/secret-scan/compare.sh                 # 200 MB corpus, 1500 real files
#   SIZE_MB=40 FILES=600 benches/secret-scan/compare.sh
#
# Environment:
#   SIZE_MB, FILES, SEED      corpus sizes and seed (defaults 200, 1500, 1)
#   GANTRY_SCAN_CMD           command that scans a directory with the wasm build through
#                             gantry (directory appended, or `{dir}` substituted);
#                             skipped with a message when unset
#   NATIVE_SCAN               prebuilt native-scan binary (default: cargo build --release)
#   DS_MB                     corpus subset (MB) for detect-secrets throughput (default 10)
#   TOOLS                     subset to run (default native,gantry,ripsecrets,detect-secrets)
#
# Corpora and tools live under target/ (git-ignored): target/bench-data/ and
# target/bench-tools/ (ripsecrets via `cargo install --root`, detect-secrets in a venv
# unless already on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

SIZE_MB="${SIZE_MB:-200}"
FILES="${FILES:-1500}"
SEED="${SEED:-1}"
DS_MB="${DS_MB:-10}"
data="target/bench-data"
tools="target/bench-tools"
corpus="$data/corpus-${SIZE_MB}mb-s${SEED}"
labelled="$data/labelled-${FILES}-s${SEED}"
mkdir -p "$data" "$tools"

if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  python3 "$here/gen_corpus.py" "$corpus" --size-mb "$SIZE_MB" --seed "$SEED"
  touch "$corpus/.done"
fi
if [ ! -f "$labelled/labels.json" ]; then
  python3 "$here/gen_labelled.py" "$labelled" --files "$FILES" --seed "$SEED"
fi

if [ -z "${NATIVE_SCAN:-}" ]; then
  cargo build --release -p secret-scan --example native-scan >&2
  NATIVE_SCAN="target/release/examples/native-scan"
fi

rip="$(command -v ripsecrets || true)"
if [ -z "$rip" ]; then
  rip="$tools/bin/ripsecrets"
  [ -x "$rip" ] || cargo install ripsecrets --locked --root "$tools" >&2 || rip=""
fi

ds="$(command -v detect-secrets || true)"
if [ -z "$ds" ]; then
  ds="$tools/venv/bin/detect-secrets"
  if [ ! -x "$ds" ]; then
    { python3 -m venv "$tools/venv" && "$tools/venv/bin/pip" install -q detect-secrets; } >&2 || ds=""
  fi
fi

args=(--corpus "$corpus" --labelled "$labelled" --native "$NATIVE_SCAN" --ds-mb "$DS_MB" --per-kind
      --tools "${TOOLS:-native,gantry,ripsecrets,detect-secrets}")
[ -n "$rip" ] && args+=(--ripsecrets "$rip")
[ -n "$ds" ] && args+=(--detect-secrets "$ds")
exec python3 "$here/compare.py" "${args[@]}"
