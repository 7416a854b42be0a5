import Foundation

/// A condition on a record's columns, built with ``TableColumn`` and the usual operators.
///
/// Equality is null-safe: `TableColumn("x") == nil` matches rows without `x`, and `TableColumn("x") != 5` matches them
/// too. An ordering comparison, `in`, `contains` and `hasPrefix` never match a row without the column.
///
/// ```swift
/// let predicate = TableColumn("isReply") == false && (TableColumn("author").in(["a", "b"]) || !TableColumn("text").contains("RT"))
/// ```
public indirect enum RowPredicate: Sendable, Hashable {
    /// `column <op> value`.
    case compare(String, Comparison, Value)
    /// The column's value is one of the values.
    case isIn(String, [Value])
    /// The string column contains the substring.
    case contains(String, String)
    /// The string column starts with the prefix.
    case hasPrefix(String, String)
    /// All of the predicates hold (true when empty).
    case and([RowPredicate])
    /// At least one of the predicates holds (false when empty).
    case or([RowPredicate])
    /// The predicate does not hold.
    case not(RowPredicate)

    /// A comparison operator.
    public enum Comparison: String, Sendable, Hashable {
        /// `==`, null-safe.
        case equal = "=="
        /// `!=`, null-safe.
        case notEqual = "!="
        /// `<`.
        case less = "<"
        /// `<=`.
        case lessOrEqual = "<="
        /// `>`.
        case greater = ">"
        /// `>=`.
        case greaterOrEqual = ">="
    }

    /// Every column the predicate names.
    package var columns: [String] {
        switch self {
        case .compare(let column, _, _), .isIn(let column, _), .contains(let column, _), .hasPrefix(let column, _):
            [column]
        case .and(let parts), .or(let parts): parts.flatMap(\.columns)
        case .not(let part): part.columns
        }
    }

    private static func nullSafeEqual(_ lhs: Value, _ rhs: Value) -> Bool {
        if lhs.isNull || rhs.isNull { return lhs.isNull == rhs.isNull }
        return Value.compare(lhs, rhs) == 0
    }

    /// Whether `text`'s UTF-8 holds `needle`'s (a byte search: the standard library's generic
    /// `firstRange(of:)` spent more time looking up generic metadata than searching).
    package static func contains(_ text: String, _ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var text = text
        var needle = needle
        return text.withUTF8 { haystack in
            needle.withUTF8 { needle in
                guard needle.count <= haystack.count, let base = haystack.baseAddress else { return false }
                let first = needle[0]
                let last = haystack.count - needle.count
                var index = 0
                while index <= last {
                    guard let found = memchr(base + index, Int32(first), last - index + 1) else { return false }
                    index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + index, needle.baseAddress!, needle.count) == 0 { return true }
                    index += 1
                }
                return false
            }
        }
    }

    /// Whether `record` satisfies the predicate (the semantics every store shares).
    package func matches(_ record: TableRow) -> Bool {
        matches { record[$0] ?? .null }
    }

    /// Whether a row whose column values `value(column)` returns satisfies the predicate.
    package func matches(_ value: (String) -> Value) -> Bool {
        switch self {
        case .compare(let column, let op, let operand):
            let stored = value(column)
            switch op {
            case .equal: return Self.nullSafeEqual(stored, operand)
            case .notEqual: return !Self.nullSafeEqual(stored, operand)
            default:
                if stored.isNull || operand.isNull { return false }
                let order = Value.compare(stored, operand)
                switch op {
                case .less: return order < 0
                case .lessOrEqual: return order <= 0
                case .greater: return order > 0
                default: return order >= 0
                }
            }
        case .isIn(let column, let values):
            let stored = value(column)
            if stored.isNull { return false }
            return values.contains { !$0.isNull && Value.compare(stored, $0) == 0 }
        case .contains(let column, let needle):
            guard case .string(let text) = value(column) else { return false }
            return Self.contains(text, needle)
        case .hasPrefix(let column, let prefix):
            guard case .string(let text) = value(column) else { return false }
            return text.utf8.starts(with: prefix.utf8)
        case .and(let parts): return parts.allSatisfy { $0.matches(value) }
        case .or(let parts): return parts.contains { $0.matches(value) }
        case .not(let part): return !part.matches(value)
        }
    }
}

/// A column name, the left-hand side of a ``RowPredicate``.
///
/// ```swift
/// TableColumn("twitterId") > 1_700_000_000_000_000_000
/// ```
public struct TableColumn: Sendable, Hashable, ExpressibleByStringLiteral {
    /// The column's name.
    public var name: String

    /// Names a column.
    public init(_ name: String) { self.name = name }

    /// Names a column with a string literal.
    public init(stringLiteral value: String) { self.name = value }

    /// The column's value is one of `values`.
    public func `in`(_ values: [Value]) -> RowPredicate { .isIn(name, values) }
    /// The string column contains `substring`.
    public func contains(_ substring: String) -> RowPredicate { .contains(name, substring) }
    /// The string column starts with `prefix`.
    public func hasPrefix(_ prefix: String) -> RowPredicate { .hasPrefix(name, prefix) }
    /// Ascending order on this column.
    public var ascending: SortKey { SortKey(name, ascending: true) }
    /// Descending order on this column.
    public var descending: SortKey { SortKey(name, ascending: false) }

    /// `column == value`, null-safe.
    public static func == (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .equal, rhs) }
    /// `column != value`, null-safe.
    public static func != (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .notEqual, rhs) }
    /// `column < value`.
    public static func < (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .less, rhs) }
    /// `column <= value`.
    public static func <= (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .lessOrEqual, rhs) }
    /// `column > value`.
    public static func > (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .greater, rhs) }
    /// `column >= value`.
    public static func >= (lhs: TableColumn, rhs: Value) -> RowPredicate { .compare(lhs.name, .greaterOrEqual, rhs) }
}

extension RowPredicate {
    /// Both predicates hold.
    public static func && (lhs: RowPredicate, rhs: RowPredicate) -> RowPredicate { .and([lhs, rhs]) }
    /// Either predicate holds.
    public static func || (lhs: RowPredicate, rhs: RowPredicate) -> RowPredicate { .or([lhs, rhs]) }
    /// The predicate does not hold.
    public static prefix func ! (operand: RowPredicate) -> RowPredicate { .not(operand) }
}

/// One column of an ordering, ascending or descending. `null` sorts first in ascending order.
public struct SortKey: Sendable, Hashable {
    /// The column.
    public var column: String
    /// Whether the order is ascending.
    public var ascending: Bool

    /// Creates a sort key.
    public init(_ column: String, ascending: Bool = true) {
        self.column = column
        self.ascending = ascending
    }

    /// Ascending order on `column`.
    public static func ascending(_ column: String) -> SortKey { SortKey(column, ascending: true) }
    /// Descending order on `column`.
    public static func descending(_ column: String) -> SortKey { SortKey(column, ascending: false) }
}

/// A read, count, update or delete of one table, as a value.
///
/// Rows match ``filter``, are sorted by ``order`` (ties keep insertion order), the first ``skip`` are
/// dropped and at most ``take`` are kept; ``select`` keeps only some columns of what is read.
/// ``TableStore/count(_:)`` ignores `take` and `skip`: it gives the total for paging.
///
/// ```swift
/// let page = Query("Updates").filter(TableColumn("isReply") == false).orderBy(.descending("twitterId")).skip(20).take(10)
/// ```
public struct Query: Sendable, Hashable {
    /// The table.
    public var table: String
    /// The condition rows must meet, or `nil` for all rows.
    public var filter: RowPredicate?
    /// The ordering, most significant first. Empty means insertion order.
    public var order: [SortKey]
    /// The most rows to keep, or `nil` for all.
    public var take: Int?
    /// How many rows to skip after ordering.
    public var skip: Int
    /// The columns to keep in each record read, or `nil` for all.
    public var select: [String]?

    /// Creates a query of `table`.
    public init(
        _ table: String, filter: RowPredicate? = nil, order: [SortKey] = [], take: Int? = nil, skip: Int = 0,
        select: [String]? = nil
    ) {
        self.table = table
        self.filter = filter
        self.order = order
        self.take = take
        self.skip = skip
        self.select = select
    }

    /// Adds a condition (combined with `&&` when there is one already).
    public func filter(_ predicate: RowPredicate) -> Query {
        var copy = self
        if let existing = filter { copy.filter = existing && predicate } else { copy.filter = predicate }
        return copy
    }

    /// Appends sort keys to the ordering.
    public func orderBy(_ keys: SortKey...) -> Query {
        var copy = self
        copy.order += keys
        return copy
    }

    /// Keeps at most `count` rows.
    public func take(_ count: Int) -> Query {
        var copy = self
        copy.take = count
        return copy
    }

    /// Skips the first `count` rows.
    public func skip(_ count: Int) -> Query {
        var copy = self
        copy.skip = count
        return copy
    }

    /// Keeps only `columns` in the records read.
    public func select(_ columns: [String]) -> Query {
        var copy = self
        copy.select = columns
        return copy
    }

    /// Every column the query names (filter, order, select).
    package var columns: [String] {
        (filter?.columns ?? []) + order.map(\.column) + (select ?? [])
    }
}
