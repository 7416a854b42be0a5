import Foundation
import PostgresNIO
import TableStorage
import TableStoragePostgres
import Testing

/// `harvest` on a PostgreSQL store (`TH_POSTGRES_URL`; `bash scripts/with-postgres.sh swift test` starts one), each
/// test in a database of its own that it drops at the end.
@Suite("harvest on PostgreSQL", .enabled(if: PostgresServer.runs, PostgresServer.skipNote))
struct HarvestPostgresTests {
    @Test("harvest once --demo --store postgres://… stores tweets that browse reads back; the password is never shown")
    func onceThenBrowse() async throws {
        try await PostgresServer.withDatabase { spec, password in
            let once = try await HarvestCommand.run(
                ["once", "--demo", "--store", spec, "--log-level", "trace"], environment: ["PGPASSWORD": password])
            #expect(once.reason == .exit && once.status == 0, "\(once.output)\n\(once.errorOutput)")
            #expect(once.output.contains("harvest once (demo, \(spec)"), "\(once.output)")
            let browse = try await HarvestCommand.run(
                ["browse", "--store", spec, "--json", "--limit", "5"], environment: ["PGPASSWORD": password])
            #expect(browse.reason == .exit && browse.status == 0, "\(browse.errorOutput)")
            let lines = browse.output.split(separator: "\n")
            #expect(lines.count == 5, "\(browse.output)")
            let ids = try lines.map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return (object?["twitterId"] as? NSNumber)?.int64Value ?? -1
            }
            #expect(ids == ids.sorted(by: >), "newest first: \(ids)")
            #expect(ids.allSatisfy { $0 > 1 << 53 }, "exact ids above 2^53: \(ids)")
            // The same store again: the second run stores only what is new, nothing twice.
            let again = try await HarvestCommand.run(
                ["once", "--demo", "--store", spec], environment: ["PGPASSWORD": password])
            #expect(again.status == 0, "\(again.errorOutput)")
            for output in [once.output, once.errorOutput, browse.output, browse.errorOutput, again.output] {
                #expect(!output.contains(password), "the password is never printed or logged")
            }
        }
    }

    @Test(
        "--demo in three processes on one store is one API: one timeline, every tweet once, one rate-limit count")
    func demoIsOneAPI() async throws {
        try await PostgresServer.withDatabase { spec, password in
            let runs = try await withThrowingTaskGroup(of: HarvestCommand.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await HarvestCommand.run(
                            ["once", "--demo", "--store", spec], environment: ["PGPASSWORD": password])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for run in runs { #expect(run.reason == .exit && run.status == 0, "\(run.errorOutput)") }
            let server = try PostgresURL(PostgresServer.url ?? "")
            var configuration = server.client()
            configuration.database = String(spec.split(separator: "/").last?.split(separator: "?").first ?? "")
            let client = PostgresClient(configuration: configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                let store = PostgresTableStore(client: client)
                let ids = try await store.read(Query("Updates")).compactMap { row -> Int64? in
                    guard case .int(let id)? = row["twitterId"] else { return nil }
                    return id
                }
                #expect(!ids.isEmpty)
                #expect(ids.count == Set(ids).count, "no tweet stored twice")
                // The three processes asked one demo API: its request count is the sum of their requests (one a
                // page), and the rate-limit state the fleet shares has seen that many taken from the limit.
                let pages = try await store.read(Query("HarvestRuns")).map { row -> Int64 in
                    guard case .int(let pages)? = row["pages"] else { return 0 }
                    return pages
                }
                #expect(pages.count == 3)
                let exists = try await client.query(#"SELECT to_regclass('"_th_demo_requests"') IS NOT NULL"#)
                    .collect().first?.decode(Bool.self)
                try #require(exists == true, "the demo API counted its requests in the database")
                let counted = try await client.query(
                    #"SELECT sum(used)::bigint FROM "_th_demo_requests""#
                ).collect().first?.decode(Int64?.self)
                #expect(counted == pages.reduce(0, +), "demo requests \(String(describing: counted)), pages \(pages)")
                let windows = try await client.query(#"SELECT count(*) FROM "_th_demo_requests""#).collect().first?
                    .decode(Int64.self)
                let remaining = try await client.query(#"SELECT min(remaining) FROM "_th_rate_limits""#).collect()
                    .first?.decode(Int64?.self)
                if windows == 1, let counted {
                    // Each process on a demo of its own would have seen at least 450 less its own pages.
                    #expect(remaining == 450 - counted, "remaining \(String(describing: remaining)), pages \(pages)")
                }
            }
        }
    }

    @Test("a wrong password is one line on standard error that does not show it, and a non-zero exit")
    func wrongPassword() async throws {
        try await PostgresServer.withDatabase { spec, _ in
            let wrong = "not-the-password-0x5f"
            let run = try await HarvestCommand.run(
                ["browse", "--store", spec.replacingOccurrences(of: "@", with: ":\(wrong)@")], environment: [:])
            #expect(run.reason == .exit && run.status != 0)
            #expect(run.errorLines.count == 1, "\(run.errorOutput)")
            #expect(run.errorOutput.contains("cannot open store"), "\(run.errorOutput)")
            #expect(!run.errorOutput.contains(wrong) && !run.output.contains(wrong), "\(run.errorOutput)")
        }
    }
}

/// The server of `TH_POSTGRES_URL`; without it the tests are skipped and say so, unless `CI` is set.
enum PostgresServer {
    static let url = ProcessInfo.processInfo.environment["TH_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let runs = url != nil || ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false
    static let skipNote: Comment =
        "skipped: TH_POSTGRES_URL is not set (run `bash scripts/with-postgres.sh swift test` to start a PostgreSQL)"

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String { "CI is set but TH_POSTGRES_URL is not: in CI the PostgreSQL tests must run" }
    }

    /// Runs `body` with the URL text of a new database (no password in it) and the password, dropping the database
    /// afterwards.
    static func withDatabase(_ body: (String, String) async throws -> Void) async throws {
        guard let text = url else { throw NotConfigured() }
        let server = try PostgresURL(text)
        let configuration = server.client()
        let password = configuration.password ?? ""
        let database = "th_cli_" + UUID().uuidString.prefix(8).lowercased()
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(database)\""))
            let host = server.host.contains(":") ? "[\(server.host)]" : server.host
            let spec = "postgres://\(server.user)@\(host):\(server.port)/\(database)?sslmode=\(server.tls.rawValue)"
            do {
                try await body(spec, password)
            } catch {
                _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \"\(database)\" WITH (FORCE)"))
                throw error
            }
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \"\(database)\" WITH (FORCE)"))
        }
    }
}
