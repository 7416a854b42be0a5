import Foundation

/// Encodes a `Codable` value as a flat ``TableRow``: each stored property becomes a column.
///
/// Properties may be `Bool`, `String`, integers (within `Int64`), `Double`, `Float`, `Date`, optionals of
/// those (`nil` stores nothing) and types that encode as one of them (such as `String` raw-value enums).
/// Nested structures, arrays and dictionaries are refused with ``StorageError/Code/unsupportedType``.
public struct RecordEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Encodes `value` as a record.
    ///
    /// - Throws: ``StorageError/Code/unsupportedType`` for a property that is not a single value.
    public func encode<T: Encodable>(_ value: T) throws(StorageError) -> TableRow {
        let sink = FieldSink()
        do {
            try value.encode(to: FieldEncoder(sink: sink, codingPath: []))
        } catch {
            throw StorageError.wrapping(error, code: .unsupportedType)
        }
        return TableRow(sink.fields)
    }
}

/// Decodes a ``TableRow`` into a `Codable` value, the inverse of ``RecordEncoder``.
public struct RecordDecoder: Sendable {
    /// Creates a decoder.
    public init() {}

    /// Decodes `type` from `record`.
    ///
    /// - Throws: ``StorageError/Code/typeMismatch`` when a column is missing or of another type.
    public func decode<T: Decodable>(_ type: T.Type, from record: TableRow) throws(StorageError) -> T {
        do {
            return try T(from: FieldDecoder(record: record, codingPath: []))
        } catch {
            throw StorageError.wrapping(error, code: .typeMismatch)
        }
    }
}

extension StorageError {
    /// `error` if it is a ``StorageError``, or a new one of `code` describing it.
    static func wrapping(_ error: any Error, code: Code) -> StorageError {
        if let error = error as? StorageError { return error }
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return StorageError(code, column: key.stringValue, message: "no value")
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            return StorageError(
                code, column: context.codingPath.first?.stringValue, message: context.debugDescription)
        case EncodingError.invalidValue(_, let context):
            return StorageError(
                code, column: context.codingPath.first?.stringValue, message: context.debugDescription)
        default:
            return StorageError(code, message: String(describing: error))
        }
    }

    static func unsupported(_ path: [any CodingKey], _ what: String) -> StorageError {
        StorageError(.unsupportedType, column: path.first?.stringValue, message: what)
    }
}

// MARK: Encoding

private final class FieldSink {
    var fields: [String: Value] = [:]
}

private final class ValueSink {
    var value: Value = .null
}

private func integerValue<I: BinaryInteger>(_ value: I, _ path: [any CodingKey]) throws -> Value {
    guard let exact = Int64(exactly: value) else {
        throw StorageError.unsupported(path, "\(value) does not fit in a 64-bit signed integer")
    }
    return .int(exact)
}

/// Encodes one value through `Encodable`, capturing a single ``Value``.
private func singleValue<T: Encodable>(_ value: T, _ path: [any CodingKey]) throws -> Value {
    if let date = value as? Date { return .date(date) }
    let sink = ValueSink()
    try value.encode(to: ValueEncoder(sink: sink, codingPath: path))
    return sink.value
}

private struct FieldEncoder: Encoder {
    let sink: FieldSink
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FieldContainer(sink: sink, codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { RefusingContainer(codingPath: codingPath) }
    func singleValueContainer() -> any SingleValueEncodingContainer { RefusingContainer(codingPath: codingPath) }
}

private struct FieldContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: FieldSink
    var codingPath: [any CodingKey]

    private func set(_ value: Value, _ key: Key) { sink.fields[key.stringValue] = value }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(.double(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(.double(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        set(try integerValue(value, codingPath + [key]), key)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        set(try integerValue(value, codingPath + [key]), key)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try singleValue(value, codingPath + [key]), key)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(RefusingKeyedContainer(codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        RefusingContainer(codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { FieldEncoder(sink: sink, codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { FieldEncoder(sink: sink, codingPath: codingPath) }
}

private struct ValueEncoder: Encoder, SingleValueEncodingContainer {
    let sink: ValueSink
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(RefusingKeyedContainer(codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { RefusingContainer(codingPath: codingPath) }
    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    mutating func encodeNil() throws { sink.value = .null }
    mutating func encode(_ value: Bool) throws { sink.value = .bool(value) }
    mutating func encode(_ value: String) throws { sink.value = .string(value) }
    mutating func encode(_ value: Double) throws { sink.value = .double(value) }
    mutating func encode(_ value: Float) throws { sink.value = .double(Double(value)) }
    mutating func encode(_ value: Int) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { sink.value = .int(value) }
    mutating func encode(_ value: UInt) throws { sink.value = try integerValue(value, codingPath) }
    mutating func encode(_ value: UInt8) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { sink.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { sink.value = try integerValue(value, codingPath) }
    mutating func encode<T: Encodable>(_ value: T) throws { sink.value = try singleValue(value, codingPath) }
}

/// A container for shapes a record cannot hold (arrays, nested objects): every use throws.
private struct RefusingContainer: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    var codingPath: [any CodingKey]
    var count: Int { 0 }
    private func refuse() throws -> Never {
        throw StorageError.unsupported(codingPath, "only single values can be stored in a column")
    }
    mutating func encodeNil() throws { try refuse() }
    mutating func encode<T: Encodable>(_ value: T) throws { try refuse() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(RefusingKeyedContainer(codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
    mutating func superEncoder() -> any Encoder { ValueEncoder(sink: ValueSink(), codingPath: codingPath) }
}

private struct RefusingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    var codingPath: [any CodingKey]
    private func refuse() throws -> Never {
        throw StorageError.unsupported(codingPath, "nested structures cannot be stored in a column")
    }
    mutating func encodeNil(forKey key: Key) throws { try refuse() }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try refuse() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(RefusingKeyedContainer<NestedKey>(codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        RefusingContainer(codingPath: codingPath)
    }
    mutating func superEncoder() -> any Encoder { ValueEncoder(sink: ValueSink(), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(sink: ValueSink(), codingPath: codingPath)
    }
}

// MARK: Decoding

private struct FieldDecoder: Decoder {
    let record: TableRow
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(FieldReader(record: record, codingPath: codingPath))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw StorageError.unsupported(codingPath, "a record decodes only as a keyed value")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw StorageError.unsupported(codingPath, "a record decodes only as a keyed value")
    }
}

private struct FieldReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let record: TableRow
    var codingPath: [any CodingKey]
    var allKeys: [Key] { record.fields.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { record[key.stringValue] != nil }
    func decodeNil(forKey key: Key) throws -> Bool { record[key.stringValue] == nil }

    private func reader(_ key: Key) throws -> ValueReader {
        guard let value = record[key.stringValue] else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "no value for '\(key.stringValue)'"))
        }
        return ValueReader(value: value, codingPath: codingPath + [key])
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try reader(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try reader(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try reader(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try reader(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try reader(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try reader(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try reader(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try reader(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try reader(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try reader(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try reader(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try reader(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try reader(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try reader(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try reader(key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw StorageError.unsupported(codingPath + [key], "nested structures cannot be stored in a column")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw StorageError.unsupported(codingPath + [key], "arrays cannot be stored in a column")
    }
    func superDecoder() throws -> any Decoder { FieldDecoder(record: record, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { FieldDecoder(record: record, codingPath: codingPath) }
}

private struct ValueReader: Decoder, SingleValueDecodingContainer {
    let value: Value
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw StorageError.unsupported(codingPath, "nested structures cannot be stored in a column")
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw StorageError.unsupported(codingPath, "arrays cannot be stored in a column")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    private func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(value)"))
    }

    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .int(let int) = value else { throw mismatch(type) }
        guard let exact = I(exactly: int) else { throw mismatch(type) }
        return exact
    }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch(type) }
        return bool
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let string) = value else { throw mismatch(type) }
        return string
    }
    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .double(let double): return double
        case .int(let int): return Double(int)
        default: throw mismatch(type)
        }
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if type == Date.self {
            guard case .date(let date) = value, let result = date as? T else { throw mismatch(type) }
            return result
        }
        return try T(from: self)
    }
}
