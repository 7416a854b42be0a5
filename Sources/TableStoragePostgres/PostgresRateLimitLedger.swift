import Foundation
import HarvestClock
import HarvestLocking
import Logging
import PostgresNIO
import TableStorage
import TwitterSearch

/// A `RateLimitLedger` in a PostgreSQL table, so that every process on one set of credentials spends one rate-limit
/// budget: a 429 answered to one process pauses the others until the reset.
///
/// The table `_th_rate_limits` (in ``Configuration/schema``, created when missing) holds one row per credentials and
/// endpoint: `credential`, `endpoint` (the primary key), `remaining`, `request_limit`, `reset_at` and `updated_at`.
/// `credential` is `SearchCredentials.rateLimitIdentity`, a truncated SHA-256 that reveals no secret.
///
/// - ``record(_:for:)`` is one `INSERT … ON CONFLICT DO UPDATE` with bound parameters that merges the state into the
///   row as `RateLimitLedger` says (a later reset replaces it, the same reset keeps the smaller `remaining`, an
///   earlier one is ignored), so a response to an older request cannot undo another process's 429.
/// - ``state(for:)`` is at most one `SELECT` by primary key, and none when the copy this ledger last read or wrote
///   is known fresh: when it says the window is used up until a reset still ahead (the client waits for that reset
///   in any case, and reads again when it wakes), or when it is younger than ``Configuration/maxStaleness``.
///
/// Make one per process from the store's client, and give it to every client's configuration:
///
/// ```swift
/// try await PostgresTableStore.withStore(client: client) { store in
///     var configuration = SearchClient.Configuration()
///     configuration.rateLimits = store.rateLimitLedger()     // one ledger per process, for all its clients
///     let search = try SearchClient(credentials: credentials, configuration: configuration)
///     let tweets = try await search.search(SearchQuery("#mobileservices"))
/// }
/// ```
///
/// The ledger does not run its client: the `PostgresClient` must be running while it is used, as for
/// ``PostgresTableStore``. Its errors are `StorageError`s; the search client logs them and goes on without the
/// ledger.
public final class PostgresRateLimitLedger: RateLimitLedger, Sendable {
    /// Settings of a PostgreSQL rate-limit ledger.
    public struct Configuration: Sendable, Hashable {
        /// The PostgreSQL schema that holds `_th_rate_limits`; created when missing. The default is `public`.
        public var schema = "public"
        /// How long a state read or written may be used again without asking the database. The default is zero:
        /// every request reads the row, unless the window is known to be used up.
        ///
        /// A longer time saves a round trip per request, at the price of sending up to that long after another
        /// process saw a 429 (such a request is answered with a 429 of its own, and waits).
        public var maxStaleness: Duration = .zero

        /// Creates the default settings.
        public init() {}
    }

    private struct Cached {
        var state: RateLimit?
        var at: Date
    }

    private struct State {
        var prepared = false
        var cache: [RateLimitKey: Cached] = [:]
    }

    private let client: PostgresClient
    private let clock: any WallClock
    private let logger: Logger
    private let local = Locked(State())
    /// The ledger's settings.
    public let configuration: Configuration

    /// Creates a ledger on a client that the caller runs.
    ///
    /// Nothing is sent to the server until the first call; it creates the schema and `_th_rate_limits` if they are
    /// missing.
    ///
    /// - Parameters:
    ///   - client: A postgres-nio client whose `run()` is running for as long as the ledger is used.
    ///   - configuration: The schema and staleness. The default is ``Configuration/init()``.
    ///   - clock: Where `updated_at` and the freshness of the local copy come from. The default is the system clock.
    ///   - logger: Where the ledger (and postgres-nio, for its queries) logs.
    public init(
        client: PostgresClient, configuration: Configuration = .init(), clock: any WallClock = .system,
        logger: Logger = .current
    ) {
        self.client = client
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    private var table: String { PostgresSQL.quote(configuration.schema) + ".\"_th_rate_limits\"" }

    /// See `RateLimitLedger.state(for:)`.
    ///
    /// - Throws: `StorageError` when the row cannot be read.
    public func state(for key: RateLimitKey) async throws -> RateLimit? {
        let now = clock.now
        let staleness = configuration.maxStaleness.timeInterval
        if let cached = local.withLock({ $0.cache[key] }) {
            if let held = cached.state, (held.remaining ?? 1) <= 0, let reset = held.reset, reset > now {
                return held
            }
            if staleness > 0, now.timeIntervalSince(cached.at) < staleness { return cached.state }
        }
        try await prepare()
        var binds = PostgresBindings()
        binds.append(key.credential)
        binds.append(key.endpoint)
        let rows = try await execute(
            "SELECT remaining, request_limit, reset_at FROM \(table) WHERE credential = $1::text AND endpoint = $2::text",
            binds)
        let read = try rows.first.map(Self.decode)
        local.withLock { $0.cache[key] = Cached(state: read, at: now) }
        return read
    }

    /// See `RateLimitLedger.record(_:for:)`: one upsert that merges `state` into the row and returns the result.
    ///
    /// A state without `remaining` or `reset` is not stored.
    ///
    /// - Throws: `StorageError` when the row cannot be written.
    public func record(_ state: RateLimit, for key: RateLimitKey) async throws {
        guard let remaining = state.remaining, let reset = state.reset else { return }
        try await prepare()
        let now = clock.now
        var binds = PostgresBindings()
        binds.append(key.credential)
        binds.append(key.endpoint)
        binds.append(Int64(remaining))
        if let limit = state.limit { binds.append(Int64(limit)) } else { binds.appendNull() }
        binds.append(reset)
        binds.append(now)
        let rows = try await execute(
            """
            INSERT INTO \(table) AS held (credential, endpoint, remaining, request_limit, reset_at, updated_at)
            VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::timestamptz, $6::timestamptz)
            ON CONFLICT (credential, endpoint) DO UPDATE SET
            remaining = CASE WHEN excluded.reset_at > held.reset_at THEN excluded.remaining
                WHEN excluded.reset_at = held.reset_at THEN least(held.remaining, excluded.remaining)
                ELSE held.remaining END,
            request_limit = CASE WHEN excluded.reset_at >= held.reset_at
                THEN coalesce(excluded.request_limit, held.request_limit) ELSE held.request_limit END,
            reset_at = greatest(held.reset_at, excluded.reset_at),
            updated_at = excluded.updated_at
            RETURNING remaining, request_limit, reset_at
            """, binds)
        let merged = try rows.first.map(Self.decode)
        local.withLock { $0.cache[key] = Cached(state: merged, at: now) }
    }

    private static func decode(_ row: PostgresRow) throws -> RateLimit {
        do {
            let (remaining, limit, reset) = try row.decode((Int64, Int64?, Date).self)
            return RateLimit(limit: limit.map { Int($0) }, remaining: Int(remaining), reset: reset)
        } catch {
            throw StorageError(.malformedStore, table: "_th_rate_limits", message: "a row does not decode")
        }
    }

    private func execute(_ sql: String, _ binds: PostgresBindings) async throws -> [PostgresRow] {
        try await PostgresTableStore.rows(
            PostgresQuery(unsafeSQL: sql, binds: binds), client: client, table: "_th_rate_limits", logger: logger)
    }

    /// Creates the schema and `_th_rate_limits` when missing (once), under the lock the store takes for its schema.
    private func prepare() async throws {
        if local.withLock({ $0.prepared }) { return }
        try await PostgresSQL.createUnderSchemaLock(
            [
                "CREATE TABLE IF NOT EXISTS \(table) (credential text COLLATE \"C\" NOT NULL, "
                    + "endpoint text COLLATE \"C\" NOT NULL, remaining bigint NOT NULL, request_limit bigint, "
                    + "reset_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
                    + "PRIMARY KEY (credential, endpoint))"
            ], schema: configuration.schema, table: "_th_rate_limits", client: client, logger: logger)
        local.withLock { $0.prepared = true }
    }
}

extension PostgresTableStore {
    /// A rate-limit ledger on this store's client and in its schema.
    ///
    /// - Parameters:
    ///   - maxStaleness: How long a state read or written may be used again without asking the database. The
    ///     default is zero.
    ///   - clock: Where `updated_at` and the freshness of the local copy come from. The default is the system clock.
    /// - Returns: A ledger; make one per process and share it between the process's clients.
    public func rateLimitLedger(maxStaleness: Duration = .zero, clock: any WallClock = .system)
        -> PostgresRateLimitLedger
    {
        var ledgerConfiguration = PostgresRateLimitLedger.Configuration()
        ledgerConfiguration.schema = configuration.schema
        ledgerConfiguration.maxStaleness = maxStaleness
        return PostgresRateLimitLedger(
            client: client, configuration: ledgerConfiguration, clock: clock, logger: logger)
    }
}
