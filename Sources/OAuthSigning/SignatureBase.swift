import Foundation

/// The parts of a request URL that RFC 5849 §3.4.1.2 uses: the base string URI, and the query.
struct RequestTarget {
    /// `scheme://host[:port]/path`, lower-case scheme and host, default port dropped; not yet encoded.
    var baseURI: [UInt8]
    /// The query string (without `?` and fragment), still form-encoded.
    var query: ArraySlice<UInt8>

    /// Parses an absolute http or https URL.
    init(_ text: String) throws(OAuthError) {
        let bytes = Array(text.utf8)
        func invalid(_ reason: String) -> OAuthError { OAuthError(.invalidURL, subject: text, reason: reason) }

        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw invalid("the URL has no scheme (expected https://host/path)")
        }
        let scheme = bytes[..<colon]
        let isHTTPS = Self.equalsLowercased(scheme, "https")
        guard isHTTPS || Self.equalsLowercased(scheme, "http") else {
            throw invalid("the scheme must be http or https")
        }
        let afterColon = colon + 1
        guard bytes.count >= afterColon + 2, bytes[afterColon] == UInt8(ascii: "/"),
            bytes[afterColon + 1] == UInt8(ascii: "/")
        else {
            throw invalid("the URL has no host (expected \(isHTTPS ? "https" : "http")://host/path)")
        }
        let authorityStart = afterColon + 2
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count, bytes[authorityEnd] != UInt8(ascii: "/"),
            bytes[authorityEnd] != UInt8(ascii: "?"), bytes[authorityEnd] != UInt8(ascii: "#")
        {
            authorityEnd += 1
        }
        var hostStart = authorityStart
        if let at = bytes[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) { hostStart = at + 1 }
        var hostEnd = authorityEnd
        var port: ArraySlice<UInt8> = []
        let hostPort = bytes[hostStart..<authorityEnd]
        let portColon: Int?
        if hostPort.first == UInt8(ascii: "[") {
            guard let bracket = hostPort.firstIndex(of: UInt8(ascii: "]")) else { throw invalid("unclosed IPv6 host") }
            portColon = bracket + 1 < authorityEnd && bytes[bracket + 1] == UInt8(ascii: ":") ? bracket + 1 : nil
        } else {
            portColon = hostPort.lastIndex(of: UInt8(ascii: ":"))
        }
        if let portColon {
            hostEnd = portColon
            port = bytes[(portColon + 1)..<authorityEnd]
            guard port.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw invalid("the port is not a number")
            }
        }
        guard hostEnd > hostStart else { throw invalid("the URL has no host") }

        var pathEnd = authorityEnd
        while pathEnd < bytes.count, bytes[pathEnd] != UInt8(ascii: "?"), bytes[pathEnd] != UInt8(ascii: "#") {
            pathEnd += 1
        }
        if pathEnd < bytes.count, bytes[pathEnd] == UInt8(ascii: "?") {
            let queryEnd = bytes[(pathEnd + 1)...].firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
            query = bytes[(pathEnd + 1)..<queryEnd]
        } else {
            query = []
        }

        // Leading zeros of the port go; so does the port itself when it is the scheme's default.
        while port.count > 1, port.first == UInt8(ascii: "0") { port = port.dropFirst() }
        let isDefaultPort = port.isEmpty || port.elementsEqual((isHTTPS ? "443" : "80").utf8)
        var uri: [UInt8] = []
        uri.reserveCapacity(pathEnd - colon + 8)
        uri.append(contentsOf: (isHTTPS ? "https://" : "http://").utf8)
        for byte in bytes[hostStart..<hostEnd] { uri.append(Self.lowercased(byte)) }
        if !isDefaultPort {
            uri.append(UInt8(ascii: ":"))
            uri.append(contentsOf: port)
        }
        if authorityEnd == pathEnd {
            uri.append(UInt8(ascii: "/"))
        } else {
            uri.append(contentsOf: bytes[authorityEnd..<pathEnd])
        }
        baseURI = uri
    }

    private static func equalsLowercased(_ bytes: ArraySlice<UInt8>, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        var index = 0
        for byte in bytes {
            if lowercased(byte) != lower.utf8Start[index] { return false }
            index += 1
        }
        return true
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

/// The request parameters of RFC 5849 §3.4.1.3, each name and value already §3.6-encoded, held in one
/// byte buffer so that collecting and sorting them allocates almost nothing.
struct ParameterList: ~Copyable {
    private(set) var storage: ByteWriter
    /// One parameter: where its encoded name and value are in ``storage``.
    struct Entry {
        var name: Range<Int>
        var value: Range<Int>
    }

    private(set) var entries: [Entry] = []
    private var scratch: ByteWriter

    init(capacity: Int) {
        storage = ByteWriter(capacity: capacity)
        scratch = ByteWriter(capacity: 64)
        entries.reserveCapacity(16)
    }

    /// Adds a parameter given as plain (decoded) text.
    mutating func add(name: StaticString, value: String) {
        let nameStart = storage.count
        storage.append(name)  // the oauth_ names are unreserved already
        let valueStart = storage.count
        storage.appendPercentEncoded(value)
        entries.append(Entry(name: nameStart..<valueStart, value: valueStart..<storage.count))
    }

    /// Adds a parameter given as plain (decoded) text.
    mutating func add(name: String, value: String) {
        let nameStart = storage.count
        storage.appendPercentEncoded(name)
        let valueStart = storage.count
        storage.appendPercentEncoded(value)
        entries.append(Entry(name: nameStart..<valueStart, value: valueStart..<storage.count))
    }

    /// Adds the parameters of a form-encoded string (a query or a body): `&`-separated `name=value`
    /// pairs, decoded (`+` is a space) and re-encoded. A pair without `=` has an empty value. An
    /// `oauth_signature` parameter is left out (§3.4.1.3.1).
    mutating func addFormEncoded(_ text: ArraySlice<UInt8>) throws(OAuthError) {
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: UInt8(ascii: "&")) ?? text.endIndex
            let pair = text[start..<end]
            start = end + 1
            if pair.isEmpty { continue }
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            scratch.removeAll()
            try PercentEncoding.appendFormDecoded(pair[..<equals], to: &scratch)
            if scratch.bytes.elementsEqual("oauth_signature".utf8) { continue }
            let nameStart = storage.count
            storage.appendPercentEncoded(scratch.bytes)
            let valueStart = storage.count
            if equals < pair.endIndex {
                scratch.removeAll()
                try PercentEncoding.appendFormDecoded(pair[(equals + 1)...], to: &scratch)
                storage.appendPercentEncoded(scratch.bytes)
            }
            entries.append(Entry(name: nameStart..<valueStart, value: valueStart..<storage.count))
        }
    }

    /// Sorts by encoded name, then encoded value, in byte order (§3.4.1.3.2); repeated names stay.
    mutating func sort() {
        let base = storage.base
        func compare(_ a: Range<Int>, _ b: Range<Int>) -> Int32 {
            let common = Swift.min(a.count, b.count)
            let order = common == 0 ? 0 : memcmp(base + a.lowerBound, base + b.lowerBound, common)
            return order != 0 ? order : Int32(a.count) - Int32(b.count)
        }
        entries.sort { lhs, rhs in
            let byName = compare(lhs.name, rhs.name)
            return byName != 0 ? byName < 0 : compare(lhs.value, rhs.value) < 0
        }
    }

    /// Appends the normalised parameter string (§3.4.1.3.2), encoded once more for the base string.
    func appendNormalizedReencoded(to out: inout ByteWriter) {
        let bytes = storage.bytes
        out.reserve(bytes.count * 3 + entries.count * 6)
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append("%26") }
            out.appendReencoded(UnsafeBufferPointer(rebasing: bytes[entry.name]))
            out.append("%3D")
            out.appendReencoded(UnsafeBufferPointer(rebasing: bytes[entry.value]))
        }
    }
}
