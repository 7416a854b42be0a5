#!/usr/bin/env python3
"""The harvest job as a Python user would write it, over HTTP: the other side of `harvest-bench http`.

    pipeline_http.py --base http://127.0.0.1:PORT --api v2|v1.1 [--gzip on|off] [--runs 5] [--warmup 1]
                     [--expect-rows N] [--expect-received N] [--tmp DIR]

Each run walks the search API from an empty store into a fresh SQLite database: a `requests.Session`
(keep-alive, bearer token), `orjson` to decode, the harvest filters (drop retweets, replies and manual
`RT @` retweets), `created_at` parsed to a datetime, `sqlite3` in WAL mode with `synchronous=FULL`, one
transaction per page with a batched `INSERT OR IGNORE`, following `next_token` (v2) or `max_id` (v1.1,
oldest id minus one) until the API has no further page. `--gzip off` sends `Accept-Encoding: identity`
(requests asks for gzip by default).

Prints `#` lines per run and then, in the `name: value unit` form of the anchors:
    http_py_<api>_<gzip>: tweets/s     tweets received per second of wall time (median of --runs)
    http_py_<api>_<gzip>_rows: rows    rows stored by a run (every run must store the same)
    http_py_<api>_<gzip>_cpu: ms       the process's CPU time (user and system) a walk (median)
    http_py_<api>_<gzip>_maxrss: MiB   the process's peak resident memory
Exits non-zero when a run stores or receives another number than --expect-rows / --expect-received.
"""
import argparse
import datetime as dt
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

import orjson
import requests

SCHEMA = "CREATE TABLE IF NOT EXISTS Updates(twitterId INTEGER PRIMARY KEY, text TEXT, author TEXT, date TEXT)"
INSERT = "INSERT OR IGNORE INTO Updates(twitterId, text, author, date) VALUES (?, ?, ?, ?)"
V1_DATE = "%a %b %d %H:%M:%S %z %Y"
DROP = ("retweeted", "replied_to")


def rows_v2(page):
    users = {u["id"]: u["username"] for u in page.get("includes", {}).get("users", ())}
    fromiso = dt.datetime.fromisoformat
    rows = []
    tweets = page.get("data", ())
    for t in tweets:
        refs = t.get("referenced_tweets")
        if refs and any(r["type"] in DROP for r in refs):
            continue
        if t["text"].startswith("RT @"):
            continue
        rows.append((int(t["id"]), t["text"], users.get(t["author_id"]), fromiso(t["created_at"]).isoformat()))
    return len(tweets), rows


def rows_v1(page):
    strptime = dt.datetime.strptime
    rows = []
    statuses = page["statuses"]
    for s in statuses:
        if "retweeted_status" in s or s["in_reply_to_status_id"] is not None or s["text"].startswith("RT @"):
            continue
        rows.append((s["id"], s["text"], s["user"]["screen_name"], strptime(s["created_at"], V1_DATE).isoformat()))
    return len(statuses), rows


def harvest(session, base, api, db_path, query="#mobileservices"):
    """One run: newest stored id, walk, store. Returns (tweets received, rows in the table)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(SCHEMA)
    since_id = db.execute("SELECT max(twitterId) FROM Updates").fetchone()[0]
    if api == "v2":
        url = base + "/2/tweets/search/recent"
        params = {"query": query, "max_results": 100,
                  "tweet.fields": "created_at,author_id,referenced_tweets,in_reply_to_user_id",
                  "expansions": "author_id", "user.fields": "username"}
    else:
        url = base + "/1.1/search/tweets.json"
        params = {"q": query, "result_type": "recent", "count": 100, "tweet_mode": "extended"}
    if since_id is not None:
        params["since_id"] = since_id
    received = 0
    while True:
        response = session.get(url, params=params, timeout=30)
        response.raise_for_status()
        page = orjson.loads(response.content)
        count, rows = rows_v2(page) if api == "v2" else rows_v1(page)
        received += count
        if rows:
            db.execute("BEGIN")
            db.executemany(INSERT, rows)
            db.execute("COMMIT")
        if api == "v2":
            token = page.get("meta", {}).get("next_token")
            if not token:
                break
            params["next_token"] = token
        else:
            statuses = page["statuses"]
            if not statuses or "next_results" not in page.get("search_metadata", {}):
                break
            params["max_id"] = min(s["id"] for s in statuses) - 1
    stored = db.execute("SELECT count(*) FROM Updates").fetchone()[0]
    db.close()
    return received, stored


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--api", choices=("v2", "v1.1"), default="v2")
    ap.add_argument("--gzip", choices=("on", "off"), default="on")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--expect-rows", type=int)
    ap.add_argument("--expect-received", type=int)
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer benchmark-bearer-token"
    if args.gzip == "off":
        session.headers["Accept-Encoding"] = "identity"
    scratch = tempfile.mkdtemp(prefix="http-bench-py-", dir=args.tmp)
    tag = "http_py_%s_gzip_%s" % (args.api.replace(".", ""), args.gzip)
    times, cpus, stored_counts = [], [], set()
    try:
        for run in range(args.warmup + args.runs):
            path = os.path.join(scratch, "run%d.sqlite" % run)
            cpu_start = os.times()
            start = time.perf_counter()
            received, stored = harvest(session, args.base, args.api, path)
            seconds = time.perf_counter() - start
            cpu_end = os.times()
            cpu = cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
            warm = run < args.warmup
            print("# %s run %d%s: %d received, %d stored, %.3f s, %.3f s CPU"
                  % (tag, run, " (warm-up)" if warm else "", received, stored, seconds, cpu))
            if args.expect_rows is not None and stored != args.expect_rows:
                sys.exit("%s: stored %d rows, expected %d" % (tag, stored, args.expect_rows))
            if args.expect_received is not None and received != args.expect_received:
                sys.exit("%s: received %d tweets, expected %d" % (tag, received, args.expect_received))
            stored_counts.add(stored)
            if not warm:
                times.append(seconds)
                cpus.append(cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if len(stored_counts) != 1:
        sys.exit("%s: runs stored different row counts %s" % (tag, sorted(stored_counts)))
    if times:
        print("%s: %d tweets/s" % (tag, round(received / statistics.median(times))))
    print("%s_rows: %d rows" % (tag, stored_counts.pop()))
    if cpus:
        print("%s_cpu: %d ms CPU a walk" % (tag, round(statistics.median(cpus) * 1000)))
    print("%s_maxrss: %.1f MiB" % (tag, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == "__main__":
    main()
