import CronScheduler
import Foundation
import PostgresNIO
import TableStorage
import TableStoragePostgres

// PostgresTableStore against `TH_POSTGRES_URL` (issue #16); `Benchmarks/postgres/run.sh` starts a server and runs
// psycopg on the same rows in the same sitting.
//
// - `postgres.swift.insert-or-ignore.100`: one durable batch of 100 new tweet rows (the tweet table's columns:
//   `twitterId`, `text`, `author`, `authorId`, `date`, `kind`), `onConflict: .ignore`, with the server's
//   `synchronous_commit` (`on`, its default).
// - `postgres.swift.fenced.insert-or-ignore.100`: the same, under a fleet run's `WriteFence` (as `harvest run` on
//   PostgreSQL writes).
// - `postgres.swift.newest`: `newest(in:by: "twitterId")` on the filled table.
//
// Before it measures, it makes the tables that psycopg fills after it (schemas `bench_py_many` and
// `bench_py_copy`) through the store, so that both sides write into the same table definition.

/// The row `index` of the benchmark: the same values as `Benchmarks/postgres/psycopg_bench.py` makes.
func postgresBenchRow(_ index: Int) -> TableRow {
    [
        "twitterId": .int(1_800_000_000_000_000_000 + Int64(index)),
        "text": .string("tweet \(index) " + String(repeating: "#mobileservices are great ", count: 4)),
        "author": .string("user\(index % 997)"),
        "authorId": .int(1_000_000 + Int64(index % 997)),
        "date": .date(Date(timeIntervalSinceReferenceDate: 757_000_000 + Double(index))),
        "kind": .string("original"),
    ]
}

func runPostgresBenchmarks() async throws {
    guard let text = ProcessInfo.processInfo.environment["TH_POSTGRES_URL"] else {
        print("# postgres: TH_POSTGRES_URL is not set (Benchmarks/postgres/run.sh sets it)")
        return
    }
    let environment = ProcessInfo.processInfo.environment
    let batches = environment["TH_BENCH_BATCHES"].flatMap(Int.init) ?? 300
    let warmUp = 20
    let client = PostgresClient(configuration: try PostgresURL(text).client())
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        let definition = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"])
        var stores: [String: PostgresTableStore] = [:]
        for schema in ["bench_swift", "bench_py_many", "bench_py_copy"] {
            _ = try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE")).collect()
            var configuration = PostgresTableStore.Configuration()
            configuration.schema = schema
            let store = PostgresTableStore(client: client, configuration: configuration)
            try await store.createTable(definition)
            // One row gives every column its SQL type (the store adds a column when a value first types it).
            _ = try await store.insert([postgresBenchRow(-1)], into: "Updates", onConflict: .ignore)
            stores[schema] = store
        }
        let setting = try await client.query("SHOW synchronous_commit").collect().first?.decode(String.self) ?? "?"
        print("# postgres: synchronous_commit=\(setting), \(batches) batches of 100 after \(warmUp) to warm up")
        let store = stores["bench_swift"]!
        let times = try await timeBatches(store, count: warmUp + batches, warmUp: warmUp, firstRow: 0)
        report("postgres.swift.insert-or-ignore.100.median", times[times.count / 2] * 1000, "ms")
        report("postgres.swift.insert-or-ignore.100.p90", times[times.count * 9 / 10] * 1000, "ms")
        report("postgres.swift.insert-or-ignore.rows-per-s", 100 / times[times.count / 2], "rows/s")
        // The same batches as a fleet's run writes them: under the run's fence, which every write checks in its
        // own transaction (BEGIN, the lease row FOR SHARE, the INSERT, COMMIT).
        var fleet = PostgresRunCoordinator.Configuration()
        fleet.schema = "bench_swift"
        fleet.leaseDuration = .seconds(3600)
        let coordinator = PostgresRunCoordinator(client: client, configuration: fleet)
        let decision = try await coordinator.claim(ScheduledOccurrence(job: "bench", scheduledAt: Date()))
        guard case .granted(let claim) = decision else { fatalError("postgres: the benchmark's claim was declined") }
        let fenced = try await WriteFence.$current.withValue(WriteFence(job: "bench", token: claim.fence ?? 0)) {
            try await timeBatches(store, count: warmUp + batches, warmUp: warmUp, firstRow: (warmUp + batches) * 100)
        }
        report("postgres.swift.fenced.insert-or-ignore.100.median", fenced[fenced.count / 2] * 1000, "ms")
        report("postgres.swift.fenced.insert-or-ignore.100.p90", fenced[fenced.count * 9 / 10] * 1000, "ms")
        var newest: [Double] = []
        for index in 0..<2_000 {
            let start = ContinuousClock.now
            let row = try await store.newest(in: "Updates", by: "twitterId")
            let elapsed = ContinuousClock.now - start
            blackHole(row)
            if index >= 100 { newest.append(seconds(elapsed)) }
        }
        newest.sort()
        report("postgres.swift.newest.median", newest[newest.count / 2] * 1_000_000, "µs")
        report("postgres.swift.newest.p90", newest[newest.count * 9 / 10] * 1_000_000, "µs")
    }
}

/// Inserts `count` durable batches of 100 new rows, from row `firstRow` on, and returns the times of those after
/// the first `warmUp`, in seconds, sorted.
private func timeBatches(_ store: PostgresTableStore, count: Int, warmUp: Int, firstRow: Int) async throws -> [Double] {
    var times: [Double] = []
    for batch in 0..<count {
        let first = firstRow + batch * 100
        let rows = (first..<first + 100).map(postgresBenchRow)
        let start = ContinuousClock.now
        let summary = try await store.insert(rows, into: "Updates", onConflict: .ignore)
        let elapsed = ContinuousClock.now - start
        precondition(summary.inserted.count == 100)
        if batch >= warmUp { times.append(seconds(elapsed)) }
    }
    return times.sorted()
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Prints `name: value unit`, as `psycopg_bench.py` and harvest-bench do.
func report(_ name: String, _ value: Double, _ unit: String) {
    let formatted =
        value >= 100
        ? String(Int(value.rounded())) : value >= 1 ? String(format: "%.2f", value) : String(format: "%.3g", value)
    print("\(name): \(formatted) \(unit)")
}

func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
