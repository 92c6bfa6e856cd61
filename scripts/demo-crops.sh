#!/usr/bin/env bash
# Before/after crops of held-out frames at 2x zoom (nearest neighbour, so every pixel the model
# made is visible): input on the left, swapped on the right, one row per frame.
#   scripts/demo-crops.sh INPUT.mkv SWAPPED.mp4[,SWAPPED2.mp4...] OUT.png [FRAME ...]
# Several swapped videos, comma-separated, stand side by side after the input (e.g. a model
# without and with its detail stage).
# Frame numbers count from the start of both videos (default 100 400 700: held-out frames
# 4100, 4400, 4700 of franck.mp4 when INPUT is the held-out cut of docs/demo-model.md).
set -euo pipefail
input=$1 swapped=$2 out=$3; shift 3
frames=("${@:-100 400 700}"); [ $# -eq 0 ] && frames=(100 400 700)
B=${FACESWAP:-build/release/src/cli/faceswap}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
IFS=, read -r -a outputs <<< "$swapped"
sides=(in)
for i in "${!outputs[@]}"; do sides+=("out$i"); done
rows=()
for n in "${frames[@]}"; do
  ffmpeg -v error -i "$input" -vf "select=eq(n\,$n)" -vsync 0 -frames:v 1 "$work/in$n.png"
  for i in "${!outputs[@]}"; do
    ffmpeg -v error -i "${outputs[$i]}" -vf "select=eq(n\,$n)" -vsync 0 -frames:v 1 "$work/out$i$n.png"
  done
  # A fixed-size window (CROP_W x CROP_H, default 160x200) centred on the input face's box from
  # the engine's own detector, kept inside the frame: every row has the same size.
  read -r x y w h < <("$B" detect "$work/in$n.png" | python3 -c '
import json, os, sys
doc = json.load(sys.stdin)
faces = next(iter(doc.values()))["faces"]
b = max(faces, key=lambda f: f["box"][2] * f["box"][3])["box"]
w, h = int(os.environ.get("CROP_W", 160)), int(os.environ.get("CROP_H", 200))
fw, fh = [int(v) for v in sys.argv[1:3]]
x = min(max(0, int(b[0] + b[2] / 2 - w / 2)), fw - w)
y = min(max(0, int(b[1] + b[3] / 2 - h / 2)), fh - h)
print(x, y, w, h)' $(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$work/in$n.png" | tr , ' '))
  stack=()
  for side in "${sides[@]}"; do
    ffmpeg -v error -i "$work/$side$n.png" \
      -vf "crop=$w:$h:$x:$y,scale=iw*2:ih*2:flags=neighbor" "$work/c$side$n.png"
    stack+=(-i "$work/c$side$n.png")
  done
  ffmpeg -v error "${stack[@]}" -filter_complex "hstack=inputs=${#sides[@]}" "$work/row$n.png"
  rows+=(-i "$work/row$n.png")
done
ffmpeg -v error -y "${rows[@]}" -filter_complex "vstack=inputs=${#frames[@]}" "$out"
echo "wrote $out (frames ${frames[*]}: input left, then ${outputs[*]}, 2x)"
