#!/usr/bin/env bash
# Makes the base image for the server container where no registry is reachable: a minimal
# Debian 12 from Debian's own mirror (debootstrap), imported into podman as localhost/debian:12.
# Where a registry is reachable, skip this and build on docker.io/library/debian:12 instead
# (make container BASE_IMAGE=docker.io/library/debian:12).
#
# Usage: scripts/container-base.sh [--force]     (quick when the image exists; --force remakes)
# Needs root (debootstrap), podman and debootstrap (scripts/setup.sh installs them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/container-env.sh
source "$ROOT/scripts/container-env.sh"
CACHE="${FACESWAP_CACHE_DIR:-$ROOT/.cache}"

say() { printf '\033[1m[container-base]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[container-base] error:\033[0m %s\n' "$*" >&2; exit 1; }

force=0
[ "${1:-}" = "--force" ] && force=1

command -v podman > /dev/null || die "podman is not installed: run scripts/setup.sh"
command -v debootstrap > /dev/null || die "debootstrap is not installed: run scripts/setup.sh"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root: run this as root (or with sudo)"

if [ $force -eq 0 ] && podman image exists "$FACESWAP_BASE_IMAGE"; then
    say "$FACESWAP_BASE_IMAGE exists ($(podman image inspect --format '{{.Size}}' "$FACESWAP_BASE_IMAGE" | numfmt --to=iec) ); --force remakes it"
    exit 0
fi

# The machine's own Debian mirror: deb822 sources first (Debian 12's default), then the
# one-line format. The first http(s) URI that serves 'debian' (not debian-security) wins.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2> /dev/null \
        | awk '{for (i = 2; i <= NF; i++) print $i}' | grep -v security | head -1 || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2> /dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*: set DEBIAN_MIRROR=URL"

rootfs="$CACHE/container/debian-12-rootfs"
rm -rf "$rootfs"
mkdir -p "$(dirname "$rootfs")"
say "debootstrap bookworm (minbase) from $mirror"
start=$SECONDS
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CACHE/container/debootstrap.log" 2>&1 \
    || die "debootstrap failed (last lines of $CACHE/container/debootstrap.log): $(tail -3 "$CACHE/container/debootstrap.log" | tr '\n' ' ')"
# The image's apt reaches the same mirror, and keeps no package lists or caches.
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" > "$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
say "importing as $FACESWAP_BASE_IMAGE"
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$FACESWAP_BASE_IMAGE" > /dev/null
rm -rf "$rootfs"
say "done in $((SECONDS - start)) s: $FACESWAP_BASE_IMAGE ($(podman image inspect --format '{{.Size}}' "$FACESWAP_BASE_IMAGE" | numfmt --to=iec))"
