import Foundation
import HarvestDemo
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

/// A row of the user's own shape, over the real fixtures: the fields asked for reach the table.
@Suite("TweetRow: rows the user shapes")
struct TweetRowTests {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TwitterSearchTests/Fixtures")

    private static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: fixtures.appendingPathComponent(name))
    }

    /// The fixture's objects by id.
    private static func objects(_ data: Data, key: String, id: String) throws -> [UInt64: [String: Any]] {
        let page = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(page[key] as? [[String: Any]])
        return Dictionary(
            uniqueKeysWithValues: list.compactMap { object in
                (object[id] as? String).flatMap(UInt64.init).map { ($0, object) }
            })
    }

    @Test("a Codable row with lang and two metrics is stored from the real v2 page, and the next run reads its key")
    func codableRowFromV2() async throws {
        let page = try Self.fixture("v2_search_recent_q_brexit_expansions.json")
        let truth = try Self.objects(page, key: "data", id: "id")
        let scene = Scene()
        var settings = HarvestSettings.demo
        // sample: TweetRowCodable
        struct Row: Codable {
            var twitterId: Int64
            var text: String
            var date: Date?
            var lang: String?
            var likes: Int?
            var retweets: Int?
        }
        settings.search.fields = [.language, .metrics]  // asked for, and decoded
        settings.row = .codable { tweet in
            Row(
                twitterId: Int64(tweet.id), text: tweet.text, date: tweet.createdAt, lang: tweet.language,
                likes: tweet.metrics?.likeCount, retweets: tweet.metrics?.retweetCount)
        }
        // sample: end
        let transport = MockTransport([.json(page), .json(Data(#"{"meta":{"result_count":0}}"#.utf8))])
        let report = try await scene.harvester(settings, transport: transport).runOnce()
        let rows = try await scene.store.read(Query("Updates"))
        #expect(rows.count == report.stored)
        #expect(report.stored > 0)
        var languages = Set<String>()
        for row in rows {
            let id = try #require(HarvestTables.tweetID(of: row))
            let object = try #require(truth[id], "stored id \(id) is not in the page")
            let metrics = try #require(object["public_metrics"] as? [String: Int])
            #expect(row["lang"] == (object["lang"] as? String).map(Value.string))
            #expect(row["likes"] == metrics["like_count"].map { .int(Int64($0)) })
            #expect(row["retweets"] == metrics["retweet_count"].map { .int(Int64($0)) })
            #expect(row["kind"] == nil)
            if case .string(let lang)? = row["lang"] { languages.insert(lang) }
        }
        #expect(languages.count > 1)
        let sent = try #require(transport.requests.first?.url.query)
        #expect(sent.contains("lang") && sent.contains("public_metrics"))
        // The next run reads its watermark from the rows' keys: it asks only for newer tweets.
        transport.enqueue(.json(Data(#"{"meta":{"result_count":0}}"#.utf8)))
        _ = try await scene.harvester(settings, transport: transport).runOnce()
        let newest = try #require(rows.compactMap(HarvestTables.tweetID(of:)).max())
        #expect(transport.requests.last?.url.query?.contains("since_id=\(newest)") == true)
    }

    @Test("a closure extends the standard row with lang and a metric from the real v1.1 page")
    func closureRowFromV1() async throws {
        let page = try Self.fixture("v1.1_search_tweets_q_tweepy.json")
        let truth = try Self.objects(page, key: "statuses", id: "id_str")
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.api = .v1_1
        settings.search.fields = [.language, .metrics]
        settings.row = TweetRow { tweet in
            var row = try TweetRow.standard.record(for: tweet)
            row["lang"] = tweet.language.map(Value.string)
            row["favorites"] = tweet.metrics?.likeCount.map { .int(Int64($0)) }
            return row
        }
        let transport = MockTransport([.json(page), .json(Data(#"{"statuses":[],"search_metadata":{}}"#.utf8))])
        let report = try await scene.harvester(settings, transport: transport).runOnce()
        let rows = try await scene.store.read(Query("Updates"))
        #expect(rows.count == report.stored && report.stored > 0)
        for row in rows {
            let id = try #require(HarvestTables.tweetID(of: row))
            let object = try #require(truth[id])
            #expect(row["lang"] == (object["lang"] as? String).map(Value.string))
            #expect(row["favorites"] == (object["favorite_count"] as? Int).map { .int(Int64($0)) })
            #expect(row["kind"] == .string("original") || row["kind"] == .string("quote"))
            #expect(row["text"] != nil)
        }
    }

    @Test("a mapping that throws fails the run, and nothing of that page is stored")
    func throwingMappingStoresNothing() async throws {
        struct Refused: Error {}
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.row = TweetRow { tweet in
            if tweet.id == 200 { throw Refused() }
            return try TweetRow.standard.record(for: tweet)
        }
        let page = #"{"data":[{"id":"300","text":"a"},{"id":"200","text":"b"}],"meta":{}}"#
        let transport = MockTransport([.json(Data(page.utf8))])
        await #expect(throws: Refused.self) { try await scene.harvester(settings, transport: transport).runOnce() }
        #expect(try await scene.storedIDs().isEmpty)
    }

    @Test("the key column is always the tweet's id, whatever the mapping wrote there")
    func keyIsTheTweetsID() throws {
        let wrong = TweetRow { _ in ["twitterId": .int(0), "text": .string("x")] }
        #expect(try wrong.record(for: Tweet(id: 42, text: "a"))["twitterId"] == .int(42))
        let missing = TweetRow { _ in ["text": .string("x")] }
        #expect(try missing.record(for: Tweet(id: 43, text: "a")).columns == ["text", "twitterId"])
    }

    @Test("the standard row is the classic job's columns")
    func standardRow() throws {
        let tweet = Tweet(
            id: 42, text: "AT&T", authorID: 7, authorUsername: "alice", createdAt: Date(timeIntervalSince1970: 9),
            kind: .quote)
        let row = try TweetRow.standard.record(for: tweet)
        #expect(row.columns == ["author", "authorId", "date", "kind", "text", "twitterId"])
        #expect(row["twitterId"] == .int(42))
        #expect(row["author"] == .string("alice"))
        #expect(row["kind"] == .string("quote"))
        #expect(row["date"] == .date(Date(timeIntervalSince1970: 9)))
    }
}
