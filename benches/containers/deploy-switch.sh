#!/usr/bin/env bash
# Requests lost while docker-deploy switches a healthy new version in: deploys v1,
# then alternates v2/v1 ROUNDS times while a client requests GET / on the service
# port every 20 ms (1 s timeout), and prints per round the requests sent and failed,
# the outage the client saw (last answer before the first failure → first answer
# after the last one) and the stage's `cutover-ms`. Same probe as tests/e2e/deploy.rs,
# more rounds.
#
#   GANTRY=target/debug/gantry ROUNDS=5 benches/containers/deploy-switch.sh
#
# Needs the engine (.ci/docker-up), python3, and the static tests/healthz server
# (HEALTHZ, default: the one the e2e tests build under target/healthz/).
set -euo pipefail
cd "$(dirname "$0")/../.."
G="${GANTRY:-$PWD/target/debug/gantry}"
H="${HEALTHZ:-$PWD/target/healthz/x86_64-unknown-linux-gnu/release/healthz}"
ROUNDS="${ROUNDS:-5}"
[ -x "$G" ] || { echo "SKIPPED: no gantry binary at $G"; exit 0; }
[ -x "$H" ] || { echo "SKIPPED: no static healthz at $H (run cargo test -p gantry --test e2e_deploy once)"; exit 0; }
docker info >/dev/null 2>&1 || { echo "SKIPPED: no Docker engine (run .ci/docker-up)"; exit 0; }

work=$(mktemp -d)
name="bench-switch-web"
cleanup() {
  docker rm -f "$name" "$name-candidate" "$name-next" "$name-previous" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup; work=$(mktemp -d)
for v in v1 v2; do
  mkdir -p "$work/ctx-$v"
  cp "$H" "$work/ctx-$v/healthz"
  printf 'FROM scratch\nCOPY healthz /healthz\nENV VERSION=%s PORT=8080\nENTRYPOINT ["/healthz"]\n' "$v" >"$work/ctx-$v/Dockerfile"
  docker build -q -t "gantry-bench/web:$v" "$work/ctx-$v" >/dev/null
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
staging=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pipeline() {
  cat >"$work/pipeline.toml" <<EOF
[pipeline]
name = "deploy-bench"

[stage.deploy]
plugin = "builtin:docker-deploy"
with = { name = "$name", image = "gantry-bench/web:$1", port = 8080, host-port = $port, staging-port = $staging, health = { timeout = "8s", interval = "200ms" } }
grants.containers = { run = ["gantry-bench/web:*"], manage = "$name", network = ["bridge"], publish = [$port, $staging] }
grants.http = [{ url = "http://127.0.0.1:$port/", methods = ["GET"] }, { url = "http://127.0.0.1:$staging/", methods = ["GET"] }]
EOF
}
deploy() { "$G" run -f "$work/pipeline.toml" --json 2>/dev/null; }
cutover() { python3 -c 'import json,sys; d=json.load(sys.stdin); s=[x for x in d["stages"] if x["stage"]=="deploy"][0]; print(s["outputs"].get("cutover-ms","?"))' 2>/dev/null || echo "?"; }

pipeline v1; deploy >/dev/null
echo "round  version  requests  failed  outage-ms  cutover-ms"
v=v2
for i in $(seq 1 "$ROUNDS"); do
  pipeline $v
  stopfile="$work/stop"; rm -f "$stopfile"
  python3 - "$port" "$stopfile" >"$work/probe" <<'EOF' &
import sys, time, urllib.request, os
port, stop = sys.argv[1], sys.argv[2]; sent = failed = 0
last_ok = None; first_fail = last_fail = None; next_ok = None; ok_since_stop = False
# After the deploy returns, keep probing until the service answers (at most 5 s),
# so an outage at the very end is measured to its end.
stopped_at = None
while True:
    if stopped_at is None and os.path.exists(stop):
        stopped_at = time.monotonic()
    if stopped_at is not None and (ok_since_stop or time.monotonic() - stopped_at > 5):
        break
    sent += 1
    t = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            ok = r.status == 200
    except Exception:
        ok = False
    if ok:
        if stopped_at is not None: ok_since_stop = True
        if first_fail is not None and next_ok is None: next_ok = t
        if first_fail is None: last_ok = t
    else:
        failed += 1
        if first_fail is None: first_fail = t
        last_fail = t
    time.sleep(0.02)
# Outage seen by the client: last success before the first failure → first success
# after the last failure (an upper bound, within one probe period of the truth).
outage = int((next_ok - last_ok) * 1000) if first_fail and last_ok and next_ok else 0
print(sent, failed, outage)
EOF
  probe=$!
  out=$(deploy || true)
  touch "$stopfile"; wait $probe
  read -r sent failed outage <"$work/probe"
  printf '%5d  %7s  %8d  %6d  %9d  %10s\n' "$i" "$v" "$sent" "$failed" "$outage" "$(echo "$out" | cutover)"
  [ $v = v2 ] && v=v1 || v=v2
done
