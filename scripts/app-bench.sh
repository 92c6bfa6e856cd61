#!/usr/bin/env bash
# Local-mode figures of the desktop app at 640x480 with the demo model, from the app's own
# statistics (faceswap-app --benchmark): the demo video paced at 30 frames/s, as a camera
# would deliver it; the default (two-stage pipeline, background detection) against the engine's
# plain single-thread-of-work arrangement, alternated so that drifting machine load hits both.
# Usage: scripts/app-bench.sh [SECONDS] [BUILD_DIR]
#        MODELS="old.fsmodel new.fsmodel" scripts/app-bench.sh [SECONDS] [BUILD_DIR]
#        (the default arrangement with each model in turn, alternated: new against old)
#        BUILDS="build/old build/release" scripts/app-bench.sh [SECONDS]
#        (the default arrangement of each build's app in turn, alternated: this tree against an
#        older commit's, on the same demo model)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_RUN="${1:-20}"
APP="${2:-$ROOT/build/release}/src/ui/faceswap-app"
# OpenMP's wait policy: PASSIVE (threads sleep between parallel regions; the figures earlier
# sessions quoted) unless WAIT_POLICY=default, which leaves OpenMP's own default (spin a while,
# then sleep), what a user who starts the app gets; docs/live-speed.md has both.
export QT_QPA_PLATFORM=offscreen
if [ "${WAIT_POLICY:-PASSIVE}" = default ]; then unset OMP_WAIT_POLICY; else export OMP_WAIT_POLICY="${WAIT_POLICY:-PASSIVE}"; fi
echo "faceswap-app local-mode benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, OMP_WAIT_POLICY ${OMP_WAIT_POLICY:-unset}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run() {  # label, flags...
  local label="$1"; shift
  echo "--- $label"
  "$APP" --no-settings --source demo --fps 30 --size 640x480 --benchmark "$SECONDS_PER_RUN" "$@" 2>/dev/null
}
if [ -n "${BUILDS:-}" ]; then
  for round in 1 2; do
    for build in $BUILDS; do
      APP="$build/src/ui/faceswap-app"
      run "default arrangement, $build (round $round)" --model "$ROOT/resources/models/demo.fsmodel"
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
if [ -n "${MODELS:-}" ]; then
  for round in 1 2; do
    for model in $MODELS; do
      run "default arrangement, model $model (round $round)" --model "$model"
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
for round in 1 2; do
  run "default: 2-stage pipeline, background detection (round $round)"
  run "one stage, 2 threads, background detection (round $round)" --no-pipeline
  run "one stage, 2 threads, inline detection (round $round)" --no-pipeline --inline-detection
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
