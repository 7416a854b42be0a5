import Foundation
import HarvestLocking
import PostgresNIO
import TableStorage
import TableStoragePostgres
import Testing

/// The PostgreSQL server the tests use: `TH_POSTGRES_URL` (`bash scripts/with-postgres.sh swift test` starts one).
///
/// Without the variable the tests that need it are skipped, and say so; when `CI` is set they run anyway and fail,
/// so that a CI run never passes with them skipped.
enum PostgresTestServer {
    static let url: String? = {
        guard let text = ProcessInfo.processInfo.environment["TH_POSTGRES_URL"], !text.isEmpty else { return nil }
        return text
    }()

    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    /// Whether the tests that need the server run: it is configured, or this is CI (where they then fail).
    static let runs = url != nil || isCI

    /// The skip note Swift Testing prints for each test that needs the server.
    static let skipNote: Comment =
        "skipped: TH_POSTGRES_URL is not set (run `bash scripts/with-postgres.sh swift test` to start a PostgreSQL)"

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String {
            "CI is set but TH_POSTGRES_URL is not: in CI the PostgreSQL tests must run (scripts/with-postgres.sh)"
        }
    }

    /// The server's URL as text (with its password).
    static func serverURLText() throws -> String {
        guard let url else { throw NotConfigured() }
        return url
    }

    /// The server's URL.
    static func serverURL() throws -> PostgresURL {
        try PostgresURL(try serverURLText())
    }

    /// Runs `body` with a running client, cancelling the client's `run()` when it ends.
    static func withClient<T: Sendable>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try serverURL().client())
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A new schema name (with a double quote in it, so that every statement must quote it), dropped by
    /// ``dropSchemas(_:client:)``.
    static func newSchema() -> String {
        "th \"test\" " + UUID().uuidString.prefix(8).lowercased()
    }

    static func quote(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func dropSchemas(_ schemas: [String], client: PostgresClient) async throws {
        for schema in schemas {
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(quote(schema)) CASCADE"))
        }
    }

    /// A store in a new schema of its own.
    static func store(_ client: PostgresClient, schema: String) -> PostgresTableStore {
        var configuration = PostgresTableStore.Configuration()
        configuration.schema = schema
        return PostgresTableStore(client: client, configuration: configuration)
    }
}

/// Names collected by a concurrent factory.
final class Names: Sendable {
    private let names = Locked<[String]>([])
    func add(_ name: String) { names.withLock { $0.append(name) } }
    var all: [String] { names.withLock { $0 } }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Locked(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
