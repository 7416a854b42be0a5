/// One table of a ``TableStore`` with a query being built: a fluent API and a typed `Codable` layer.
///
/// Get one with ``TableStore/table(_:)``. Each builder method returns a new handle; the terminal methods
/// (`read`, `count`, `delete`, `update`, `first`) run the query built so far.
///
/// ```swift
/// struct Update: Codable { var twitterId: Int64; var text: String }
/// let updates = store.table("Updates")
/// try await updates.create(uniqueKey: "twitterId")
/// try await updates.insert([Update(twitterId: 1, text: "hi")])
/// let page = try await updates.filter(TableColumn("text").contains("hi")).orderBy(.descending("twitterId"))
///     .take(20).read(as: Update.self)
/// ```
public struct TableHandle: Sendable {
    /// The store.
    public let store: any TableStore
    /// The query built so far.
    public private(set) var query: Query

    /// Creates a handle on `query.table` with a query to start from.
    public init(store: any TableStore, query: Query) {
        self.store = store
        self.query = query
    }

    /// The table's name.
    public var name: String { query.table }

    // MARK: Building

    /// Adds a filter (combined with `&&`).
    public func filter(_ predicate: RowPredicate) -> TableHandle { with(query.filter(predicate)) }
    /// Appends sort keys.
    public func orderBy(_ keys: SortKey...) -> TableHandle {
        var copy = query
        copy.order += keys
        return with(copy)
    }
    /// Keeps at most `count` rows.
    public func take(_ count: Int) -> TableHandle { with(query.take(count)) }
    /// Skips the first `count` rows.
    public func skip(_ count: Int) -> TableHandle { with(query.skip(count)) }
    /// Keeps only `columns`.
    public func select(_ columns: [String]) -> TableHandle { with(query.select(columns)) }

    private func with(_ query: Query) -> TableHandle { TableHandle(store: store, query: query) }

    // MARK: Schema

    /// Creates the table (idempotent for an identical definition).
    public func create(uniqueKey: String? = nil, indexes: [String] = [], columns: [String: ValueType] = [:])
        async throws
    {
        try await store.createTable(
            TableSchema(name: name, uniqueKey: uniqueKey, indexes: indexes, columns: columns))
    }

    // MARK: Records

    /// Inserts records atomically.
    @discardableResult
    public func insert(_ records: [TableRow], onConflict: ConflictPolicy = .ignore) async throws -> InsertSummary {
        try await store.insert(records, into: name, onConflict: onConflict)
    }

    /// The records the query selects.
    public func read() async throws -> [TableRow] { try await store.read(query) }

    /// The first record the query selects, if any.
    public func first() async throws -> TableRow? { try await store.read(query.take(1)).first }

    /// The number of rows the filter matches (ignoring `take` and `skip`).
    public func count() async throws -> Int { try await store.count(query) }

    /// Deletes the rows the query selects; returns how many.
    @discardableResult
    public func delete() async throws -> Int { try await store.delete(query) }

    /// Sets columns of the rows the query selects; returns how many.
    @discardableResult
    public func update(set changes: [String: Value]) async throws -> Int {
        try await store.update(query, set: changes)
    }

    /// The row with the greatest value of an indexed column.
    public func newest(by column: String) async throws -> TableRow? {
        try await store.newest(in: name, by: column)
    }

    // MARK: Typed

    /// Inserts values of a `Codable` type, each encoded as a record (see ``RecordEncoder``).
    @discardableResult
    public func insert<T: Encodable>(_ values: [T], onConflict: ConflictPolicy = .ignore) async throws
        -> InsertSummary
    {
        let encoder = RecordEncoder()
        let records = try values.map { value throws(StorageError) in try encoder.encode(value) }
        return try await store.insert(records, into: name, onConflict: onConflict)
    }

    /// The rows the query selects, decoded as `type` (see ``RecordDecoder``).
    public func read<T: Decodable>(as type: T.Type) async throws -> [T] {
        let decoder = RecordDecoder()
        return try await store.read(query).map { record throws(StorageError) in try decoder.decode(type, from: record) }
    }

    /// The first row the query selects, decoded as `type`.
    public func first<T: Decodable>(as type: T.Type) async throws -> T? {
        guard let record = try await first() else { return nil }
        return try RecordDecoder().decode(type, from: record)
    }

    /// The row with the greatest value of an indexed column, decoded as `type`.
    public func newest<T: Decodable>(by column: String, as type: T.Type) async throws -> T? {
        guard let record = try await newest(by: column) else { return nil }
        return try RecordDecoder().decode(type, from: record)
    }
}
