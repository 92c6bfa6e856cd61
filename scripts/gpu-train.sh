#!/usr/bin/env bash
# Trains the demo swap model on a GPU machine that has only PyTorch's LibTorch and Python
# (no OpenCV C++, Qt or Boost): builds the engine-only trainer, turns the JPEG face packs into
# raw ones with Python's cv2, trains for a wall-clock budget and leaves the model in $OUT.
# The model is stored as float16 (what resources/models/ holds); WORK/demo.fsmodel.train keeps
# the full-precision state for --resume. Prepare on the CPU machine first (docs/demo-model.md):
#   faceswap pack .cache/train256/franck .cache/packs/franck.fspack --quality 85
#   faceswap pack .cache/train256/cap12  .cache/packs/cap12.fspack  --quality 85
# then run this with the packs carried over, e.g. to continue the committed model:
#   RESUME=resources/models/demo.fsmodel BUDGET=6m scripts/gpu-train.sh
# Settings (environment):
#   BUDGET (10m)       training wall-clock budget; the recipe's phases are fractions of it
#   INIT=MODEL         warm start: a new model (new step counter) from MODEL's weights
#   RESUME=MODEL       continue MODEL (its step counter, detail stage and, if WORK holds its
#                      .train checkpoint, its optimiser)
#   PROBE_SECONDS (0)  first train that long in float32 and in bfloat16 from the same start
#                      (the sharpen phase alone) and print both speeds; the main run then takes the faster (PRECISION
#                      set: that one, no choice)
#   DEADLINE_S         the whole script must end within this many seconds of its start: the
#                      budget shrinks to fit (a lent machine's call has a hard limit)
#   VARIANTS           "name:flags;name:flags": at most two runs from the same start, an equal
#                      share of the budget each, their flags after TRAIN_ARGS (an A/B test of a
#                      recipe in one call); default one run, "demo"
#   CHUNK_MB (15)      the models, logs and loss logs come back as one tar in pieces of at most
#                      this size, with a sha256 (a lent machine returns at most 8 files of 16 MiB):
#                      cat OUT/results.tar.part-* > results.tar && sha256sum -c OUT/results.tar.sha256
#                      && tar xf results.tar   (NAME/demo.fsmodel, NAME/train.log, ...)
#   TRAIN_ARGS         more trainer flags (--batch, --warp-until, --gan-from, --refine-from ...)
#   DEVICE (cuda)      DEVICE=cpu tries the whole flow on a machine without a GPU
#   BIN_DIR            a directory holding faceswap-train-packs: skips the build
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-build/gpu-train}"
WORK="${WORK:-build/gpu-train-work}"   # raw packs and the model's big files: not under $OUT
PACKS="${PACKS:-.cache/packs}"
BUDGET="${BUDGET:-10m}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"   # needs cv2 and numpy
CHUNK_MB="${CHUNK_MB:-15}"
mkdir -p "$OUT" "$WORK/raw"
fail() { echo "[gpu-train] $*" >&2; exit 1; }
{ nvidia-smi -L || true; "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' || true; nproc; } \
  > "$OUT/machine.txt" 2>&1
for pack in franck cap12; do
  [ -f "$PACKS/$pack.fspack" ] || fail "$PACKS/$pack.fspack is missing: make it with faceswap pack (see the top of $0)"
done

if [ -z "${BIN_DIR:-}" ]; then
  # PyTorch's LibTorch by default; TORCH_PREFIX= (empty) uses the system's (Debian's libtorch-dev).
  TORCH_PREFIX="${TORCH_PREFIX-$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
  BUILD="${BUILD:-build/gpu}"
  # Keep going past a failing file: one try shows every file's errors.
  GENERATOR=(); KEEP_GOING=(-- -k)
  if command -v ninja > /dev/null; then GENERATOR=(-G Ninja); KEEP_GOING=(-- -k 0); fi
  echo "[gpu-train] configuring the engine-only build against ${TORCH_PREFIX:-the system LibTorch}"
  cmake -S . -B "$BUILD" "${GENERATOR[@]}" -DFACESWAP_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    ${TORCH_PREFIX:+-DCMAKE_PREFIX_PATH="$TORCH_PREFIX"} > "$OUT/configure.log" 2>&1 \
    || { tail -40 "$OUT/configure.log"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" --target faceswap-train-packs "${KEEP_GOING[@]}" \
    > "$WORK/build.log" 2>&1 || { grep -E "error" -A4 "$WORK/build.log" | head -150 | tee "$OUT/build-errors.log"; exit 1; }
  BIN_DIR="$BUILD/src/engine"
  echo "[gpu-train] built in ${SECONDS} s"
fi
TRAIN="$BIN_DIR/faceswap-train-packs"
for pack in franck cap12; do
  "$PYTHON" scripts/fspack_to_raw.py "$PACKS/$pack.fspack" "$WORK/raw/$pack.fspack"
done

MODEL="$WORK/demo.fsmodel"
START=()
if [ -n "${RESUME:-}" ]; then
  if [ "$(realpath "$RESUME")" != "$(realpath -m "$MODEL")" ]; then
    cp "$RESUME" "$MODEL"
    rm -f "$MODEL.train"
    [ -f "$RESUME.train" ] && cp "$RESUME.train" "$MODEL.train"
  fi
  START=(--resume)
elif [ -n "${INIT:-}" ]; then
  rm -f "$MODEL" "$MODEL.train"
  START=(--init-from "$INIT")
fi
COMMON=(--a "$WORK/raw/franck.fspack" --b "$WORK/raw/cap12.fspack" --device "$DEVICE")
# shellcheck disable=SC2206  # TRAIN_ARGS is a list of flags
EXTRA=(${TRAIN_ARGS:-})
steps_per_s() { grep -E "saved .* steps/s" "$1" | tail -1 | sed -E 's/.*\(([0-9.]+) steps\/s\).*/\1/'; }

PRECISION="${PRECISION:-}"
if [ "${PROBE_SECONDS:-0}" != 0 ]; then
  best=0
  for precision in fp32 bf16; do
    probe="$WORK/probe_$precision.fsmodel"
    rm -f "$probe" "$probe.train"
    if [ ${#START[@]} -gt 0 ] && [ "${START[0]}" = --resume ]; then cp "$MODEL" "$probe"; fi
    if "$TRAIN" "${COMMON[@]}" --out "$probe" "${START[@]}" "${EXTRA[@]}" \
         --warp-until 0 --gan-from 1 --refine-from 1 --time-budget "${PROBE_SECONDS}s" --save-every 0 --precision "$precision" \
         > "$WORK/probe_$precision.log" 2>&1; then
      rate=$(steps_per_s "$WORK/probe_$precision.log")
      echo "[gpu-train] probe $precision: ${rate} steps/s ($(grep -E "^ms per step" "$WORK/probe_$precision.log" | tail -1))" | tee -a "$OUT/probe.txt"
      if [ -z "$PRECISION" ] && awk -v r="$rate" -v b="$best" 'BEGIN{exit !(r > b)}'; then
        best=$rate; CHOSEN=$precision
      fi
    else
      echo "[gpu-train] probe $precision failed: $(tail -1 "$WORK/probe_$precision.log")" | tee -a "$OUT/probe.txt"
    fi
    rm -f "$probe" "$probe.train" "$probe.log.csv"
  done
  PRECISION="${PRECISION:-${CHOSEN:-auto}}"
fi

budget_s=$(awk -v b="$BUDGET" 'BEGIN{n=b+0; u=substr(b, length(n "") + 1); print n * (u=="h" ? 3600 : u=="m" ? 60 : 1)}')
# Variants: "name:flags;name:flags", each trained from the same start for an equal share of the
# budget (flags after TRAIN_ARGS, so they win); one unnamed run by default.
IFS=';' read -r -a VARIANT_LIST <<< "${VARIANTS:-demo:}"
count=${#VARIANT_LIST[@]}
[ "$count" -le 2 ] || fail "at most two VARIANTS: a lent machine returns at most 64 MB (22 MB a model)"
if [ -n "${DEADLINE_S:-}" ]; then
  # Loading, saving and packing a model take about 40 s on a GPU machine.
  left=$(( (DEADLINE_S - SECONDS - 20) / count - 40 ))
  [ "$left" -lt 30 ] && fail "only ${left} s per run left before the deadline: no time to train"
  budget_s=$(awk -v b="$budget_s" -v l="$left" 'BEGIN{print (b < l ? b : l)}')
fi
status=0
RESULTS=()
for variant in "${VARIANT_LIST[@]}"; do
  name=${variant%%:*}
  # shellcheck disable=SC2206  # a list of flags
  flags=(${variant#*:})
  mkdir -p "$WORK/$name"
  model="$WORK/$name/demo.fsmodel"
  rm -f "$model" "$model.train" "$model.log.csv"
  if [ ${#START[@]} -gt 0 ] && [ "${START[0]}" = --resume ]; then
    cp "$MODEL" "$model"
    [ -f "$MODEL.train" ] && cp "$MODEL.train" "$model.train"
  fi
  echo "[gpu-train] $name: training for ${budget_s} s in ${PRECISION:-auto} (${START[*]:-a new model}) ${flags[*]}"
  set +e
  "$TRAIN" "${COMMON[@]}" --out "$model" "${START[@]}" "${EXTRA[@]}" "${flags[@]}" \
    --time-budget "${budget_s}s" --save-every 2000 --half --precision "${PRECISION:-auto}" \
    2>&1 | tee "$WORK/$name/train.log"
  run_status=${PIPESTATUS[0]}
  set -e
  [ "$run_status" = 0 ] || status=$run_status
  [ -f "$model" ] || { echo "[gpu-train] $name left no model (exit $run_status)"; continue; }
  { echo "## $name: ${flags[*]}"; grep -E "^(training|phase|ms per step|done|interrupted|error)" "$WORK/$name/train.log"; } \
    >> "$OUT/summary.txt"
  RESULTS+=("$name/demo.fsmodel" "$name/train.log")
  [ -f "$model.log.csv" ] && RESULTS+=("$name/demo.fsmodel.log.csv")
done
[ ${#RESULTS[@]} -gt 0 ] || fail "no run left a model"
# One tar in pieces of at most CHUNK_MB (a lent machine returns at most 8 files of 16 MiB):
#   cat OUT/results.tar.part-* > results.tar && sha256sum -c OUT/results.tar.sha256 && tar xf results.tar
[ -f "$OUT/probe.txt" ] && cp "$OUT/probe.txt" "$WORK/probe.txt" && RESULTS+=(probe.txt)
tar -C "$WORK" -cf "$WORK/results.tar" "${RESULTS[@]}"
(cd "$WORK" && sha256sum results.tar) > "$OUT/results.tar.sha256"
split -b "${CHUNK_MB}M" -a 1 "$WORK/results.tar" "$OUT/results.tar.part-"
rm -f "$WORK/results.tar" "$OUT/probe.txt"
ls -l "$OUT"
exit "$status"
