#!/usr/bin/env bash
# The file store at 1M and 10M rows (issue #15): fill, open, first newest, browse 20, an insert batch, peak RSS,
# and the naive C replay of the same log for the ratio. Slow (a release build, a 10M-row fill of ~3.5 GB):
#     bash Benchmarks/filestore/run.sh [ROWS...]        (default: 1000000 10000000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
work="${TMPDIR:-/tmp}/th-filestore-bench"
mkdir -p "$work"
cc -O2 -o "$work/naive_replay" Benchmarks/filestore/naive_replay.c
swift build -c release --package-path Benchmarks --product harvest-bench
bench="$(swift build -c release --package-path Benchmarks --show-bin-path)/harvest-bench"
echo "# $(date -u +%FT%TZ) $(uname -srm) nproc=$(nproc) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for rows in "${@:-1000000 10000000}"; do
    store="$work/store-$rows"
    rm -rf "$store"
    TH_FILESTORE_ROWS="$rows" TH_FILESTORE_DIR="$store" "$bench" filestore
    # The naive C replay of the same log (the page cache is warm from the benchmark's opens).
    start=$(date +%s.%N)
    "$work/naive_replay" "$store/store.jsonl" >/dev/null
    end=$(date +%s.%N)
    echo "filestore.c-naive-replay.$rows $(echo "$end - $start" | bc) s"
    rm -rf "$store"
done
