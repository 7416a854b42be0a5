#!/usr/bin/env bash
# The end-to-end harvest over HTTP on 127.0.0.1: TweetHarvester (`harvest-bench http`: `Harvester` with its
# default transport into a fresh `FileTableStore`) against the Python pipeline a user would write
# (`python/pipeline_http.py`: requests.Session, orjson, sqlite3 WAL synchronous=FULL), both against the same
# local pages server (`http-server/pages_server.c`), in one sitting.
#
#   bash Benchmarks/run-http-bench.sh                    # 3 rounds x 5 walks per side, v2 and v1.1, gzip on and off
#   bash Benchmarks/run-http-bench.sh --rounds 1 --runs 3 --apis v2 --gzip on --no-build
#   bash Benchmarks/run-http-bench.sh --transport urlsession   # the Swift side on URLSessionTransport instead
#
# A round runs the Python side, then the Swift side, each for --runs timed walks after one warm-up walk, so
# the two sides of a round meet the same load; the figure of a side is the median of its rounds, and the
# ratio is taken round by round too. Every walk must store the rows the corpus says (both sides fail loudly
# otherwise). Then the memory check: one walk per child process, against a server of 10 and of 100 pages,
# and each side's peak RSS. Lines are `name: value unit`; lines starting with '#' are context.
#
# Environment: CORPUS_DIR (/tmp/corpus), ANCHORS_DIR (../shared/anchors, for make_corpus.py), BENCH_VENV
# (/tmp/bench-venv), PAGES_DIR (/tmp/http-bench-pages), TMPDIR (where both sides put their stores).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
ROUNDS=3
RUNS=5
APIS="v2 v1.1"
GZIPS="on off"
BUILD=1
TRANSPORT=default
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --apis) APIS="$2"; shift 2 ;;
    --gzip) GZIPS="$2"; shift 2 ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--rounds N] [--runs N] [--apis 'v2 v1.1'] [--gzip 'on off'] [--transport default|urlsession] [--no-build]" >&2; exit 2 ;;
  esac
done
export CORPUS_DIR="${CORPUS_DIR:-/tmp/corpus}"
VENV="${BENCH_VENV:-/tmp/bench-venv}"
PAGES_DIR="${PAGES_DIR:-/tmp/http-bench-pages}"
ANCHORS="${ANCHORS_DIR:-}"
if [ -z "$ANCHORS" ]; then
  for candidate in "$ROOT/../shared/anchors" /work/shared/anchors /tmp/anchors; do
    if [ -f "$candidate/make_corpus.py" ]; then ANCHORS="$candidate"; break; fi
  done
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/http-bench.XXXXXX")"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# --- what both sides need ------------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import requests, orjson' 2>/dev/null ||
  "$VENV/bin/pip" install -q --disable-pip-version-check requests orjson >&2
if [ ! -f "$CORPUS_DIR/manifest.json" ]; then
  FIXTURES="$(cd "$ANCHORS/.." && pwd)/fixtures/twitter"
  python3 "$ANCHORS/make_corpus.py" --fixtures "$FIXTURES" --out "$CORPUS_DIR" >&2
fi
python3 "$HERE/python/prepare_pages.py" --corpus "$CORPUS_DIR" --out "$PAGES_DIR" 2>&1 | sed 's/^/# /'
cc -O2 -Wall -Wextra -pthread -o "$WORK/pages_server" "$HERE/http-server/pages_server.c"
if [ "$BUILD" = 1 ]; then
  build_start=$(date +%s)
  swift build -c release --package-path "$HERE" --product harvest-bench >&2
  echo "# swift build -c release --product harvest-bench: $(($(date +%s) - build_start)) s"
fi
BIN="$(swift build -c release --package-path "$HERE" --show-bin-path)/harvest-bench"
[ -x "$BIN" ] || { echo "no $BIN: build it first" >&2; exit 1; }

# The rows a walk of pages 0..N-1 keeps, and the tweets it receives, from the index.
expected() { awk -F'\t' -v api="$1" -v n="$(($2 - 1))" '$1 == api && $2 == n { print $8, $9 }' "$PAGES_DIR/index.tsv"; }

# Starts the server; sets SERVER_PID and BASE.
start_server() {
  stop_server
  rm -f "$WORK/port"
  "$WORK/pages_server" "$PAGES_DIR" --gzip "$1" --pages "$2" --port-file "$WORK/port" --idle 300 \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || { echo "pages_server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
  BASE="http://127.0.0.1:$(cat "$WORK/port")"
}
# The server's CPU time so far, in ms (utime + stime from /proc), and its connection count.
server_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$SERVER_PID/stat"; }
server_connections() { curl -s "$BASE/stats" | sed 's/.*"connections":\([0-9]*\).*/\1/'; }
value() { sed -n "s/^$1: \([0-9.]*\) .*/\1/p" "$2"; }

echo "# date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
lscpu | head -n 16 | sed 's/^/# lscpu /'
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# python $("$VENV/bin/python" -c 'import sys, sqlite3, requests, orjson; print(sys.version.split()[0], "sqlite", sqlite3.sqlite_version, "requests", requests.__version__, "orjson", orjson.__version__)')"
echo "# swift $(swift --version 2>/dev/null | head -n 1)"
echo "# command $0 --rounds $ROUNDS --runs $RUNS --apis '$APIS' --gzip '$GZIPS' --transport $TRANSPORT"
export HTTP_BENCH_TRANSPORT="$TRANSPORT"
SWIFT="http_swift"
[ "$TRANSPORT" = urlsession ] && SWIFT="http_swift_urlsession"

SUMMARY="$WORK/summary"
: >"$SUMMARY"
for gzip in $GZIPS; do
  start_server "$gzip" 100
  echo "# $(cat "$WORK/server.out")"
  for api in $APIS; do
    read -r rows received < <(expected "$api" 100)
    tag="$(echo "$api" | tr -d .)_gzip_$gzip"
    py_rates=() sw_rates=() ratios=()
    for round in $(seq 1 "$ROUNDS"); do
      echo "# ---- $api gzip $gzip, round $round of $ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
      c0=$(server_connections) s0=$(server_cpu_ms)
      "$VENV/bin/python" "$HERE/python/pipeline_http.py" --base "$BASE" --api "$api" --gzip "$gzip" \
        --runs "$RUNS" --warmup 1 --expect-rows "$rows" --expect-received "$received" | tee "$WORK/py.out"
      c1=$(server_connections) s1=$(server_cpu_ms)
      HTTP_BENCH_BASE_URL="$BASE" HTTP_BENCH_API="$api" HTTP_BENCH_RUNS="$RUNS" HTTP_BENCH_WARMUP=1 \
        HTTP_BENCH_TAG="gzip_$gzip" HTTP_BENCH_RECEIVED="$received" HTTP_BENCH_EXPECT_ROWS="$rows" \
        "$BIN" http | grep -v '^# machine\|^# date' | tee "$WORK/sw.out"
      c2=$(server_connections) s2=$(server_cpu_ms)
      py=$(value "http_py_$tag" "$WORK/py.out")
      sw=$(value "${SWIFT}_$tag" "$WORK/sw.out")
      [ -n "$py" ] && [ -n "$sw" ] || { echo "a side printed no rate" >&2; exit 1; }
      py_rates+=("$py") sw_rates+=("$sw") ratios+=("$(awk -v a="$sw" -v b="$py" 'BEGIN { printf "%.2f", a / b }')")
      walks=$((RUNS + 1))
      echo "# server: python side $(((s1 - s0) / walks)) ms CPU a walk, $((c1 - c0 - 1)) connections for $walks walks;" \
        "swift side $(((s2 - s1) / walks)) ms CPU a walk, $((c2 - c1 - 1)) connections for $((walks + 1)) runs"
      echo "# round $round: python $py, swift $sw tweets/s, ratio ${ratios[-1]}"
    done
    median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    py=$(median "${py_rates[@]}") sw=$(median "${sw_rates[@]}") ratio=$(median "${ratios[@]}")
    printf 'http_py_%s: %s tweets/s\n%s_%s: %s tweets/s\nhttp_ratio_%s: %s x\n' \
      "$tag" "$py" "$SWIFT" "$tag" "$sw" "$tag" "$ratio" | tee -a "$SUMMARY"
  done
done

# --- memory: one walk per child process, 10 pages against 100 --------------------------------------------
for api in $APIS; do
  for pages in 10 100; do
    start_server on "$pages"
    read -r rows received < <(expected "$api" "$pages")
    tag="$(echo "$api" | tr -d .)_gzip_on"
    py=$("$VENV/bin/python" "$HERE/python/pipeline_http.py" --base "$BASE" --api "$api" --runs 1 --warmup 0 \
      --expect-rows "$rows" --expect-received "$received" | sed -n "s/^http_py_${tag}_maxrss: \([0-9.]*\).*/\1/p")
    sw=$(HTTP_BENCH_BASE_URL="$BASE" HTTP_BENCH_API="$api" HTTP_BENCH_RUNS=1 HTTP_BENCH_WARMUP=0 \
      HTTP_BENCH_RECEIVED="$received" HTTP_BENCH_EXPECT_ROWS="$rows" "$BIN" http |
      sed -n "s/^${SWIFT}_${tag}_maxrss: \([0-9.]*\).*/\1/p")
    printf 'http_maxrss_py_%s_%dpages: %s MiB\nhttp_maxrss_swift_%s_%dpages: %s MiB\n' \
      "$(echo "$api" | tr -d .)" "$pages" "$py" "$(echo "$api" | tr -d .)" "$pages" "$sw" | tee -a "$SUMMARY"
  done
done
stop_server
echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ---- summary"
cat "$SUMMARY"
