/// One row of a table: column names mapped to non-null ``Value``s.
///
/// A record never holds ``Value/null``: assigning `null` (or `nil`) to a column removes it, and reading a
/// column the row has no value for gives `nil`. So a record read back from any store equals the record
/// that was inserted.
///
/// ```swift
/// var record: TableRow = ["twitterId": 1_700_000_000_000_000_123, "text": "hello"]
/// record["author"] = "swift"
/// ```
public struct TableRow: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The non-null fields of the record.
    public private(set) var fields: [String: Value]

    /// Creates a record from its fields; `null` fields are dropped.
    public init(_ fields: [String: Value]) {
        self.fields = fields.filter { !$0.value.isNull }
    }

    /// Creates a record from a dictionary literal; `null` fields are dropped.
    public init(dictionaryLiteral elements: (String, Value)...) {
        var fields: [String: Value] = [:]
        fields.reserveCapacity(elements.count)
        for (key, value) in elements where !value.isNull { fields[key] = value }
        self.fields = fields
    }

    /// The value of `column`, or `nil` when the record has none. Setting `nil` or ``Value/null`` removes it.
    public subscript(column: String) -> Value? {
        get { fields[column] }
        set {
            if let newValue, !newValue.isNull {
                fields[column] = newValue
            } else {
                fields[column] = nil
            }
        }
    }

    /// The names of the columns this record has a value for, sorted.
    public var columns: [String] { fields.keys.sorted() }

    /// The fields as `column: value` pairs in column order.
    public var description: String {
        "[" + fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// Creates a record without filtering nulls; the caller guarantees none are present.
    package init(trusted fields: [String: Value]) {
        self.fields = fields
    }

    /// Keeps only `columns` (all columns when `nil`).
    package func projected(_ columns: [String]?) -> TableRow {
        guard let columns else { return self }
        var kept: [String: Value] = [:]
        for column in columns { if let value = fields[column] { kept[column] = value } }
        return TableRow(trusted: kept)
    }
}
