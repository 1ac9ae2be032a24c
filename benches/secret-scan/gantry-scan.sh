#!/usr/bin/env bash
# Scan DIR with builtin:secret-scan through gantry (wasm) and print the run's SARIF on
# stdout: the GANTRY_SCAN_CMD for compare.sh.
#
#   GANTRY_SCAN_CMD="benches/secret-scan/gantry-scan.sh" benches/secret-scan/compare.sh
#
# GANTRY (default: target/release/gantry, built with `cargo build --release -p gantry`)
# is the host binary. A pipeline.toml is written into DIR (and the run's records under
# DIR/.gantry, both excluded from the scan); both are removed afterwards.
set -euo pipefail
dir="$1"
here="$(cd "$(dirname "$0")/../.." && pwd)"
gantry="${GANTRY:-$here/target/release/gantry}"
cat > "$dir/pipeline.toml" <<'TOML'
[pipeline]
name = "secret-scan-bench"

[stage.scan]
plugin = "builtin:secret-scan"
with = { paths = ["."], allow-paths = [".gantry/**", "pipeline.toml"] }
grants.fs.read = ["."]
fail-on = "never"
TOML
trap 'rm -rf "$dir/pipeline.toml" "$dir/.gantry"' EXIT
(cd "$dir" && "$gantry" run --color never >/dev/null 2>&1) || true
run="$(ls -d "$dir"/.gantry/runs/*/ | tail -1)"
cat "$run/report.sarif"
