import Foundation
import HTTPTypes
import HarvestDemo
import HarvestTesting
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("The demo search API")
struct DemoTransportTests {
    private static let start = Date(timeIntervalSince1970: 1_790_000_000)

    private static func get(
        _ transport: DemoTransport, _ path: String, _ parameters: [(String, String)], authorized: Bool = true
    ) async throws -> (status: Int, headers: HTTPFields, json: [String: Any]) {
        var components = URLComponents(string: "https://api.twitter.com" + path)
        components?.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        let url = try #require(components?.url)
        var fields = HTTPFields()
        if authorized { fields[.authorization] = "Bearer demo" }
        let response = try await transport.send(TransportRequest(url: url, headerFields: fields))
        let json = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        return (response.status.code, response.headerFields, json)
    }

    /// The fixtures' id strings, which every demo id must look like.
    private static func isSnowflake(_ text: String) -> Bool {
        guard let id = UInt64(text) else { return false }
        return id > 1 << 53 && String(id) == text
    }

    @Test("v2 pages follow next_token newest first, with the fixture's meta fields, until the window ends")
    func v2Pages() async throws {
        let clock = ManualClock(now: Self.start)
        let demo = DemoTransport(clock: clock)
        var token: String?
        var seen: [UInt64] = []
        var pages = 0
        repeat {
            var parameters = [("query", "#mobileservices"), ("max_results", "100")]
            if let token { parameters.append(("next_token", token)) }
            let (status, _, json) = try await Self.get(demo, "/2/tweets/search/recent", parameters)
            #expect(status == 200)
            let meta = try #require(json["meta"] as? [String: Any])
            let data = try #require(json["data"] as? [[String: Any]])
            let ids = data.compactMap { ($0["id"] as? String).flatMap(UInt64.init) }
            #expect(ids.count == data.count)
            #expect(meta["result_count"] as? Int == data.count)
            #expect(meta["newest_id"] as? String == String(ids[0]))
            #expect(meta["oldest_id"] as? String == String(ids[ids.count - 1]))
            #expect(ids == ids.sorted(by: >))
            for tweet in data {
                #expect(Self.isSnowflake(tweet["id"] as? String ?? ""))
                #expect((tweet["text"] as? String)?.contains("#mobileservices") == true)
                #expect(tweet["edit_history_tweet_ids"] as? [String] == [tweet["id"] as? String ?? ""])
            }
            let users = try #require((json["includes"] as? [String: Any])?["users"] as? [[String: Any]])
            let userIDs = Set(users.compactMap { $0["id"] as? String })
            #expect(data.allSatisfy { userIDs.contains($0["author_id"] as? String ?? "-") })
            seen += ids
            token = meta["next_token"] as? String
            pages += 1
        } while token != nil
        // Ten minutes at 240 a minute is about 2,400 tweets (one more when a slot straddles the window's
        // edge): pages of 100, each tweet once.
        let truth = demo.timeline(after: Self.start.addingTimeInterval(-600), through: Self.start)
        #expect((2_400...2_401).contains(truth.count))
        #expect(seen == truth.map(\.id))
        #expect(Set(seen).count == seen.count)
        #expect(pages == (truth.count + 99) / 100)
    }

    @Test("v2 honours since_id and until_id as exclusive bounds, and max_results")
    func v2Bounds() async throws {
        let clock = ManualClock(now: Self.start)
        let demo = DemoTransport(clock: clock)
        let truth = demo.timeline(after: Self.start.addingTimeInterval(-600), through: Self.start)
        let since = truth[30].id, until = truth[5].id
        let (_, _, json) = try await Self.get(
            demo, "/2/tweets/search/recent",
            [
                ("query", "#mobileservices"), ("since_id", String(since)), ("until_id", String(until)),
                ("max_results", "10"),
            ])
        let ids = try #require(json["data"] as? [[String: Any]]).compactMap {
            ($0["id"] as? String).flatMap(UInt64.init)
        }
        #expect(ids == truth[6..<16].map(\.id))
        #expect((json["meta"] as? [String: Any])?["next_token"] != nil)
        let (status, _, _) = try await Self.get(
            demo, "/2/tweets/search/recent", [("query", "#mobileservices"), ("max_results", "5")])
        #expect(status == 400)
    }

    @Test("new tweets arrive as the clock moves, and the same seed gives the same ids")
    func arrivals() async throws {
        let clock = ManualClock(now: Self.start)
        let demo = DemoTransport(clock: clock)
        let newest = demo.timeline(after: Self.start.addingTimeInterval(-60), through: Self.start)[0].id
        clock.advance(by: .seconds(60))
        let (_, _, json) = try await Self.get(
            demo, "/2/tweets/search/recent",
            [("query", "#mobileservices"), ("since_id", String(newest)), ("max_results", "100")])
        let data = try #require(json["data"] as? [[String: Any]])
        #expect(data.count == 100)
        #expect((json["meta"] as? [String: Any])?["next_token"] != nil)
        let other = DemoTransport(clock: ManualClock(now: Self.start))
        #expect(other.timeline(after: Self.start.addingTimeInterval(-60), through: Self.start)[0].id == newest)
    }

    @Test("a since_id older than the window gets Twitter's 400 Invalid Request naming since_id")
    func staleSinceID() async throws {
        let clock = ManualClock(now: Self.start)
        let demo = DemoTransport(clock: clock)
        let old = demo.timeline(after: Self.start.addingTimeInterval(-60), through: Self.start)[0].id
        clock.advance(by: .seconds(3600))
        let (status, _, json) = try await Self.get(
            demo, "/2/tweets/search/recent", [("query", "#mobileservices"), ("since_id", String(old))])
        #expect(status == 400)
        #expect(json["title"] as? String == "Invalid Request")
        let error = try #require((json["errors"] as? [[String: Any]])?.first)
        #expect((error["parameters"] as? [String: Any])?["since_id"] as? [String] == [String(old)])
    }

    @Test("v1.1 answers in the fixture's shape: numeric id with id_str, retweeted_status, replies, next_results")
    func v1Shape() async throws {
        let clock = ManualClock(now: Self.start)
        let demo = DemoTransport(clock: clock)
        let (status, _, json) = try await Self.get(
            demo, "/1.1/search/tweets.json", [("q", "#mobileservices"), ("count", "100"), ("result_type", "recent")])
        #expect(status == 200)
        let statuses = try #require(json["statuses"] as? [[String: Any]])
        #expect(statuses.count == 100)
        for status in statuses {
            let idString = try #require(status["id_str"] as? String)
            #expect(Self.isSnowflake(idString))
            #expect((status["user"] as? [String: Any])?["screen_name"] is String)
        }
        #expect(statuses.contains { $0["retweeted_status"] is [String: Any] })
        #expect(statuses.contains { $0["in_reply_to_status_id_str"] is String })
        #expect(statuses.contains { $0["quoted_status_id_str"] is String })
        let metadata = try #require(json["search_metadata"] as? [String: Any])
        let next = try #require(metadata["next_results"] as? String)
        let oldest = try #require((statuses.last?["id_str"] as? String).flatMap { UInt64($0) })
        #expect(next.hasPrefix("?max_id=\(oldest - 1)&q=%23mobileservices"))
        // max_id is inclusive: asking with the advertised max_id starts right below the page.
        let (_, _, second) = try await Self.get(
            demo, "/1.1/search/tweets.json",
            [("q", "#mobileservices"), ("count", "100"), ("max_id", String(oldest - 1))])
        let first = try #require((second["statuses"] as? [[String: Any]])?.first?["id_str"] as? String)
        #expect(UInt64(first).map { $0 < oldest } == true)
    }

    @Test("v1.1 bodies are escaped as Twitter's are: \\/ and lower-case \\u escapes, surrogate pairs for emoji")
    func v1Escaping() async throws {
        let demo = DemoTransport(clock: ManualClock(now: Self.start))
        var fields = HTTPFields()
        fields[.authorization] = "Bearer demo"
        let url = try #require(
            URL(string: "https://api.twitter.com/1.1/search/tweets.json?q=%23mobileservices&count=100"))
        let body = try await demo.send(TransportRequest(url: url, headerFields: fields)).body
        let text = try #require(String(data: body, encoding: .utf8))
        #expect(text.allSatisfy { $0.isASCII })
        #expect(text.contains("\\/"))
        #expect(text.contains("\\ud83d"))
        #expect(!text.contains("\\uD83D"))
        let v2URL = try #require(
            URL(string: "https://api.twitter.com/2/tweets/search/recent?query=%23mobileservices&max_results=100"))
        let v2Body = try await demo.send(TransportRequest(url: v2URL, headerFields: fields)).body
        let v2 = try #require(String(data: v2Body, encoding: .utf8))
        #expect(v2.contains("\\uD83D"))
        #expect(!v2.allSatisfy { $0.isASCII })
    }

    @Test("rate-limit headers count down, 429 past the limit, and a request without Authorization gets 401")
    func rateLimits() async throws {
        var configuration = DemoTransport.Configuration()
        configuration.rateLimit = 2
        let demo = DemoTransport(configuration: configuration, clock: ManualClock(now: Self.start))
        let parameters = [("query", "#mobileservices")]
        let first = try await Self.get(demo, "/2/tweets/search/recent", parameters)
        let limit = try #require(HTTPField.Name("x-rate-limit-remaining"))
        let reset = try #require(HTTPField.Name("x-rate-limit-reset"))
        #expect(first.headers[limit] == "1")
        #expect(first.headers[reset] == String(Int(Self.start.timeIntervalSince1970) / 900 * 900 + 900))
        _ = try await Self.get(demo, "/2/tweets/search/recent", parameters)
        let third = try await Self.get(demo, "/2/tweets/search/recent", parameters)
        #expect(third.status == 429)
        let open = DemoTransport(clock: ManualClock(now: Self.start))
        let anonymous = try await Self.get(open, "/2/tweets/search/recent", parameters, authorized: false)
        #expect(anonymous.status == 401)
    }

    // sample: demo-request-counter
    actor Counted: DemoRequestCounter {
        private var used: [Int64: Int] = [:]
        func countRequest(inWindow window: Int64) -> Int {
            used[window, default: 0] += 1
            return used[window]!
        }
    }
    // sample: end

    @Test("two demo transports on one DemoRequestCounter share one rate limit, as a fleet's processes do")
    func sharedRequestCounter() async throws {
        var configuration = DemoTransport.Configuration()
        configuration.rateLimit = 3
        let counter = Counted()
        let clock = ManualClock(now: Self.start)
        let one = DemoTransport(configuration: configuration, clock: clock, requestCounter: counter)
        let other = DemoTransport(configuration: configuration, clock: clock, requestCounter: counter)
        let parameters = [("query", "#mobileservices")]
        let remaining = try #require(HTTPField.Name("x-rate-limit-remaining"))
        let first = try await Self.get(one, "/2/tweets/search/recent", parameters)
        let second = try await Self.get(other, "/2/tweets/search/recent", parameters)
        #expect(first.headers[remaining] == "2")
        #expect(second.headers[remaining] == "1")
        // One timeline: the same tweets at the same instant.
        let ids = [first, second].map { page in
            (page.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        #expect(!ids[0].isEmpty && ids[0] == ids[1])
        _ = try await Self.get(one, "/2/tweets/search/recent", parameters)
        #expect(try await Self.get(other, "/2/tweets/search/recent", parameters).status == 429)
        // A new window starts a new count.
        clock.advance(by: .seconds(900))
        #expect(try await Self.get(other, "/2/tweets/search/recent", parameters).headers[remaining] == "2")
    }

    @Test("the stream mixes originals, retweets, replies and quotes, retweets quote their original's text")
    func kinds() {
        let demo = DemoTransport(clock: ManualClock(now: Self.start))
        let tweets = demo.timeline(after: Self.start.addingTimeInterval(-600), through: Self.start)
        let counts = Dictionary(grouping: tweets, by: \.kind).mapValues(\.count)
        for kind in DemoTweet.Kind.allCases { #expect((counts[kind] ?? 0) > tweets.count / 20) }
        #expect((counts[.original] ?? 0) >= tweets.count / 4)
        let byID = Dictionary(uniqueKeysWithValues: tweets.map { ($0.id, $0) })
        for retweet in tweets where retweet.kind == .retweet {
            if let original = retweet.referencedID.flatMap({ byID[$0] }) {
                #expect(retweet.text == "RT @\(original.authorUsername): \(original.text)")
            }
        }
    }

    @Test("the app-only token exchange answers with a bearer token, and v1.1 honours tweet_mode=extended")
    func tokenAndExtendedMode() async throws {
        let demo = DemoTransport(clock: ManualClock(now: Self.start))
        let tokenURL = try #require(URL(string: "https://api.twitter.com/oauth2/token"))
        let token = try await demo.send(
            TransportRequest(method: .post, url: tokenURL, body: Data("grant_type=client_credentials".utf8)))
        let json = try #require(try JSONSerialization.jsonObject(with: token.body) as? [String: Any])
        #expect(token.status.code == 200)
        #expect(json["token_type"] as? String == "bearer")
        #expect((json["access_token"] as? String)?.isEmpty == false)
        let (_, _, extended) = try await Self.get(
            demo, "/1.1/search/tweets.json", [("q", "#mobileservices"), ("tweet_mode", "extended")])
        let status = try #require((extended["statuses"] as? [[String: Any]])?.first)
        #expect(status["full_text"] is String)
        #expect(status["text"] == nil)
        #expect((extended["statuses"] as? [[String: Any]])?.count == 15)
    }
}
