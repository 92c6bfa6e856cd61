#!/usr/bin/env bash
# What the container costs (docs/deploy.md): the same server with the same packaged config and
# demo model, bare on this machine and in the image (localhost/faceswap-server:latest, `make
# container`), each under faceswap-loadgen with CLIENTS clients at 30 FPS, alternated ROUNDS
# times in one run so that the figures compare as ratios. Also: the image's size, container
# start to /readyz, and the drain on SIGTERM with the clients still streaming.
#
# Usage: scripts/container-bench.sh [BUILD_DIR]     (CLIENTS=4 ROUNDS=2 DURATION=10)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/container-env.sh
source "$ROOT/scripts/container-env.sh"
BUILD="${1:-$ROOT/build/release}"
CACHE="${FACESWAP_CACHE_DIR:-$ROOT/.cache}"
SERVER="$BUILD/server/faceswap-server"
LOADGEN="$BUILD/server/faceswap-loadgen"
CLIENTS="${CLIENTS:-4}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-10}"
IMAGE="$FACESWAP_IMAGE:latest"
export OMP_WAIT_POLICY=PASSIVE  # as the image sets it

[ -x "$SERVER" ] && [ -x "$LOADGEN" ] || { echo "build faceswap-server and faceswap-loadgen first" >&2; exit 1; }
container_can_run || { echo "containers cannot run here: $CONTAINER_WHY" >&2; exit 1; }
podman image exists "$IMAGE" || { echo "no $IMAGE: run 'make container' first" >&2; exit 1; }

work=$(mktemp -d)
name="faceswap-bench-$$"
source "$ROOT/scripts/lib/bench-server.sh"
cleanup() {
    stop_server
    podman rm -f -v -t 0 "$name" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "bench-token" > "$work/tokens"
chmod 644 "$work/tokens"
mkdir -p "$work/models"

now_ms() { date +%s%3N; }
wait_ready() {  # port: waits for /readyz 200, prints the ms it took since $1's start
    for _ in $(seq 1 900); do
        curl -fs "http://127.0.0.1:$1/readyz" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "not ready on port $1" >&2
    return 1
}
loadgen() {  # port, label
    "$LOADGEN" --url "ws://127.0.0.1:$1/" --token bench-token --clients "$CLIENTS" --fps 30 \
        --pre-encode --duration "$DURATION" --warmup 3 --json "$work/$2.json" > "$work/$2.txt" 2>&1 \
        || { cat "$work/$2.txt"; exit 1; }
    python3 - "$work/$2.json" "$2" << 'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  {sys.argv[2]:<12} total {r['fps_total']:6.1f} FPS   e2e p50 {r['e2e_ms']['p50']:6.1f} ms   p95 {r['e2e_ms']['p95']:6.1f} ms   lost {r['lost']}, errors {r['errors']}")
EOF
}

start_container() {
    local start; start=$(now_ms)
    podman run -d --name "$name" --read-only --no-healthcheck -p "127.0.0.1:$1:8080" \
        -v "$work/tokens:/etc/faceswap/tokens:ro" "$IMAGE" > /dev/null 2>&1
    wait_ready "$1"
    echo "$(( $(now_ms) - start ))"
}

echo "container benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=iec) ($(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$IMAGE"))"
echo "$CLIENTS clients at 30 FPS each, 640x480 pre-encoded, $DURATION s measured per run, packaged config and demo model both ways"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for round in $(seq 1 "$ROUNDS"); do
    echo "--- round $round"
    start_server "$SERVER" --config "$ROOT/packaging/server/server.toml" --tokens-file "$work/tokens" \
        --model-dir "$CACHE/models" --swap-model "$ROOT/resources/models/demo.fsmodel" \
        --swap-model-dir "$work/models"
    loadgen "$PORT" "bare-$round"
    stop_server
    ready_ms=$(start_container "$port")
    loadgen "$port" "container-$round"
    echo "  container start to /readyz: $ready_ms ms"
    # Drain with the clients still streaming: stop mid-run.
    "$LOADGEN" --url "ws://127.0.0.1:$port/" --token bench-token --clients "$CLIENTS" --fps 30 \
        --pre-encode --duration 6 --warmup 1 > /dev/null 2>&1 &
    lg=$!
    sleep 3
    start=$(now_ms)
    podman stop -t 30 "$name" > /dev/null 2>&1
    echo "  drain on SIGTERM with $CLIENTS clients streaming: $(( $(now_ms) - start )) ms, exit code $(podman inspect --format '{{.State.ExitCode}}' "$name")"
    wait "$lg" || true
    podman rm -f -v -t 0 "$name" > /dev/null 2>&1
done
python3 - "$work" "$ROUNDS" << 'EOF'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
fps = lambda kind: [json.load(open(f"{work}/{kind}-{r}.json"))["fps_total"] for r in range(1, rounds + 1)]
bare, cont = fps("bare"), fps("container")
print(f"container / bare total FPS: {sum(cont) / sum(bare):.3f} (bare {' / '.join(f'{v:.1f}' for v in bare)}, container {' / '.join(f'{v:.1f}' for v in cont)})")
EOF
