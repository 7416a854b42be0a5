import Foundation
import TableStorage
import Testing

/// The log's building blocks: the checksum and the JSON string escaping, against published values and
/// against their plain reference forms.
@Suite("Log format")
struct LogFormatTests {
    /// Bytes `(i * 7 + 3) mod 256`, a pattern with every byte value.
    private static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    }

    @Test("CRC-32 of the catalogue's check string and zlib's values")
    func publishedChecksums() {
        // The check value of CRC-32/ISO-HDLC in Greg Cook's catalogue of CRC algorithms.
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        // `zlib.crc32(bytes((i * 7 + 3) % 256 for i in range(n)))` in Python, for lengths on both sides of
        // the folding threshold and of the 16- and 64-byte blocks.
        let zlib: [(Int, UInt32)] = [
            (64, 0xCBD9_ECF0), (127, 0xEFB6_6DAA), (128, 0xBD5D_2E01), (129, 0xD109_50AF),
            (1000, 0x17BC_2A46), (4109, 0x126A_B660), (100_000, 0xF730_CAA8),
        ]
        for (count, expected) in zlib {
            #expect(CRC32.checksum(Self.pattern(count)) == expected, "length \(count)")
            let table = Self.pattern(count).withUnsafeBytes { CRC32.tableChecksum($0) }
            #expect(table == expected, "length \(count), tables")
        }
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test("carry-less folding equals the tables at every length to 1,100 and every alignment")
    func foldingMatchesTables() {
        var generator = SplitMix(seed: 0x5EED)
        let bytes = (0..<1_200).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        bytes.withUnsafeBytes { buffer in
            for start in 0..<16 {
                for count in stride(from: 0, through: 1_100, by: start == 0 ? 1 : 37) {
                    let slice = UnsafeRawBufferPointer(rebasing: buffer[start..<start + count])
                    #expect(CRC32.checksum(slice) == CRC32.tableChecksum(slice), "start \(start), length \(count)")
                }
            }
        }
    }

    @Test("the folding path is used where the processor has carry-less multiplication")
    func accelerationFollowsTheProcessor() throws {
        #if arch(x86_64) && os(Linux)
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
            let words = Set(flags.split(separator: " "))
            #expect(CRC32.isAccelerated == (words.contains("pclmulqdq") && words.contains("sse4_1")))
        #else
            #expect(!CRC32.isAccelerated)
        #endif
    }

    @Test(
        "strings are escaped as JSON and read back whole",
        arguments: [
            "", "plain ascii text that is longer than eight bytes", "quote \" in the middle", "back\\slash",
            "ends with a quote\"", "\"", "\\", "tab\tnew\nline\rreturn", "\u{0}\u{1}\u{1F}\u{7F}",
            "Schrödinger’s deploy ✈️ 🚀 #mobileservices", "exactly8", "seven77", "sixteen bytes!!!",
            "control after eight bytes\u{1B}[0m",
        ])
    func stringEscaping(_ text: String) throws {
        var encoder = LogEncoder()
        encoder.string(text)
        let json = try JSONSerialization.jsonObject(with: Data(encoder.bytes), options: .fragmentsAllowed)
        #expect(json as? String == text)
        var decoded: String?
        try encoder.bytes.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            decoded = try scanner.string()
        }
        #expect(decoded == text)
        // Every byte that JSON requires escaped is escaped, and nothing else is.
        let body = encoder.bytes.dropFirst().dropLast()
        #expect(!body.contains { $0 < 0x20 })
        if !text.contains(where: { $0 == "\"" || $0 == "\\" || $0.asciiValue.map { $0 < 0x20 } ?? false }) {
            #expect(Array(body) == Array(text.utf8))
        }
    }

    @Test("escaping matches a byte-by-byte reference on random text")
    func escapingMatchesReference() {
        var generator = SplitMix(seed: 42)
        let alphabet: [UInt8] = Array("ab \"\\\n\t\u{1}é✈".utf8)
        for _ in 0..<500 {
            let count = Int(generator.next() % 40)
            var utf8: [UInt8] = []
            for _ in 0..<count {
                let byte = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                if byte < 0x80 { utf8.append(byte) } else { utf8 += Array("é".utf8) }
            }
            let text = String(decoding: utf8, as: UTF8.self)
            var encoder = LogEncoder()
            encoder.string(text)
            #expect(encoder.bytes == Self.referenceEscape(text), "\(Array(text.utf8))")
        }
    }

    /// JSON string escaping one byte at a time, as the log writes it.
    private static func referenceEscape(_ text: String) -> [UInt8] {
        var result: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): result += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): result += Array("\\\\".utf8)
            case UInt8(ascii: "\n"): result += Array("\\n".utf8)
            case UInt8(ascii: "\t"): result += Array("\\t".utf8)
            case UInt8(ascii: "\r"): result += Array("\\r".utf8)
            case 0..<0x20: result += Array(String(format: "\\u%04x", byte).utf8)
            default: result.append(byte)
            }
        }
        result.append(UInt8(ascii: "\""))
        return result
    }
}
