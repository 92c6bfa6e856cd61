#!/usr/bin/env bash
# A soak of faceswap-server (docs/hardening.md, "Soak"): the server runs for MINUTES with
# clients that connect, stream and leave (two faceswap-loadgen processes in turn, each a few
# clients for a few seconds: a new connection every few seconds), and every SAMPLE_S seconds
# its resident memory, open descriptors and threads, and the clients' p95 latency, are sampled.
# It prints the samples, then per figure its trend over the run (least-squares slope per
# minute) and spread, and, after the last client has left, the figures against those after the
# first round (the baseline: models loaded, thread pools made).
#
#   scripts/soak.sh 10                      ten minutes, the demo model
#   SOAK_MODEL=x.fsmodel scripts/soak.sh 1  one minute on another model
#   SOAK_CHECK=1 scripts/soak.sh 1          also fail unless memory and descriptors come back
#                                           to their baseline (the test suite's version)
#
# Usage: scripts/soak.sh MINUTES [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${1:?usage: scripts/soak.sh MINUTES [BUILD_DIR]}"
BUILD="${2:-$ROOT/build/release}"
MODEL="${SOAK_MODEL:-$ROOT/resources/models/demo.fsmodel}"
SAMPLE_S="${SAMPLE_S:-5}"
SERVER="$BUILD/server/faceswap-server"
LOADGEN="$BUILD/server/faceswap-loadgen"
# Memory may stay above the baseline by what the allocator keeps for reuse, not more.
RSS_SLACK_MB="${RSS_SLACK_MB:-64}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[ -x "$SERVER" ] && [ -x "$LOADGEN" ] || { echo "soak: build faceswap-server and faceswap-loadgen first" >&2; exit 1; }
[[ "$MINUTES" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak: MINUTES must be a number, got '$MINUTES'" >&2; exit 1; }

source "$ROOT/scripts/lib/bench-server.sh"
WORK=$(mktemp -d)
CHURN_PID=""
cleanup() {
  if [ -n "$CHURN_PID" ]; then
    pkill -P "$CHURN_PID" 2>/dev/null || true
    kill "$CHURN_PID" 2>/dev/null || true
    wait "$CHURN_PID" 2>/dev/null || true
  fi
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server "$SERVER" --swap-model "$MODEL" --device cpu --idle-timeout-s 10
figures() {  # rss_mb fds threads sessions
  local rss fds threads sessions
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status")
  fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
  threads=$(ls "/proc/$SERVER_PID/task" | wc -l)
  sessions=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "faceswap_sessions" {print $2}')
  echo "$rss $fds $threads ${sessions:-?}"
}

# One round: N clients connect, stream at 10 FPS for D seconds and leave; its p95 goes to a file.
round() {  # name clients seconds
  "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --clients "$2" --fps 10 --duration "$3" --warmup 0.5 \
    --frames 24 --width 320 --height 240 --pre-encode --json "$WORK/$1.json" > "$WORK/$1.log" 2>&1 \
    || { echo "soak: round $1 failed: $(grep -v '^client' "$WORK/$1.log" | tail -n 1)" >&2; touch "$WORK/$1.failed"; }
}
p95_of() {
  [ -f "$WORK/$1.json" ] && python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['rtt_ms']['p95'], 1))" "$WORK/$1.json" 2>/dev/null || echo "?"
}

echo "soak, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $SERVER, model $(basename "$MODEL"), $MINUTES min; clients churn: 1-3 at a time, each 3-6 s at 10 FPS, 320x240"
round warmup 2 3
sleep 2
read -r BASE_RSS BASE_FDS BASE_THREADS _ <<< "$(figures)"
echo "baseline after the first round: rss ${BASE_RSS} MB, ${BASE_FDS} descriptors, ${BASE_THREADS} threads"

# Churn in the background: two streams of rounds, offset, so connections come and go all along.
END=$(( $(date +%s) + $(python3 -c "print(int(float('$MINUTES') * 60))") ))
(
  i=0
  while [ "$(date +%s)" -lt "$END" ]; do
    i=$((i + 1))
    round "a$i" $((1 + i % 2)) $((3 + i % 3)) &
    sleep 2
    round "b$i" 1 3
    wait
    cp "$WORK/a$i.json" "$WORK/last.json" 2>/dev/null || true
  done
) &
CHURN_PID=$!

printf '%6s %8s %5s %7s %8s %7s\n' "t_s" "rss_MB" "fds" "threads" "sessions" "p95_ms"
START=$(date +%s)
: > "$WORK/samples"
while kill -0 "$CHURN_PID" 2>/dev/null; do
  sleep "$SAMPLE_S"
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "soak: the server died" >&2; exit 1; }
  read -r rss fds threads sessions <<< "$(figures)"
  t=$(( $(date +%s) - START ))
  p95=$(p95_of last)
  printf '%6s %8s %5s %7s %8s %7s\n' "$t" "$rss" "$fds" "$threads" "$sessions" "$p95"
  echo "$t $rss $fds $threads $p95" >> "$WORK/samples"
done
wait "$CHURN_PID" 2>/dev/null || true
CHURN_PID=""
rounds=$(find "$WORK" -name "*.json" | wc -l)
failed=$(find "$WORK" -name "*.failed" | wc -l)

# After the last client: the server settles (sessions close, their threads end).
sleep 3
read -r END_RSS END_FDS END_THREADS END_SESSIONS <<< "$(figures)"
echo
python3 - "$WORK/samples" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
def trend(column, name, unit):
    points = [(float(r[0]), float(r[column])) for r in rows if r[column] != "?"]
    if len(points) < 3:
        print(f"{name:>10}: too few samples"); return
    n = len(points); mt = sum(t for t, _ in points) / n; mv = sum(v for _, v in points) / n
    var_t = sum((t - mt) ** 2 for t, _ in points)
    slope = sum((t - mt) * (v - mv) for t, v in points) / var_t * 60 if var_t else 0.0
    values = [v for _, v in points]
    sd = (sum((v - mv) ** 2 for v in values) / n) ** 0.5
    # The second half alone: the first minutes hold the allocator's and caches' growth.
    late = points[n // 2:]
    lt = sum(t for t, _ in late) / len(late); lv = sum(v for _, v in late) / len(late)
    var_late = sum((t - lt) ** 2 for t, _ in late)
    late_slope = sum((t - lt) * (v - lv) for t, v in late) / var_late * 60 if var_late else 0.0
    print(f"{name:>10}: mean {mv:8.1f} {unit}, slope {slope:+8.2f} {unit}/min "
          f"(second half {late_slope:+7.2f}), spread (sd) {sd:6.1f}, "
          f"min {min(values):.1f}, max {max(values):.1f}")
print(f"trend over {len(rows)} samples:")
trend(1, "rss", "MB"); trend(2, "fds", ""); trend(3, "threads", ""); trend(4, "p95", "ms")
PY
echo "rounds: $rounds loadgen runs, $failed with a failed client"
echo "after the last client: rss ${END_RSS} MB (baseline ${BASE_RSS}), ${END_FDS} descriptors (baseline ${BASE_FDS}), ${END_THREADS} threads (baseline ${BASE_THREADS}), ${END_SESSIONS} sessions"

if [ "${SOAK_CHECK:-0}" = "1" ]; then
  ok=1
  [ "$END_FDS" -le "$BASE_FDS" ] || { echo "soak: descriptors did not come back: $END_FDS > $BASE_FDS" >&2; ok=0; }
  python3 -c "import sys; sys.exit(0 if float('$END_RSS') <= float('$BASE_RSS') + $RSS_SLACK_MB else 1)" \
    || { echo "soak: memory did not come back: $END_RSS MB > $BASE_RSS + $RSS_SLACK_MB MB" >&2; ok=0; }
  [ "$END_THREADS" -le "$BASE_THREADS" ] || { echo "soak: threads did not come back: $END_THREADS > $BASE_THREADS" >&2; ok=0; }
  [ "$END_SESSIONS" = "0" ] || { echo "soak: $END_SESSIONS sessions still open" >&2; ok=0; }
  [ "$rounds" -ge 4 ] || { echo "soak: only $rounds rounds ran" >&2; ok=0; }
  [ "$failed" -eq 0 ] || { echo "soak: $failed rounds had a client fail (logs above)" >&2; ok=0; }
  [ "$ok" = 1 ] || exit 1
  echo "soak: memory, descriptors and threads back to their baseline"
fi
