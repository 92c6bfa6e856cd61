#!/usr/bin/env bash
# Regenerates tests/golden/face_api_reference.json: golden SSD MobileNetV1 face
# detections + 68-point landmarks from the real face-api (Node, tfjs CPU backend).
#
# Usage: tests/golden/make_fixtures.sh [NPM_PREFIX]
#   NPM_PREFIX  scratch dir for the pinned npm deps (default: <repo>/.cache/node-reference)
# Environment:
#   FACE_API_DIR  extracted @vladmandic/face-api@1.7.15 npm tarball ("package" dir)
#                 (default: /tmp/npmx/fa/package)
#   IMAGES        space-separated image paths (default: the 8 fixture images below:
#                 grace_hopper_512x512.jpg from Debian package facedetect,
#                 astronaut.png from Debian python3-skimage (apt-get download +
#                 dpkg-deb -x into SKIMAGE_ROOT, default /tmp/debimg/x),
#                 sample1..6.jpg from face-api's demo/ dir)
#   OUT           output JSON (default: tests/golden/face_api_reference.json)
# Needs node >= 20.6 and npm access to the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${1:-$root/.cache/node-reference}"
face_api="${FACE_API_DIR:-/tmp/npmx/fa/package}"
skimage_root="${SKIMAGE_ROOT:-/tmp/debimg/x}"
out="${OUT:-$here/face_api_reference.json}"
default_images="/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg
$skimage_root/usr/lib/python3/dist-packages/skimage/data/astronaut.png
$(printf "$face_api/demo/sample%d.jpg\n" 1 2 3 4 5 6)"
read -r -d '' -a images <<< "${IMAGES:-$default_images}" || true

mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund \
  @tensorflow/tfjs@4.22.0 jpeg-js@0.4.4 pngjs@7.0.0

node "$here/reference.mjs" --deps "$prefix" --face-api "$face_api" --out "$out" "${images[@]}"
