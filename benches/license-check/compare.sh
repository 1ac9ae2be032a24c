#!/usr/bin/env bash
# Compare license-check (native build of the plugin's engine) with cargo-deny's
# `check licenses` on gantry's own Cargo.lock, same allow list, in one run:
# per-crate agreement of verdicts and licence ids, wall time (median of RUNS,
# alternating), and which allow list makes gantry's tree clean.
#
#   benches/license-check/compare.sh            # prints a markdown report
#   RUNS=9 benches/license-check/compare.sh
#
# Environment:
#   RUNS          timed runs per tool (default 7, alternating)
#   ALLOW         comma-separated allow list (default: the typical Apache-2.0 project list)
#   CARGO_DENY    cargo-deny binary (default: on PATH, else installed with
#                 `cargo install cargo-deny --locked --root target/bench-tools`)
#   NATIVE_CHECK  prebuilt native-check binary (default: cargo build --release)
#   IDENTIFY      prebuilt identify-texts binary (default: next to native-check)
#   CARGO_REGISTRY_SRC  crate sources (default: $CARGO_HOME/registry/src)
#
# Everything runs offline: cargo-deny with `--offline` (its licence check needs no
# advisory database), license-check reading the registry source cache. Output files
# go to target/bench-license/ (git-ignored). Needs python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

RUNS="${RUNS:-7}"
ALLOW="${ALLOW:-MIT,Apache-2.0,Apache-2.0 WITH LLVM-exception,BSD-2-Clause,BSD-3-Clause,ISC,Unicode-3.0,Zlib,MPL-2.0,CC0-1.0}"
out="target/bench-license"
mkdir -p "$out"
registry="${CARGO_REGISTRY_SRC:-${CARGO_HOME:-$HOME/.cargo}/registry/src}"
if [ ! -d "$registry" ]; then
  echo "license-check bench: no Cargo registry source cache at $registry (run \`cargo fetch\`); skipping" >&2
  exit 0
fi

if [ -z "${NATIVE_CHECK:-}" ]; then
  cargo build --release -p license-check --example native-check --example identify-texts >&2
  NATIVE_CHECK="${CARGO_TARGET_DIR:-target}/release/examples/native-check"
fi
IDENTIFY="${IDENTIFY:-$(dirname "$NATIVE_CHECK")/identify-texts}"

deny="${CARGO_DENY:-$(command -v cargo-deny || true)}"
if [ -z "$deny" ]; then
  deny="target/bench-tools/bin/cargo-deny"
  if [ ! -x "$deny" ]; then
    CARGO_TARGET_DIR=target/bench-tools/build cargo install cargo-deny --locked --root target/bench-tools >&2 || deny=""
  fi
fi
if [ -z "$deny" ] || [ ! -x "$deny" ]; then
  echo "license-check bench: cargo-deny is not available and could not be installed; skipping the comparison" >&2
  exit 0
fi

python3 "$here/compare.py" --root "$root" --out "$out" --runs "$RUNS" --allow "$ALLOW" \
  --deny "$deny" --native "$NATIVE_CHECK" --registry "$registry" \
  ${IDENTIFY:+$( [ -x "$IDENTIFY" ] && echo --identify "$IDENTIFY")}
