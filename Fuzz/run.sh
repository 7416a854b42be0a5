#!/usr/bin/env bash
# Builds the libFuzzer harnesses (--sanitize=fuzzer --sanitize=address) and runs each for SECONDS (default 60),
# seeded from Fuzz/Corpus/<name>/ into a working corpus under $FUZZ_WORK (default /tmp/th-fuzz), so the committed
# seeds never change. Findings (crash-*, oom-*, timeout-*) are written there and the script exits non-zero.
#   Fuzz/run.sh 600                 # ten minutes each
#   Fuzz/run.sh 20 cron             # one harness
# Harnesses: cron (CronExpression), search-page (SearchResponse, v2 and v1.1), file-store (FileTableStore open).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export PATH="/opt/swift/usr/bin:$PATH"
seconds=${1:-60}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(cron search-page file-store)
work=${FUZZ_WORK:-/tmp/th-fuzz}
scratch=${FUZZ_SCRATCH:-.build-fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# A finding is reported by libFuzzer; the Swift runtime's own backtracer would only add noise under ASan.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

for name in "${names[@]}"; do
    swift build --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address --product "fuzz-$name"
done
bin=$(swift build --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address --show-bin-path)

status=0
for name in "${names[@]}"; do
    corpus="$work/$name/corpus"
    findings="$work/$name/findings"
    mkdir -p "$corpus" "$findings"
    cp -n Corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz-$name: $seconds s, corpus $corpus"
    # -rss_limit_mb bounds what one input may make an open allocate; -timeout what one input may take.
    if ! "$bin/fuzz-$name" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
        -artifact_prefix="$findings/" -print_final_stats=1 2>"$work/$name/log.txt"; then
        echo "fuzz-$name: FINDING, see $findings and $work/$name/log.txt" >&2
        tail -n 40 "$work/$name/log.txt" >&2
        status=1
    else
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$work/$name/log.txt" | tr '\n' ' '
        echo
    fi
done
exit $status
