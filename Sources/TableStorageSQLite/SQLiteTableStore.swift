import Foundation
import GRDB
import HarvestLocking
import Logging
import TableStorage

/// A `TableStore` in one SQLite database, on GRDB.
///
/// - The database is a GRDB `DatabasePool` in WAL mode with `synchronous = FULL`: a batch is one transaction,
///   durable when the call returns, and readers never wait for the writer.
/// - Each table is a real SQLite table. The unique key is a `UNIQUE` constraint, each index a `CREATE INDEX`.
///   The dynamic schema adds a column (`ALTER TABLE … ADD COLUMN`) the first time a value appears in it, with a
///   declared type from its `ValueType`: `INTEGER` for int and bool (0 or 1), `REAL` for
///   double and date (seconds since 2001-01-01, Foundation's reference date), `TEXT` for string. The table
///   `_th_tables` holds each definition and its column types.
/// - Queries become SQL with bound arguments only; identifiers are quoted. Equality is null-safe (`IS`), and
///   every other comparison is false for a row without the column, as in the other stores.
/// - Every method awaits GRDB's asynchronous `read`/`write`: the statements (and the `fsync` of a commit) run on
///   GRDB's own dispatch queues while the calling task is suspended, so concurrent writers never occupy the
///   threads of Swift's cooperative pool. Only the initializer, which opens the file and runs `PRAGMA
///   quick_check`, runs on the caller's thread.
///
/// ```swift
/// let store = try SQLiteTableStore(path: "/var/lib/harvest/tweets.sqlite")
/// ```
public final class SQLiteTableStore: TableStore, Sendable {
    /// How a store opens its database.
    public enum Access: Sendable, Hashable {
        /// Reads and writes, holding the store's writer lock (`PATH-lock`): one writing process per database.
        /// The default.
        case readWrite
        /// Reads only, beside a writer in another process (SQLite's WAL lets readers see every committed
        /// batch without waiting) or on a read-only copy; takes no lock. Every write fails with
        /// `StorageError.Code.readOnly`.
        case readOnly
    }

    /// Settings of an SQLite store.
    public struct Configuration: Sendable {
        /// Reading and writing, or reading only. The default is ``Access/readWrite``.
        public var access: Access = .readWrite
        /// Whether an open also runs `PRAGMA quick_check`, which reads every page of the database (about a second
        /// a gigabyte) and finds damage to its structure (but, like any SQLite check, not a changed value
        /// inside a row: SQLite keeps no page checksums). The header and write-ahead log checks run on every
        /// open regardless. The default is `false`; `harvest verify` runs the full `integrity_check`.
        public var quickCheckOnOpen = false

        /// Creates the default settings.
        public init() {}
    }

    private let pool: any DatabaseWriter
    private let schemas: Locked<[String: TableState]>
    /// The text and column order of `newest(in:by:)`'s statement per table and column, made again when the
    /// table has gained columns (a schema only ever grows).
    private let newestStatements = Locked<[NewestKey: NewestStatement]>([:])
    /// The writer lock's descriptor (`PATH-lock`), or `nil` once closed or when reading only.
    private let writerLock: Locked<Int32?>
    private let logger: Logger
    /// The database file.
    public let path: String
    /// How the store opened its database.
    public let access: Access

    /// Opens (or creates) the database at `path`.
    ///
    /// Before SQLite opens the file, the store checks what SQLite would not report: the database header (its
    /// magic string, page size and format versions) and the write-ahead log (a committed transaction after a
    /// frame that fails its checksum, which SQLite would drop without a word).
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - configuration: Access and checks. The default is ``Configuration/init()``.
    ///   - logger: Where the store logs.
    /// - Throws: `StorageError`: `StorageError.Code.locked` when another process has the database open for
    ///   writing, `StorageError.Code.readOnly` when the file cannot be created or written,
    ///   `StorageError.Code.malformedStore` (naming the file and byte) when it is not a database or is damaged.
    public init(path: String, configuration: Configuration = .init(), logger: Logger = .current) throws {
        self.path = path
        self.logger = logger
        self.access = configuration.access
        var lock: Int32?
        do {
            if configuration.access == .readWrite {
                let (descriptor, _) = try POSIX.open(path + "-lock", create: true)
                lock = descriptor
                do throws(StorageError) {
                    try POSIX.lock(descriptor, file: path)
                } catch {
                    POSIX.close(descriptor)
                    lock = nil
                    throw error
                }
            }
            try SQLiteFileCheck.checkHeader(path: path)
            try SQLiteFileCheck.checkWriteAheadLog(path: path)
        } catch {
            if let lock { POSIX.close(lock) }
            throw error
        }
        writerLock = Locked(lock)
        var grdb = GRDB.Configuration()
        grdb.busyMode = .timeout(5)
        grdb.readonly = configuration.access == .readOnly
        if configuration.access == .readWrite {
            grdb.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
        }
        do {
            if configuration.access == .readOnly {
                pool = try DatabaseQueue(path: path, configuration: grdb)
            } else {
                pool = try DatabasePool(path: path, configuration: grdb)
            }
            if configuration.quickCheckOnOpen {
                let problems = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
                if problems != ["ok"] {
                    throw StorageError(
                        .malformedStore, file: path,
                        message: "PRAGMA quick_check: " + problems.prefix(3).joined(separator: "; "))
                }
            }
            let load = { (db: Database) throws -> [String: TableState] in
                if configuration.access == .readWrite {
                    try db.execute(
                        sql:
                            "CREATE TABLE IF NOT EXISTS _th_tables (name TEXT PRIMARY KEY, definition TEXT NOT NULL, types TEXT NOT NULL)"
                    )
                } else if try !db.tableExists("_th_tables") {
                    return [:]
                }
                var result: [String: TableState] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT name, definition, types FROM _th_tables") {
                    let definition = try JSONDecoder().decode(
                        TableStorage.TableSchema.self, from: Data((row["definition"] as String).utf8))
                    let types = try JSONDecoder().decode(
                        [String: ValueType].self, from: Data((row["types"] as String).utf8))
                    var schema = try TableState(definition)
                    Self.establish(types, in: &schema)
                    result[definition.name] = schema
                }
                return result
            }
            let loaded = try configuration.access == .readWrite ? pool.write(load) : pool.read(load)
            schemas = Locked(loaded)
        } catch {
            writerLock.withLock { descriptor in
                if let open = descriptor { POSIX.close(open) }
                descriptor = nil
            }
            throw Self.storageError(error, file: path)
        }
    }

    deinit {
        close()
    }

    /// Lets go of the writer lock, so that another process may open the database for writing once this store's
    /// connections are gone. Calls after the first do nothing. The store must not be used after it.
    public func close() {
        writerLock.withLock { descriptor in
            if let open = descriptor { POSIX.close(open) }
            descriptor = nil
        }
    }

    private static func establish(_ types: [String: ValueType], in schema: inout TableState) {
        for (column, type) in types {
            schema.types[column] = type
            schema.untypedColumns.remove(column)
        }
    }

    // MARK: Errors

    /// A ``StorageError`` for an error GRDB threw.
    static func storageError(_ error: any Error, file: String, table: String? = nil) -> StorageError {
        if let error = error as? StorageError { return error }
        guard let error = error as? DatabaseError else {
            return StorageError(.io, table: table, file: file, message: String(describing: error))
        }
        let message = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_FULL: return StorageError(.diskFull, table: table, file: file, message: message)
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN, .SQLITE_AUTH:
            return StorageError(.readOnly, table: table, file: file, message: message)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return StorageError(.locked, table: table, file: file, message: message)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StorageError(.malformedStore, table: table, file: file, message: message)
        case .SQLITE_CONSTRAINT where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE:
            return StorageError(.duplicateKey, table: table, message: message)
        default: return StorageError(.io, table: table, file: file, message: message)
        }
    }

    /// Runs `body`, which awaits GRDB's asynchronous `read`/`write`: the statements run on GRDB's own queues, and
    /// the calling task is suspended meanwhile instead of holding a thread of the cooperative pool.
    private func run<T>(table: String?, _ body: () async throws -> T) async throws(StorageError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.storageError(error, file: path, table: table)
        }
    }

    private func schema(_ table: String) throws(StorageError) -> TableState {
        guard let schema = schemas.withLock({ $0[table] }) else { throw StorageError(.missingTable, table: table) }
        return schema
    }

    // MARK: Schema

    /// See `TableStore.createTable(_:)`.
    public func createTable(_ definition: TableStorage.TableSchema) async throws {
        if let existing = schemas.withLock({ $0[definition.name] }) {
            guard existing.isSameDefinition(as: definition) else {
                throw StorageError(.conflictingDefinition, table: definition.name)
            }
            return
        }
        let schema = try TableState(definition)
        try await run(table: definition.name) {
            try await pool.write { db in
                var columns = ["_th_rowid INTEGER PRIMARY KEY"]
                for column in Set(definition.indexedColumns).union(definition.columns.keys).sorted() {
                    var text = SQL.quote(column) + (definition.columns[column].map { " " + SQL.type($0) } ?? "")
                    if column == definition.uniqueKey { text += " UNIQUE" }
                    columns.append(text)
                }
                try db.execute(sql: "CREATE TABLE \(SQL.quote(definition.name)) (\(columns.joined(separator: ", ")))")
                for column in definition.indexes where column != definition.uniqueKey {
                    try db.execute(
                        sql: "CREATE INDEX \(SQL.quote("th_" + definition.name + "_" + column)) ON "
                            + "\(SQL.quote(definition.name)) (\(SQL.quote(column)))")
                }
                try Self.saveSchema(schema, db)
            }
        }
        schemas.withLock { $0[definition.name] = schema }
    }

    private static func saveSchema(_ schema: TableState, _ db: Database) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try db.execute(
            sql: "INSERT OR REPLACE INTO _th_tables (name, definition, types) VALUES (?, ?, ?)",
            arguments: [
                schema.definition.name, String(decoding: try encoder.encode(schema.definition), as: UTF8.self),
                String(decoding: try encoder.encode(schema.types), as: UTF8.self),
            ])
    }

    /// Adds the columns `new` has and `old` lacks, and records the types.
    private static func migrate(from old: TableState, to new: TableState, _ db: Database) throws {
        guard new.types != old.types else { return }
        let table = SQL.quote(new.definition.name)
        for (column, type) in new.types.sorted(by: { $0.key < $1.key }) where old.types[column] == nil {
            if !old.untypedColumns.contains(column) {
                try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN \(SQL.quote(column)) \(SQL.type(type))")
            }
        }
        try saveSchema(new, db)
    }

    /// See `TableStore.definition(of:)`.
    public func definition(of table: String) async throws -> TableStorage.TableSchema {
        try schema(table).describedDefinition
    }

    /// See `TableStore.tableNames()`.
    public func tableNames() async throws -> [String] {
        schemas.withLock { $0.keys.sorted() }
    }

    // MARK: Writing

    /// See `TableStore.insert(_:into:onConflict:)`.
    public func insert(_ rows: [TableStorage.TableRow], into table: String, onConflict: ConflictPolicy) async throws
        -> InsertSummary
    {
        let old = try schema(table)
        var new = old
        for (index, row) in rows.enumerated() { try new.admit(row, row: index) }
        guard !rows.isEmpty else { return InsertSummary() }
        let schema = new
        let summary = try await run(table: table) {
            try await pool.write { db -> InsertSummary in
                try Self.migrate(from: old, to: schema, db)
                return try Self.insertRows(rows, into: schema, policy: onConflict, db)
            }
        }
        schemas.withLock { $0[table] = schema }
        return summary
    }

    private static func insertRows(
        _ rows: [TableStorage.TableRow], into schema: TableState, policy: ConflictPolicy, _ db: Database
    )
        throws -> InsertSummary
    {
        let table = SQL.quote(schema.definition.name)
        let key = schema.definition.uniqueKey
        var summary = InsertSummary()
        summary.inserted.reserveCapacity(rows.count)
        var statements: [[String]: Statement] = [:]
        for (index, row) in rows.enumerated() {
            let columns = row.fields.keys.sorted()
            let statement: Statement
            if let cached = statements[columns] {
                statement = cached
            } else {
                let names = columns.map(SQL.quote).joined(separator: ", ")
                let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
                statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO \(table) (\(names)) VALUES (\(marks))")
                statements[columns] = statement
            }
            let arguments = StatementArguments(columns.map { SQL.databaseValue(row.fields[$0] ?? .null) })
            try statement.execute(arguments: arguments)
            if db.changesCount == 1 {
                summary.inserted.append(index)
                continue
            }
            summary.duplicates.append(index)
            guard let key, let keyValue = row[key] else { continue }
            switch policy {
            case .ignore:
                break
            case .fail:
                throw StorageError(
                    .duplicateKey, table: schema.definition.name, column: key, row: index,
                    message: "value \(keyValue) is already present")
            case .replace:
                try db.execute(
                    sql: "DELETE FROM \(table) WHERE \(SQL.quote(key)) = ?", arguments: [SQL.databaseValue(keyValue)])
                try statement.execute(arguments: arguments)
            }
        }
        return summary
    }

    /// See `TableStore.update(_:set:)`.
    public func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        let old = try schema(query.table)
        try old.validate(query)
        var new = old
        for (column, value) in changes { try new.admit(value, in: column, row: nil) }
        guard !changes.isEmpty else { return try await count(Query(query.table, filter: query.filter)) }
        let schema = new
        let count = try await run(table: query.table) {
            try await pool.write { db -> Int in
                try Self.migrate(from: old, to: schema, db)
                var sql = SQL(schema: schema)
                let selection = try sql.selection(query)
                if let key = schema.definition.uniqueKey, let value = changes[key], value.isNull {
                    let matching =
                        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(selection))", arguments: sql.arguments) ?? 0
                    if matching > 0 { throw StorageError(.missingUniqueKey, table: query.table, column: key) }
                }
                let assignments = changes.keys.sorted()
                var arguments = StatementArguments(assignments.map { SQL.databaseValue(changes[$0] ?? .null) })
                arguments += sql.arguments
                try db.execute(
                    sql: "UPDATE \(SQL.quote(query.table)) SET "
                        + assignments.map { "\(SQL.quote($0)) = ?" }.joined(separator: ", ")
                        + " WHERE _th_rowid IN (\(selection))",
                    arguments: arguments)
                return db.changesCount
            }
        }
        schemas.withLock { $0[query.table] = schema }
        return count
    }

    /// See `TableStore.delete(_:)`.
    public func delete(_ query: Query) async throws -> Int {
        let schema = try schema(query.table)
        try schema.validate(query)
        return try await run(table: query.table) {
            try await pool.write { db -> Int in
                var sql = SQL(schema: schema)
                let selection = try sql.selection(query)
                try db.execute(
                    sql: "DELETE FROM \(SQL.quote(query.table)) WHERE _th_rowid IN (\(selection))",
                    arguments: sql.arguments)
                return db.changesCount
            }
        }
    }

    // MARK: Reading

    /// See `TableStore.read(_:)`.
    public func read(_ query: Query) async throws -> [TableStorage.TableRow] {
        let schema = try schema(query.table)
        try schema.validate(query)
        let columns = (query.select ?? schema.types.keys.sorted()).filter { schema.types[$0] != nil }
        return try await run(table: query.table) {
            try await pool.read { db in
                var sql = SQL(schema: schema)
                let text = try sql.select(columns, query)
                return try Row.fetchAll(db, sql: text, arguments: sql.arguments).map { SQL.record($0, columns, schema) }
            }
        }
    }

    /// See `TableStore.count(_:)`.
    public func count(_ query: Query) async throws -> Int {
        let schema = try schema(query.table)
        try schema.validate(query)
        return try await run(table: query.table) {
            try await pool.read { db in
                var sql = SQL(schema: schema)
                let condition = try sql.condition(query.filter)
                return try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM \(SQL.quote(query.table)) WHERE \(condition)",
                    arguments: sql.arguments)
                    ?? 0
            }
        }
    }

    /// See `TableStore.newest(in:by:)`. Answered by SQLite from the column's index.
    public func newest(in table: String, by column: String) async throws -> TableStorage.TableRow? {
        let schema = try schema(table)
        guard schema.definition.indexedColumns.contains(column) else {
            throw StorageError(schema.knows(column) ? .notIndexed : .unknownColumn, table: table, column: column)
        }
        let key = NewestKey(table: table, column: column)
        let statement: NewestStatement
        if let cached = newestStatements.withLock({ $0[key] }), cached.columns.count == schema.types.count {
            statement = cached
        } else {
            statement = NewestStatement(table: table, column: column, columns: schema.types.keys.sorted())
            newestStatements.withLock { $0[key] = statement }
        }
        let (sql, columns) = (statement.sql, statement.columns)
        guard !columns.isEmpty else { return nil }
        // One statement, which SQLite runs on one snapshot by itself: no transaction around it (GRDB's `read`
        // adds BEGIN and COMMIT, several times the cost of the lookup).
        return try await run(table: table) {
            try await pool.unsafeRead { db in
                // The cursor's row reads the statement's columns in place, without copying the row; it is valid
                // only while the cursor lives.
                let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql))
                return try withExtendedLifetime(cursor) {
                    try cursor.next().map { SQL.record($0, columns, schema) }
                }
            }
        }
    }
}

/// A table and column that `newest(in:by:)` was asked for.
private struct NewestKey: Hashable {
    var table: String
    var column: String
}

/// The statement of `newest(in:by:)`: every column, in this order, of the row with the greatest value.
private struct NewestStatement {
    var sql: String
    var columns: [String]

    init(table: String, column: String, columns: [String]) {
        self.columns = columns
        let list = columns.map(SQL.quote).joined(separator: ", ")
        sql =
            "SELECT \(list) FROM \(SQL.quote(table)) WHERE \(SQL.quote(column)) IS NOT NULL "
            + "ORDER BY \(SQL.quote(column)) DESC, _th_rowid DESC LIMIT 1"
    }
}

extension SQLiteTableStore {
    /// Runs SQLite's `PRAGMA integrity_check` over the whole database: every page, index and constraint.
    ///
    /// It reads the whole file, so it takes time in proportion to the database; `harvest verify` runs it.
    /// It finds damage to SQLite's structures, not a value that a flipped byte changed into another valid value.
    ///
    /// - Returns: The problems SQLite reports, one per line; empty when the database is sound.
    /// - Throws: `StorageError` when the check cannot run (`StorageError.Code.malformedStore` for a file
    ///   too damaged to read).
    public func integrityCheck() async throws -> [String] {
        do {
            let lines = try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            return lines == ["ok"] ? [] : lines
        } catch {
            throw Self.storageError(error, file: path)
        }
    }
}
