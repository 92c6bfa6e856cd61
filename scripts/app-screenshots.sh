#!/usr/bin/env bash
# The README's screenshots of the desktop app, taken offscreen on the demo video: idle, swapping
# locally, and swapping through a faceswap-server on 127.0.0.1. Writes docs/images/app_*.jpg.
# Usage: scripts/app-screenshots.sh [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build/release}"
APP="$BUILD/src/ui/faceswap-app"
SERVER="$BUILD/server/faceswap-server"
OUT="$ROOT/docs/images"
TMP="$(mktemp -d)"
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE XDG_CONFIG_HOME="$TMP/config"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

shot() {  # name, app flags...
  local name="$1"; shift
  "$APP" --no-settings --source demo "$@" --screenshot "$TMP/$name.png" 2>/dev/null
  ffmpeg -v error -y -i "$TMP/$name.png" -q:v 3 "$OUT/$name.jpg"
  echo "wrote $OUT/$name.jpg"
}

shot app_idle --quit-after 3
shot app_local --mode local --start --quit-after 20

"$SERVER" --address 127.0.0.1 --port 0 --log-level warn > "$TMP/server.out" &
SERVER_PID=$!
for _ in $(seq 1 300); do grep -q "listening on port" "$TMP/server.out" && break; sleep 0.1; done
PORT=$(sed -n 's/listening on port //p' "$TMP/server.out")
[ -n "$PORT" ] || { echo "faceswap-server did not start" >&2; exit 1; }
shot app_remote --mode remote --server "ws://127.0.0.1:$PORT/" --model demo --start --quit-after 20
