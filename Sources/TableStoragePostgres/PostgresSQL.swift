import Foundation
import Logging
import NIOCore
import PostgresNIO
import TableStorage

/// Builds PostgreSQL statements: identifiers quoted, every value a bound parameter (`$n` with a cast).
struct PostgresSQL {
    let schema: TableState
    /// The parameters bound so far, in order.
    var binds = PostgresBindings()

    init(schema: TableState) { self.schema = schema }

    // MARK: Names and types

    /// A quoted identifier: the name in double quotes, each double quote in it doubled.
    static func quote(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The SQL type of a column type. Text columns use the `C` collation, so that strings sort by their UTF-8
    /// bytes, as in every other store.
    static func type(_ type: ValueType) -> String {
        switch type {
        case .int: "bigint"
        case .double, .date: "double precision"
        case .string: "text"
        case .bool: "boolean"
        }
    }

    /// The column definition of a column type (`text COLLATE "C"` for strings).
    static func columnType(_ type: ValueType) -> String {
        type == .string ? "text COLLATE \"C\"" : Self.type(type)
    }

    /// The array type of a column type, for `unnest`.
    static func arrayType(_ type: ValueType) -> String { Self.type(type) + "[]" }

    // MARK: Values

    /// Binds a value with a cast to `type` (the value's own type when `nil`); returns its placeholder.
    mutating func bind(_ value: Value, as type: ValueType? = nil) -> String {
        let sqlType = Self.type(type ?? value.type ?? .string)
        switch value {
        case .int(let int): binds.append(int)
        case .double(let double): binds.append(double)
        case .string(let string): binds.append(string)
        case .bool(let bool): binds.append(bool)
        case .date(let date): binds.append(date.timeIntervalSinceReferenceDate)
        case .null: binds.appendNull()
        }
        return "$\(binds.count)::\(sqlType)"
    }

    /// Binds one column of a batch as an array; returns its placeholder.
    mutating func bindArray(_ values: [Value?], as type: ValueType) -> String {
        binds.append(ValueArray(type: type, values: values))
        return "$\(binds.count)::\(Self.arrayType(type))"
    }

    /// A value read back from a cell of a column of `type`, or `nil` for SQL `NULL`.
    static func value(_ cell: PostgresCell, as type: ValueType) throws -> Value? {
        guard cell.bytes != nil else { return nil }
        switch type {
        case .int: return .int(try cell.decode(Int64.self))
        case .double: return .double(try cell.decode(Double.self))
        case .string: return .string(try cell.decode(String.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .date: return .date(Date(timeIntervalSinceReferenceDate: try cell.decode(Double.self)))
        }
    }

    /// A record from a row whose first cells are `columns`, each of its type in `schema`.
    static func record(_ row: PostgresRow, _ columns: [String], _ schema: TableState) throws -> TableStorage.TableRow {
        var fields: [String: Value] = [:]
        let cells = row.makeRandomAccess()
        for (index, column) in columns.enumerated() {
            guard let type = schema.types[column], let value = try value(cells[index], as: type) else { continue }
            fields[column] = value
        }
        return TableStorage.TableRow(trusted: fields)
    }

    // MARK: Conditions

    /// The expression of a column: its quoted name, or a typed `NULL` for a column the table knows by name but
    /// that has no SQL column yet (no value has given it a type).
    private func column(_ name: String, as type: ValueType?) -> String {
        if schema.types[name] != nil { return Self.quote(name) }
        return "NULL::" + Self.type(type ?? .string)
    }

    /// A `WHERE` condition (`true` for none). Every leaf is true or false, never `NULL`, so `NOT` is safe.
    mutating func condition(_ predicate: TableStorage.RowPredicate?) -> String {
        guard let predicate else { return "true" }
        switch predicate {
        case .compare(let name, let op, let value):
            let type = schema.types[name] ?? value.type
            let column = column(name, as: type)
            switch op {
            case .equal: return "(\(column) IS NOT DISTINCT FROM \(bind(value, as: type)))"
            case .notEqual: return "(\(column) IS DISTINCT FROM \(bind(value, as: type)))"
            default:
                if value.isNull { return "false" }
                return "(\(column) IS NOT NULL AND \(column) \(op.rawValue) \(bind(value, as: type)))"
            }
        case .isIn(let name, let values):
            let present = values.filter { !$0.isNull }
            if present.isEmpty { return "false" }
            let type = schema.types[name] ?? present[0].type
            let column = column(name, as: type)
            let list = present.map { bind($0, as: type) }.joined(separator: ", ")
            return "(\(column) IS NOT NULL AND \(column) IN (\(list)))"
        case .contains(let name, let needle):
            let column = column(name, as: .string)
            return "COALESCE(strpos(\(column), \(bind(.string(needle)))) > 0, false)"
        case .hasPrefix(let name, let prefix):
            let column = column(name, as: .string)
            return "COALESCE(starts_with(\(column), \(bind(.string(prefix)))), false)"
        case .and(let parts):
            if parts.isEmpty { return "true" }
            return "(" + parts.map { condition($0) }.joined(separator: " AND ") + ")"
        case .or(let parts):
            if parts.isEmpty { return "false" }
            return "(" + parts.map { condition($0) }.joined(separator: " OR ") + ")"
        case .not(let part):
            return "(NOT \(condition(part)))"
        }
    }

    /// `ORDER BY …` (nulls first in ascending order, insertion order breaking ties) and `LIMIT … OFFSET …`.
    mutating func tail(_ query: Query) -> String {
        var keys: [String] = []
        for key in query.order where schema.types[key.column] != nil {
            keys.append(Self.quote(key.column) + (key.ascending ? " ASC NULLS FIRST" : " DESC NULLS LAST"))
        }
        keys.append("\"_th_rowid\" ASC")
        var text = " ORDER BY " + keys.joined(separator: ", ")
        if let take = query.take { text += " LIMIT \(bind(.int(Int64(take))))" }
        if query.skip > 0 { text += " OFFSET \(bind(.int(Int64(query.skip))))" }
        return text
    }

    /// `SELECT columns FROM table WHERE … ORDER BY … LIMIT …`.
    mutating func select(_ columns: [String], from table: String, _ query: Query) -> String {
        let list = columns.isEmpty ? "NULL" : columns.map(Self.quote).joined(separator: ", ")
        let condition = condition(query.filter)
        return "SELECT \(list) FROM \(table) WHERE \(condition)" + tail(query)
    }

    /// The row ids a query selects, as a subquery.
    mutating func selection(from table: String, _ query: Query) -> String {
        let condition = condition(query.filter)
        return "SELECT \"_th_rowid\" FROM \(table) WHERE \(condition)" + tail(query)
    }
}

/// One column of a batch as a PostgreSQL array in the binary format, with `NULL` elements for rows that have
/// no value (postgres-nio's own arrays cannot hold `NULL`).
struct ValueArray: PostgresDynamicTypeEncodable {
    var type: ValueType
    var values: [Value?]

    var psqlType: PostgresDataType {
        switch type {
        case .int: .int8Array
        case .double, .date: .float8Array
        case .string: .textArray
        case .bool: .boolArray
        }
    }

    var psqlFormat: PostgresFormat { .binary }

    private var elementType: PostgresDataType {
        switch type {
        case .int: .int8
        case .double, .date: .float8
        case .string: .text
        case .bool: .bool
        }
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        // The array header: dimensions, whether there are NULLs, the element type, then per dimension its
        // length and lower bound.
        buffer.writeInteger(values.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(values.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(elementType.rawValue)
        guard !values.isEmpty else { return }
        buffer.writeInteger(Int32(values.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for value in values {
            switch value {
            case .int(let int)?:
                buffer.writeInteger(8, as: Int32.self)
                buffer.writeInteger(int, as: Int64.self)
            case .double(let double)?:
                buffer.writeInteger(8, as: Int32.self)
                buffer.writeInteger(double.bitPattern, as: UInt64.self)
            case .date(let date)?:
                buffer.writeInteger(8, as: Int32.self)
                buffer.writeInteger(date.timeIntervalSinceReferenceDate.bitPattern, as: UInt64.self)
            case .bool(let bool)?:
                buffer.writeInteger(1, as: Int32.self)
                buffer.writeInteger(bool ? 1 : 0, as: UInt8.self)
            case .string(let string)?:
                let start = buffer.writerIndex
                buffer.writeInteger(0, as: Int32.self)
                let written = buffer.writeString(string)
                buffer.setInteger(Int32(written), at: start, as: Int32.self)
            case .null?, nil:
                buffer.writeInteger(-1, as: Int32.self)
            }
        }
    }
}

extension PostgresSQL {
    /// Runs `statements` (idempotent `CREATE … IF NOT EXISTS`) in one transaction on a pooled connection, after
    /// creating `schema` when missing, under the advisory lock every part of this module takes for its schema: two
    /// processes creating the same schema or table at once would otherwise collide in the system catalogs.
    ///
    /// - Throws: `StorageError` (`invalidDefinition` for a schema name PostgreSQL would cut or refuse; otherwise the
    ///   server's error, with `table` named).
    static func createUnderSchemaLock(
        _ statements: [String], schema: String, table: String?, client: PostgresClient, logger: Logger
    ) async throws {
        if schema.isEmpty || schema.utf8.count > PostgresTableStore.maximumNameBytes || schema.utf8.contains(0) {
            throw StorageError(.invalidDefinition, message: "the schema name must be 1 to 63 bytes without NUL")
        }
        do {
            try await client.withConnection { connection in
                _ = try await PostgresTableStore.rows("BEGIN", on: connection, logger: logger)
                do {
                    var binds = PostgresBindings()
                    binds.append("tweetharvester:" + schema)
                    _ = try await PostgresTableStore.rows(
                        PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtext($1::text))", binds: binds),
                        on: connection, logger: logger)
                    for statement in ["CREATE SCHEMA IF NOT EXISTS \(quote(schema))"] + statements {
                        _ = try await PostgresTableStore.rows(
                            PostgresQuery(unsafeSQL: statement), on: connection, logger: logger)
                    }
                    _ = try await PostgresTableStore.rows("COMMIT", on: connection, logger: logger)
                } catch {
                    await PostgresTableStore.endFailedTransaction(connection, after: error, logger: logger)
                    throw error
                }
            }
        } catch {
            throw PostgresTableStore.storageError(error, table: table)
        }
    }
}

extension PostgresTableStore {
    /// `name` as a quoted SQL identifier (in double quotes, each double quote in it doubled), for the statements of
    /// ``createUnderSchemaLock(_:)`` and queries of your own: `"\(quotedIdentifier(schema)).\(quotedIdentifier(table))"`.
    public static func quotedIdentifier(_ name: String) -> String { PostgresSQL.quote(name) }

    /// Runs `statements`, such as `CREATE TABLE IF NOT EXISTS` of tables of your own beside the store's, in one
    /// transaction in which the store's schema exists, under the advisory lock every part of this module takes for
    /// that schema; two processes that create the same table at once would otherwise collide in the system catalogs.
    ///
    /// Name the tables with the schema (``Configuration/schema``, quoted with ``quotedIdentifier(_:)``); nothing in `statements` is bound, so never
    /// splice values into them.
    ///
    /// - Parameter statements: The statements, run in order.
    /// - Throws: `StorageError`: the server's error, or `invalidDefinition` for a schema name PostgreSQL would cut or
    ///   refuse.
    public func createUnderSchemaLock(_ statements: [String]) async throws {
        try await PostgresSQL.createUnderSchemaLock(
            statements, schema: configuration.schema, table: nil, client: client, logger: logger)
    }
}
