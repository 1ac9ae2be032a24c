#!/usr/bin/env bash
# Side by side, one hyperfine run: `docker run --rm` of the scratch busybox image vs a
# gantry `container-run` stage of the same image and command vs a gantry stage that
# starts no container. Needs the engine (.ci/docker-up), hyperfine, and a built gantry
# (GANTRY, default target/debug/gantry). Builds the image via docker-run.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
G="${GANTRY:-$PWD/target/debug/gantry}"
[ -x "$G" ] || { echo "SKIPPED: no gantry binary at $G (cargo build -p gantry)"; exit 0; }
docker info >/dev/null 2>&1 || { echo "SKIPPED: no Docker engine (run .ci/docker-up)"; exit 0; }
RUNS=1 benches/containers/docker-run.sh >/dev/null 2>&1 || true
hyperfine -N --warmup 2 --runs "${RUNS:-15}" \
  -n "docker run --rm (scratch busybox) true" "docker run --rm gantry-bench/busybox:latest true" \
  -n "gantry run: container-run stage, same image, true" "$G run -f benches/containers/gantry-container/pipeline.toml" \
  -n "gantry run: one plugin stage, no container" "$G run -f benches/containers/gantry-noop/pipeline.toml"
