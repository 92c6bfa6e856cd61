#!/usr/bin/env bash
# Builds the engine alone against PyTorch's LibTorch (a GPU machine has no OpenCV, Qt or Boost)
# and runs the stage benchmark on CUDA and on the CPU of the same machine.
# Needs .cache/models and a frames file from:
#   build/release/src/cli/faceswap bench --frames 36 --dump-frames .cache/bench_frames_640x480.raw
# Results go to $OUT (default build/gpu-bench).
set -euo pipefail
OUT="${OUT:-build/gpu-bench}"
FRAMES="${FRAMES:-.cache/bench_frames_640x480.raw}"
mkdir -p "$OUT"
{ nvidia-smi -L || true; python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'; nproc; } \
  > "$OUT/machine.txt" 2>&1
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "[gpu-bench] configuring against $TORCH_PREFIX"
cmake -S . -B build/gpu -DFACESWAP_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" > "$OUT/configure.log" 2>&1 \
  || { tail -40 "$OUT/configure.log"; exit 1; }
echo "[gpu-bench] building"
cmake --build build/gpu -j"$(nproc)" > "$OUT/build.log" 2>&1 \
  || { grep -E "error" -A4 "$OUT/build.log" | head -60; exit 1; }
BENCH=build/gpu/src/engine/faceswap-engine-bench
echo "[gpu-bench] CUDA against CPU, same frames"
"$BENCH" .cache/models "$FRAMES" compare | tee "$OUT/compare_cuda_cpu.txt" || echo "[gpu-bench] CUDA and CPU disagree (see above)"
echo "[gpu-bench] CUDA"
"$BENCH" .cache/models "$FRAMES" cuda 12 480 | tee "$OUT/bench_cuda.txt"
echo "[gpu-bench] CUDA, detector every 4 frames"
"$BENCH" .cache/models "$FRAMES" cuda 4 480 | tee "$OUT/bench_cuda_every4.txt"
echo "[gpu-bench] CPU of the same machine"
"$BENCH" .cache/models "$FRAMES" cpu 12 240 | tee "$OUT/bench_cpu.txt"
