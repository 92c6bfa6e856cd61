# Sourced by the benchmark scripts: a faceswap-server on 127.0.0.1 on a free port.
#   start_server BINARY FLAGS...   starts it, waits until it listens; sets SERVER_PID and PORT
#   stop_server                    stops it (also on exit: the caller sets `trap stop_server EXIT`)
SERVER_PID=""
stop_server() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

start_server() {
  local binary="$1"; shift
  local out; out=$(mktemp)
  "$binary" --address 127.0.0.1 --port 0 --log-level warn "$@" > "$out" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do grep -q "listening on port" "$out" && break; sleep 0.1; done
  PORT=$(sed -n 's/listening on port //p' "$out")
  rm -f "$out"
  [ -n "$PORT" ] || { echo "server did not start" >&2; exit 1; }
}
