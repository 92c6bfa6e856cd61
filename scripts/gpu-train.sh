#!/usr/bin/env bash
# Trains the demo swap model on a GPU machine that has only PyTorch's LibTorch and Python
# (no OpenCV C++, Qt or Boost): builds the engine-only trainer, turns the JPEG face packs into
# raw ones with Python's cv2, trains for a wall-clock budget and leaves the model in $OUT.
# The model is stored as float16 (what resources/models/ holds); OUT/demo.fsmodel.train keeps
# the full-precision state for --resume. Prepare on the CPU machine first (docs/demo-model.md):
#   faceswap pack .cache/train256/franck .cache/packs/franck.fspack
#   faceswap pack .cache/train256/cap12  .cache/packs/cap12.fspack
# then run this with the packs (and optionally a model to warm-start or resume) carried over:
#   BUDGET=11m INIT=resources/models/demo.fsmodel scripts/gpu-train.sh
set -euo pipefail
OUT="${OUT:-build/gpu-train}"
PACKS="${PACKS:-.cache/packs}"
BUDGET="${BUDGET:-10m}"
DEVICE="${DEVICE:-cuda}"      # DEVICE=cpu tries the whole flow on a machine without a GPU
PYTHON="${PYTHON:-python3}"   # needs cv2 and numpy
mkdir -p "$OUT" "$OUT/raw"
{ nvidia-smi -L || true; "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' || true; nproc; } \
  > "$OUT/machine.txt" 2>&1
# PyTorch's LibTorch by default; TORCH_PREFIX= (empty) uses the system's (Debian's libtorch-dev).
TORCH_PREFIX="${TORCH_PREFIX-$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
BUILD="${BUILD:-build/gpu}"
echo "[gpu-train] configuring the engine-only build against ${TORCH_PREFIX:-the system LibTorch}"
cmake -S . -B "$BUILD" -DFACESWAP_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  ${TORCH_PREFIX:+-DCMAKE_PREFIX_PATH="$TORCH_PREFIX"} > "$OUT/configure.log" 2>&1 \
  || { tail -40 "$OUT/configure.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target faceswap-train-packs > "$OUT/build.log" 2>&1 \
  || { grep -E "error" -A4 "$OUT/build.log" | head -60; exit 1; }
for pack in "$PACKS"/*.fspack; do
  "$PYTHON" scripts/fspack_to_raw.py "$pack" "$OUT/raw/$(basename "$pack")"
done
ARGS=(--a "$OUT/raw/franck.fspack" --b "$OUT/raw/cap12.fspack" --out "$OUT/demo.fsmodel"
      --time-budget "$BUDGET" --device "$DEVICE" --save-every 2000 --half ${TRAIN_ARGS:-})
if [ -n "${INIT:-}" ]; then ARGS+=(--init-from "$INIT"); fi
echo "[gpu-train] training for $BUDGET"
"$BUILD"/src/engine/faceswap-train-packs "${ARGS[@]}" 2>&1 | tee "$OUT/train.log"
ls -l "$OUT"
