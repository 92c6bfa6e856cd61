#!/usr/bin/env bash
# Remote-mode benchmark on this machine, over loopback (issue 4's figures): the engine
# in-process (local mode), then faceswap-server + faceswap-loadgen pipelined against --blocking,
# with no added delay and with 50 ms of added round trip (a delaying relay in the load
# generator), for 1, 2 and 4 clients; then the same transport with --engine none (pass-through:
# the network path alone). 640x480 frames from franck.mp4, encoded live by each client.
#
# Usage: scripts/remote-bench.sh [SWAP_MODEL] [BUILD_DIR]   (prints; tee it into docs/bench/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:-$ROOT/resources/models/demo.fsmodel}"
BUILD="${2:-$ROOT/build/release}"
SERVER="$BUILD/server/faceswap-server"
LOADGEN="$BUILD/server/faceswap-loadgen"
DURATION="${DURATION:-8}"
DEVICE="${DEVICE:-auto}"
# LibTorch's OpenMP workers spin between parallel regions; on a small, shared CPU that steals
# the cores from everything else (measured here with a training job running: local mode 3.2 FPS
# spinning, 16.8 FPS passive). Local and remote runs below get the same setting.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[ -x "$SERVER" ] && [ -x "$LOADGEN" ] || { echo "build faceswap-server and faceswap-loadgen first" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "no swap model at $MODEL" >&2; exit 1; }

source "$ROOT/scripts/lib/bench-server.sh"
trap stop_server EXIT

run() {  # title, loadgen flags...
  local title="$1"; shift
  echo "--- $title"
  "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --duration "$DURATION" --warmup 2 "$@" 2>&1 \
    | grep -v "^client" || true
}

echo "remote-mode benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL ($(stat -c %s "$MODEL") bytes), device $DEVICE, frames 640x480, $DURATION s measured per run, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
echo
echo "=== local mode: the engine in-process on the same frames (no JPEG, no network)"
"$LOADGEN" --local --swap-model "$MODEL" --device "$DEVICE" --duration "$DURATION" --warmup 2
echo
echo "=== remote, real engine (default window 6)"
start_server "$SERVER" --max-in-flight 8 --swap-model "$MODEL" --device "$DEVICE"
run "1 client, camera 30 FPS, pipelined" --fps 30
run "1 client, camera 30 FPS, pipelined, window 2" --fps 30 --max-in-flight 2
run "1 client, camera 30 FPS, blocking" --fps 30 --blocking
run "1 client, +50 ms RTT, camera 30 FPS, pipelined" --fps 30 --delay-ms 50
run "1 client, +50 ms RTT, camera 30 FPS, blocking" --fps 30 --delay-ms 50 --blocking
run "2 clients, camera 30 FPS, pipelined" --fps 30 --clients 2
run "4 clients, camera 30 FPS, pipelined" --fps 30 --clients 4
run "4 clients, camera 30 FPS, blocking" --fps 30 --clients 4 --blocking
# The four simulated clients encode 120 frames/s on the server's own two cores; the same runs
# with frames encoded once up front show what the engine does when the clients are elsewhere.
run "4 clients, camera 30 FPS, pipelined, pre-encoded" --fps 30 --clients 4 --pre-encode
run "4 clients, camera 30 FPS, blocking, pre-encoded" --fps 30 --clients 4 --blocking --pre-encode
stop_server
echo
echo "=== remote, --engine none (pass-through: the transport alone)"
start_server "$SERVER" --max-in-flight 8 --engine none
run "1 client, unpaced, pipelined" --fps 0
run "1 client, unpaced, blocking" --fps 0 --blocking
run "1 client, +50 ms RTT, camera 30 FPS, pipelined" --fps 30 --delay-ms 50
run "1 client, +50 ms RTT, unpaced, pipelined" --fps 0 --delay-ms 50
run "1 client, +50 ms RTT, unpaced, pipelined, window 8" --fps 0 --delay-ms 50 --max-in-flight 8
run "1 client, +50 ms RTT, unpaced, blocking" --fps 0 --delay-ms 50 --blocking
run "4 clients, +50 ms RTT, camera 30 FPS, pipelined" --fps 30 --clients 4 --delay-ms 50
run "4 clients, +50 ms RTT, camera 30 FPS, blocking" --fps 30 --clients 4 --delay-ms 50 --blocking
stop_server
echo
echo "=== local mode again (the machine's load drifts; compare with the first)"
"$LOADGEN" --local --swap-model "$MODEL" --device "$DEVICE" --duration "$DURATION" --warmup 2
