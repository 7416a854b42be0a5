#!/usr/bin/env python3
"""Turns the shared corpus (../shared/anchors/make_corpus.py, default /tmp/corpus) into the pages that
Benchmarks/http-server/pages_server.c serves, in the API's wire form, plain and gzip'd.

    prepare_pages.py [--corpus /tmp/corpus] [--out /tmp/http-bench-pages]

Output: OUT/index.tsv (one line per page: api, page number, oldest id, newest id, the page's next_token or
"-", the body file, the gzip'd body file, the rows a correct walk of pages 0 to this one keeps in an empty
store, and the tweets that walk receives; then one `empty` line per API), and the bodies beside it.

What is changed, and why:
- v2: the bodies are the corpus files byte for byte, except that the oldest page (page 0) has no
  `meta.next_token`: the walk ends there. Page k's token leads to page k-1.
- v1.1: a `max_id` walk over a fixed timeline never returns a tweet twice, but the corpus repeats a few
  statuses of page k-1 on page k (the overlap between runs). Those repeats are left out of page k, and the
  page is written again with the corpus's own v1.1 dumper (same escaping), with `next_results` naming the new
  oldest id minus one. A request below the oldest page gets an empty page without `next_results`.
- An empty page of each API answers a `since_id` at or above the newest id (a caught-up run).
- The body is gzip'd once here (level 6, mtime 0), so the server never compresses.
"""
import argparse
import gzip
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for candidate in (os.path.join(HERE, "..", "..", "..", "shared", "anchors"), "/work/shared/anchors", "/tmp/anchors"):
    if os.path.exists(os.path.join(candidate, "make_corpus.py")):
        sys.path.insert(0, os.path.abspath(candidate))
        break
from make_corpus import dump_v1, dump_v2, is_v1_dropped, is_v2_dropped  # noqa: E402


def write(out, name, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(body)
    with open(os.path.join(out, name + ".gz"), "wb") as f:
        f.write(gzip.compress(body, compresslevel=6, mtime=0))
    return name, name + ".gz"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.environ.get("CORPUS_DIR", "/tmp/corpus"))
    ap.add_argument("--out", default="/tmp/http-bench-pages")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for api in ("v2", "v1.1"):
        folder = os.path.join(args.corpus, api)
        names = sorted(n for n in os.listdir(folder) if n.startswith("page_") and n.endswith(".json"))
        seen = set()
        kept = set()
        received = 0
        for number, name in enumerate(names):
            raw = open(os.path.join(folder, name), "rb").read()
            page = json.loads(raw)
            if api == "v2":
                tweets = page["data"]
                token = page["meta"].get("next_token")
                if number == 0:
                    body, count = re.subn(rb',"next_token":"[^"]*"(?=}}$)', b"", raw)
                    if count != 1 or json.loads(body)["meta"].get("next_token") is not None:
                        sys.exit("prepare_pages: cannot remove the next_token of v2 page 0")
                    token = None
                else:
                    body = raw
                drop = is_v2_dropped
                ids = [int(t["id"]) for t in tweets]
            else:
                tweets = [s for s in page["statuses"] if s["id"] not in seen]
                ids = [s["id"] for s in tweets]
                meta = page["search_metadata"]
                meta["next_results"] = re.sub(r"max_id=\d+", "max_id=%d" % (min(ids) - 1), meta["next_results"])
                meta["count"] = len(tweets)
                page["statuses"] = tweets
                body = dump_v1(page)
                token = None
                drop = is_v1_dropped
            received += len(tweets)
            for t in tweets:
                i = int(t["id"])
                if i not in seen:
                    seen.add(i)
                    if not drop(t):
                        kept.add(i)
            plain, gz = write(args.out, "%s_%05d.json" % (api, number), body)
            lines.append("\t".join([api, str(number), str(min(ids)), str(max(ids)), token or "-", plain, gz,
                                     str(len(kept)), str(received)]))
        if api == "v2":
            empty = dump_v2({"meta": {"result_count": 0}})
        else:
            meta = dict(page["search_metadata"])
            meta.pop("next_results", None)
            meta["count"] = 0
            empty = dump_v1({"statuses": [], "search_metadata": meta})
        plain, gz = write(args.out, "%s_empty.json" % api, empty)
        lines.append("\t".join([api, "empty", "0", "0", "-", plain, gz, "0", "0"]))
        print("prepare_pages %s: %d pages, %d unique tweets, %d kept" % (api, len(names), len(seen), len(kept)),
              file=sys.stderr)
    with open(os.path.join(args.out, "index.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
