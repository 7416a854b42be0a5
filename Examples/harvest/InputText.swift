import Foundation

/// How the command line shows and checks what a user typed.
enum InputText {
    /// `text` with every control character escaped (`\n`, `\r`, `\t`, others as `\u{1B}`), so that echoing bad
    /// input keeps an error message on one line and cannot move the terminal's cursor.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar): result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether `scalar` is a C0 or C1 control character, or DEL.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `--api-base`: an `http` or `https` URL (the scheme in any case) with a host, and nothing a request cannot
    /// carry as it is: no spaces, control or non-ASCII characters, no query, fragment or user name. The scheme
    /// and host come back lower case.
    static func apiBase(_ text: String) throws -> URL {
        let refusal = UsageError(
            "bad --api-base \"\(text)\": use an http or https URL with a host and no spaces, query or user name, "
                + "such as https://api.twitter.com or http://127.0.0.1:8080")
        // Only RFC 3986's unreserved, reserved and percent characters; Foundation would quietly encode the rest.
        let allowed = CharacterSet(
            charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%")
        guard !text.isEmpty, text.unicodeScalars.allSatisfy(allowed.contains),
            var components = URLComponents(string: text),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.query == nil, components.fragment == nil,
            components.port.map({ (1...65_535).contains($0) }) ?? true
        else { throw refusal }
        components.scheme = scheme
        components.host = host.lowercased()
        guard let url = components.url else { throw refusal }
        return url
    }
}
