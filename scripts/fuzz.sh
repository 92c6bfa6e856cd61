#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (built by `make fuzz`, the 'fuzz' preset) and prints,
# per target: executions, executions per second, coverage (libFuzzer's cov: edges and ft:
# features), the corpus before and after, and any finding. A finding fails the run; its input is
# kept in build/fuzz/findings/ with the command that replays it.
#
#   scripts/fuzz.sh                     every target for 30 s (what the test suite runs)
#   scripts/fuzz.sh 1800 frame_message  one target for 30 minutes
#   FUZZ_JOBS=2 scripts/fuzz.sh 1800    two targets at a time (one core each)
#
# Each run starts from the committed seeds and regression inputs (tests/fuzz/corpus/TARGET/,
# all replayed first) plus what earlier runs on this machine found (build/fuzz/corpus/TARGET/,
# not committed). Inputs worth keeping as regression tests are copied into tests/fuzz/corpus/ by
# hand, named regression-*.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD:-$ROOT/build/fuzz}"
SECONDS_PER_TARGET="${1:-30}"
shift || true
JOBS="${FUZZ_JOBS:-1}"

die() { printf 'fuzz.sh: %s\n' "$*" >&2; exit 1; }
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || die "the first argument is seconds per target, got '$SECONDS_PER_TARGET'"
[ -f "$BUILD/fuzz-targets.txt" ] || die "no fuzz build in $BUILD: run 'make fuzz' first"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed 's/^fuzz_//' "$BUILD/fuzz-targets.txt")
fi

# libFuzzer's own reports, plus: leaks are findings too; UBSan stops at the first report.
# Leaks inside libraries we do not build are listed, with what was seen, in tests/fuzz/lsan.supp.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}"
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer > /dev/null; then
    export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"
fi
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Each target's temporary files go to its own folder (fuzz_support.h).
export TMPDIR="${TMPDIR:-/tmp}"

mkdir -p "$BUILD/findings" "$BUILD/logs"

run_one() {
    local name="$1" binary="$BUILD/tests/fuzz/fuzz_$1"
    local seeds="$ROOT/tests/fuzz/corpus/$name" found="$BUILD/corpus/$name"
    local log="$BUILD/logs/$name.log" dict="$ROOT/tests/fuzz/dict/$name.dict"
    [ -x "$binary" ] || { echo "$name: no binary $binary (make fuzz)"; return 1; }
    [ -d "$seeds" ] || { echo "$name: no seed corpus $seeds"; return 1; }
    mkdir -p "$found"
    local before; before=$(( $(ls "$seeds" | wc -l) + $(ls "$found" | wc -l) ))
    local args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2560
                -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/findings/$name-")
    [ -f "$dict" ] && args+=(-dict="$dict")
    # New inputs go to the first folder (this machine's), the seeds stay as committed.
    local rc=0
    "$binary" "${args[@]}" "$found" "$seeds" > "$log" 2>&1 || rc=$?
    local runs cov ft per_s after
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    per_s=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    after=$(( $(ls "$seeds" | wc -l) + $(ls "$found" | wc -l) ))
    if [ "$rc" -eq 0 ]; then
        printf '%-15s %10s runs %7s/s  cov %5s  ft %6s  corpus %4s -> %4s  no finding (%s s)\n' \
            "$name" "$runs" "$per_s" "$cov" "$ft" "$before" "$after" "$SECONDS_PER_TARGET"
        return 0
    fi
    local artifact
    artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    printf '%-15s FINDING after %s runs (exit %s): %s\n' "$name" "$runs" "$rc" \
        "$(grep -m1 -E 'ERROR: |runtime error|fuzz property failed|Sanitizer' "$log" || tail -1 "$log")"
    [ -n "$artifact" ] && printf '%-15s   input: %s\n%-15s   replay: %s %s\n' "" "$artifact" "" "$binary" "$artifact"
    printf '%-15s   log: %s\n' "" "$log"
    return 1
}

echo "fuzzing ${#targets[@]} targets, $SECONDS_PER_TARGET s each, $JOBS at a time ($BUILD)"
failed=0
if [ "$JOBS" -le 1 ]; then
    for name in "${targets[@]}"; do run_one "$name" || failed=1; done
else
    export -f run_one
    export BUILD ROOT SECONDS_PER_TARGET
    printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {} || failed=1
fi
[ "$failed" -eq 0 ] || { echo "fuzz.sh: findings above; fix them and keep each input as tests/fuzz/corpus/TARGET/regression-NAME"; exit 1; }
