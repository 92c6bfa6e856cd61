# Sourced by the container scripts and tests: podman with this project's containers.conf, and
# a check that says in one line why containers cannot run here.
#   source scripts/container-env.sh; container_can_run || { echo "skip: $CONTAINER_WHY"; ...; }
# shellcheck shell=bash

FACESWAP_ROOT="${FACESWAP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# runc, cgroupfs and explicit ulimits (packaging/container/containers.conf says why); a caller's
# own CONTAINERS_CONF wins.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$FACESWAP_ROOT/packaging/container/containers.conf}"

FACESWAP_IMAGE="${FACESWAP_IMAGE:-localhost/faceswap-server}"
FACESWAP_BASE_IMAGE="${FACESWAP_BASE_IMAGE:-localhost/debian:12}"
CONTAINER_WHY=""

# True when podman is installed and can start a container from the base image; otherwise sets
# CONTAINER_WHY to the reason (one line).
container_can_run() {
    if ! command -v podman > /dev/null; then
        CONTAINER_WHY="podman is not installed (scripts/setup.sh installs it)"
        return 1
    fi
    local out
    if ! out=$(timeout 60 podman info 2>&1 > /dev/null); then
        CONTAINER_WHY="podman does not work here: $(printf '%s' "$out" | tail -1)"
        return 1
    fi
    if ! podman image exists "$FACESWAP_BASE_IMAGE" 2> /dev/null; then
        CONTAINER_WHY="no base image $FACESWAP_BASE_IMAGE (scripts/container-base.sh makes it)"
        return 1
    fi
    if ! out=$(timeout 60 podman run --rm --network none "$FACESWAP_BASE_IMAGE" true 2>&1); then
        CONTAINER_WHY="podman cannot start a container here: $(printf '%s' "$out" | tail -1)"
        return 1
    fi
    return 0
}
