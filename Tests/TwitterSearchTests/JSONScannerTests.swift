import Foundation
import Testing

@testable import TwitterSearch

/// The scanner skips and reads eight bytes at a time; these tests put every byte that matters (quotes, escapes,
/// brackets, `&`) at every offset of a word and near the end of the body, against Foundation's reading of the same
/// document.
@Suite("JSONScanner: word-at-a-time skipping and text")
struct JSONScannerTests {
    /// Values the decoders skip: brackets and quotes inside strings, escaped quotes and backslashes, nesting.
    static let skippedValues = [
        #"{"a":"x\"}]{[","b":[1,{"c":"\\"}],"d":"\\\""}"#,
        #"[[[]],{},"]",{"k":["}"]}]"#,
        #""plain text long enough to span several words""#,
        #""\\\\\\\"]""#,
        #"{"e":"é€😀","f":[true,false,null,-1.5e+3]}"#,
        "[]",
        "{}",
        "12345678901234567890",
    ]

    @Test("a skipped value of any shape, at every alignment, leaves the scanner on the next key")
    func skipsAtEveryAlignment() throws {
        for value in Self.skippedValues {
            for pad in 0..<17 {
                let key = "skip" + String(repeating: "_", count: pad)
                let page = #"{"data":[{"\#(key)":\#(value),"id":"7","text":"t","author_id":"42"}],"meta":{}}"#
                let data = Data(page.utf8)
                // The document is valid JSON, as Foundation reads it.
                _ = try JSONSerialization.jsonObject(with: data)
                let tweets = try SearchResponse(decoding: data, api: .v2).tweets
                #expect(tweets.map(\.id) == [7], "value \(value), pad \(pad)")
                #expect(tweets.first?.text == "t")
                #expect(tweets.first?.authorID == 42)
            }
        }
    }

    @Test("a container cut off at any byte is an undecodable page, never a crash or a read past the end")
    func truncatedContainersThrow() throws {
        let page = Data(#"{"data":[{"skip":{"a":"x\"}]{[","b":[1,{"c":"\\"}]},"id":"7","text":"t"}],"meta":{}}"#.utf8)
        for cut in 1..<(page.count - 1) {
            #expect(throws: (any Error).self, "cut at \(cut)") {
                try SearchResponse(decoding: page.prefix(cut), api: .v2)
            }
        }
    }

    @Test("a text with quotes, escapes and entities at every offset reads as Foundation's, the entities undone")
    func textAtEveryOffset() throws {
        let pieces = ["&amp;", "&lt;", "&gt;", "\"", "\\", "\n", "é", "😀", "&amp;lt;", "&", "&am"]
        for piece in pieces {
            for pad in 0..<17 {
                for tail in [0, 3, 9] {
                    let text = String(repeating: "a", count: pad) + piece + String(repeating: "z", count: tail)
                    let expected = text.replacingOccurrences(of: "&lt;", with: "<")
                        .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
                    let v2 = v2Page([(5, text, [])], next: nil)
                    #expect(try SearchResponse(decoding: v2, api: .v2).tweets.first?.text == expected)
                    let v1 = v1Page([(5, text, false, false)], nextResults: nil)
                    #expect(try SearchResponse(decoding: v1, api: .v1_1).tweets.first?.text == expected)
                }
            }
        }
    }

    @Test("the entity rule is applied to the decoded text: an escaped ampersand is still an ampersand")
    func escapedAmpersand() throws {
        // `\u0026amp;` decodes to `&amp;`, which the API never sends escaped; it is undone once, like the plain form.
        let page = Data(#"{"data":[{"id":"5","text":"AT\u0026amp;T \u0026lt;"}],"meta":{}}"#.utf8)
        #expect(try SearchResponse(decoding: page, api: .v2).tweets.first?.text == "AT&T <")
    }

    @Test("the zero-byte word finds the first matching byte at each position")
    func zeroBytes() {
        for position in 0..<8 {
            var bytes = [UInt8](repeating: 0x61, count: 8)
            bytes[position] = 0x22
            if position < 7 { bytes[7] = 0x22 }
            let word = bytes.withUnsafeBufferPointer { JSONScanner.word(at: $0.baseAddress!) }
            let found = JSONScanner.zeroBytes(word ^ JSONScanner.repeated(0x22))
            #expect(found.trailingZeroBitCount >> 3 == position)
        }
        let none = [UInt8](repeating: 0x21, count: 8).withUnsafeBufferPointer { JSONScanner.word(at: $0.baseAddress!) }
        #expect(JSONScanner.zeroBytes(none ^ JSONScanner.repeated(0x22)) == 0)
    }
}
