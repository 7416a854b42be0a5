#!/usr/bin/env bash
# Runs the README's test command N times in a row (default 30) while CPU hogs keep every core busy, as on a shared
# CI machine, and counts the failures. A deterministic suite passes every run.
#
#   scripts/soak-under-load.sh [N]
#
# Environment:
#   SOAK_COMMAND  the command to repeat (default: the README's, `grep -m1 '^swift test' README.md`), e.g.
#                 SOAK_COMMAND='swift test --skip-build --filter HarvestKillTests' to soak one suite
#   SOAK_HOGS     how many busy loops to run beside it (default: the number of cores, `nproc`)
#   SOAK_LOGS     where to keep the logs of failing runs (default: a new directory under $TMPDIR)
#
# Exits 0 when every run passed (and each ran at least one test), 1 otherwise; the failing runs' logs are kept.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/opt/swift/usr/bin:$PATH"

runs=${1:-30}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N] (N a positive number of runs, got '$runs')" >&2; exit 2; }
command=${SOAK_COMMAND:-$(grep -m1 '^swift test' README.md || true)}
[ -n "$command" ] || { echo "soak: README.md has no 'swift test' command" >&2; exit 2; }
hogs=${SOAK_HOGS:-$(nproc)}
logs=${SOAK_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/th-soak.XXXXXX")}
mkdir -p "$logs"

pids=()
stop_hogs() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    pids=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
for _ in $(seq "$hogs"); do
    yes >/dev/null &
    pids+=("$!")
done

echo "soak: $runs run(s) of '$command' beside $hogs busy loop(s); failing logs go to $logs"
failures=0
started=$(date +%s)
for run in $(seq "$runs"); do
    log="$logs/run-$run.log"
    run_start=$(date +%s)
    $command >"$log" 2>&1
    status=$?
    tests=$(sed -n 's/.*Test run with \([0-9][0-9]*\) tests\{0,1\} in .* passed.*/\1/p' "$log" | tail -n 1)
    seconds=$(( $(date +%s) - run_start ))
    if [ "$status" -ne 0 ] || [ -z "$tests" ]; then
        failures=$((failures + 1))
        echo "soak: run $run/$runs FAILED (status $status, ${seconds}s), log kept: $log"
        grep -E '✘|error:|failed' "$log" | head -n 20 | sed 's/^/    /'
    else
        echo "soak: run $run/$runs passed ($tests tests, ${seconds}s)"
        rm -f "$log"
    fi
done
echo "soak: $failures of $runs run(s) failed in $(( $(date +%s) - started ))s under load"
if [ "$failures" -eq 0 ]; then
    rmdir "$logs" 2>/dev/null || true
    exit 0
fi
echo "soak: logs of the failing runs are in $logs"
exit 1
