#!/usr/bin/env bash
# Server throughput as clients are added (issue 13's table): faceswap-server with the demo
# model, faceswap-loadgen with N clients at 30 FPS, frames encoded up front (so the clients'
# JPEG encoding does not take the server's cores), for N = 1, 4, 8. Runs the server at
# --batch-size 1 (no batching) and at the default, and, when BASELINE names another
# faceswap-server binary (an older build), that one too, in the same run, so that the figures
# compare as ratios on one machine at one time.
#
# Usage: [BASELINE=/path/to/old/faceswap-server] scripts/server-bench.sh [SWAP_MODEL] [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:-$ROOT/resources/models/demo.fsmodel}"
BUILD="${2:-$ROOT/build/release}"
SERVER="$BUILD/server/faceswap-server"
LOADGEN="$BUILD/server/faceswap-loadgen"
DURATION="${DURATION:-8}"
CLIENTS="${CLIENTS:-1 4 8}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # see remote-bench.sh
[ -x "$SERVER" ] && [ -x "$LOADGEN" ] || { echo "build faceswap-server and faceswap-loadgen first" >&2; exit 1; }

source "$ROOT/scripts/lib/bench-server.sh"
THREADS_FILE=$(mktemp)
trap stop_server EXIT

# Threads of the server process (sampled mid-run, THREADS_MID) and its batch-size histogram.
server_facts() {
  local batches
  batches=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^faceswap_batch_size_bucket/ {print}' \
            | sed 's/faceswap_batch_size_bucket{le="\([^"]*\)"} \(.*\)/\1:\2/' | tr '\n' ' ')
  echo "    server threads mid-run $THREADS_MID; batches by size (cumulative, le:count) $batches"
}

bench() {  # title, binary, server flags...
  local title="$1" binary="$2"; shift 2
  echo "=== $title"
  for n in $CLIENTS; do
    start_server "$binary" --swap-model "$MODEL" "$@"
    echo "--- $n client(s)"
    ( sleep $((DURATION / 2 + 2)); ls "/proc/$SERVER_PID/task" | wc -l > "$THREADS_FILE" ) &
    local sampler=$!
    "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --clients "$n" --fps 30 --pre-encode \
      --duration "$DURATION" --warmup 2 2>&1 | grep -v "^client" || true
    wait "$sampler"
    THREADS_MID=$(cat "$THREADS_FILE")
    server_facts
    stop_server
  done
}

echo "server benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL, frames 640x480 pre-encoded, 30 FPS per client, $DURATION s measured per run"
echo
[ -n "${BASELINE:-}" ] && bench "baseline: $BASELINE (defaults)" "$BASELINE"
bench "this build, defaults (2 stages, batches within a 60 ms budget per stage)" "$SERVER"
bench "this build, batching off (--batch-size 1)" "$SERVER" --batch-size 1
bench "this build, one stage" "$SERVER" --stages 1
bench "this build, batches of up to 4 whatever they cost (--batch-latency-ms 0 --batch-size 4)" \
  "$SERVER" --batch-latency-ms 0 --batch-size 4
[ -n "${BASELINE:-}" ] && bench "baseline again (the machine's load drifts)" "$BASELINE"
exit 0
