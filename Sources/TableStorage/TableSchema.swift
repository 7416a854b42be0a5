/// The shape of a table: its name, an optional unique key, the columns with an index, and optionally
/// declared column types.
///
/// ```swift
/// try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"]))
/// ```
public struct TableSchema: Sendable, Hashable, Codable {
    /// The table's name. Any non-empty string without control characters.
    public var name: String
    /// The column whose values are unique in the table, or `nil` for none. Every row must have a value
    /// for it. It is indexed, so ``TableStore/newest(in:by:)`` and ordering by it are fast.
    public var uniqueKey: String?
    /// Further columns with a (non-unique) index.
    public var indexes: [String]
    /// Column types known before any row is stored. Other columns get their type from the first value
    /// stored in them. The default is none.
    public var columns: [String: ValueType]

    /// Creates a definition.
    public init(name: String, uniqueKey: String? = nil, indexes: [String] = [], columns: [String: ValueType] = [:]) {
        self.name = name
        self.uniqueKey = uniqueKey
        self.indexes = indexes
        self.columns = columns
    }

    /// The unique key followed by the other indexed columns, without repeats.
    package var indexedColumns: [String] {
        var result: [String] = []
        if let uniqueKey { result.append(uniqueKey) }
        for column in indexes where !result.contains(column) { result.append(column) }
        return result
    }
}

/// What an insert does with a row whose unique key is already in the table (or earlier in the same batch).
public enum ConflictPolicy: Sendable, Hashable {
    /// Refuse the whole batch with ``StorageError/Code/duplicateKey``; nothing is stored.
    case fail
    /// Keep the stored row and skip the new one; it is reported in ``InsertSummary/duplicates``.
    case ignore
    /// Replace the stored row with the new one; it is reported in ``InsertSummary/duplicates``.
    case replace
}

/// Which rows of a batch were stored as new rows and which met an existing unique key.
public struct InsertSummary: Sendable, Hashable {
    /// Indexes (into the inserted array) of the rows stored as new rows.
    public var inserted: [Int]
    /// Indexes of the rows whose unique key was already present (in the table or earlier in the batch):
    /// skipped under ``ConflictPolicy/ignore``, stored over the old row under ``ConflictPolicy/replace``.
    public var duplicates: [Int]

    /// Creates a summary.
    public init(inserted: [Int] = [], duplicates: [Int] = []) {
        self.inserted = inserted
        self.duplicates = duplicates
    }
}
