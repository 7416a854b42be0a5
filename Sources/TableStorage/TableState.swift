/// A table's definition and the types its columns have established: the validation every store shares.
package struct TableState: Sendable, Hashable {
    /// The definition as created.
    package var definition: TableSchema
    /// The type of every column that has one (declared or established).
    package var types: [String: ValueType]
    /// Columns known by name (indexed or declared) whose type is not established yet.
    package var untypedColumns: Set<String>

    /// A schema for a new table.
    ///
    /// - Throws: ``StorageError/Code/invalidDefinition``.
    package init(_ definition: TableSchema) throws(StorageError) {
        try Self.checkName(definition.name, table: nil)
        for column in definition.indexedColumns + definition.columns.keys.sorted() {
            guard !column.isEmpty else {
                throw StorageError(.invalidDefinition, table: definition.name, message: "empty column name")
            }
        }
        self.definition = definition
        self.types = definition.columns
        self.untypedColumns = Set(definition.indexedColumns).subtracting(definition.columns.keys)
    }

    /// Checks a table name: non-empty, no control characters.
    package static func checkName(_ name: String, table: String?) throws(StorageError) {
        if name.isEmpty || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw StorageError(.invalidDefinition, table: table ?? name, message: "a table name must be non-empty text")
        }
    }

    /// Whether `other` is the same definition as the stored one (index order aside).
    package func isSameDefinition(as other: TableSchema) -> Bool {
        definition.name == other.name && definition.uniqueKey == other.uniqueKey
            && Set(definition.indexes) == Set(other.indexes) && definition.columns == other.columns
    }

    /// The definition with the established column types.
    package var describedDefinition: TableSchema {
        var result = definition
        result.columns = types
        return result
    }

    private var name: String { definition.name }

    /// Whether the table knows the column.
    package func knows(_ column: String) -> Bool {
        types[column] != nil || untypedColumns.contains(column)
    }

    /// Checks a query against the schema.
    ///
    /// - Throws: ``StorageError/Code/unknownColumn``, ``StorageError/Code/typeMismatch``,
    ///   ``StorageError/Code/invalidQuery``.
    package func validate(_ query: Query) throws(StorageError) {
        if let take = query.take, take < 0 {
            throw StorageError(.invalidQuery, table: name, message: "take must not be negative")
        }
        if query.skip < 0 { throw StorageError(.invalidQuery, table: name, message: "skip must not be negative") }
        for column in query.order.map(\.column) + (query.select ?? []) where !knows(column) {
            throw StorageError(.unknownColumn, table: name, column: column)
        }
        if let filter = query.filter { try validate(filter) }
    }

    private func validate(_ predicate: RowPredicate) throws(StorageError) {
        switch predicate {
        case .compare(let column, _, let value):
            try check(value, in: column)
        case .isIn(let column, let values):
            for value in values { try check(value, in: column) }
        case .contains(let column, _), .hasPrefix(let column, _):
            try check(.string(""), in: column)
        case .and(let parts), .or(let parts):
            for part in parts { try validate(part) }
        case .not(let part):
            try validate(part)
        }
    }

    private func check(_ value: Value, in column: String) throws(StorageError) {
        guard knows(column) else { throw StorageError(.unknownColumn, table: name, column: column) }
        if let expected = types[column], let found = value.type, expected != found {
            throw StorageError(
                .typeMismatch, table: name, column: column, message: "expected \(expected), found \(found)")
        }
    }

    /// Checks a row's values and establishes the types of its new columns.
    ///
    /// - Throws: ``StorageError/Code/typeMismatch``, ``StorageError/Code/invalidValue``,
    ///   ``StorageError/Code/missingUniqueKey`` (when `requireKey`).
    package mutating func admit(_ record: TableRow, row: Int?, requireKey: Bool = true) throws(StorageError) {
        if requireKey, let key = definition.uniqueKey, record[key] == nil {
            throw StorageError(.missingUniqueKey, table: name, column: key, row: row)
        }
        for (column, value) in record.fields {
            try admit(value, in: column, row: row)
        }
    }

    /// Checks one value and establishes its column's type.
    package mutating func admit(_ value: Value, in column: String, row: Int?) throws(StorageError) {
        guard let found = value.type else { return }
        if column.isEmpty { throw StorageError(.invalidValue, table: name, row: row, message: "empty column name") }
        if case .double(let double) = value, double.isNaN {
            throw StorageError(.invalidValue, table: name, column: column, row: row, message: "NaN is not storable")
        }
        if let expected = types[column] {
            if expected != found {
                throw StorageError(
                    .typeMismatch, table: name, column: column, row: row,
                    message: "expected \(expected), found \(found)")
            }
        } else {
            types[column] = found
            untypedColumns.remove(column)
        }
    }
}

/// Checks the rows of a batch against a schema (``TableState/admit(_:row:requireKey:)``), remembering the
/// columns and types it has admitted: rows built alike, the usual batch, then cost a few string comparisons
/// per column (cheap for short names) instead of a hash lookup.
package struct Admission {
    /// The schema, with the column types the admitted rows established.
    package private(set) var schema: TableState
    private let key: String?
    /// Columns already admitted with their types, at most ``remembered``.
    private var known: [(column: String, type: ValueType)] = []
    private static let remembered = 32

    package init(schema: TableState) {
        self.schema = schema
        self.key = schema.definition.uniqueKey
    }

    /// Checks a row; returns its unique key's value (`nil` when the table has no unique key).
    ///
    /// - Throws: As ``TableState/admit(_:row:requireKey:)``.
    package mutating func admit(_ record: TableRow, row: Int) throws(StorageError) -> Value? {
        var keyValue: Value?
        var hint = 0
        for (column, value) in record.fields {
            if column == key { keyValue = value }
            guard let found = value.type else { continue }
            if let slot = find(column, from: hint), known[slot].type == found, !value.isNaN {
                hint = slot + 1
                continue
            }
            if keyValue == nil, let key, record[key] == nil {
                throw StorageError(.missingUniqueKey, table: schema.definition.name, column: key, row: row)
            }
            try schema.admit(value, in: column, row: row)
            if known.count < Self.remembered { known.append((column, found)) }
        }
        if let key, keyValue == nil {
            throw StorageError(.missingUniqueKey, table: schema.definition.name, column: key, row: row)
        }
        return keyValue
    }

    /// The position of `column` in ``known``, searched from `hint` round to it.
    private func find(_ column: String, from hint: Int) -> Int? {
        let count = known.count
        guard count > 0 else { return nil }
        var slot = hint < count ? hint : 0
        for _ in 0..<count {
            if known[slot].column == column { return slot }
            slot = slot + 1 == count ? 0 : slot + 1
        }
        return nil
    }
}

extension Value {
    /// Whether the value is a double that is not a number.
    var isNaN: Bool {
        if case .double(let double) = self { return double.isNaN }
        return false
    }
}
