import Foundation

/// Why a body could not be read as JSON of the expected shape; internal to the decoders.
struct JSONScanError: Error {
    var offset: Int
    var reason: String
    /// The text of a tweet id that is not a valid one, when that is the reason.
    var invalidID: String?
}

/// A key of a JSON object, as raw UTF-8 bytes inside the body (escapes are not decoded).
struct JSONKey {
    var start: UnsafePointer<UInt8>
    var count: Int

    /// Whether the key's bytes equal `name`'s.
    @inline(__always)
    func equals(_ name: StaticString) -> Bool {
        count == name.utf8CodeUnitCount && memcmp(start, name.utf8Start, count) == 0
    }
}

/// A forward-only reader over the UTF-8 bytes of a JSON document that decodes only what it is asked
/// for and skips everything else without building it.
///
/// The search decoders read a handful of fields out of pages that are mostly entities, media and
/// user profiles; skipping those byte by byte is many times faster than materialising them through
/// `JSONDecoder` or `JSONSerialization`. Numbers that are ids are read as `UInt64` digit by digit,
/// never through `Double`.
struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var index = 0

    /// A scanner over `buffer`, or `nil` when it is empty.
    init?(_ buffer: UnsafeRawBufferPointer) {
        guard let address = buffer.baseAddress, buffer.count > 0 else { return nil }
        base = address.assumingMemoryBound(to: UInt8.self)
        end = buffer.count
    }

    func fail(_ reason: String) -> JSONScanError {
        JSONScanError(offset: index, reason: reason)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            switch base[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next non-blank byte, not consumed.
    @inline(__always)
    mutating func peek() throws(JSONScanError) -> UInt8 {
        skipWhitespace()
        guard index < end else { throw fail("unexpected end of body") }
        return base[index]
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(JSONScanError) {
        guard try peek() == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    /// The bytes from `start` up to the current position, copied.
    func bytes(from start: Int) -> Data {
        Data(bytes: base + start, count: index - start)
    }

    /// Whether the document has nothing left but blanks.
    mutating func isAtEnd() -> Bool {
        skipWhitespace()
        return index >= end
    }

    // MARK: Objects and arrays

    /// Consumes `{`; iterate with ``nextKey(_:)``.
    mutating func beginObject() throws(JSONScanError) -> Bool {
        try expect(UInt8(ascii: "{"))
        return true
    }

    /// The next key of the object being read, with its `:` consumed, or `nil` after the closing `}`.
    ///
    /// - Parameter first: `true` before the first key; the scanner clears it.
    mutating func nextKey(_ first: inout Bool) throws(JSONScanError) -> JSONKey? {
        var byte = try peek()
        if byte == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if first {
            first = false
        } else {
            guard byte == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
            index += 1
            byte = try peek()
        }
        guard byte == UInt8(ascii: "\"") else { throw fail("expected a key") }
        index += 1
        let start = index
        try skipStringBody()
        let key = JSONKey(start: base + start, count: index - 1 - start)
        try expect(UInt8(ascii: ":"))
        return key
    }

    /// Consumes `[`; iterate with ``nextElement(_:)``.
    mutating func beginArray() throws(JSONScanError) {
        try expect(UInt8(ascii: "["))
    }

    /// Whether another element follows (its separator consumed), or `false` after the closing `]`.
    mutating func nextElement(_ first: inout Bool) throws(JSONScanError) -> Bool {
        let byte = try peek()
        if byte == UInt8(ascii: "]") {
            index += 1
            return false
        }
        if first {
            first = false
            return true
        }
        guard byte == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
        index += 1
        return true
    }

    /// Consumes `null` and returns `true` when the next value is null; otherwise consumes nothing.
    mutating func consumeNull() throws(JSONScanError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        guard end - index >= 4, base[index + 1] == UInt8(ascii: "u"), base[index + 2] == UInt8(ascii: "l"),
            base[index + 3] == UInt8(ascii: "l")
        else { throw fail("bad literal") }
        index += 4
        return true
    }

    // MARK: Skipping

    /// Skips one value of any kind.
    mutating func skipValue() throws(JSONScanError) {
        let byte = try peek()
        switch byte {
        case UInt8(ascii: "\""):
            index += 1
            try skipStringBody()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipContainer()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "-"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = index
            while index < end {
                switch base[index] {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."),
                    UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "E"):
                    index += 1
                default:
                    guard index > start else { throw fail("bad value") }
                    return
                }
            }
            throw fail("unexpected end of body")
        default:
            throw fail("unexpected character")
        }
    }

    /// Skips a whole object or array, counting brackets outside strings.
    ///
    /// Eight bytes at a time: most of a container is text that is neither a quote nor a bracket, and a word
    /// with none of them is passed over in a few instructions (``JSONScanner/zeroBytes(_:)``).
    private mutating func skipContainer() throws(JSONScanError) {
        var depth = 0
        while index < end {
            let skipped = skippedWord { word in
                // `[`/`{` and `]`/`}` differ only in bit 5: fold them, then look for `{`, `}` and `"`.
                let folded = word | JSONScanner.repeated(0x20)
                return JSONScanner.zeroBytes(folded ^ JSONScanner.repeated(0x7B))
                    | JSONScanner.zeroBytes(folded ^ JSONScanner.repeated(0x7D)) | JSONScanner.quotes(word)
            }
            if skipped { continue }
            let byte = base[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                try skipStringBody()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return }
            default:
                break
            }
        }
        throw fail("unexpected end of body")
    }

    /// Skips to just after the closing quote of a string whose opening quote is consumed, eight bytes at a time
    /// up to the next quote or backslash.
    @inline(__always)
    private mutating func skipStringBody() throws(JSONScanError) {
        while index < end {
            if skippedWord({ JSONScanner.quotes($0) | JSONScanner.backslashes($0) }) { continue }
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            index += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        throw fail("unterminated string")
    }

    /// One step of a scan eight bytes at a time. With at least eight bytes left, `marks` is given the next word:
    /// when it marks no byte (see ``zeroBytes(_:)``) the word is passed over and the result is `true` (scan on);
    /// otherwise `index` moves to the first marked byte and the result is `false`. With fewer left: `false`, and
    /// `index` stays, for the caller to read byte by byte.
    @inline(__always)
    private mutating func skippedWord(_ marks: (UInt64) -> UInt64) -> Bool {
        guard end - index >= 8 else { return false }
        let found = marks(JSONScanner.word(at: base + index))
        guard found != 0 else {
            index += 8
            return true
        }
        index += found.trailingZeroBitCount >> 3
        return false
    }

    /// The marks of the `"` bytes of a word (``zeroBytes(_:)``).
    @inline(__always)
    static func quotes(_ word: UInt64) -> UInt64 { zeroBytes(word ^ repeated(0x22)) }

    /// The marks of the `\` bytes of a word (``zeroBytes(_:)``).
    @inline(__always)
    static func backslashes(_ word: UInt64) -> UInt64 { zeroBytes(word ^ repeated(0x5C)) }

    /// The eight bytes at `address`, the first in the lowest bits whatever the machine's byte order.
    @inline(__always)
    static func word(at address: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(address).loadUnaligned(as: UInt64.self))
    }

    /// `byte` in each of the eight bytes of a word.
    @inline(__always)
    static func repeated(_ byte: UInt8) -> UInt64 { 0x0101_0101_0101_0101 &* UInt64(byte) }

    /// A word whose lowest set bit is the high bit of the first (lowest-addressed)
    /// zero byte of `word`, or 0 when no byte of it is zero. Bits above the first zero byte may be set falsely
    /// (a borrow), so only the lowest set bit is meaningful.
    @inline(__always)
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- repeated(0x01)) & ~word & repeated(0x80)
    }

    // MARK: Values

    /// Reads a string value, decoding escapes (surrogate pairs included); bytes that are not UTF-8 throw, so a
    /// page damaged in transit is refused rather than stored with replacement characters.
    mutating func readString() throws(JSONScanError) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < end {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                guard
                    let string = String(
                        validating: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
                else { throw JSONScanError(offset: start, reason: "invalid UTF-8 in a string") }
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            index += 1
        }
        throw fail("unterminated string")
    }

    private mutating func readEscapedString(from start: Int) throws(JSONScanError) -> String {
        let bytes = try readEscapedBytes(from: start)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw JSONScanError(offset: start, reason: "invalid UTF-8 in a string")
        }
        return string
    }

    /// Reads a string value as ``readString()`` does and undoes the API's HTML escapes in it, exactly once
    /// (``JSONScanner/unescapeHTML(_:)``): the text of a tweet as people read it.
    ///
    /// A text with neither a JSON escape nor an `&` (most of them) is validated straight from the body, found
    /// eight bytes at a time; the others are decoded into one buffer, unescaped in place and validated once.
    mutating func readText() throws(JSONScanError) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        var ampersand = false
        while index < end {
            let skipped = skippedWord {
                JSONScanner.quotes($0) | JSONScanner.backslashes($0)
                    | JSONScanner.zeroBytes($0 ^ JSONScanner.repeated(0x26))
            }
            if skipped { continue }
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(start: base + start, count: index - start)
                index += 1
                let text: String?
                if ampersand {
                    var bytes = Array(raw)
                    JSONScanner.unescapeHTML(&bytes)
                    text = String(validating: bytes, as: UTF8.self)
                } else {
                    text = String(validating: raw, as: UTF8.self)
                }
                guard let text else { throw JSONScanError(offset: start, reason: "invalid UTF-8 in a string") }
                return text
            }
            if byte == UInt8(ascii: "\\") {
                var bytes = try readEscapedBytes(from: start)
                if bytes.contains(UInt8(ascii: "&")) { JSONScanner.unescapeHTML(&bytes) }
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw JSONScanError(offset: start, reason: "invalid UTF-8 in a string")
                }
                return text
            }
            if byte == UInt8(ascii: "&") { ampersand = true }
            index += 1
        }
        throw fail("unterminated string")
    }

    /// Undoes the API's HTML escapes in UTF-8 `bytes`, in place, exactly once and in one pass: `&amp;` → `&`,
    /// `&lt;` → `<`, `&gt;` → `>`; nothing else (`&amp;lt;` becomes `&lt;`, `&quot;` stays as it is).
    static func unescapeHTML(_ bytes: inout [UInt8]) {
        let kept = bytes.withUnsafeMutableBufferPointer { buffer in
            let count = buffer.count
            var read = 0
            var write = 0
            while read < count {
                let byte = buffer[read]
                if byte == UInt8(ascii: "&"), count - read >= 4, buffer[read + 3] == UInt8(ascii: ";") {
                    let first = buffer[read + 1]
                    if buffer[read + 2] == UInt8(ascii: "t"), first == UInt8(ascii: "l") || first == UInt8(ascii: "g") {
                        buffer[write] = first == UInt8(ascii: "l") ? UInt8(ascii: "<") : UInt8(ascii: ">")
                        write += 1
                        read += 4
                        continue
                    }
                }
                if byte == UInt8(ascii: "&"), count - read >= 5, buffer[read + 1] == UInt8(ascii: "a"),
                    buffer[read + 2] == UInt8(ascii: "m"), buffer[read + 3] == UInt8(ascii: "p"),
                    buffer[read + 4] == UInt8(ascii: ";")
                {
                    buffer[write] = UInt8(ascii: "&")
                    write += 1
                    read += 5
                    continue
                }
                buffer[write] = byte
                write += 1
                read += 1
            }
            return write
        }
        bytes.removeLast(bytes.count - kept)
    }

    /// The bytes of a string value whose escapes start at `index`, decoded, up to its closing quote (consumed).
    private mutating func readEscapedBytes(from start: Int) throws(JSONScanError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(index - start + 64)
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + start, count: index - start))
        while index < end {
            let byte = base[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return bytes
            case UInt8(ascii: "\\"):
                guard index < end else { throw fail("unterminated string") }
                let escape = base[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escape)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by `\uDC00`–`\uDFFF`; otherwise it is replaced.
                        if end - index >= 6, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") {
                            let saved = index
                            index += 2
                            let low = try readHex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = saved
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        scalar = 0xFFFD
                    }
                    appendUTF8(scalar, to: &bytes)
                default:
                    throw fail("bad escape")
                }
            default:
                bytes.append(byte)
            }
        }
        throw fail("unterminated string")
    }

    private mutating func readHex4() throws(JSONScanError) -> UInt32 {
        guard end - index >= 4 else { throw fail("bad unicode escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = base[index]
            index += 1
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("bad unicode escape")
            }
            value = value << 4 | digit
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            bytes.append(UInt8(scalar))
        case 0x80..<0x800:
            bytes.append(UInt8(0xC0 | scalar >> 6))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            bytes.append(UInt8(0xE0 | scalar >> 12))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        default:
            bytes.append(UInt8(0xF0 | scalar >> 18))
            bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// The raw bytes of a string value without escapes (ids, dates), or `nil` for `null`.
    mutating func readRawString() throws(JSONScanError) -> UnsafeBufferPointer<UInt8>? {
        if try consumeNull() { return nil }
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < end {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeBufferPointer(start: base + start, count: index - 1 - start)
            }
            if byte == UInt8(ascii: "\\") { throw fail("unexpected escape") }
            index += 1
        }
        throw fail("unterminated string")
    }

    /// Reads an id written as a decimal string (`"1149825924029980674"`), or `nil` for `null`.
    mutating func readIDString() throws(JSONScanError) -> UInt64? {
        guard let raw = try readRawString() else { return nil }
        guard let value = JSONScanner.parseUInt64(raw) else { throw fail("bad id") }
        return value
    }

    /// Reads a tweet id written as a decimal string, or `nil` for `null`; digits outside `1...2^63−1` (zero, too
    /// large, or more than a `UInt64` holds) throw naming the id, and text that is not digits throws as malformed.
    mutating func readTweetIDString() throws(JSONScanError) -> UInt64? {
        guard let raw = try readRawString() else { return nil }
        return try tweetID(raw)
    }

    /// Reads a tweet id written as a number (v1.1 `id`), or `nil` for `null`, with the checks of
    /// ``readTweetIDString()``.
    mutating func readTweetIDNumber() throws(JSONScanError) -> UInt64? {
        if try consumeNull() { return nil }
        let start = index
        while index < end, base[index] >= UInt8(ascii: "0"), base[index] <= UInt8(ascii: "9") { index += 1 }
        return try tweetID(UnsafeBufferPointer(start: base + start, count: index - start))
    }

    private func tweetID(_ raw: UnsafeBufferPointer<UInt8>) throws(JSONScanError) -> UInt64 {
        if let value = JSONScanner.parseUInt64(raw), value >= 1, value <= Tweet.maxID { return value }
        // Text that is not digits at all is a malformed body, not an id out of range.
        guard !raw.isEmpty, raw.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw fail("bad id")
        }
        let text = String(decoding: raw.prefix(40), as: UTF8.self)
        throw JSONScanError(offset: index, reason: "is outside 1...\(Tweet.maxID)", invalidID: text)
    }

    /// Reads a non-negative integer number (`100`), exactly, or `nil` for `null`.
    mutating func readUInt64Number() throws(JSONScanError) -> UInt64? {
        if try consumeNull() { return nil }
        let start = index
        while index < end, base[index] >= UInt8(ascii: "0"), base[index] <= UInt8(ascii: "9") { index += 1 }
        guard let value = JSONScanner.parseUInt64(UnsafeBufferPointer(start: base + start, count: index - start))
        else { throw fail("bad integer") }
        return value
    }

    /// Reads `true` or `false`.
    mutating func readBool() throws(JSONScanError) -> Bool {
        let byte = try peek()
        if byte == UInt8(ascii: "t"), end - index >= 4 {
            index += 4
            return true
        }
        if byte == UInt8(ascii: "f"), end - index >= 5 {
            index += 5
            return false
        }
        throw fail("expected a Boolean")
    }

    /// Parses ASCII decimal digits into a `UInt64`; `nil` when empty, not digits, or too large.
    static func parseUInt64(_ digits: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Parses a decimal id from a `String`, exactly; `nil` when it is not one.
    static func parseUInt64(_ string: String) -> UInt64? {
        var string = string
        return string.withUTF8 { parseUInt64($0) }
    }
}
