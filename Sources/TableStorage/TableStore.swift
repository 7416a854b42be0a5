/// A store of named tables of ``TableRow``s with a dynamic schema, a unique key and indexes.
///
/// Every operation is atomic: a batch insert stores all its rows or none, and an update or delete changes
/// every matching row or none. Implementations that persist make an operation durable before it returns.
/// All operations are safe to call from many tasks at once.
///
/// ``InMemoryTableStore`` and ``FileTableStore`` implement it here, `SQLiteTableStore` in the
/// `TableStorageSQLite` module. A store of your own can check itself with `TableStoreConformance` from
/// `HarvestTesting`.
///
/// ```swift
/// let store = InMemoryTableStore()
/// try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
/// let summary = try await store.insert([["twitterId": 1, "text": "hi"]], into: "Updates", onConflict: .ignore)
/// let newest = try await store.newest(in: "Updates", by: "twitterId")
/// ```
public protocol TableStore: Sendable {
    /// Creates a table. Calling it again with an identical definition does nothing.
    ///
    /// - Throws: ``StorageError`` ``StorageError/Code/conflictingDefinition`` when a table of that name has
    ///   another definition, ``StorageError/Code/invalidDefinition`` for a definition no store can keep.
    func createTable(_ definition: TableSchema) async throws

    /// The definition of a table, with ``TableSchema/columns`` holding the type of every column it has
    /// (declared or established by a stored value).
    ///
    /// - Throws: ``StorageError/Code/missingTable``.
    func definition(of table: String) async throws -> TableSchema

    /// The names of the tables, sorted.
    func tableNames() async throws -> [String]

    /// Inserts a batch of rows atomically and durably: all of them or none, committed before it returns.
    ///
    /// - Parameters:
    ///   - rows: The rows, in order. A row whose unique key meets an earlier row of the batch is a duplicate too.
    ///   - table: The table's name.
    ///   - onConflict: What to do with rows whose unique key is already present.
    /// - Returns: Which rows were new and which were duplicates.
    /// - Throws: ``StorageError``: ``StorageError/Code/missingTable``, ``StorageError/Code/typeMismatch``,
    ///   ``StorageError/Code/missingUniqueKey``, ``StorageError/Code/duplicateKey`` (under
    ///   ``ConflictPolicy/fail``), ``StorageError/Code/invalidValue``, or an I/O code. Nothing is stored then.
    func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary

    /// Sets columns of every row the query selects (filter, order, skip, take), atomically.
    ///
    /// A ``Value/null`` change removes the column from the rows.
    /// - Returns: The number of rows changed.
    /// - Throws: ``StorageError``, as ``insert(_:into:onConflict:)``; ``StorageError/Code/duplicateKey`` when the
    ///   unique key would repeat.
    func update(_ query: Query, set changes: [String: Value]) async throws -> Int

    /// Deletes every row the query selects (filter, order, skip, take), atomically.
    ///
    /// - Returns: The number of rows deleted.
    func delete(_ query: Query) async throws -> Int

    /// The rows the query selects, in its order, with its selected columns.
    ///
    /// - Throws: ``StorageError/Code/missingTable``, ``StorageError/Code/unknownColumn``,
    ///   ``StorageError/Code/typeMismatch``, ``StorageError/Code/invalidQuery``.
    func read(_ query: Query) async throws -> [TableRow]

    /// The number of rows matching the query's filter; `take` and `skip` are ignored (the total for paging).
    func count(_ query: Query) async throws -> Int

    /// The row with the greatest non-null value of an indexed column (the unique key or one of the indexes),
    /// answered from the index, never by a scan; `nil` when no row has a value.
    ///
    /// - Throws: ``StorageError/Code/notIndexed`` for a column without an index,
    ///   ``StorageError/Code/missingTable``.
    func newest(in table: String, by column: String) async throws -> TableRow?
}

extension TableStore {
    /// Inserts a batch, ignoring rows whose unique key is already present.
    public func insert(_ rows: [TableRow], into table: String) async throws -> InsertSummary {
        try await insert(rows, into: table, onConflict: .ignore)
    }

    /// A handle on one table with a fluent query API and a typed `Codable` layer.
    ///
    /// ```swift
    /// let updates = store.table("Updates")
    /// let latest: [Tweet] = try await updates.orderBy(.descending("twitterId")).take(10).read(as: Tweet.self)
    /// ```
    public func table(_ name: String) -> TableHandle {
        TableHandle(store: self, query: Query(name))
    }
}
