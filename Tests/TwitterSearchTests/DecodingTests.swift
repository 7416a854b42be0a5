import Foundation
import Testing

@testable import TwitterSearch

@Suite("Decoding search responses")
struct DecodingTests {
    @Test("the v1.1 fixture decodes to its 15 statuses with exact ids, full text, authors and dates")
    func decodesV1Fixture() throws {
        let body = try Fixture.v1
        let response = try SearchResponse(decoding: body, api: .v1_1)
        let reference = try #require(Fixture.object(body)["statuses"] as? [[String: Any]])
        #expect(response.tweets.count == 15)
        for (tweet, status) in zip(response.tweets, reference) {
            #expect(String(tweet.id) == status["id_str"] as? String)
            #expect(tweet.text == status["text"] as? String)
            let user = try #require(status["user"] as? [String: Any])
            #expect(tweet.authorUsername == user["screen_name"] as? String)
            #expect(tweet.authorID.map(String.init) == user["id_str"] as? String)
        }
        let first = try #require(response.tweets.first)
        #expect(first.id == 1_149_825_924_029_980_674)
        // "Fri Jul 12 23:40:37 +0000 2019"
        #expect(first.createdAt == Date(timeIntervalSince1970: 1_562_974_837))
        #expect(
            first.text == "RT @KassidyCook1: Me, during the season 3 Stranger Things finale https://t.co/zoXlQF2TrZ")
        #expect(response.nextResults == "?max_id=1149557488447975428&q=tweepy&include_entities=1")
        #expect(response.oldestID == 1_149_557_488_447_975_429)
        #expect(response.newestID == 1_149_825_924_029_980_674)
    }

    @Test("the v1.1 fixture classifies 6 retweets, 1 reply and 8 originals, as its README counts them")
    func classifiesV1Fixture() throws {
        let tweets = try SearchResponse(decoding: Fixture.v1, api: .v1_1).tweets
        #expect(tweets.filter(\.isRetweet).count == 6)
        #expect(tweets.filter { $0.kind == .reply }.count == 1)
        #expect(tweets.filter { $0.kind == .original }.count == 8)
        #expect(tweets.first { $0.kind == .reply }?.id == 1_149_678_185_375_600_641)
    }

    @Test("the minimal v2 fixture decodes ids, texts and the next token")
    func decodesMinimalV2Fixture() throws {
        let response = try SearchResponse(decoding: Fixture.v2Minimal, api: .v2)
        #expect(response.tweets.count == 10)
        #expect(response.tweets.first?.id == 1_578_516_068_309_794_817)
        #expect(response.tweets.first?.text == "2022-10-07 22:42:12.637103 tweepy")
        #expect(response.tweets.allSatisfy { $0.kind == .original && $0.authorID == nil && $0.createdAt == nil })
        #expect(response.nextToken == "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul")
        #expect(response.newestID == 1_578_516_068_309_794_817)
        #expect(response.oldestID == 1_578_511_538_419_212_288)
    }

    @Test("the v2 fixture with expansions joins usernames and classifies 67 retweets, 10 replies, 11 quotes")
    func decodesExpandedV2Fixture() throws {
        let body = try Fixture.v2Brexit
        let response = try SearchResponse(decoding: body, api: .v2)
        let reference = try #require(Fixture.object(body)["data"] as? [[String: Any]])
        #expect(response.tweets.count == 100)
        for (tweet, object) in zip(response.tweets, reference) {
            #expect(String(tweet.id) == object["id"] as? String)
            // The API's HTML escapes are undone (BoundsTests checks exactly how).
            #expect(tweet.text == (object["text"] as? String)?.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(tweet.authorUsername != nil)
        }
        #expect(response.tweets.filter { $0.kind == .retweet }.count == 67)
        #expect(response.tweets.filter { $0.kind == .reply }.count == 10)
        #expect(response.tweets.filter { $0.kind == .quote }.count == 11)
        #expect(response.tweets.filter { $0.kind == .original }.count == 12)
        let first = try #require(response.tweets.first)
        #expect(first.authorID == 4_203_239_195)
        #expect(first.authorUsername == "WarmongerHodges")
        #expect(first.createdAt == Date(timeIntervalSince1970: 1_632_328_649))
        #expect(response.nextToken == "b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh")
    }

    @Test("ids above 2^53 survive exactly")
    func largeIDsAreExact() throws {
        // The last was made in December 2025 by its Snowflake time, before the pages' created_at.
        // 2^63 − 1, the largest id, is in BoundsTests.
        let ids: [UInt64] = [9_007_199_254_740_993, 1_440_716_895_355_764_743, 1_999_999_999_999_999_999]
        let v2 = try SearchResponse(decoding: v2Page(ids.map { ($0, "t", []) }, next: nil), api: .v2)
        #expect(v2.tweets.map(\.id) == ids)
        let v1 = try SearchResponse(decoding: v1Page(ids.map { ($0, "t", false, false) }, nextResults: nil), api: .v1_1)
        #expect(v1.tweets.map(\.id) == ids)
        #expect(Double(ids[0]) == Double(ids[0] - 1))  // the precision a Double would have lost
    }

    @Test("an id one past UInt64.max is an invalid tweet id, not a wrapped number")
    func overflowingIDIsRejected() {
        let body = Data(#"{"data":[{"id":"18446744073709551616","text":"x"}],"meta":{}}"#.utf8)
        #expect { try SearchResponse(decoding: body, api: .v2) } throws: {
            ($0 as? SearchError)?.code == .invalidTweetID
        }
    }

    @Test(
        "every classification case, in both shapes",
        arguments: [
            ([String](), Tweet.Kind.original, false),
            (["retweeted"], .retweet, false),
            (["quoted"], .quote, false),
            (["replied_to"], .reply, true),
            (["replied_to", "quoted"], .reply, true),
            (["retweeted", "quoted"], .retweet, false),
        ])
    func classifiesV2(refs: [String], kind: Tweet.Kind, isReply: Bool) throws {
        let tweet = try #require(
            try SearchResponse(decoding: v2Page([(1, "x", refs)], next: nil), api: .v2).tweets.first)
        #expect(tweet.kind == kind)
        #expect(tweet.isReply == isReply)
        #expect(tweet.isRetweet == (kind == .retweet))
    }

    @Test("v1.1 classification: retweeted_status, in_reply_to_status_id_str, is_quote_status; manual RT as v2 has it")
    func classifiesV1() throws {
        let cases: [(String, Tweet.Kind)] = [
            (#"{"id_str":"1","full_text":"hi","in_reply_to_status_id_str":null,"is_quote_status":false}"#, .original),
            (#"{"id_str":"1","full_text":"hi","retweeted_status":{"id_str":"2","full_text":"x"}}"#, .retweet),
            (#"{"id_str":"1","full_text":"hi","retweeted_status":null}"#, .original),
            (#"{"id_str":"1","full_text":"@a hi","in_reply_to_status_id_str":"9"}"#, .reply),
            (#"{"id_str":"1","full_text":"look","is_quote_status":true,"quoted_status":{"id_str":"3"}}"#, .quote),
            (#"{"id_str":"1","full_text":"@a look","in_reply_to_status_id_str":"9","is_quote_status":true}"#, .reply),
            // A manual retweet's kind comes from its references, as in v2; `isManualRetweet` marks it.
            (#"{"id_str":"1","full_text":"RT @bob: old style"}"#, .original),
        ]
        for (status, kind) in cases {
            let body = Data(("{\"statuses\":[" + status + "],\"search_metadata\":{}}").utf8)
            let tweet = try #require(try SearchResponse(decoding: body, api: .v1_1).tweets.first)
            #expect(tweet.kind == kind, "\(status)")
        }
    }

    @Test("full_text wins over text under tweet_mode=extended")
    func prefersFullText() throws {
        let body = Data(#"{"statuses":[{"text":"short…","id_str":"5","full_text":"the whole text"}]}"#.utf8)
        #expect(try SearchResponse(decoding: body, api: .v1_1).tweets.first?.text == "the whole text")
    }

    @Test("escapes decode like Foundation's parser: \\/, \\u00e9, surrogate pairs, lone surrogates")
    func decodesEscapes() throws {
        let text = #"a\/b \u00e9 \uD83D\uDDEF \ud83c\uddec\ud83c\udde7 \"q\" \\ \n \ud800x"#
        let body = Data(("{\"data\":[{\"id\":\"1\",\"text\":\"" + text + "\"}]}").utf8)
        let tweet = try #require(try SearchResponse(decoding: body, api: .v2).tweets.first)
        #expect(tweet.text == "a/b é 🗯 🇬🇧 \"q\" \\ \n \u{FFFD}x")
    }

    @Test("a synthetic 100-tweet page round-trips through Foundation's encoder")
    func decodesSyntheticLargePage() throws {
        let tweets = (0..<100).map { index -> (id: UInt64, text: String, refs: [String]) in
            (
                UInt64(1) << 60 + UInt64(index) * 7919, "tweet \(index) ünïcödé 🚀 \"quoted\"",
                index % 3 == 0 ? ["retweeted"] : []
            )
        }
        let response = try SearchResponse(decoding: v2Page(tweets, next: "next-1"), api: .v2)
        #expect(response.tweets.map(\.id) == tweets.map(\.id))
        #expect(response.tweets.map(\.text) == tweets.map(\.text))
        #expect(response.tweets.filter(\.isRetweet).count == 34)
        #expect(response.tweets.allSatisfy { $0.authorUsername == "alice" })
    }

    @Test(
        "truncated and malformed bodies are undecodable with an excerpt",
        arguments: [
            "", "{", #"{"data":[{"id":"1","text":"abc"#, "<html>502</html>", #"{"data":[{"id":"x1"}]}"#,
            #"{"data":[]} trailing"#,
        ])
    func rejectsBrokenBodies(body: String) throws {
        let error = try #require(throws: SearchError.self) { try SearchResponse(decoding: Data(body.utf8), api: .v2) }
        #expect(error.code == .undecodableBody)
        #expect(error.bodyExcerpt == String(body.prefix(200)))
    }

    @Test("every truncation of the fixtures fails cleanly, never crashes")
    func truncationsNeverCrash() throws {
        for body in [try Fixture.v1, try Fixture.v2Minimal] {
            for length in stride(from: 0, to: body.count - 1, by: 97) {
                let api: APIVersion =
                    body.first == UInt8(ascii: "{") && body.starts(with: Data(#"{"statuses""#.utf8)) ? .v1_1 : .v2
                #expect(throws: SearchError.self) { try SearchResponse(decoding: body.prefix(length), api: api) }
            }
        }
    }

    @Test("an empty v2 result (no data key) decodes to no tweets and no next page")
    func decodesEmptyV2() throws {
        let response = try SearchResponse(decoding: Data(#"{"meta":{"result_count":0}}"#.utf8), api: .v2)
        #expect(response.tweets.isEmpty)
        #expect(!response.hasMore)
    }
}
