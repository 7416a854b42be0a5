#!/usr/bin/env bash
# Instructions to decode the anchors' corpus with the search decoders of one or more revisions, counted by
# callgrind (repeatable whatever else the machine does; `perf stat` has no instruction counter on this VM).
#   bash Benchmarks/decode/run.sh [REV ...]     # default: HEAD; e.g. `740c55b HEAD` compares two
# Needs the corpus (`bash ../shared/anchors/run_all.sh`, or `python3 ../shared/anchors/make_corpus.py --out /tmp/corpus`)
# and valgrind. Each revision's decoder files are compiled with `swiftc -O -wmo` into one small program with
# harness.swift.txt, which decodes every page once and prints a hash of the decoded tweets (ids, authors,
# texts), so that revisions can be checked to decode alike.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
corpus=${CORPUS_DIR:-/tmp/corpus}
[ $# -gt 0 ] || set -- HEAD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/stub.swift" <<'SWIFT'
enum TransportText {
    static func bytes(_ count: Int) -> String { "\(count) bytes" }
    static func duration(_ duration: Duration) -> String { "\(duration)" }
    static func oneLine(_ text: String) -> String { text }
}
SWIFT
cp Benchmarks/decode/harness.swift.txt "$work/main.swift"
for rev in "$@"; do
    dir="$work/$rev"
    mkdir -p "$dir"
    for file in JSONScanner SearchError SearchResponse Tweet TwitterDate TransportFailure; do
        git show "$rev:Sources/TwitterSearch/$file.swift" > "$dir/$file.swift"
    done
    swiftc -O -wmo -package-name bench -module-name TS -o "$dir/decode" "$work/main.swift" "$work/stub.swift" "$dir"/*.swift
    for api in v2 v1.1; do
        out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$dir/decode" "$corpus/$api" 1 2>&1)
        instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out")
        echo "$rev $api: $(grep '^tweets' <<<"$out"), $instructions instructions"
    done
done
