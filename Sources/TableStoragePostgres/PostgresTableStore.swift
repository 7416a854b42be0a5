import Foundation
import HarvestLocking
import Logging
import PostgresNIO
import TableStorage

/// A `TableStore` in a PostgreSQL database, on postgres-nio's `PostgresClient` (a connection pool).
///
/// - Each table is a real PostgreSQL table in the store's schema (``Configuration/schema``). Its columns are typed
///   from the store's value types: `bigint` for int, `double precision` for double and date (seconds since
///   2001-01-01, Foundation's reference date, as the SQLite store keeps them, so that a date reads back exactly;
///   `to_timestamp(column + 978307200)` shows it as a timestamp), `text COLLATE "C"` for string (strings sort by
///   their UTF-8 bytes, as in every store), `boolean` for bool. A column is added (`ALTER TABLE … ADD COLUMN`) the
///   first time a value gives it a type. The unique key is a `UNIQUE` constraint; each index a B-tree index on the
///   column and the insertion order. The table `_th_tables` in the same schema holds each definition and its
///   column types.
/// - A batch insert is one `INSERT … SELECT … FROM unnest($1::bigint[], $2::text[], …) … ON CONFLICT` statement,
///   with one bound array per column: atomic (all rows or none) and durable when it returns (the server's
///   `synchronous_commit` decides how durable; its default, `on`, waits for the write-ahead log to be flushed).
/// - Queries become SQL with bound parameters only; table and column names are quoted identifiers. Equality is
///   null-safe (`IS NOT DISTINCT FROM`), and every other comparison is false for a row without the column.
/// - Several processes may share a store: column additions are serialised by a row lock on the table's
///   definition, and a process that meets a column another process added reloads the definition.
/// - A write made while `WriteFence.current` is set (a run granted by ``PostgresRunCoordinator``) checks, in its own
///   transaction, that the fence is still its job's newest, and fails with `StorageError.Code.fenced` otherwise,
///   storing nothing. A batch whose columns the table already has is one statement even then: the fence's check
///   is part of the `INSERT`'s own statement, so a fenced batch costs the one round trip an unfenced batch does.
///
/// The store does not run its client: run the `PostgresClient` in a task of yours for as long as the store is
/// used (the pattern postgres-nio documents, or a swift-service-lifecycle `ServiceGroup`), or let
/// ``withStore(client:configuration:logger:_:)`` do it for the length of a closure:
///
/// ```swift
/// let client = PostgresClient(configuration: try PostgresURL("postgres://harvest@127.0.0.1:5432/tweets").client())
/// try await PostgresTableStore.withStore(client: client) { store in
///     try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
/// }
/// ```
///
/// A lost connection (the server restarted, the backend terminated, the network cut) fails the call in progress
/// with `StorageError.Code.connectionLost`; the server rolls its transaction back, and the next call takes a new
/// connection from the pool.
public final class PostgresTableStore: TableStore, Sendable {
    /// Settings of a PostgreSQL store.
    public struct Configuration: Sendable, Hashable {
        /// The PostgreSQL schema (namespace) that holds the store's tables; created when missing. Two stores with
        /// different schemas in one database are independent. The default is `public`.
        public var schema = "public"

        /// Creates the default settings.
        public init() {}
    }

    private struct State {
        var prepared = false
        var schemas: [String: TableState] = [:]
    }

    let client: PostgresClient
    let logger: Logger
    private let state = Locked(State())
    /// The store's settings.
    public let configuration: Configuration

    /// The longest name PostgreSQL keeps (longer identifiers are cut to 63 bytes).
    static let maximumNameBytes = 63

    /// Creates a store on a client that the caller runs.
    ///
    /// Nothing is sent to the server until the first call; it creates the schema and `_th_tables` if they are
    /// missing and loads the definitions.
    ///
    /// - Parameters:
    ///   - client: A postgres-nio client whose `run()` is running in a task of the caller's for as long as the store
    ///     is used.
    ///   - configuration: The schema. The default is ``Configuration/init()``.
    ///   - logger: Where the store (and postgres-nio, for its queries) logs.
    public init(client: PostgresClient, configuration: Configuration = .init(), logger: Logger = .current) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `client` in a task group for as long as `body` runs, and hands `body` a store on it.
    ///
    /// When `body` returns or throws, the client's `run()` is cancelled (which closes its connections) and waited
    /// for: nothing started here outlives the call.
    ///
    /// - Parameters:
    ///   - client: A client that is not running yet.
    ///   - configuration: The store's settings.
    ///   - logger: Where the store logs.
    ///   - body: The work to do with the store.
    /// - Returns: What `body` returns.
    public static func withStore<Result: Sendable>(
        client: PostgresClient, configuration: Configuration = .init(), logger: Logger = .current,
        _ body: (PostgresTableStore) async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(PostgresTableStore(client: client, configuration: configuration, logger: logger))
        }
    }

    /// Opens one connection to `url` and closes it: a wrong password or an unreachable server is reported at once,
    /// with the server's message, where a `PostgresClient` would keep retrying in the background.
    ///
    /// - Throws: `StorageError` (`StorageError.Code.connectionLost` with the server's message and SQLSTATE, such
    ///   as `password authentication failed for user "harvest" (SQLSTATE 28P01)`), never holding the password.
    public static func checkConnection(to url: PostgresURL, logger: Logger = .current) async throws {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try url.connection(), id: 0, logger: logger)
            try await connection.close()
        } catch {
            let failure = storageError(error, table: nil)
            throw failure.code == .io ? StorageError(.connectionLost, message: failure.message) : failure
        }
    }

    // MARK: Names

    private var schemaName: String { PostgresSQL.quote(configuration.schema) }
    private var catalog: String { schemaName + ".\"_th_tables\"" }
    private func qualified(_ table: String) -> String { schemaName + "." + PostgresSQL.quote(table) }

    /// Checks a name PostgreSQL must keep exactly: at most 63 bytes, no NUL, not one of the store's own names.
    private static func checkName(
        _ name: String, table: String, column: String?, row: Int?, code: StorageError.Code
    ) throws(StorageError) {
        if name.utf8.count > maximumNameBytes {
            throw StorageError(
                code, table: table, column: column, row: row,
                message: "PostgreSQL keeps names of at most \(maximumNameBytes) bytes")
        }
        if name.utf8.contains(0) {
            throw StorageError(code, table: table, column: column, row: row, message: "a name cannot hold NUL")
        }
        if column != nil, name.hasPrefix("_th_") {
            throw StorageError(
                code, table: table, column: column, row: row, message: "column names starting _th_ are the store's")
        }
        if column == nil, name == "_th_tables" {
            throw StorageError(code, table: table, message: "_th_tables is the store's own table")
        }
    }

    private static func checkDefinition(_ definition: TableSchema) throws(StorageError) {
        _ = try TableState(definition)
        try checkName(definition.name, table: definition.name, column: nil, row: nil, code: .invalidDefinition)
        for column in definition.indexedColumns + definition.columns.keys.sorted() {
            try checkName(column, table: definition.name, column: column, row: nil, code: .invalidDefinition)
        }
    }

    /// Checks the names and strings of a row that the schema checks do not cover.
    private static func checkRow(_ fields: [String: Value], table: String, row: Int?) throws(StorageError) {
        for (column, value) in fields {
            try checkName(column, table: table, column: column, row: row, code: .invalidValue)
            if case .string(let string) = value, string.utf8.contains(0) {
                throw StorageError(
                    .invalidValue, table: table, column: column, row: row, message: "PostgreSQL text cannot hold NUL")
            }
        }
    }

    // MARK: Errors

    /// A `StorageError` for an error postgres-nio threw; never with the password (postgres-nio's errors carry
    /// none, and only the server's message and SQLSTATE are kept).
    static func storageError(_ error: any Error, table: String?) -> StorageError {
        if let error = error as? StorageError { return error }
        guard let error = error as? PSQLError else {
            if error is CancellationError { return StorageError(.closed, table: table, message: "cancelled") }
            return StorageError(.connectionLost, table: table, message: String(describing: type(of: error)))
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = (error.serverInfo?[.message] ?? "server error") + " (SQLSTATE \(state))"
            switch state {
            case "23505": return StorageError(.duplicateKey, table: table, message: message)
            case "53100": return StorageError(.diskFull, table: table, message: message)
            case "25006", "42501": return StorageError(.readOnly, table: table, message: message)
            case "40001", "40P01", "55P03": return StorageError(.locked, table: table, message: message)
            case "42P01": return StorageError(.missingTable, table: table, message: message)
            case "22021", "22P05": return StorageError(.invalidValue, table: table, message: message)
            case "57P01", "57P02", "57P03", "28P01", "28000", "3D000":
                return StorageError(.connectionLost, table: table, message: message)
            default:
                if state.hasPrefix("08") { return StorageError(.connectionLost, table: table, message: message) }
                return StorageError(.io, table: table, message: message)
            }
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler:
            return StorageError(.connectionLost, table: table, message: "\(error.code)")
        case .queryCancelled:
            return StorageError(.closed, table: table, message: "\(error.code)")
        default:
            return StorageError(.io, table: table, message: "\(error.code)")
        }
    }

    // MARK: Running statements

    /// Runs one statement on a pooled connection, in its own transaction; returns its rows.
    ///
    /// A statement that only reads (`retry`) is sent once more when the connection turns out to be lost: the pool
    /// may hand out a connection whose loss it has not noticed yet, and reading again is harmless.
    private func execute(
        _ sql: String, _ binds: PostgresBindings, table: String?, retry: Bool = false
    ) async throws -> [PostgresRow] {
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        do {
            return try await Self.rows(query, client: client, table: table, logger: logger)
        } catch let failure as StorageError where retry && failure.code == .connectionLost {
            return try await Self.rows(query, client: client, table: table, logger: logger)
        }
    }

    /// Sends `query` on `connection` and collects its rows; a connection already closed is refused at once with
    /// `StorageError.Code.connectionLost`.
    ///
    /// postgres-nio never answers a query written to a connection whose channel has closed (the write is dropped,
    /// and the query's promise with it): sent, it would hang its caller for good. Every statement of this module
    /// goes through here.
    package static func rows(
        _ query: PostgresQuery, on connection: PostgresConnection, logger: Logger
    ) async throws -> [PostgresRow] {
        guard !connection.isClosed else {
            throw StorageError(.connectionLost, message: "the connection to the server was closed")
        }
        return try await connection.query(query, logger: logger).collect()
    }

    /// Runs `query` on a pooled connection (through `rows(_:on:logger:)`); a failure is a `StorageError` naming
    /// `table`.
    package static func rows(
        _ query: PostgresQuery, client: PostgresClient, table: String?, logger: Logger
    ) async throws -> [PostgresRow] {
        do {
            return try await client.withConnection { connection in
                try await rows(query, on: connection, logger: logger)
            }
        } catch {
            throw storageError(error, table: table)
        }
    }

    /// Ends the transaction of a statement that failed: `ROLLBACK` on a live connection; a lost (or closed)
    /// connection is closed instead and sent nothing more.
    ///
    /// postgres-nio never answers a query written to a connection whose channel is already closed (the write is
    /// dropped, and the query's promise with it): a `ROLLBACK` there would hang the caller, and the pooled
    /// connection with it, for good. The server rolls back by itself when a connection ends. The close also tells
    /// the pool the connection is gone before it goes back, so the next call gets a new one.
    static func endFailedTransaction(_ connection: PostgresConnection, after error: any Error, logger: Logger) async {
        if connection.isClosed || storageError(error, table: nil).code == .connectionLost {
            _ = connection.close() as EventLoopFuture<Void>
            return
        }
        _ = try? await connection.query("ROLLBACK", logger: logger)
    }

    /// Runs `body` in a transaction on one pooled connection: committed when it returns, rolled back when it throws.
    private func transaction<T: Sendable>(
        table: String?, _ body: (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                _ = try await Self.rows("BEGIN", on: connection, logger: logger)
                do {
                    let result = try await body(connection, logger)
                    _ = try await Self.rows("COMMIT", on: connection, logger: logger)
                    return result
                } catch {
                    await Self.endFailedTransaction(connection, after: error, logger: logger)
                    throw error
                }
            }
        } catch {
            throw Self.storageError(error, table: table)
        }
    }

    private static func rows(
        _ connection: PostgresConnection, _ sql: String, _ binds: PostgresBindings = PostgresBindings(),
        logger: Logger
    ) async throws -> [PostgresRow] {
        try await rows(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection, logger: logger)
    }

    /// The fleet's lease table in this store's schema, where a write's fence is checked.
    private var leases: String { PostgresFleetTables(schema: configuration.schema).leases }

    /// Fails with `StorageError.Code.fenced` unless `fence` is still its job's newest token; the share lock it
    /// takes on the lease holds a hand-over back until the write's transaction ends, so a write that passes the
    /// check commits before any newer holder is granted the job.
    private static func check(
        _ fence: WriteFence?, leases: String, table: String, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        guard let fence else { return }
        var binds = PostgresBindings()
        binds.append(fence.job)
        binds.append(fence.token)
        let rows = try await Self.rows(
            connection, "SELECT 1 FROM \(leases) WHERE job = $1 AND fence = $2 FOR SHARE", binds, logger: logger)
        if rows.isEmpty { throw staleFence(fence, table: table) }
    }

    private static func staleFence(_ fence: WriteFence, table: String) -> StorageError {
        StorageError(
            .fenced, table: table,
            message: "the write's fence \(fence) is stale: another process has been granted the job since")
    }

    // MARK: Definitions

    /// Creates the schema and `_th_tables` when missing, and loads the definitions (once).
    private func prepare() async throws {
        if state.withLock({ $0.prepared }) { return }
        let schema = configuration.schema
        if schema.isEmpty || schema.utf8.count > Self.maximumNameBytes || schema.utf8.contains(0) {
            throw StorageError(.invalidDefinition, message: "the schema name must be 1 to 63 bytes without NUL")
        }
        let catalog = self.catalog
        let schemaName = self.schemaName
        let loaded = try await transaction(table: nil) { connection, logger in
            var binds = PostgresBindings()
            binds.append("tweetharvester:" + schema)
            // Two processes creating the same schema at once would collide in the system catalogs.
            _ = try await Self.rows(
                connection, "SELECT pg_advisory_xact_lock(hashtext($1::text))", binds, logger: logger)
            _ = try await Self.rows(connection, "CREATE SCHEMA IF NOT EXISTS \(schemaName)", logger: logger)
            _ = try await Self.rows(
                connection,
                "CREATE TABLE IF NOT EXISTS \(catalog) (name text COLLATE \"C\" PRIMARY KEY, definition text NOT NULL, "
                    + "types text NOT NULL)", logger: logger)
            var result: [String: TableState] = [:]
            for row in try await Self.rows(connection, "SELECT definition, types FROM \(catalog)", logger: logger) {
                let schema = try Self.decodeSchema(row)
                result[schema.definition.name] = schema
            }
            return result
        }
        state.withLock { state in
            if !state.prepared {
                state.schemas = loaded
                state.prepared = true
            }
        }
    }

    private static func decodeSchema(_ row: PostgresRow) throws -> TableState {
        let (definitionText, typesText) = try row.decode((String, String).self)
        let definition = try JSONDecoder().decode(TableSchema.self, from: Data(definitionText.utf8))
        let types = try JSONDecoder().decode([String: ValueType].self, from: Data(typesText.utf8))
        var schema = try TableState(definition)
        for (column, type) in types {
            schema.types[column] = type
            schema.untypedColumns.remove(column)
        }
        return schema
    }

    private static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The definition as `_th_tables` holds it now (also refreshing the cache), optionally locking its row until the
    /// transaction ends.
    private static func loadSchema(
        _ table: String, catalog: String, lock: Bool, _ connection: PostgresConnection, logger: Logger
    ) async throws -> TableState? {
        var binds = PostgresBindings()
        binds.append(table)
        let rows = try await Self.rows(
            connection, "SELECT definition, types FROM \(catalog) WHERE name = $1::text" + (lock ? " FOR UPDATE" : ""),
            binds, logger: logger)
        return try rows.first.map(decodeSchema)
    }

    /// The cached definition of a table, loaded from the database when this process does not know it.
    private func schema(_ table: String) async throws -> TableState {
        try await prepare()
        if let schema = state.withLock({ $0.schemas[table] }) { return schema }
        return try await reload(table)
    }

    /// The definition of a table as the database holds it now.
    private func reload(_ table: String) async throws -> TableState {
        var binds = PostgresBindings()
        binds.append(table)
        let rows = try await execute(
            "SELECT definition, types FROM \(catalog) WHERE name = $1::text", binds, table: table, retry: true)
        guard let row = rows.first else {
            state.withLock { _ = $0.schemas.removeValue(forKey: table) }
            throw StorageError(.missingTable, table: table)
        }
        let schema: TableState
        do {
            schema = try Self.decodeSchema(row)
        } catch {
            throw StorageError(.malformedStore, table: table, message: "the definition in _th_tables does not decode")
        }
        state.withLock { $0.schemas[table] = schema }
        return schema
    }

    /// The schema for a query, validated; a column another process added is found by reloading the definition.
    private func validatedSchema(_ query: Query) async throws -> TableState {
        let schema = try await self.schema(query.table)
        do {
            try schema.validate(query)
            return schema
        } catch let error where error.code == .unknownColumn {
            let fresh = try await reload(query.table)
            try fresh.validate(query)
            return fresh
        }
    }

    private func remember(_ schema: TableState) {
        state.withLock { state in
            if let cached = state.schemas[schema.definition.name], cached.types.count > schema.types.count { return }
            state.schemas[schema.definition.name] = schema
        }
    }

    /// See `TableStore.createTable(_:)`.
    public func createTable(_ definition: TableSchema) async throws {
        try Self.checkDefinition(definition)
        try await prepare()
        if let existing = state.withLock({ $0.schemas[definition.name] }) {
            guard existing.isSameDefinition(as: definition) else {
                throw StorageError(.conflictingDefinition, table: definition.name)
            }
            return
        }
        let catalog = self.catalog
        let table = qualified(definition.name)
        let schema = try TableState(definition)
        let stored = try await transaction(table: definition.name) { connection, logger -> TableState in
            _ = try await Self.rows(connection, "LOCK TABLE \(catalog) IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            if let existing = try await Self.loadSchema(
                definition.name, catalog: catalog, lock: false, connection, logger: logger)
            {
                guard existing.isSameDefinition(as: definition) else {
                    throw StorageError(.conflictingDefinition, table: definition.name)
                }
                return existing
            }
            var columns = ["\"_th_rowid\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
            for (column, type) in definition.columns.sorted(by: { $0.key < $1.key }) {
                columns.append(PostgresSQL.quote(column) + " " + PostgresSQL.columnType(type))
            }
            _ = try await Self.rows(
                connection, "CREATE TABLE \(table) (\(columns.joined(separator: ", ")))", logger: logger)
            try await Self.addConstraints(
                for: definition.columns.keys.sorted(), of: definition, table: table, connection, logger: logger)
            var binds = PostgresBindings()
            binds.append(definition.name)
            binds.append(try Self.encode(definition))
            binds.append(try Self.encode(schema.types))
            _ = try await Self.rows(
                connection, "INSERT INTO \(catalog) (name, definition, types) VALUES ($1::text, $2::text, $3::text)",
                binds, logger: logger)
            return schema
        }
        state.withLock { $0.schemas[definition.name] = stored }
    }

    /// The unique constraint and indexes of columns that have just received an SQL column.
    private static func addConstraints(
        for columns: [String], of definition: TableSchema, table: String, _ connection: PostgresConnection,
        logger: Logger
    ) async throws {
        for column in columns {
            if column == definition.uniqueKey {
                _ = try await rows(
                    connection, "ALTER TABLE \(table) ADD UNIQUE (\(PostgresSQL.quote(column)))", logger: logger)
            } else if definition.indexes.contains(column) {
                _ = try await rows(
                    connection, "CREATE INDEX ON \(table) (\(PostgresSQL.quote(column)), \"_th_rowid\")", logger: logger
                )
            }
        }
    }

    /// Adds the SQL columns (with constraints) that `new` has and `old` lacks, and records the types.
    private static func migrate(
        from old: TableState, to new: TableState, table: String, catalog: String, _ connection: PostgresConnection,
        logger: Logger
    ) async throws {
        guard new.types != old.types else { return }
        let added = new.types.keys.filter { old.types[$0] == nil }.sorted()
        for column in added {
            let type = new.types[column] ?? .string
            _ = try await rows(
                connection,
                "ALTER TABLE \(table) ADD COLUMN \(PostgresSQL.quote(column)) \(PostgresSQL.columnType(type))",
                logger: logger)
        }
        try await addConstraints(for: added, of: new.definition, table: table, connection, logger: logger)
        var binds = PostgresBindings()
        binds.append(try encode(new.types))
        binds.append(new.definition.name)
        _ = try await rows(
            connection, "UPDATE \(catalog) SET types = $1::text WHERE name = $2::text", binds, logger: logger)
    }

    /// See `TableStore.definition(of:)`. Read from the database, so it includes columns other processes added.
    public func definition(of table: String) async throws -> TableSchema {
        try await prepare()
        return try await reload(table).describedDefinition
    }

    /// See `TableStore.tableNames()`. Read from the database.
    public func tableNames() async throws -> [String] {
        try await prepare()
        let rows = try await execute("SELECT name FROM \(catalog)", PostgresBindings(), table: nil, retry: true)
        do {
            return try rows.map { try $0.decode(String.self) }.sorted()
        } catch {
            throw StorageError(.malformedStore, message: "_th_tables does not decode")
        }
    }

    // MARK: Writing

    /// See `TableStore.insert(_:into:onConflict:)`.
    ///
    /// One `INSERT … SELECT … FROM unnest(…) ON CONFLICT …` statement for the batch (inside a transaction with the
    /// `ALTER TABLE` when the batch brings new columns). Under `ConflictPolicy.replace` a stored row keeps its
    /// place in insertion order.
    public func insert(_ rows: [TableStorage.TableRow], into table: String, onConflict: ConflictPolicy) async throws
        -> InsertSummary
    {
        let cached = try await schema(table)
        var admitted = cached
        for (index, row) in rows.enumerated() {
            try Self.checkRow(row.fields, table: table, row: index)
            try admitted.admit(row, row: index)
        }
        guard !rows.isEmpty else { return InsertSummary() }
        let key = cached.definition.uniqueKey
        if onConflict == .fail, let key {
            var seen = Set<Value>()
            for (index, row) in rows.enumerated() {
                guard let value = row[key] else { continue }
                if !seen.insert(value).inserted {
                    throw StorageError(
                        .duplicateKey, table: table, column: key, row: index,
                        message: "value \(value) is repeated in the batch")
                }
            }
        }
        let catalog = self.catalog
        let sqlTable = qualified(table)
        let fence = WriteFence.current
        let leases = self.leases
        let returned: [PostgresRow]
        var firstKeyColumn = 0
        let schema: TableState
        do {
            if admitted.types == cached.types, let fence {
                // One statement, so one round trip: the fence's share lock and the insert commit together.
                let (sql, binds) = Self.insertStatement(
                    rows, into: admitted, table: sqlTable, policy: onConflict, fence: (fence, leases))
                let answer = try await execute(sql, binds, table: table)
                guard let first = answer.first, try first.makeRandomAccess()[0].decode(Bool.self) else {
                    throw Self.staleFence(fence, table: table)
                }
                returned = answer
                firstKeyColumn = 1
                schema = admitted
            } else if admitted.types == cached.types {
                let (sql, binds) = Self.insertStatement(rows, into: admitted, table: sqlTable, policy: onConflict)
                returned = try await execute(sql, binds, table: table)
                schema = admitted
            } else {
                (returned, schema) = try await transaction(table: table) { connection, logger in
                    try await Self.check(fence, leases: leases, table: table, connection, logger: logger)
                    // Another process may have added columns since this one loaded the definition.
                    guard
                        let fresh = try await Self.loadSchema(
                            table, catalog: catalog, lock: true, connection, logger: logger)
                    else { throw StorageError(.missingTable, table: table) }
                    var again = fresh
                    for (index, row) in rows.enumerated() { try again.admit(row, row: index) }
                    try await Self.migrate(
                        from: fresh, to: again, table: sqlTable, catalog: catalog, connection, logger: logger)
                    let (sql, binds) = Self.insertStatement(rows, into: again, table: sqlTable, policy: onConflict)
                    return (try await Self.rows(connection, sql, binds, logger: logger), again)
                }
            }
        } catch let error as StorageError where error.code == .duplicateKey && onConflict == .fail {
            throw try await duplicateError(rows, table: table, schema: admitted, original: error)
        }
        remember(schema)
        return try Self.summary(
            rows, returned, key: key, schema: schema, policy: onConflict, firstKeyColumn: firstKeyColumn)
    }

    /// The statement that inserts a batch: one bound array per column, unnested in the batch's order.
    ///
    /// With a `fence`, the statement also takes the share lock on the fence's lease (as ``check(_:leases:table:_:logger:)``
    /// does) and inserts nothing unless the fence is still its job's newest; its first column then says whether it
    /// was, and it returns at least one row: the keys the insert returned (if any) follow in the next columns.
    private static func insertStatement(
        _ rows: [TableStorage.TableRow], into schema: TableState, table: String, policy: ConflictPolicy,
        fence: (WriteFence, leases: String)? = nil
    ) -> (String, PostgresBindings) {
        var sql = PostgresSQL(schema: schema)
        let key = schema.definition.uniqueKey
        var batch = rows
        if policy == .replace, let key {
            // ON CONFLICT DO UPDATE may touch a row once a statement: the last row of a key wins, as if the
            // batch were applied in order.
            var last: [Value: Int] = [:]
            for (index, row) in rows.enumerated() { if let value = row[key] { last[value] = index } }
            batch = rows.enumerated().filter { index, row in row[key].map { last[$0] == index } ?? true }.map(\.element)
        }
        var columns = Set<String>()
        for row in batch { columns.formUnion(row.fields.keys) }
        let names = columns.sorted()
        guard !names.isEmpty else {
            let count = sql.bind(.int(Int64(batch.count)))
            let insert = "INSERT INTO \(table) SELECT FROM generate_series(1, \(count))"
            guard let fence else { return (insert, sql.binds) }
            return fenced(insert + Self.fenceCondition + " RETURNING NULL", fence: fence, sql: &sql)
        }
        let arrays = names.map { name in
            sql.bindArray(batch.map { $0[name] }, as: schema.types[name] ?? .string)
        }
        let quoted = names.map(PostgresSQL.quote)
        var text = "INSERT INTO \(table) (\(quoted.joined(separator: ", "))) SELECT "
        text += quoted.map { "u." + $0 }.joined(separator: ", ")
        text += " FROM unnest(\(arrays.joined(separator: ", "))) WITH ORDINALITY AS u("
        text += quoted.joined(separator: ", ") + ", \"_th_ord\")"
        if fence != nil { text += Self.fenceCondition }
        text += " ORDER BY \"_th_ord\""
        if let key {
            let quotedKey = PostgresSQL.quote(key)
            switch policy {
            case .ignore:
                text += " ON CONFLICT (\(quotedKey)) DO NOTHING RETURNING \(quotedKey)"
            case .replace:
                let assignments = schema.types.keys.sorted().map {
                    "\(PostgresSQL.quote($0)) = EXCLUDED.\(PostgresSQL.quote($0))"
                }
                text += " ON CONFLICT (\(quotedKey)) DO UPDATE SET \(assignments.joined(separator: ", "))"
                text += " RETURNING \(quotedKey), (xmax = 0)"
            case .fail:
                break
            }
        }
        guard let fence else { return (text, sql.binds) }
        if key == nil || policy == .fail { text += " RETURNING NULL" }
        return fenced(text, fence: fence, sql: &sql)
    }

    /// The condition a fenced insert's `SELECT` carries: it inserts nothing unless the fence's lease row was found.
    private static let fenceCondition = " WHERE EXISTS (SELECT FROM \"_th_fence\")"

    /// `insert` (an `INSERT` with a `RETURNING` clause whose `SELECT` carries ``fenceCondition``) preceded by the
    /// fence's share lock, and answering whether the fence held: see ``insertStatement(_:into:table:policy:fence:)``.
    private static func fenced(
        _ insert: String, fence: (WriteFence, leases: String), sql: inout PostgresSQL
    ) -> (String, PostgresBindings) {
        let job = sql.bind(.string(fence.0.job))
        let token = sql.bind(.int(fence.0.token))
        let text =
            "WITH \"_th_fence\" AS MATERIALIZED (SELECT FROM \(fence.leases) WHERE job = \(job) AND fence = \(token) "
            + "FOR SHARE), \"_th_written\" AS (\(insert)) "
            + "SELECT EXISTS (SELECT FROM \"_th_fence\"), \"_th_written\".* FROM (SELECT) AS \"_th_one\" "
            + "LEFT JOIN \"_th_written\" ON true"
        return (text, sql.binds)
    }

    /// Which rows were new, from the keys the statement returned (from column `firstKeyColumn` on; a `NULL` key is
    /// no row).
    private static func summary(
        _ rows: [TableStorage.TableRow], _ returned: [PostgresRow], key: String?, schema: TableState,
        policy: ConflictPolicy, firstKeyColumn: Int
    ) throws -> InsertSummary {
        guard let key, policy != .fail, let keyType = schema.types[key] else {
            return InsertSummary(inserted: Array(rows.indices))
        }
        var new: [Value: Bool] = [:]
        do {
            for row in returned {
                let cells = row.makeRandomAccess()
                guard let value = try PostgresSQL.value(cells[firstKeyColumn], as: keyType) else { continue }
                new[value] = policy == .replace ? try cells[firstKeyColumn + 1].decode(Bool.self) : true
            }
        } catch {
            throw StorageError(.io, table: schema.definition.name, message: "the inserted keys do not decode")
        }
        var summary = InsertSummary()
        var seen = Set<Value>()
        for (index, row) in rows.enumerated() {
            guard let value = row[key] else { continue }
            if seen.insert(value).inserted, new[value] == true {
                summary.inserted.append(index)
            } else {
                summary.duplicates.append(index)
            }
        }
        return summary
    }

    /// The `duplicateKey` error of a batch refused under ``ConflictPolicy/fail``, naming the first row whose key
    /// was stored.
    private func duplicateError(
        _ rows: [TableStorage.TableRow], table: String, schema: TableState, original: StorageError
    ) async throws -> StorageError {
        guard let key = schema.definition.uniqueKey, let keyType = schema.types[key] else { return original }
        var sql = PostgresSQL(schema: schema)
        let keys = sql.bindArray(rows.map { $0[key] }, as: keyType)
        let stored = try await execute(
            "SELECT \(PostgresSQL.quote(key)) FROM \(qualified(table)) WHERE \(PostgresSQL.quote(key)) = ANY(\(keys))",
            sql.binds, table: table)
        var present = Set<Value>()
        for row in stored {
            if let value = try? PostgresSQL.value(row.makeRandomAccess()[0], as: keyType) { present.insert(value) }
        }
        guard let index = rows.firstIndex(where: { $0[key].map(present.contains) ?? false }) else { return original }
        return StorageError(
            .duplicateKey, table: table, column: key, row: index,
            message: "value \(rows[index][key] ?? .null) is already present")
    }

    /// See `TableStore.update(_:set:)`.
    public func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        let cached = try await validatedSchema(query)
        var admitted = cached
        try Self.checkRow(changes, table: query.table, row: nil)
        for (column, value) in changes { try admitted.admit(value, in: column, row: nil) }
        guard !changes.isEmpty else { return try await count(Query(query.table, filter: query.filter)) }
        let catalog = self.catalog
        let table = qualified(query.table)
        let fence = WriteFence.current
        let leases = self.leases
        let (count, schema) = try await transaction(table: query.table) { connection, logger -> (Int, TableState) in
            try await Self.check(fence, leases: leases, table: query.table, connection, logger: logger)
            var schema = cached
            if admitted.types != cached.types {
                guard
                    let fresh = try await Self.loadSchema(
                        query.table, catalog: catalog, lock: true, connection, logger: logger)
                else { throw StorageError(.missingTable, table: query.table) }
                schema = fresh
                for (column, value) in changes { try schema.admit(value, in: column, row: nil) }
                try await Self.migrate(
                    from: fresh, to: schema, table: table, catalog: catalog, connection, logger: logger)
            }
            if let key = schema.definition.uniqueKey, let value = changes[key], value.isNull {
                var sql = PostgresSQL(schema: schema)
                let selection = sql.selection(from: table, query)
                let matching = try await Self.rows(
                    connection, "SELECT count(*) FROM (\(selection)) AS s", sql.binds, logger: logger)
                if try matching.first?.decode(Int64.self) ?? 0 > 0 {
                    throw StorageError(.missingUniqueKey, table: query.table, column: key)
                }
            }
            var sql = PostgresSQL(schema: schema)
            var assignments: [String] = []
            for column in changes.keys.sorted() {
                guard let type = schema.types[column], let value = changes[column] else { continue }
                assignments.append("\(PostgresSQL.quote(column)) = \(sql.bind(value, as: type))")
            }
            let selection = sql.selection(from: table, query)
            let text: String
            if assignments.isEmpty {
                text = "SELECT count(*) FROM (\(selection)) AS s"
            } else {
                text =
                    "WITH changed AS (UPDATE \(table) SET \(assignments.joined(separator: ", ")) "
                    + "WHERE \"_th_rowid\" IN (\(selection)) RETURNING 1) SELECT count(*) FROM changed"
            }
            let rows = try await Self.rows(connection, text, sql.binds, logger: logger)
            return (Int(try rows.first?.decode(Int64.self) ?? 0), schema)
        }
        remember(schema)
        return count
    }

    /// See `TableStore.delete(_:)`.
    public func delete(_ query: Query) async throws -> Int {
        let schema = try await validatedSchema(query)
        let table = qualified(query.table)
        var sql = PostgresSQL(schema: schema)
        let selection = sql.selection(from: table, query)
        let statement =
            "WITH gone AS (DELETE FROM \(table) WHERE \"_th_rowid\" IN (\(selection)) RETURNING 1) "
            + "SELECT count(*) FROM gone"
        guard let fence = WriteFence.current else {
            return try Self.decodeCount(try await execute(statement, sql.binds, table: query.table), table: query.table)
        }
        let leases = self.leases
        let binds = sql.binds
        let rows = try await transaction(table: query.table) { connection, logger in
            try await Self.check(fence, leases: leases, table: query.table, connection, logger: logger)
            return try await Self.rows(connection, statement, binds, logger: logger)
        }
        return try Self.decodeCount(rows, table: query.table)
    }

    // MARK: Reading

    /// See `TableStore.read(_:)`.
    public func read(_ query: Query) async throws -> [TableStorage.TableRow] {
        let schema = try await validatedSchema(query)
        let columns = (query.select ?? schema.types.keys.sorted()).filter { schema.types[$0] != nil }
        var sql = PostgresSQL(schema: schema)
        let text = sql.select(columns, from: qualified(query.table), query)
        let rows = try await execute(text, sql.binds, table: query.table, retry: true)
        return try Self.records(rows, columns, schema)
    }

    /// See `TableStore.count(_:)`.
    public func count(_ query: Query) async throws -> Int {
        let schema = try await validatedSchema(query)
        var sql = PostgresSQL(schema: schema)
        let condition = sql.condition(query.filter)
        let rows = try await execute(
            "SELECT count(*) FROM \(qualified(query.table)) WHERE \(condition)", sql.binds, table: query.table,
            retry: true)
        return try Self.decodeCount(rows, table: query.table)
    }

    /// See `TableStore.newest(in:by:)`: `SELECT … WHERE column IS NOT NULL ORDER BY column DESC LIMIT 1`, which
    /// PostgreSQL answers by reading the column's index backwards.
    public func newest(in table: String, by column: String) async throws -> TableStorage.TableRow? {
        var schema = try await self.schema(table)
        if !schema.knows(column) { schema = try await reload(table) }
        guard schema.definition.indexedColumns.contains(column) else {
            throw StorageError(schema.knows(column) ? .notIndexed : .unknownColumn, table: table, column: column)
        }
        guard schema.types[column] != nil else { return nil }
        let columns = schema.types.keys.sorted()
        let name = PostgresSQL.quote(column)
        let order = column == schema.definition.uniqueKey ? "\(name) DESC" : "\(name) DESC, \"_th_rowid\" DESC"
        let rows = try await execute(
            "SELECT \(columns.map(PostgresSQL.quote).joined(separator: ", ")) FROM \(qualified(table)) "
                + "WHERE \(name) IS NOT NULL ORDER BY \(order) LIMIT 1", PostgresBindings(), table: table, retry: true)
        return try Self.records(rows, columns, schema).first
    }

    private static func records(
        _ rows: [PostgresRow], _ columns: [String], _ schema: TableState
    ) throws -> [TableStorage.TableRow] {
        do {
            return try rows.map { try PostgresSQL.record($0, columns, schema) }
        } catch {
            throw StorageError(
                .malformedStore, table: schema.definition.name, message: "a column does not hold its recorded type")
        }
    }

    private static func decodeCount(_ rows: [PostgresRow], table: String) throws -> Int {
        do {
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        } catch {
            throw StorageError(.io, table: table, message: "the count does not decode")
        }
    }
}
