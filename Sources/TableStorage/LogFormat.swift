import Foundation

/// The byte format of a ``FileTableStore`` log: JSON Lines, each line one framed operation.
///
/// ```
/// {"crc":"89abcdef","len":       118,"rec":{"op":"put","t":"Updates","row":0,"v":{"twitterId":1,"text":"hi"}}}
/// ```
/// `len` is the byte length of the `rec` value (padded with spaces to ten columns, which JSON allows) and
/// `crc` its CRC-32 in hex. Each line is valid JSON, so `jq` and `grep` read the log as it is.
package enum LogFormat {
    /// `{"crc":"` + 8 hex + `","len":` + 10 columns + `,"rec":`.
    package static let headerSize = 41
    /// `}\n`.
    package static let trailerSize = 2
    static let crcPrefix = Array(#"{"crc":""#.utf8)
    static let lenPrefix = Array(#"","len":"#.utf8)
    static let recPrefix = Array(#","rec":"#.utf8)

    /// A parsed frame header.
    package struct Header {
        package var crc: UInt32
        package var length: Int
    }

    /// Parses the header at `offset` of `bytes` (which must hold at least ``headerSize`` bytes from there).
    package static func parseHeader(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Header? {
        guard offset + headerSize <= bytes.count else { return nil }
        func matches(_ literal: [UInt8], at start: Int) -> Bool {
            for index in 0..<literal.count where bytes[start + index] != literal[index] { return false }
            return true
        }
        guard matches(crcPrefix, at: offset), matches(lenPrefix, at: offset + 16), matches(recPrefix, at: offset + 34)
        else { return nil }
        var crc: UInt32 = 0
        for index in 0..<8 {
            let byte = bytes[offset + 8 + index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            crc = crc << 4 | UInt32(digit)
        }
        var length = 0
        var digits = 0
        for index in 0..<10 {
            let byte = bytes[offset + 24 + index]
            if byte == UInt8(ascii: " ") {
                if digits > 0 { return nil }
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0 else { return nil }
        return Header(crc: crc, length: length)
    }
}

/// Builds log lines into a byte buffer.
package struct LogEncoder {
    /// The encoded bytes.
    package var bytes: [UInt8] = []

    package init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A frame header with a zero checksum and a blank length, filled in by ``endFrame(_:)``.
    private static let headerTemplate: [UInt8] =
        LogFormat.crcPrefix + Array("00000000".utf8) + LogFormat.lenPrefix
        + Array(repeating: UInt8(ascii: " "), count: 10)
        + LogFormat.recPrefix

    /// Starts a frame; returns its position for ``endFrame(_:)``.
    package mutating func beginFrame() -> Int {
        let start = bytes.count
        bytes.append(contentsOf: Self.headerTemplate)
        return start
    }

    /// Finishes the frame begun at `start`: fills in its length and checksum and ends the line.
    package mutating func endFrame(_ start: Int) {
        let bodyStart = start + LogFormat.headerSize
        let length = bytes.count - bodyStart
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[bodyStart...])) }
        bytes.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<8 {
                buffer[start + 8 + index] = Self.hexDigits[Int((crc >> UInt32(28 - 4 * index)) & 0xF)]
            }
            var remaining = length
            var position = start + 33
            repeat {
                buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                position -= 1
            } while remaining > 0
        }
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends raw ASCII text.
    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends a decimal integer.
    package mutating func integer(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            // Int64.min has no positive counterpart: write its magnitude as UInt64.
            unsigned(value.magnitude)
        } else {
            unsigned(UInt64(value))
        }
    }

    private mutating func unsigned(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of stack for up to 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var position = buffer.count
            while remaining > 0 {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }

    /// Appends a JSON string.
    package mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        if value.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            var copy = value
            copy.withUTF8 { escaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends UTF-8 text with JSON's escapes. Runs of bytes that need none are found eight at a time and
    /// copied whole.
    private mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        guard let base = utf8.baseAddress else { return }
        let count = utf8.count
        var runStart = 0
        var index = 0
        while true {
            while index + 8 <= count,
                !Self.mayNeedEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            {
                index += 8
            }
            let stop = min(index + 8, count)
            while index < stop {
                let byte = base[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
                index += 1
            }
            if index == count { break }
            if index == stop { continue }
            let byte = base[index]
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
            index += 1
            runStart = index
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "\n"): raw("\\n")
            case UInt8(ascii: "\t"): raw("\\t")
            case UInt8(ascii: "\r"): raw("\\r")
            default:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
    }

    /// Whether any of the eight bytes of `word` may be a control character, a quote or a backslash (never false when one
    /// is; rarely true when none is).
    @inline(__always)
    private static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- 0x20 &* ones) & ~word & highs
        let quote = word ^ (UInt64(UInt8(ascii: "\"")) &* ones)
        let backslash = word ^ (UInt64(UInt8(ascii: "\\")) &* ones)
        let quotes = (quote &- ones) & ~quote & highs
        let backslashes = (backslash &- ones) & ~backslash & highs
        return control | quotes | backslashes != 0
    }

    /// Appends a double: its shortest round-tripping decimal form, always with a `.` or an exponent so it
    /// reads back as a double; infinities as `{"$double":"inf"}` or `"-inf"`.
    package mutating func double(_ value: Double) {
        if value.isInfinite {
            value > 0 ? raw(#"{"$double":"inf"}"#) : raw(#"{"$double":"-inf"}"#)
            return
        }
        bytes.append(contentsOf: value.description.utf8)
    }

    /// Appends a value.
    package mutating func value(_ value: Value) {
        switch value {
        case .int(let int): integer(int)
        case .double(let double): self.double(double)
        case .string(let string): self.string(string)
        case .bool(let bool): bool ? raw("true") : raw("false")
        case .date(let date):
            raw(#"{"$date":"#)
            double(date.timeIntervalSinceReferenceDate)
            bytes.append(UInt8(ascii: "}"))
        case .null: raw("null")
        }
    }

    /// Appends a record as a JSON object.
    package mutating func record(_ record: Record) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (column, value) in record.fields {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            string(column)
            bytes.append(UInt8(ascii: ":"))
            self.value(value)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}

/// A position-keeping reader of the JSON this module writes.
package struct JSONScanner {
    /// Why scanning stopped.
    package struct Failure: Error {
        package var position: Int
    }

    let bytes: UnsafeRawBufferPointer
    package var position: Int
    let end: Int

    package init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    package var isAtEnd: Bool { position >= end }

    private func fail() -> Failure { Failure(position: position) }

    package mutating func skipSpace() {
        while position < end,
            bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x09
                || bytes[position] == 0x0D
        {
            position += 1
        }
    }

    /// Consumes `literal` or fails.
    package mutating func expect(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= end else { throw fail() }
        let start = literal.utf8Start
        for index in 0..<count where bytes[position + index] != start[index] { throw fail() }
        position += count
    }

    /// Consumes `byte` if it is next.
    package mutating func consume(_ byte: UInt8) -> Bool {
        if position < end, bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    package var peek: UInt8? { position < end ? bytes[position] : nil }

    /// Reads a JSON string.
    package mutating func string() throws(Failure) -> String {
        guard consume(UInt8(ascii: "\"")) else { throw fail() }
        let start = position
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            position += 1
        }
        // Slow path: escapes.
        var utf8 = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while position < end {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < end else { throw fail() }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        try expect("\\u")
                        let low = try hex4()
                        guard low >= 0xDC00, low < 0xE000 else { throw fail() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail() }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default: throw fail()
                }
            default:
                utf8.append(byte)
            }
        }
        throw fail()
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard position + 4 <= end else { throw fail() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            position += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Reads a number: an integer when it has no fraction or exponent, otherwise a double.
    package mutating func number() throws(Failure) -> Value {
        let start = position
        let isDouble = scanNumber()
        guard position > start else { throw fail() }
        if !isDouble {
            var negative = false
            var index = start
            if bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            guard index < position else { throw fail() }
            var magnitude: UInt64 = 0
            while index < position {
                let digit = bytes[index]
                guard digit != UInt8(ascii: "-") else { throw fail() }
                let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw fail() }
                magnitude = sum
                index += 1
            }
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { throw fail() }
                return .int(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
            }
            guard magnitude <= UInt64(Int64.max) else { throw fail() }
            return .int(Int64(magnitude))
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let double = Double(text) else { throw fail() }
        return .double(double)
    }

    /// Moves past the characters of a number; returns whether it has a fraction or an exponent.
    private mutating func scanNumber() -> Bool {
        var isDouble = false
        while position < end {
            let byte = bytes[position]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") || byte == UInt8(ascii: "-") {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                || byte == UInt8(ascii: "+")
            {
                isDouble = true
                position += 1
            } else {
                break
            }
        }
        return isDouble
    }

    /// Reads a non-negative integer.
    package mutating func integer() throws(Failure) -> Int {
        guard case .int(let value) = try number(), value >= 0, let result = Int(exactly: value) else { throw fail() }
        return result
    }

    /// Reads a value in the form ``LogEncoder/value(_:)`` writes.
    package mutating func value() throws(Failure) -> Value {
        guard let byte = peek else { throw fail() }
        switch byte {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "{"):
            position += 1
            skipSpace()
            let tag = try string()
            skipSpace()
            guard consume(UInt8(ascii: ":")) else { throw fail() }
            skipSpace()
            let result: Value
            switch tag {
            case "$date":
                guard let seconds = try number().doubleValue else { throw fail() }
                result = .date(Date(timeIntervalSinceReferenceDate: seconds))
            case "$double":
                switch try string() {
                case "inf": result = .double(.infinity)
                case "-inf": result = .double(-.infinity)
                default: throw fail()
                }
            default: throw fail()
            }
            skipSpace()
            guard consume(UInt8(ascii: "}")) else { throw fail() }
            return result
        default:
            return try number()
        }
    }

    /// Reads an object of values into a record.
    package mutating func record() throws(Failure) -> Record {
        var fields: [String: Value] = [:]
        try object { (scanner: inout JSONScanner, key: String) throws(Failure) in
            let value = try scanner.value()
            if !value.isNull { fields[key] = value }
        }
        return Record(trusted: fields)
    }

    /// Reads an object, calling `body` at each value, which must consume it.
    package mutating func object(_ body: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        skipSpace()
        guard consume(UInt8(ascii: "{")) else { throw fail() }
        skipSpace()
        if consume(UInt8(ascii: "}")) { return }
        while true {
            skipSpace()
            let key = try string()
            skipSpace()
            guard consume(UInt8(ascii: ":")) else { throw fail() }
            skipSpace()
            try body(&self, key)
            skipSpace()
            if consume(UInt8(ascii: "}")) { return }
            guard consume(UInt8(ascii: ",")) else { throw fail() }
        }
    }
}

extension Value {
    /// The value as a double, for numbers.
    var doubleValue: Double? {
        switch self {
        case .int(let int): Double(int)
        case .double(let double): double
        default: nil
        }
    }
}

extension JSONScanner {
    /// Skips a value in the form ``LogEncoder/value(_:)`` writes, returning its type (`nil` for `null`).
    package mutating func skipValue() throws(Failure) -> ValueType? {
        guard let byte = peek else { throw Failure(position: position) }
        switch byte {
        case UInt8(ascii: "\""):
            position += 1
            while position < end {
                let next = bytes[position]
                if next == UInt8(ascii: "\"") {
                    position += 1
                    return .string
                }
                position += next == UInt8(ascii: "\\") ? 2 : 1
            }
            throw Failure(position: position)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return scanNumber() ? .double : .int
        default:
            return try value().type
        }
    }
}
