/// A ``TableStore`` that keeps everything in memory: fast, for tests and short-lived programs.
///
/// Each indexed column (the unique key and the definition's indexes) has a sorted index, so
/// ``newest(in:by:)`` is O(1) and ordering by an indexed column with a `take` is O(log n + k).
///
/// ```swift
/// let store = InMemoryTableStore()
/// ```
public actor InMemoryTableStore: TableStore {
    private var tables: [String: TableEngine<TableRow>] = [:]

    /// Creates an empty store.
    public init() {}

    private static func identity(_ record: TableRow) -> TableRow { record }

    private func engine(_ name: String) throws(StorageError) -> TableEngine<TableRow> {
        guard let engine = tables[name] else { throw StorageError(.missingTable, table: name) }
        return engine
    }

    /// See ``TableStore/createTable(_:)``.
    public func createTable(_ definition: TableSchema) throws {
        if let existing = tables[definition.name] {
            guard existing.schema.isSameDefinition(as: definition) else {
                throw StorageError(.conflictingDefinition, table: definition.name)
            }
            return
        }
        tables[definition.name] = TableEngine(schema: try TableState(definition))
    }

    /// See ``TableStore/definition(of:)``.
    public func definition(of table: String) throws -> TableSchema {
        try engine(table).schema.describedDefinition
    }

    /// See ``TableStore/tableNames()``.
    public func tableNames() -> [String] { tables.keys.sorted() }

    /// See ``TableStore/insert(_:into:onConflict:)``.
    public func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) throws -> InsertSummary {
        var engine = try engine(table)
        let plan = try engine.planInsert(rows, policy: onConflict)
        tables[table] = nil  // keep the engine uniquely referenced while it changes
        engine.schema = plan.schema
        apply(plan.changes, to: &engine)
        tables[table] = engine
        return plan.summary
    }

    private func apply(_ changes: [TableChange], to engine: inout TableEngine<TableRow>) {
        for change in changes {
            switch change {
            case .put(_, let record): engine.apply(change, payload: record, load: Self.identity)
            case .delete: engine.apply(change, payload: TableRow(trusted: [:]), load: Self.identity)
            }
        }
        if engine.deadCount > 1024, engine.deadCount > engine.liveCount { engine.compactSlots() }
    }

    /// See ``TableStore/update(_:set:)``.
    public func update(_ query: Query, set changes: [String: Value]) throws -> Int {
        var engine = try engine(query.table)
        let plan = try engine.planUpdate(query, changes: changes, load: Self.identity)
        tables[query.table] = nil
        engine.schema = plan.schema
        apply(plan.changes, to: &engine)
        tables[query.table] = engine
        return plan.changes.count
    }

    /// See ``TableStore/delete(_:)``.
    public func delete(_ query: Query) throws -> Int {
        var engine = try engine(query.table)
        let changes = try engine.planDelete(query, load: Self.identity)
        tables[query.table] = nil
        apply(changes, to: &engine)
        tables[query.table] = engine
        return changes.count
    }

    /// See ``TableStore/read(_:)``.
    public func read(_ query: Query) throws -> [TableRow] {
        try engine(query.table).select(query, load: Self.identity).map { $0.record.projected(query.select) }
    }

    /// See ``TableStore/count(_:)``.
    public func count(_ query: Query) throws -> Int {
        try engine(query.table).count(query, load: Self.identity)
    }

    /// See ``TableStore/newest(in:by:)``.
    public func newest(in table: String, by column: String) throws -> TableRow? {
        try engine(table).newest(by: column)
    }
}
