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
        var scheme = bytes[..<colon].map(Self.lowercased)
        guard scheme == Array("https".utf8) || scheme == Array("http".utf8) else {
            throw invalid("the scheme must be http or https")
        }
        let afterColon = colon + 1
        guard bytes.count >= afterColon + 2, bytes[afterColon] == UInt8(ascii: "/"),
            bytes[afterColon + 1] == UInt8(ascii: "/")
        else {
            throw invalid("the URL has no host (expected \(String(decoding: scheme, as: UTF8.self))://host/path)")
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
        var queryEnd = pathEnd
        if pathEnd < bytes.count, bytes[pathEnd] == UInt8(ascii: "?") {
            queryEnd = bytes[(pathEnd + 1)...].firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
            query = bytes[(pathEnd + 1)..<queryEnd]
        } else {
            query = []
        }

        // Drop leading zeros of the port, and the port itself when it is the scheme's default.
        while port.count > 1, port.first == UInt8(ascii: "0") { port = port.dropFirst() }
        let isDefaultPort =
            port.isEmpty || (scheme == Array("http".utf8) && port.elementsEqual("80".utf8))
            || (scheme == Array("https".utf8) && port.elementsEqual("443".utf8))
        scheme.append(contentsOf: "://".utf8)
        baseURI = scheme
        baseURI.append(contentsOf: bytes[hostStart..<hostEnd].lazy.map(Self.lowercased))
        if !isDefaultPort {
            baseURI.append(UInt8(ascii: ":"))
            baseURI.append(contentsOf: port)
        }
        if authorityEnd == pathEnd {
            baseURI.append(UInt8(ascii: "/"))
        } else {
            baseURI.append(contentsOf: bytes[authorityEnd..<pathEnd])
        }
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

/// The request parameters of RFC 5849 §3.4.1.3, each name and value already §3.6-encoded, held in one
/// byte buffer so that collecting and sorting them allocates almost nothing.
struct ParameterList {
    private(set) var storage: [UInt8] = []
    private(set) var entries: [(name: Range<Int>, value: Range<Int>)] = []
    private var scratch: [UInt8] = []

    init(capacity: Int) {
        storage.reserveCapacity(capacity)
        entries.reserveCapacity(12)
    }

    /// Adds a parameter given as plain (decoded) text.
    mutating func add(name: some Sequence<UInt8>, value: some Sequence<UInt8>) {
        let nameStart = storage.count
        PercentEncoding.append(name, to: &storage)
        let valueStart = storage.count
        PercentEncoding.append(value, to: &storage)
        entries.append((nameStart..<valueStart, valueStart..<storage.count))
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
            scratch.removeAll(keepingCapacity: true)
            try PercentEncoding.appendFormDecoded(pair[..<equals], to: &scratch)
            if scratch.elementsEqual("oauth_signature".utf8) { continue }
            let nameStart = storage.count
            PercentEncoding.append(scratch, to: &storage)
            let valueStart = storage.count
            if equals < pair.endIndex {
                scratch.removeAll(keepingCapacity: true)
                try PercentEncoding.appendFormDecoded(pair[(equals + 1)...], to: &scratch)
                PercentEncoding.append(scratch, to: &storage)
            }
            entries.append((nameStart..<valueStart, valueStart..<storage.count))
        }
    }

    /// Sorts by encoded name, then encoded value, in byte order (§3.4.1.3.2); repeated names stay.
    mutating func sort() {
        storage.withUnsafeBufferPointer { buffer in
            func less(_ a: Range<Int>, _ b: Range<Int>) -> Int32 {
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(buffer.baseAddress! + a.lowerBound, buffer.baseAddress! + b.lowerBound, common)
                return order != 0 ? order : Int32(a.count) - Int32(b.count)
            }
            entries.sort { lhs, rhs in
                let byName = less(lhs.name, rhs.name)
                return byName != 0 ? byName < 0 : less(lhs.value, rhs.value) < 0
            }
        }
    }

    /// Appends the normalised parameter string (§3.4.1.3.2), encoded once more for the base string.
    func appendNormalizedReencoded(to out: inout [UInt8]) {
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append(contentsOf: "%26".utf8) }
            PercentEncoding.appendReencoded(storage[entry.name], to: &out)
            out.append(contentsOf: "%3D".utf8)
            PercentEncoding.appendReencoded(storage[entry.value], to: &out)
        }
    }
}
