import CronScheduler
import Foundation
import HarvestClock
import HarvestDemo
import Logging
import PostgresNIO
import TableStorage
import TableStoragePostgres
import TableStorageSQLite
import TwitterSearch

/// `--store SPEC`: `memory`, `file:PATH`, `sqlite:PATH` or `postgres://USER@HOST:PORT/DB` (the password from the
/// URL or `PGPASSWORD`, never printed).
enum StoreSpec: Equatable, CustomStringConvertible {
    case memory
    case file(String)
    case sqlite(String)
    case postgres(PostgresURL)

    /// The default store of `once`, `run` and `browse`: a file store in `.harvest` under the current directory.
    static let defaultText = "file:.harvest"

    init(parsing text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            do {
                self = .postgres(try PostgresURL(text, password: environment["PGPASSWORD"]))
            } catch {
                // Not the text: it may hold a password.
                throw UsageError("bad PostgreSQL store URL: \(error.message)")
            }
        } else if text == "memory" {
            self = .memory
        } else if text.hasPrefix("file:"), text.count > 5 {
            self = .file(String(text.dropFirst(5)))
        } else if text.hasPrefix("sqlite:"), text.count > 7 {
            self = .sqlite(String(text.dropFirst(7)))
        } else {
            throw UsageError(
                "unknown store \"\(text)\": use memory, file:PATH, sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }
    }

    var description: String {
        switch self {
        case .memory: "memory"
        case .file(let path): "file:\(path)"
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): url.description
        }
    }

    /// Runs `body` with the opened store. A PostgreSQL store's client runs for as long as `body` does (and is
    /// stopped when it returns); its connection is checked first, so that a wrong password or an unreachable server
    /// is one clear line.
    func withStore<T: Sendable>(
        logger: Logger, readOnly: Bool = false, _ body: (any TableStore) async throws -> T
    ) async throws -> T {
        try await withFleet(logger: logger, readOnly: readOnly, lease: nil) { store, _ in try await body(store) }
    }

    /// What a process shares with the other processes on its store: on a PostgreSQL store a `PostgresRunCoordinator`
    /// (with leases of `lease`: the process joins the fleet), the database's rate-limit ledger and the demo API's
    /// request counter; on any other store the one-process `LocalRunCoordinator` and neither of the others.
    struct Fleet {
        var coordinator: any RunCoordinator
        var ledger: (any RateLimitLedger)?
        var demoRequests: (counter: DemoRequestsOnPostgres, store: PostgresTableStore)?

        /// The transport for `options`: with `--demo` on a PostgreSQL store, a demo API whose rate limit counts
        /// the requests of every process on the database (its timeline is the same in all of them anyway);
        /// otherwise `resolved`, the transport the options resolved to.
        func transport(
            _ resolved: any HTTPTransport, options: HarvestOptions, clock: any WallClock
        ) async throws -> any HTTPTransport {
            guard options.demo, let demoRequests else { return resolved }
            do {
                try await demoRequests.counter.prepare(in: demoRequests.store)
            } catch {
                throw UsageError("cannot prepare the demo API's request counter: \(error)")
            }
            return DemoTransport(clock: clock, requestCounter: demoRequests.counter)
        }
    }

    /// Runs `body` with the opened store and what it shares with the other processes on it.
    func withFleet<T: Sendable>(
        logger: Logger, readOnly: Bool = false, lease: Duration?, _ body: (any TableStore, Fleet) async throws -> T
    ) async throws -> T {
        guard case .postgres(let url) = self else {
            return try await body(
                try await open(logger: logger, readOnly: readOnly), Fleet(coordinator: LocalRunCoordinator()))
        }
        do {
            try await PostgresTableStore.checkConnection(to: url, logger: logger)
        } catch {
            throw UsageError("cannot open store \(self): \(error)")
        }
        let client = PostgresClient(configuration: url.client())
        return try await PostgresTableStore.withStore(client: client, logger: logger) { store in
            do {
                _ = try await store.tableNames()
            } catch {
                throw UsageError("cannot open store \(self): \(error)")
            }
            var fleet = PostgresRunCoordinator.Configuration()
            if let lease { fleet.leaseDuration = lease }
            let coordinator = PostgresRunCoordinator(client: client, configuration: fleet, logger: logger)
            let demoRequests = DemoRequestsOnPostgres(
                client: client, schema: store.configuration.schema, logger: logger)
            return try await body(
                store,
                Fleet(
                    coordinator: coordinator, ledger: store.rateLimitLedger(), demoRequests: (demoRequests, store)))
        }
    }

    /// Opens (creating when needed) the store; a store that cannot be opened is a one-line ``UsageError``.
    ///
    /// With `readOnly`, a file or SQLite store opens beside a writer in another process (`harvest run`) and on a
    /// read-only copy, taking no lock.
    func open(logger: Logger, readOnly: Bool = false) async throws -> any TableStore {
        do {
            switch self {
            case .memory: return InMemoryTableStore()
            case .file(let path):
                var configuration = FileTableStore.Configuration()
                if readOnly { configuration.access = .readOnly }
                return try await FileTableStore(
                    directory: URL(fileURLWithPath: path), configuration: configuration, logger: logger)
            case .sqlite(let path):
                var configuration = SQLiteTableStore.Configuration()
                if readOnly { configuration.access = .readOnly }
                return try SQLiteTableStore(path: path, configuration: configuration, logger: logger)
            case .postgres:
                throw UsageError("a PostgreSQL store runs a client: open it with withStore")
            }
        } catch let error as StorageError where error.code == .malformedStore {
            let repair = if case .file = self { "; harvest repair --store \(self) salvages it" } else { "" }
            throw UsageError("cannot open store \(self): \(error)\(repair)")
        } catch {
            throw UsageError("cannot open store \(self): \(error)")
        }
    }
}

/// `DUR`: a whole number and a unit, `30s`, `15m`, `1h` or `1d`, at most ``maximumDays`` days.
struct DurationText: Equatable {
    enum Unit: Character {
        case seconds = "s", minutes = "m", hours = "h", days = "d"

        /// Seconds in one of this unit.
        var seconds: Int {
            switch self {
            case .seconds: 1
            case .minutes: 60
            case .hours: 3600
            case .days: 86_400
            }
        }
    }

    /// The longest duration accepted, ten years of 365 days: 3650d, 87600h, 5256000m or 315360000s. Longer ones
    /// are refused rather than handed to a scheduler and clock that would overflow on them.
    static let maximumDays = 3650

    var count: Int
    var unit: Unit

    init(parsing text: String) throws {
        guard let last = text.last, let unit = Unit(rawValue: last), let count = Int(text.dropLast()), count > 0 else {
            throw UsageError(
                "bad duration \"\(text)\": use a positive whole number and a unit, such as 30s, 15m, 1h or 1d")
        }
        let limit = Self.maximumDays * 86_400 / unit.seconds
        guard count <= limit else {
            throw UsageError(
                "bad duration \"\(text)\": at most ten years, that is 3650d, 87600h, 5256000m or 315360000s")
        }
        self.count = count
        self.unit = unit
    }
}

/// The queries `browse` and `once` read with.
enum RecordQuery {
    /// Any one record of `table`.
    static func first(in table: String) -> Query {
        Query(table, take: 1)
    }

    /// The newest `limit` records of `table` by `column` (descending), or the first `limit` without a column.
    static func newest(_ limit: Int, in table: String, by column: String?) -> Query {
        Query(table, order: column.map { [.descending($0)] } ?? [], take: limit)
    }
}
