import Foundation

/// A JSON value the demo API serialises by hand, so that key order, 64-bit integers and escaping are
/// exactly those of Twitter's wire forms (Foundation's serialiser orders keys its own way and escapes
/// differently).
enum DemoJSON: Sendable {
    case object([(String, DemoJSON)])
    case array([DemoJSON])
    case string(String)
    case unsigned(UInt64)
    case signed(Int64)
    case number(Double)
    case bool(Bool)
    case null

    /// The escaping style of one API version's wire form.
    enum Style: Sendable {
        /// v1.1: `/` as `\/`, `<` and `>` as `\u003c` and `\u003e`, every non-ASCII character as a
        /// lower-case `\uXXXX` escape (surrogate pairs outside the BMP).
        case v1_1
        /// v2: non-ASCII in the BMP as raw UTF-8, characters outside the BMP as upper-case surrogate escapes.
        case v2
    }

    /// `string` or `null`.
    static func optional(_ value: String?) -> DemoJSON { value.map(DemoJSON.string) ?? .null }

    /// `unsigned` or `null`.
    static func optional(_ value: UInt64?) -> DemoJSON { value.map(DemoJSON.unsigned) ?? .null }

    /// The compact serialisation in `style`.
    func serialized(_ style: Style) -> Data {
        var out = ""
        out.reserveCapacity(4096)
        write(into: &out, style)
        return Data(out.utf8)
    }

    private func write(into out: inout String, _ style: Style) {
        switch self {
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, into: &out, style)
                out += ":"
                value.write(into: &out, style)
            }
            out += "}"
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.write(into: &out, style)
            }
            out += "]"
        case .string(let text): Self.writeString(text, into: &out, style)
        case .unsigned(let value): out += String(value)
        case .signed(let value): out += String(value)
        case .number(let value): out += "\(value)"
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }

    private static func writeString(_ text: String, into out: inout String, _ style: Style) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "/" where style == .v1_1: out += "\\/"
            case "<" where style == .v1_1: out += "\\u003c"
            case ">" where style == .v1_1: out += "\\u003e"
            default:
                if scalar.value < 0x20 {
                    out += escape(UInt16(scalar.value), upper: false)
                } else if scalar.value < 0x80 {
                    out.unicodeScalars.append(scalar)
                } else if style == .v2 && scalar.value < 0x1_0000 {
                    out.unicodeScalars.append(scalar)
                } else {
                    for unit in String(scalar).utf16 { out += escape(unit, upper: style == .v2) }
                }
            }
        }
        out += "\""
    }

    private static func escape(_ unit: UInt16, upper: Bool) -> String {
        let hex = String(unit, radix: 16, uppercase: upper)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
