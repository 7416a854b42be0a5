import Foundation
import GRDB
import TableStorage

/// Builds SQL for a query: identifiers quoted, every value a bound argument.
struct SQL {
    let schema: TableState
    /// The arguments bound so far, in order.
    var arguments = StatementArguments()

    init(schema: TableState) { self.schema = schema }

    /// A quoted identifier.
    static func quote(_ name: String) -> String {
        guard name.utf8.contains(UInt8(ascii: "\"")) else { return "\"" + name + "\"" }
        var quoted = "\""
        for character in name.unicodeScalars {
            if character == "\"" { quoted.unicodeScalars.append("\"") }
            quoted.unicodeScalars.append(character)
        }
        quoted.unicodeScalars.append("\"")
        return quoted
    }

    /// The declared SQLite type of a column type.
    static func type(_ type: ValueType) -> String {
        switch type {
        case .int, .bool: "INTEGER"
        case .double, .date: "REAL"
        case .string: "TEXT"
        }
    }

    /// A value as SQLite stores it.
    static func databaseValue(_ value: Value) -> DatabaseValue {
        switch value {
        case .int(let int): int.databaseValue
        case .double(let double): double.databaseValue
        case .string(let string): string.databaseValue
        case .bool(let bool): (bool ? Int64(1) : 0).databaseValue
        case .date(let date): date.timeIntervalSinceReferenceDate.databaseValue
        case .null: .null
        }
    }

    /// A record from a row whose columns are `columns`.
    static func record(_ row: Row, _ columns: [String], _ schema: TableState) -> TableStorage.TableRow {
        var fields: [String: Value] = [:]
        for (index, column) in columns.enumerated() {
            let stored: DatabaseValue = row[index]
            guard let type = schema.types[column] else { continue }
            switch (stored.storage, type) {
            case (.null, _): continue
            case (.int64(let int), .int): fields[column] = .int(int)
            case (.int64(let int), .bool): fields[column] = .bool(int != 0)
            case (.int64(let int), .double): fields[column] = .double(Double(int))
            case (.double(let double), .double): fields[column] = .double(double)
            case (.int64(let int), .date): fields[column] = .date(Date(timeIntervalSinceReferenceDate: Double(int)))
            case (.double(let double), .date): fields[column] = .date(Date(timeIntervalSinceReferenceDate: double))
            case (.string(let string), _): fields[column] = .string(string)
            case (.double(let double), _): fields[column] = .double(double)
            case (.int64(let int), _): fields[column] = .int(int)
            case (.blob, _): continue
            }
        }
        return TableStorage.TableRow(trusted: fields)
    }

    private mutating func bind(_ value: Value) -> String {
        arguments += [Self.databaseValue(value)]
        return "?"
    }

    /// A `WHERE` condition (`1` for none). Every leaf is true or false, never NULL, so `NOT` is safe.
    mutating func condition(_ predicate: TableStorage.RowPredicate?) throws -> String {
        guard let predicate else { return "1" }
        switch predicate {
        case .compare(let column, let op, let value):
            let name = Self.quote(column)
            switch op {
            case .equal: return "(\(name) IS \(bind(value)))"
            case .notEqual: return "(\(name) IS NOT \(bind(value)))"
            default:
                if value.isNull { return "0" }
                let symbol = op.rawValue
                return "(\(name) IS NOT NULL AND \(name) \(symbol) \(bind(value)))"
            }
        case .isIn(let column, let values):
            let present = values.filter { !$0.isNull }
            if present.isEmpty { return "0" }
            let name = Self.quote(column)
            let marks = present.map { bind($0) }.joined(separator: ", ")
            return "(\(name) IS NOT NULL AND \(name) IN (\(marks)))"
        case .contains(let column, let needle):
            return "COALESCE(instr(\(Self.quote(column)), \(bind(.string(needle)))) > 0, 0)"
        case .hasPrefix(let column, let prefix):
            let name = Self.quote(column)
            return "COALESCE(substr(\(name), 1, length(\(bind(.string(prefix))))) = \(bind(.string(prefix))), 0)"
        case .and(let parts):
            if parts.isEmpty { return "1" }
            return "(" + (try parts.map { try condition($0) }).joined(separator: " AND ") + ")"
        case .or(let parts):
            if parts.isEmpty { return "0" }
            return "(" + (try parts.map { try condition($0) }).joined(separator: " OR ") + ")"
        case .not(let part):
            return "(NOT \(try condition(part)))"
        }
    }

    /// `ORDER BY …, LIMIT …` for a query (insertion order breaks ties).
    private mutating func tail(_ query: Query) -> String {
        var text = " ORDER BY "
        text += (query.order.map { Self.quote($0.column) + ($0.ascending ? " ASC" : " DESC") } + ["_th_rowid ASC"])
            .joined(separator: ", ")
        if query.take != nil || query.skip > 0 {
            text += " LIMIT \(bind(.int(Int64(query.take ?? -1)))) OFFSET \(bind(.int(Int64(query.skip))))"
        }
        return text
    }

    /// `SELECT columns FROM table WHERE … ORDER BY … LIMIT …`.
    mutating func select(_ columns: [String], _ query: Query) throws -> String {
        let list = columns.isEmpty ? "NULL" : columns.map(Self.quote).joined(separator: ", ")
        let condition = try condition(query.filter)
        return "SELECT \(list) FROM \(Self.quote(query.table)) WHERE \(condition)" + tail(query)
    }

    /// The row ids a query selects, as a subquery.
    mutating func selection(_ query: Query) throws -> String {
        let condition = try condition(query.filter)
        return "SELECT _th_rowid FROM \(Self.quote(query.table)) WHERE \(condition)" + tail(query)
    }
}
