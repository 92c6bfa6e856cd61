#!/usr/bin/env bash
# Model transfer over loopback (issue 7's figures): `faceswap models push` to a faceswap-server
# (upload, then the server checks the sha256 and loads the model completely before it answers;
# push_upload is the rate without that check), `faceswap models pull` from that server and from
# nginx serving the same file, ROUNDS times each; prints every run and the medians in MB/s
# (1 MB = 10^6 bytes).
#
# Usage: scripts/model-transfer-bench.sh [MODEL] [BUILD_DIR]   (prints; tee it into docs/bench/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:-$ROOT/resources/models/demo.fsmodel}"
BUILD="${2:-$ROOT/build/release}"
SERVER="$BUILD/server/faceswap-server"
CLI="$BUILD/src/cli/faceswap"
ROUNDS="${ROUNDS:-5}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[ -x "$SERVER" ] && [ -x "$CLI" ] || { echo "build faceswap-server and faceswap first" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "no swap model at $MODEL" >&2; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx is not installed (scripts/setup.sh)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVER_PID="" NGINX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN=bench-token
echo "$TOKEN" > "$WORK/tokens"
mkdir -p "$WORK/models" "$WORK/www" "$WORK/nginx" "$WORK/out"
cp "$MODEL" "$WORK/www/bench.fsmodel"
"$SERVER" --address 127.0.0.1 --port 0 --device cpu --log-level warn \
  --swap-model-dir "$WORK/models" --tokens-file "$WORK/tokens" > "$WORK/server.out" &
SERVER_PID=$!
for _ in $(seq 1 600); do grep -q "listening on port" "$WORK/server.out" && break; sleep 0.1; done
PORT=$(sed -n 's/listening on port //p' "$WORK/server.out")
[ -n "$PORT" ] || { echo "server did not start" >&2; exit 1; }

NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
CONF
/usr/sbin/nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break; sleep 0.1; done

SIZE=$(stat -c %s "$MODEL")
echo "model: $MODEL ($SIZE bytes), $ROUNDS rounds, $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
rate() { sed -n 's/.* (\([0-9.]*\) MB\/s).*/\1/p' | head -1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A RATES
for round in $(seq 1 "$ROUNDS"); do
  push=$("$CLI" models push "http://127.0.0.1:$PORT" "$MODEL" --id bench --token "$TOKEN" 2>/dev/null)
  echo "round $round push:        $push"
  RATES[push]+="$(echo "$push" | rate) "
  # The upload alone: the push's time less the server's check (sha256 + complete load).
  total=$(echo "$push" | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' | head -1)
  check=$(echo "$push" | sed -n 's/.*complete load) \([0-9.]*\) s.*/\1/p')
  RATES[push_upload]+="$(awk -v b="$SIZE" -v t="$total" -v c="$check" 'BEGIN {printf "%.1f", b / 1e6 / (t - c)}') "
  RATES[server_check_s]+="$check "
  rm -f "$WORK/out/"*
  pull=$("$CLI" models pull "http://127.0.0.1:$PORT/bench" -o "$WORK/out/s.fsmodel" --token "$TOKEN" 2>/dev/null | head -1)
  echo "round $round pull server: $pull"
  RATES[pull_server]+="$(echo "$pull" | rate) "
  pull=$("$CLI" models pull "http://127.0.0.1:$NGINX_PORT/bench.fsmodel" -o "$WORK/out/n.fsmodel" 2>/dev/null | head -1)
  echo "round $round pull nginx:  $pull"
  RATES[pull_nginx]+="$(echo "$pull" | rate) "
done
echo
echo "medians over $ROUNDS rounds (MB/s; server_check_s in seconds):"
for what in push push_upload server_check_s pull_server pull_nginx; do
  printf '  %-12s %s\n' "$what" "$(echo "${RATES[$what]}" | tr ' ' '\n' | grep . | median)"
done
