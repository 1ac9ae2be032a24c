#!/usr/bin/env bash
# Peer for issue 4's benchmark: the cost of `docker run --rm <scratch busybox> true`
# on the local engine, the floor a gantry container stage is compared with.
#
#   benches/containers/docker-run.sh            # 20 runs (RUNS=N to change)
#   EXTRA_NAME=gantry EXTRA_CMD='…' benches/containers/docker-run.sh
#       also times EXTRA_CMD in the same run, side by side (the gantry stage).
#
# Uses hyperfine when installed (Debian: apt-get install hyperfine), else a plain
# loop timed with `date +%s%N`. Needs a running engine (.ci/docker-up). The image is
# built here FROM scratch with Debian's static busybox: nothing is pulled.
set -euo pipefail

RUNS="${RUNS:-20}"
WARMUP="${WARMUP:-3}"
IMAGE=gantry-bench/busybox:latest
OUT="${OUT:-$(mktemp -d)}"

docker info >/dev/null 2>&1 || { echo "no Docker engine answers: run sudo .ci/docker-up" >&2; exit 1; }
busybox=$(command -v busybox) || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
    echo "$busybox is dynamically linked: install busybox-static" >&2
    exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$busybox" "$ctx/busybox"
printf '%s\n' 'FROM scratch' 'COPY busybox /bin/busybox' 'ENTRYPOINT ["/bin/busybox"]' >"$ctx/Dockerfile"
docker build -q -t "$IMAGE" "$ctx" >/dev/null 2>&1
docker run --rm "$IMAGE" true # fail early, not inside the timing loop

engine=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}}, {{.Server.Os}}/{{.Server.Arch}})')
driver=$(docker info --format '{{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}')
echo "engine: $engine; storage $driver; cpus $(nproc); load $(cut -d" " -f1-3 /proc/loadavg); runs $RUNS (+$WARMUP warm-up)"

PEER="docker run --rm $IMAGE true"
if command -v hyperfine >/dev/null; then
    args=(--runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/docker-run.json"
          --export-markdown "$OUT/docker-run.md" --command-name "docker run --rm (scratch busybox) true" "$PEER")
    if [ -n "${EXTRA_CMD:-}" ]; then
        args+=(--command-name "${EXTRA_NAME:-extra}" "$EXTRA_CMD")
    fi
    hyperfine "${args[@]}"
    echo
    # hyperfine prints mean and range; the median is in its JSON.
    awk -F'[:,]' '/"command"/ { name = $2; gsub(/^ *"|"$/, "", name) } /"mean"/ { mean = $2 } /"median"/ { printf "%s: mean %.1f ms, median %.1f ms\n", name, mean * 1000, $2 * 1000 }' \
        "$OUT/docker-run.json"
    echo
    cat "$OUT/docker-run.md"
else
    echo "hyperfine not installed: timing a plain loop"
    time_cmd() { # time_cmd NAME CMD
        local name=$1 cmd=$2 i t0 t1
        for ((i = 0; i < WARMUP; i++)); do bash -c "$cmd" >/dev/null; done
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s%N); bash -c "$cmd" >/dev/null; t1=$(date +%s%N)
            echo $(((t1 - t0) / 1000))
        done | sort -n | awk -v name="$name" '{ v[NR] = $1; s += $1 }
            END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                  printf "%s: mean %.1f ms, median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n", name, s / NR / 1000, m / 1000, v[1] / 1000, v[NR] / 1000, NR }'
    }
    time_cmd "docker run --rm (scratch busybox) true" "$PEER"
    [ -z "${EXTRA_CMD:-}" ] || time_cmd "${EXTRA_NAME:-extra}" "$EXTRA_CMD"
fi
