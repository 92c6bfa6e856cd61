#!/usr/bin/env bash
# Builds the server image (packaging/container/Containerfile) from this tree: the .deb packages
# faceswap-data and faceswap-server (cpack, as `make package` makes them) in a staging context,
# installed on the base image. `make container` runs this after building and converting models.
#
# Usage: scripts/container-build.sh [--test] [BUILD_DIR]      (default build/release)
#   --test: the CTest fixture's mode: where podman cannot run here (not installed, no root for
#   the base image, no container starts), say why in one line and exit 77 (CTest: skipped).
# Environment: BASE_IMAGE (default localhost/debian:12, made by scripts/container-base.sh when
# it is that and missing), FACESWAP_IMAGE (default localhost/faceswap-server).
# Tags: FACESWAP_IMAGE:latest and FACESWAP_IMAGE:VERSION.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/container-env.sh
source "$ROOT/scripts/container-env.sh"
test_mode=0
if [ "${1:-}" = "--test" ]; then
    test_mode=1
    shift
fi
BUILD="${1:-$ROOT/build/release}"
CACHE="${FACESWAP_CACHE_DIR:-$ROOT/.cache}"
BASE_IMAGE="${BASE_IMAGE:-$FACESWAP_BASE_IMAGE}"

say() { printf '\033[1m[container]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[container] error:\033[0m %s\n' "$*" >&2; exit 1; }

skip() {
    echo "container tests skipped: $*"
    exit 77
}
if ! command -v podman > /dev/null; then
    [ $test_mode -eq 1 ] && skip "podman is not installed (scripts/setup.sh installs it)"
    die "podman is not installed: run scripts/setup.sh"
fi
[ -x "$BUILD/server/faceswap-server" ] || die "no server in $BUILD: run 'make build' first"
if ! out=$(timeout 60 podman info 2>&1 > /dev/null); then
    [ $test_mode -eq 1 ] && skip "podman does not work here: $(printf '%s' "$out" | tail -1)"
    die "podman does not work here: $(printf '%s' "$out" | tail -1)"
fi
if [ "$BASE_IMAGE" = "localhost/debian:12" ] && ! podman image exists "$BASE_IMAGE"; then
    if [ $test_mode -eq 1 ] && { [ "$(id -u)" -ne 0 ] || ! command -v debootstrap > /dev/null; }; then
        skip "no base image $BASE_IMAGE, and making one needs root and debootstrap"
    fi
    "$ROOT/scripts/container-base.sh"
fi
if [ $test_mode -eq 1 ] && ! container_can_run; then
    skip "$CONTAINER_WHY"
fi

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
[ -n "$version" ] || die "no project version in $BUILD/CMakeCache.txt"
revision=$(git -C "$ROOT" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2> /dev/null || revision="$revision-dirty"

context="$CACHE/container/context"
rm -rf "$context"
mkdir -p "$context/packages"
start=$SECONDS
say "packaging faceswap-data and faceswap-server $version (cpack)"
(cd "$BUILD" && cpack -G DEB -D CPACK_COMPONENTS_ALL="data;server" -B "$context/cpack" \
    > "$CACHE/container/cpack.log" 2>&1) \
    || die "cpack failed: see $CACHE/container/cpack.log ($(tail -1 "$CACHE/container/cpack.log"))"
cp "$context"/cpack/faceswap-data_*.deb "$context"/cpack/faceswap-server_*.deb "$context/packages/"
rm -rf "$context/cpack"

# The image this build replaces, removed afterwards once no tag names it (rebuilds would
# otherwise pile up a gigabyte each).
previous=$(podman image inspect --format '{{.Id}}' "$FACESWAP_IMAGE:latest" 2> /dev/null || true)
say "building $FACESWAP_IMAGE:$version on $BASE_IMAGE"
# --format docker keeps the HEALTHCHECK (OCI images have no such field).
podman build --format docker --pull=never -f "$ROOT/packaging/container/Containerfile" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$version" \
    --build-arg REVISION="$revision" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$FACESWAP_IMAGE:$version" -t "$FACESWAP_IMAGE:latest" "$context" \
    > "$CACHE/container/build.log" 2>&1 \
    || die "podman build failed: see $CACHE/container/build.log ($(tail -1 "$CACHE/container/build.log"))"
rm -rf "$context"
current=$(podman image inspect --format '{{.Id}}' "$FACESWAP_IMAGE:latest")
if [ -n "$previous" ] && [ "$previous" != "$current" ] \
    && [ -z "$(podman image inspect --format '{{join .RepoTags ","}}' "$previous" 2> /dev/null)" ]; then
    podman rmi "$previous" > /dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$FACESWAP_IMAGE:latest")
say "built $FACESWAP_IMAGE:latest and :$version in $((SECONDS - start)) s ($(numfmt --to=iec "$size"))"
