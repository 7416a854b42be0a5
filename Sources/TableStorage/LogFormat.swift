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

/// Builds log lines into a byte buffer it owns.
///
/// The buffer is raw memory that grows by doubling; every append reserves room once and writes into it, so a
/// row costs no per-call bookkeeping of `Array`.
package struct LogEncoder: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// The number of bytes encoded.
    package private(set) var count = 0

    package init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the encoded bytes.
    package var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Calls `body` with the encoded bytes.
    package func withBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets the encoded bytes, keeping the buffer.
    package mutating func removeAll() { count = 0 }

    /// Room for `extra` more bytes; returns where they go. The caller adds what it wrote to ``count``.
    @inline(__always)
    private mutating func reserve(_ extra: Int) -> UnsafeMutablePointer<UInt8> {
        if count + extra > capacity { grow(to: count + extra) }
        return base + count
    }

    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 { hexDigits.utf8Start[Int(value & 0xF)] }

    /// Appends one byte.
    @inline(__always)
    package mutating func append(_ byte: UInt8) {
        reserve(1).pointee = byte
        count += 1
    }

    /// Appends bytes.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count).initialize(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    /// Appends bytes.
    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends another encoder's bytes.
    package mutating func append(_ other: borrowing LogEncoder) {
        append(UnsafeRawBufferPointer(start: other.base, count: other.count))
    }

    /// Starts a frame: a header with a zero checksum and a blank length, filled in by ``endFrame(_:)``.
    /// Returns the frame's position.
    package mutating func beginFrame() -> Int {
        let start = count
        raw(#"{"crc":"00000000","len":          ,"rec":"#)
        return start
    }

    /// Finishes the frame begun at `start`: fills in its length and checksum and ends the line.
    package mutating func endFrame(_ start: Int) {
        let bodyStart = start + LogFormat.headerSize
        let length = count - bodyStart
        let crc = CRC32.checksum(UnsafeRawBufferPointer(start: base + bodyStart, count: length))
        let header = base + start
        for index in 0..<8 {
            header[8 + index] = Self.hexDigit(UInt8(truncatingIfNeeded: crc >> UInt32(28 - 4 * index)))
        }
        var remaining = length
        var position = 33
        repeat {
            header[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            position -= 1
        } while remaining > 0
        let end = reserve(2)
        end[0] = UInt8(ascii: "}")
        end[1] = UInt8(ascii: "\n")
        count += 2
    }

    /// Appends raw ASCII text.
    @inline(__always)
    package mutating func raw(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        reserve(length).initialize(from: text.utf8Start, count: length)
        count += length
    }

    /// Appends a decimal integer.
    package mutating func integer(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            // Int64.min has no positive counterpart: write its magnitude as UInt64.
            unsigned(value.magnitude)
        } else {
            unsigned(UInt64(value))
        }
    }

    private mutating func unsigned(_ value: UInt64) {
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20, value >= scale {
            digits += 1
            scale &*= 10
        }
        let target = reserve(digits)
        var remaining = value
        for position in stride(from: digits - 1, through: 0, by: -1) {
            target[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        count += digits
    }

    /// Appends a JSON string.
    package mutating func string(_ value: String) {
        if value.utf8.withContiguousStorageIfAvailable({ quoted($0) }) == nil {
            var copy = value
            copy.withUTF8 { quoted($0) }
        }
    }

    /// Appends UTF-8 text in quotes with JSON's escapes. Runs of bytes that need none are found eight at a
    /// time and copied whole.
    private mutating func quoted(_ utf8: UnsafeBufferPointer<UInt8>) {
        let length = utf8.count
        // At most six bytes (`\u00XX`) for each byte, and the quotes.
        let target = reserve(length * 6 + 2)
        target[0] = UInt8(ascii: "\"")
        var written = 1
        if let source = utf8.baseAddress {
            var runStart = 0
            var index = 0
            while true {
                while index + 8 <= length,
                    !Self.mayNeedEscape(UnsafeRawPointer(source + index).loadUnaligned(as: UInt64.self))
                {
                    index += 8
                }
                let stop = min(index + 8, length)
                while index < stop {
                    let byte = source[index]
                    if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
                    index += 1
                }
                if index == length { break }
                if index == stop { continue }
                (target + written).initialize(from: source + runStart, count: index - runStart)
                written += index - runStart
                let byte = source[index]
                index += 1
                runStart = index
                target[written] = UInt8(ascii: "\\")
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    target[written + 1] = byte
                    written += 2
                case UInt8(ascii: "\n"):
                    target[written + 1] = UInt8(ascii: "n")
                    written += 2
                case UInt8(ascii: "\t"):
                    target[written + 1] = UInt8(ascii: "t")
                    written += 2
                case UInt8(ascii: "\r"):
                    target[written + 1] = UInt8(ascii: "r")
                    written += 2
                default:
                    target[written + 1] = UInt8(ascii: "u")
                    target[written + 2] = UInt8(ascii: "0")
                    target[written + 3] = UInt8(ascii: "0")
                    target[written + 4] = Self.hexDigit(byte >> 4)
                    target[written + 5] = Self.hexDigit(byte)
                    written += 6
                }
            }
            (target + written).initialize(from: source + runStart, count: length - runStart)
            written += length - runStart
        }
        target[written] = UInt8(ascii: "\"")
        count += written + 1
    }

    /// Whether any of the eight bytes of `word` may be a control character, a quote or a backslash (never false
    /// when one is; rarely true when none is).
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
        var text = value.description
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
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
            append(UInt8(ascii: "}"))
        case .null: raw("null")
        }
    }

    /// Appends a record as a JSON object.
    package mutating func record(_ record: TableRow) {
        append(UInt8(ascii: "{"))
        var first = true
        for (column, value) in record.fields {
            if !first { append(UInt8(ascii: ",")) }
            first = false
            string(column)
            append(UInt8(ascii: ":"))
            self.value(value)
        }
        append(UInt8(ascii: "}"))
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
        // Fast path: no backslash before the first quote (two `memchr`s).
        if let base = bytes.baseAddress, position < end,
            let quote = memchr(base + position, Int32(UInt8(ascii: "\"")), end - position)
        {
            let closing = base.distance(to: UnsafeRawPointer(quote))
            if memchr(base + start, Int32(UInt8(ascii: "\\")), closing - start) == nil {
                position = closing + 1
                return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<closing]), as: UTF8.self)
            }
        }
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
    package mutating func record() throws(Failure) -> TableRow {
        var fields: [String: Value] = [:]
        try object { (scanner: inout JSONScanner, key: String) throws(Failure) in
            let value = try scanner.value()
            if !value.isNull { fields[key] = value }
        }
        return TableRow(trusted: fields)
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
            // The closing quote is the first quote not escaped, that is not after an odd run of backslashes:
            // found with `memchr` rather than a loop over every byte.
            guard let base = bytes.baseAddress else { throw Failure(position: position) }
            let first = position
            var from = position
            while from < end, let quote = memchr(base + from, Int32(UInt8(ascii: "\"")), end - from) {
                let closing = base.distance(to: UnsafeRawPointer(quote))
                var before = closing
                while before > first, bytes[before - 1] == UInt8(ascii: "\\") { before -= 1 }
                if (closing - before) % 2 == 0 {
                    position = closing + 1
                    return .string
                }
                from = closing + 1
            }
            position = end
            throw Failure(position: position)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return scanNumber() ? .double : .int
        default:
            return try value().type
        }
    }
}

/// A filter tested on a record's JSON bytes (the form ``LogEncoder/record(_:)`` writes), decoding only the
/// columns it names and skipping the rest: a scan then makes no `TableRow` for a row that does not match.
package struct RawFilter {
    private let predicate: RowPredicate
    private let names: [String]
    private let keys: [[UInt8]]

    package init(_ predicate: RowPredicate) {
        self.predicate = predicate
        var names: [String] = []
        for column in predicate.columns where !names.contains(column) { names.append(column) }
        self.names = names
        self.keys = names.map { Array($0.utf8) }
    }

    /// Whether the record in `bytes` satisfies the predicate, as ``RowPredicate/matches(_:)-(TableRow)`` would on
    /// the decoded record.
    package func matches(_ bytes: UnsafeRawBufferPointer) throws(JSONScanner.Failure) -> Bool {
        let result = withUnsafeTemporaryAllocation(of: Value.self, capacity: max(1, names.count)) {
            values -> Result<Bool, JSONScanner.Failure> in
            values.initialize(repeating: .null)
            defer { values.deinitialize() }
            var scanner = JSONScanner(bytes)
            do throws(JSONScanner.Failure) {
                try scanner.fields(keys: keys, names: names, into: values)
            } catch {
                return .failure(error)
            }
            return .success(
                predicate.matches { column in
                    names.firstIndex(of: column).map { values[$0] } ?? .null
                })
        }
        return try result.get()
    }
}

extension JSONScanner {
    /// Reads an object, decoding the values of the keys in `keys` (the UTF-8 of `names`) into `values` at the
    /// same position and skipping every other value. A key given more than once keeps its last value, as in
    /// ``record()``.
    mutating func fields(
        keys: [[UInt8]], names: [String], into values: UnsafeMutableBufferPointer<Value>
    ) throws(Failure) {
        skipSpace()
        guard consume(UInt8(ascii: "{")) else { throw Failure(position: position) }
        skipSpace()
        if consume(UInt8(ascii: "}")) { return }
        while true {
            skipSpace()
            let slot = try keySlot(keys: keys, names: names)
            skipSpace()
            guard consume(UInt8(ascii: ":")) else { throw Failure(position: position) }
            skipSpace()
            if slot >= 0 {
                values[slot] = try value()
            } else {
                try skipField()
            }
            skipSpace()
            if consume(UInt8(ascii: "}")) { return }
            guard consume(UInt8(ascii: ",")) else { throw Failure(position: position) }
        }
    }

    /// Skips a value without telling its type: like ``skipValue()``, but a tagged value (`{"$date":…}`) is
    /// skipped to its closing brace rather than decoded.
    private mutating func skipField() throws(Failure) {
        guard peek == UInt8(ascii: "{") else {
            _ = try skipValue()
            return
        }
        position += 1
        while position < end {
            skipSpace()
            guard let byte = peek else { break }
            if byte == UInt8(ascii: "}") {
                position += 1
                return
            }
            if byte == UInt8(ascii: "\"") {
                _ = try skipValue()
            } else {
                position += 1
            }
        }
        throw Failure(position: position)
    }

    /// Consumes an object's key; returns its position in `keys`, or -1.
    private mutating func keySlot(keys: [[UInt8]], names: [String]) throws(Failure) -> Int {
        let quote = position
        guard consume(UInt8(ascii: "\"")) else { throw Failure(position: position) }
        let start = position
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                // An escaped key (rare): decode it and compare it as a string.
                position = quote
                let key = try string()
                return names.firstIndex(of: key) ?? -1
            }
            position += 1
        }
        guard position < end else { throw Failure(position: position) }
        let key = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        position += 1
        for (slot, candidate) in keys.enumerated() where candidate.count == key.count {
            if candidate.withUnsafeBytes({ $0.elementsEqual(key) }) { return slot }
        }
        return -1
    }
}
