"""psycopg's side of the postgres benchmark (issue #16); Benchmarks/postgres/run.sh runs it after harvest-bench.

The same rows as PostgresBenchmarks.swift (postgresBenchRow), into tables of the same definition (harvest-bench
makes them through PostgresTableStore: schemas bench_py_many and bench_py_copy), in batches of 100, each batch one
durable transaction (synchronous_commit=on), insert-or-ignore, two ways psycopg documents as the fastest:
  - executemany in pipeline mode (psycopg 3 pipelines executemany by itself; conn.pipeline() makes it explicit);
  - COPY into a temporary staging table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING.
Then `newest`: SELECT the columns ... WHERE "twitterId" IS NOT NULL ORDER BY "twitterId" DESC LIMIT 1.
Usage: python psycopg_bench.py URL [BATCHES]
"""
import statistics
import sys
import time

import psycopg

COLUMNS = ["twitterId", "text", "author", "authorId", "date", "kind"]
QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)


def row(index):
    return (
        1_800_000_000_000_000_000 + index,
        f"tweet {index} " + "#mobileservices are great " * 4,
        f"user{index % 997}",
        1_000_000 + index % 997,
        757_000_000.0 + index,
        "original",
    )


def report(name, value, unit):
    text = str(round(value)) if value >= 100 else (f"{value:.2f}" if value >= 1 else f"{value:.3g}")
    print(f"{name}: {text} {unit}", flush=True)


def measure(conn, batches, warm_up, insert):
    times = []
    for batch in range(warm_up + batches):
        rows = [row(i) for i in range(batch * 100, (batch + 1) * 100)]
        start = time.perf_counter()
        inserted = insert(conn, rows)
        conn.commit()
        elapsed = time.perf_counter() - start
        assert inserted in (None, 100), inserted
        if batch >= warm_up:
            times.append(elapsed)
    return sorted(times)


def executemany_pipeline(schema):
    sql = (
        f'INSERT INTO {schema}."Updates" ({QUOTED}) VALUES (%s, %s, %s, %s, %s, %s) '
        'ON CONFLICT ("twitterId") DO NOTHING'
    )

    def insert(conn, rows):
        with conn.pipeline(), conn.cursor() as cur:
            cur.executemany(sql, rows)
        return None

    return insert


def copy_staging(schema):
    def insert(conn, rows):
        with conn.cursor() as cur:
            cur.execute(
                'CREATE TEMPORARY TABLE IF NOT EXISTS staging ("twitterId" bigint, "text" text, "author" text, '
                '"authorId" bigint, "date" double precision, "kind" text) ON COMMIT DELETE ROWS'
            )
            with cur.copy(f"COPY staging ({QUOTED}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "text", "int8", "float8", "text"])
                for r in rows:
                    copy.write_row(r)
            cur.execute(
                f'INSERT INTO {schema}."Updates" ({QUOTED}) SELECT {QUOTED} FROM staging '
                'ON CONFLICT ("twitterId") DO NOTHING'
            )
            return cur.rowcount

    return insert


def main():
    url = sys.argv[1]
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    warm_up = 20
    with psycopg.connect(url) as conn:
        setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
        conn.commit()
        print(
            f"# psycopg {psycopg.__version__} (libpq {psycopg.pq.version() // 10000}.{psycopg.pq.version() % 10000}, {psycopg.pq.__impl__}), "
            f"synchronous_commit={setting}, pipeline supported: {psycopg.Pipeline.is_supported()}",
            flush=True,
        )
        medians = {}
        for name, schema, insert in [
            ("executemany-pipeline", "bench_py_many", executemany_pipeline("bench_py_many")),
            ("copy-staging", "bench_py_copy", copy_staging("bench_py_copy")),
        ]:
            times = measure(conn, batches, warm_up, insert)
            medians[name] = statistics.median(times)
            report(f"postgres.psycopg.{name}.insert-or-ignore.100.median", medians[name] * 1000, "ms")
            report(f"postgres.psycopg.{name}.insert-or-ignore.100.p90", times[len(times) * 9 // 10] * 1000, "ms")
            report(f"postgres.psycopg.{name}.insert-or-ignore.rows-per-s", 100 / medians[name], "rows/s")
            count = conn.execute(f'SELECT count(*) FROM {schema}."Updates"').fetchone()[0]
            conn.commit()
            assert count == 1 + 100 * (warm_up + batches), count
        # newest, as PostgresTableStore asks it (the columns in the store's order), in autocommit as a pool would.
        conn.autocommit = True
        columns = ", ".join(f'"{c}"' for c in sorted(COLUMNS))
        sql = (
            f'SELECT {columns} FROM bench_py_many."Updates" WHERE "twitterId" IS NOT NULL '
            'ORDER BY "twitterId" DESC LIMIT 1'
        )
        times = []
        for index in range(2_000):
            start = time.perf_counter()
            conn.execute(sql).fetchone()
            elapsed = time.perf_counter() - start
            if index >= 100:
                times.append(elapsed)
        times.sort()
        report("postgres.psycopg.newest.median", statistics.median(times) * 1_000_000, "µs")
        report("postgres.psycopg.newest.p90", times[len(times) * 9 // 10] * 1_000_000, "µs")


if __name__ == "__main__":
    main()
