#!/usr/bin/env bash
# Before/after crops of held-out frames at 2x zoom (nearest neighbour, so every pixel the model
# made is visible): input on the left, swapped on the right, one row per frame.
#   scripts/demo-crops.sh INPUT.mkv SWAPPED.mp4 OUT.png [FRAME ...]
# Frame numbers count from the start of both videos (default 100 400 700: held-out frames
# 4100, 4400, 4700 of franck.mp4 when INPUT is the held-out cut of docs/demo-model.md).
set -euo pipefail
input=$1 swapped=$2 out=$3; shift 3
frames=("${@:-100 400 700}"); [ $# -eq 0 ] && frames=(100 400 700)
B=${FACESWAP:-build/release/src/cli/faceswap}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rows=()
for n in "${frames[@]}"; do
  for side in in out; do
    src=$input; [ $side = out ] && src=$swapped
    ffmpeg -v error -i "$src" -vf "select=eq(n\,$n)" -vsync 0 -frames:v 1 "$work/$side$n.png"
  done
  # The input face's box, grown by 30%, from the engine's own detector.
  read -r x y w h < <("$B" detect "$work/in$n.png" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
faces = next(iter(doc.values()))["faces"]
b = max(faces, key=lambda f: f["box"][2] * f["box"][3])["box"]
g = 0.3
print(int(b[0] - g / 2 * b[2]), int(b[1] - g / 2 * b[3]), int(b[2] * (1 + g)) // 2 * 2, int(b[3] * (1 + g)) // 2 * 2)')
  x=$((x < 0 ? 0 : x)); y=$((y < 0 ? 0 : y))
  for side in in out; do
    ffmpeg -v error -i "$work/$side$n.png" \
      -vf "crop=$w:$h:$x:$y,scale=iw*2:ih*2:flags=neighbor" "$work/c$side$n.png"
  done
  ffmpeg -v error -i "$work/cin$n.png" -i "$work/cout$n.png" -filter_complex hstack "$work/row$n.png"
  rows+=(-i "$work/row$n.png")
done
ffmpeg -v error -y "${rows[@]}" -filter_complex "vstack=inputs=${#frames[@]}" "$out"
echo "wrote $out (frames ${frames[*]}: input left, swapped right, 2x)"
