import Foundation

/// One typed value in a ``TableRow``.
///
/// Tables have a dynamic schema: the first non-null value stored in a column (or the type the
/// ``TableSchema`` declares) establishes the column's ``ValueType``; a later value of another type
/// is refused with ``StorageError/Code/typeMismatch``. ``null`` fits every column.
///
/// Literals make values short to write:
/// ```swift
/// let record: TableRow = ["twitterId": 1_700_000_000_000_000_123, "text": "hello", "isReply": false]
/// ```
public enum Value: Sendable, Hashable {
    /// A 64-bit signed integer. Tweet ids fit (they are below 2^63) and are never passed through `Double`.
    case int(Int64)
    /// A double-precision floating-point number. NaN is refused by stores (``StorageError/Code/invalidValue``).
    case double(Double)
    /// A Unicode string.
    case string(String)
    /// A Boolean.
    case bool(Bool)
    /// A point in time, stored with the precision of `Date.timeIntervalSince1970`.
    case date(Date)
    /// No value. A record never holds `null`: setting a column to `null` removes it (see ``TableRow``).
    case null

    /// The type of this value, or `nil` for ``null``.
    public var type: ValueType? {
        switch self {
        case .int: .int
        case .double: .double
        case .string: .string
        case .bool: .bool
        case .date: .date
        case .null: nil
        }
    }

    /// Whether this value is ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// The type of a column, established by the first non-null value stored in it.
public enum ValueType: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// ``Value/int(_:)``.
    case int
    /// ``Value/double(_:)``.
    case double
    /// ``Value/string(_:)``.
    case string
    /// ``Value/bool(_:)``.
    case bool
    /// ``Value/date(_:)``.
    case date

    /// The raw name, such as `int`.
    public var description: String { rawValue }
}

extension Value: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    /// Creates an ``int(_:)``.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// Creates a ``double(_:)``.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// Creates a ``string(_:)``.
    public init(stringLiteral value: String) { self = .string(value) }
    /// Creates a ``bool(_:)``.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Creates ``null``.
    public init(nilLiteral: ()) { self = .null }
}

extension Value: CustomStringConvertible {
    /// The value as a short literal, such as `42`, `"text"` or `2026-01-01T00:00:00Z`.
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): "\"\(value)\""
        case .bool(let value): String(value)
        case .date(let value): value.formatted(.iso8601)
        case .null: "null"
        }
    }
}

extension Value: Codable {
    private enum Tag: String, CodingKey { case int, double, string, bool, date }

    /// Encodes the value as `null` or a one-key object naming its type, such as `{"int": 42}`, so that an
    /// integer and a double, or a string and a date, never decode as each other.
    public func encode(to encoder: any Encoder) throws {
        if case .null = self {
            var container = encoder.singleValueContainer()
            try container.encodeNil()
            return
        }
        var container = encoder.container(keyedBy: Tag.self)
        switch self {
        case .int(let value): try container.encode(value, forKey: .int)
        case .double(let value): try container.encode(value, forKey: .double)
        case .string(let value): try container.encode(value, forKey: .string)
        case .bool(let value): try container.encode(value, forKey: .bool)
        case .date(let value): try container.encode(value, forKey: .date)
        case .null: break
        }
    }

    /// Decodes the form ``encode(to:)`` writes.
    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), single.decodeNil() {
            self = .null
            return
        }
        let container = try decoder.container(keyedBy: Tag.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath, debugDescription: "expected one of int, double, string, bool, date")
            )
        }
        switch key {
        case .int: self = .int(try container.decode(Int64.self, forKey: key))
        case .double: self = .double(try container.decode(Double.self, forKey: key))
        case .string: self = .string(try container.decode(String.self, forKey: key))
        case .bool: self = .bool(try container.decode(Bool.self, forKey: key))
        case .date: self = .date(try container.decode(Date.self, forKey: key))
        }
    }
}

extension Value {
    /// The rank of a type in the total order: null, then numbers, then strings, then the rest.
    private var rank: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .int, .double: 2
        case .date: 3
        case .string: 4
        }
    }

    /// A total order that every store shares: `null` first, numbers by value, strings by their UTF-8 bytes
    /// (as SQLite's `BINARY` collation), Booleans `false` before `true`, dates in time.
    ///
    /// - Returns: A negative number, zero, or a positive number.
    package static func compare(_ lhs: Value, _ rhs: Value) -> Int {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.string(let a), .string(let b)): return compareUTF8(a, b)
        case (.double(let a), .double(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.int(let a), .double(let b)): return Double(a) < b ? -1 : (Double(a) == b ? 0 : 1)
        case (.double(let a), .int(let b)): return a < Double(b) ? -1 : (a == Double(b) ? 0 : 1)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
        case (.date(let a), .date(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.null, .null): return 0
        default: return lhs.rank < rhs.rank ? -1 : 1
        }
    }

    private static func compareUTF8(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        var lhs = a
        var rhs = b
        return lhs.withUTF8 { x in
            rhs.withUTF8 { y in
                let common = min(x.count, y.count)
                if common > 0, let xb = x.baseAddress, let yb = y.baseAddress {
                    let result = memcmp(xb, yb, common)
                    if result != 0 { return result < 0 ? -1 : 1 }
                }
                return x.count < y.count ? -1 : (x.count == y.count ? 0 : 1)
            }
        }
    }
}
