#!/usr/bin/env bash
# PostgresTableStore against psycopg (issue #16), on one throwaway server in one sitting: durable batches of 100
# tweet rows (insert-or-ignore, synchronous_commit=on) and `newest`. psycopg goes into a venv under /tmp (never
# into the repository); the Swift side is a release build of postgres-bench.
#     bash Benchmarks/postgres/run.sh [BATCHES]        (default: 300 measured batches a side, after 20 to warm up)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
batches="${1:-300}"
venv="${TMPDIR:-/tmp}/th-psycopg-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import psycopg' 2>/dev/null || "$venv/bin/pip" install -q 'psycopg[binary]'
swift build -c release --package-path Benchmarks --product postgres-bench
bench="$(swift build -c release --package-path Benchmarks --show-bin-path)/postgres-bench"
echo "# $(date -u +%FT%TZ) $(uname -srm) nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2016
TH_BENCH_BATCHES="$batches" PYTHON="$venv/bin/python" BENCH="$bench" bash scripts/with-postgres.sh bash -c '
    set -euo pipefail
    "$BENCH"
    "$PYTHON" Benchmarks/postgres/psycopg_bench.py "$TH_POSTGRES_URL" "$TH_BENCH_BATCHES"
'
