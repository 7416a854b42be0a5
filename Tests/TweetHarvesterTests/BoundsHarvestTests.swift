import Foundation
import HarvestTesting
import InMemoryLogging
import Logging
import OAuthSigning
import TableStorage
import Testing
import TwitterSearch

@testable import HarvestDemo
@testable import TweetHarvester

/// Records the status of every response it passes on.
private final class CountingTransport: HTTPTransport {
    let base: any HTTPTransport
    private let seen = Locked<[Int]>([])

    init(base: any HTTPTransport) {
        self.base = base
    }

    var statuses: [Int] { seen.value }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        let response = try await base.send(request)
        seen.mutate { $0.append(response.status.code) }
        return response
    }
}

/// What a reply may make a harvest run do, seen from the facade: the table, the watermark, the runs table, the logs.
@Suite("Bounds on what a reply may make the harvest do")
struct BoundsHarvestTests {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TwitterSearchTests/Fixtures")

    private static func fixture(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    @Test(
        "an error body echoing the Authorization header reaches no log line, error or HarvestRuns row",
        arguments: [401, 400])
    func echoedAuthorizationIsScrubbed(status: Int) async throws {
        let bearer = "bearer-SECRET-0123456789"
        let appBearer = "AAAA-app-only-bearer-SECRET-0123456789"
        let consumerSecret = "consumer-SECRET-abcdef"
        let echo = MockTransport.Reply.handler { request in
            let header = request.headerFields[.authorization] ?? ""
            let body = try JSONSerialization.data(withJSONObject: [
                "title": "Unauthorized", "detail": "Authorization: " + header + " is not valid",
                "errors": [["message": "you sent " + header]],
            ])
            return TransportResponse(
                status: .init(code: status), headerFields: [.contentType: "application/json"], body: body)
        }
        let token = MockTransport.Reply.json(#"{"token_type":"bearer","access_token":"\#(appBearer)"}"#)
        for (credentials, replies) in [
            (SearchCredentials.bearer(BearerCredentials(token: Secret(bearer))), [echo]),
            (.appOnly(consumerKey: "key", consumerSecret: Secret(consumerSecret)), [token, echo]),
        ] {
            let scene = Scene()
            let logs = InMemoryLogHandler()
            var logger = Logger(label: "test") { _ in logs }
            logger.logLevel = .trace
            var settings = HarvestSettings.demo.withoutRetries
            settings.credentials = credentials
            let harvester = try Harvester(
                settings: settings, store: scene.store, transport: MockTransport(replies), clock: scene.clock,
                logger: logger)
            let error = try await #require(throws: SearchError.self) { try await harvester.runOnce() }
            let runs = try await scene.store.read(Query("HarvestRuns"))
            let outcome = try #require(runs.first?["outcome"])
            guard case .string(let outcomeText) = outcome else {
                Issue.record("outcome is \(outcome)")
                continue
            }
            #expect(outcomeText.contains("<redacted>"))
            let texts =
                logs.entries.map { "\($0.message) \($0.metadata)" } + [
                    "\(error)", String(reflecting: error), error.bodyExcerpt ?? "", "\(runs)",
                ]
            #expect(logs.entries.contains { $0.level == .trace })
            for text in texts {
                for secret in [bearer, appBearer, consumerSecret, "Bearer ", "Basic "] {
                    #expect(!text.contains(secret), "\(secret) in: \(text.prefix(300))")
                }
            }
        }
    }

    @Test("a stale since_id with an interrupted range falls back after one refused request, and says what it did")
    func staleSinceIDNeedsOneRefusal() async throws {
        let scene = Scene()
        _ = try await scene.harvester().runOnce()
        scene.clock.advance(by: .seconds(60))
        let failing = InterruptingTransport(base: scene.demo, failing: 2, clock: scene.clock)
        await #expect(throws: (any Error).self) { _ = try await scene.harvester(transport: failing).runOnce() }
        scene.clock.advance(by: .seconds(3_600))
        let counting = CountingTransport(base: scene.demo)
        let late = try await scene.harvester(transport: counting).runOnce()
        #expect(counting.statuses.filter { $0 == 400 }.count == 1)
        #expect(counting.statuses.first == 400)
        #expect(late.resumedInterruptedRun)
        #expect(late.warnings.count == 2)
        #expect(late.warnings.first?.contains("was dropped") == true)
        #expect(late.warnings.last?.contains("searched the whole window instead") == true)
        #expect(late.warnings.last?.contains("the API accepts ids above") == true)
        let window = scene.demo.timeline(
            after: scene.clock.now.addingTimeInterval(-Scene.window), through: scene.clock.now)
        #expect(late.fetched == window.count)
        // Without an interrupted range, one refusal as well.
        scene.clock.advance(by: .seconds(3_600))
        let again = CountingTransport(base: scene.demo)
        let stale = try await scene.harvester(transport: again).runOnce()
        #expect(again.statuses.filter { $0 == 400 }.count == 1)
        #expect(stale.warnings.count == 1)
        scene.clock.advance(by: .seconds(10))
        #expect(try await scene.harvester().runOnce().warnings.isEmpty)
    }

    @Test(
        "the demo API escapes &, < and > as the real API does; the table stores the text people read",
        arguments: APIVersion.allCases)
    func demoTextIsStoredAsRead(api: APIVersion) async throws {
        #expect(DemoWire.htmlEscaped("AT&T <b> &amp; é") == "AT&amp;T &lt;b&gt; &amp;amp; é")
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.api = api
        _ = try await scene.harvester(settings).runOnce()
        let truth = Dictionary(scene.firstWindow.map { ($0.id, $0.text) }, uniquingKeysWith: { first, _ in first })
        let rows = try await scene.store.read(Query("Updates"))
        var texts: [String] = []
        for row in rows {
            let id = try #require(HarvestTables.tweetID(of: row))
            guard case .string(let text)? = row["text"] else {
                Issue.record("no text for \(id)")
                continue
            }
            #expect(text == truth[id], "\(id)")
            texts.append(text)
        }
        #expect(texts.contains { $0.contains("p99 < 42 ms & p50 > 3 ms") })
        #expect(texts.contains { $0.contains("Q&A at 5 pm: bring your <questions>") })
        // An author's own "&amp;" is escaped once more on the wire and unescaped once: it stays.
        #expect(texts.contains { $0.contains("you write &amp; for &") })
    }

    @Test("a manual retweet is dropped alike from the v1.1 and the v2 fixture, under its own reason")
    func manualRetweetsDroppedAlike() async throws {
        var v1 = try Self.fixture("v1.1_search_tweets_q_tweepy.json")
        var statuses = try #require(v1["statuses"] as? [[String: Any]])
        let v1Index = try #require(statuses.firstIndex { $0["id_str"] as? String == "1149603837826629632" })
        statuses[v1Index]["retweeted_status"] = nil
        v1["statuses"] = statuses
        var v2 = try Self.fixture("v2_search_recent_q_brexit_expansions.json")
        var data = try #require(v2["data"] as? [[String: Any]])
        let v2Index = try #require(data.firstIndex { $0["id"] as? String == "1440716856763977732" })
        data[v2Index]["referenced_tweets"] = nil
        v2["data"] = data
        let cases: [(APIVersion, Data, String, UInt64, Int, Int)] = [
            (
                .v1_1, try JSONSerialization.data(withJSONObject: v1), #"{"statuses":[],"search_metadata":{}}"#,
                1_149_603_837_826_629_632, 5, 1
            ),
            (
                .v2, try JSONSerialization.data(withJSONObject: v2), #"{"meta":{"result_count":0}}"#,
                1_440_716_856_763_977_732, 66, 10
            ),
        ]
        for (api, page, empty, manualID, retweets, replies) in cases {
            let scene = Scene()
            var settings = HarvestSettings.demo
            settings.api = api
            let transport = MockTransport([.json(page), .json(empty)])
            let report = try await scene.harvester(settings, transport: transport).runOnce()
            #expect(report.filtered["manualRetweet"] == 1, "\(api)")
            #expect(report.filtered["retweet"] == retweets, "\(api)")
            #expect(report.filtered["reply"] == replies, "\(api)")
            #expect(try await !scene.storedIDs().contains(manualID))
            #expect(report.stored == report.fetched - report.filteredTotal)
        }
        #expect(HarvestSettings.demo.filters.map(\.name) == ["retweet", "manualRetweet", "reply"])
    }

    @Test("a page holding id 2^63 fails the run: nothing of it is stored and the watermark does not move")
    func outOfRangeIDMovesNothing() async throws {
        let good = #"{"data":[{"id":"300","text":"a"},{"id":"200","text":"b"}],"meta":{"next_token":"n"}}"#
        let bad = #"{"data":[{"id":"150","text":"c"},{"id":"9223372036854775808","text":"d"}],"meta":{}}"#
        let scene = Scene()
        let transport = MockTransport([.json(good), .json(bad)])
        let error = try await #require(throws: SearchError.self) {
            try await scene.harvester(transport: transport).runOnce()
        }
        #expect(error.code == .invalidTweetID)
        #expect(try await scene.storedIDs().sorted() == [200, 300])
        let state = try await scene.store.read(Query("HarvestState"))
        let watermark = HarvestTables.watermark(from: try #require(state.first))
        #expect(watermark.covered == nil)
        #expect(watermark.pending?.until == 200)
        #expect(!watermark.holdsInvalidID)
    }

    @Test("a watermark stored as a negative id by an earlier version is ignored with a warning, not followed")
    func negativeWatermarkIsRepaired() async throws {
        let scene = Scene()
        _ = try await scene.harvester().runOnce()
        let newest = try #require(try await scene.storedIDs().max())
        let key = "\(HarvestSettings.demo.table)\u{1F}\(HarvestSettings.demo.query)"
        let broken = Watermark(covered: (1 << 63) + 5)
        _ = try await scene.store.insert(
            [HarvestTables.record(for: broken, key: key, at: scene.clock.now)], into: "HarvestState",
            onConflict: .replace)
        scene.clock.advance(by: .seconds(30))
        let repaired = try await scene.harvester().runOnce()
        #expect(repaired.warnings.contains { $0.contains("was ignored") })
        #expect(repaired.newestBefore == newest)
        #expect(repaired.fetched > 0)
        let stored = try await scene.storedIDs()
        #expect(Set(stored) == scene.expectedIDs())
    }

    @Test("HarvestError's line escapes control characters")
    func harvestErrorLine() {
        let error = HarvestError(.invalidSetting, variable: "table", message: "no table named Up\ndates")
        #expect(error.description == #"no table named Up\ndates"#)
    }
}
