/// Percent-encoding as RFC 5849 §3.6 defines it for OAuth: the text is UTF-8 encoded, every byte outside
/// the unreserved set (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` with upper-case hexadecimal digits, and
/// nothing else is changed (a space is `%20`, never `+`).
///
/// ```swift
/// PercentEncoding.encode("Ladies + Gentlemen")   // "Ladies%20%2B%20Gentlemen"
/// ```
public enum PercentEncoding {
    /// Encodes `text` as RFC 5849 §3.6 requires.
    ///
    /// - Parameter text: Any string; it is encoded as UTF-8 first.
    /// - Returns: The encoded text, which contains only unreserved characters and `%XX` triplets.
    public static func encode(_ text: String) -> String {
        var out = ByteWriter(capacity: text.utf8.count * 3)
        out.appendPercentEncoded(text)
        return out.string
    }

    /// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte), as RFC 5849
    /// §3.4.1.3.1 asks for query strings and form bodies.
    ///
    /// - Parameter text: Encoded text such as `r%20b` or `2+q`.
    /// - Returns: The decoded bytes as a string; invalid UTF-8 is replaced with U+FFFD.
    /// - Throws: ``OAuthError/Code/invalidPercentEncoding`` when a `%` is not followed by two hex digits.
    public static func formDecode(_ text: String) throws(OAuthError) -> String {
        var out = ByteWriter(capacity: text.utf8.count)
        try appendFormDecoded(Array(text.utf8)[...], to: &out)
        return out.string
    }

    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble &+ UInt8(ascii: "0") : nibble &+ (UInt8(ascii: "A") &- 10)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Appends the form-decoding of `bytes` to `out`.
    static func appendFormDecoded(_ bytes: ArraySlice<UInt8>, to out: inout ByteWriter) throws(OAuthError) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                index += 1
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]),
                    let low = hexValue(bytes[index + 2])
                else {
                    throw OAuthError(
                        .invalidPercentEncoding, subject: String(decoding: bytes, as: UTF8.self),
                        reason: "'%' at offset \(index - bytes.startIndex) is not followed by two hexadecimal digits")
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
    }
}
