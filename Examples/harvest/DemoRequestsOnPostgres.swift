import Foundation
import HarvestDemo
import Logging
import PostgresNIO
import TableStoragePostgres

/// The demo API's request counter of a fleet: one row per 15-minute window in `_th_demo_requests`, in the store's
/// schema, so that every `harvest run --demo` process on the database sees one demo API with one rate limit.
///
/// The timeline needs no such table: it is a function of the demo's seed and the time, the same in every process.
struct DemoRequestsOnPostgres: DemoRequestCounter {
    let client: PostgresClient
    let schema: String
    let logger: Logger

    private var table: String { PostgresTableStore.quotedIdentifier(schema) + ".\"_th_demo_requests\"" }

    /// Creates the table when missing.
    func prepare(in store: PostgresTableStore) async throws {
        try await store.createUnderSchemaLock([
            "CREATE TABLE IF NOT EXISTS \(table) (\"window\" bigint PRIMARY KEY, used bigint NOT NULL)"
        ])
    }

    func countRequest(inWindow window: Int64) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(window)
        // One statement: the count is atomic across processes. Windows older than the previous one are dropped on
        // the way, so the table holds two rows at most.
        // Through the store's statement runner: a pooled connection found closed fails at once, never hangs.
        let rows = try await PostgresTableStore.rows(
            PostgresQuery(
                unsafeSQL: """
                    WITH old AS (DELETE FROM \(table) WHERE "window" < $1 - 1)
                    INSERT INTO \(table) AS t ("window", used) VALUES ($1, 1)
                    ON CONFLICT ("window") DO UPDATE SET used = t.used + 1 RETURNING used
                    """, binds: binds),
            client: client, table: "_th_demo_requests", logger: logger)
        guard let used = try rows.first?.decode(Int64.self) else { return 1 }
        return Int(used)
    }
}
