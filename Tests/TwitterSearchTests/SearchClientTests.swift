import Foundation
import HarvestClock
import HarvestLocking
import HarvestTesting
import Logging
import OAuthSigning
import Testing
import TwitterSearch

@Suite("SearchClient")
struct SearchClientTests {
    private static let start = Date(timeIntervalSince1970: 1_700_000_000)
    private static let bearer = SearchCredentials.bearer(BearerCredentials(token: Secret("bearer-SECRET-token")))

    private static func client(
        _ transport: any HTTPTransport, api: APIVersion = .v2, clock: any WallClock = ManualClock(now: start),
        credentials: SearchCredentials = bearer,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        configure: (inout SearchClient.Configuration) -> Void = { _ in }
    ) throws -> SearchClient {
        var configuration = SearchClient.Configuration()
        configuration.api = api
        configuration.policy.random = .fixed(0)
        configure(&configuration)
        return try SearchClient(
            credentials: credentials, configuration: configuration, transport: transport, clock: clock, logger: logger)
    }

    private static func query(_ request: TransportRequest) -> [String: String] {
        let items = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    @Test("v2 walks next_token pages to the end, with the fields and expansion it needs")
    func walksV2Pages() async throws {
        let transport = MockTransport([
            .json(v2Page([(30, "c", []), (29, "b", ["retweeted"])], next: "t1")),
            .json(v2Page([(20, "a", [])], next: "t2")),
            .json(v2Page([(10, "z", ["replied_to"])], next: nil)),
        ])
        var query = SearchQuery("#mobile services", sinceID: 5)
        query.pageSize = 50
        var pages: [SearchPage] = []
        for try await page in try Self.client(transport).pages(query) { pages.append(page) }
        #expect(pages.map(\.number) == [1, 2, 3])
        #expect(pages.map(\.isLast) == [false, false, true])
        #expect(pages.flatMap(\.tweets).map(\.id) == [30, 29, 20, 10])
        #expect(pages[0].tweets[0].authorUsername == "alice")
        let requests = transport.requests
        #expect(requests.count == 3)
        let first = Self.query(requests[0])
        #expect(requests[0].url.path == "/2/tweets/search/recent")
        #expect(requests[0].url.absoluteString.contains("query=%23mobile%20services"))
        #expect(first["query"] == "#mobile services")
        #expect(first["max_results"] == "50")
        #expect(first["since_id"] == "5")
        #expect(first["tweet.fields"] == "created_at,author_id,referenced_tweets,in_reply_to_user_id")
        #expect(first["expansions"] == "author_id")
        #expect(first["user.fields"] == "username")
        #expect(first["next_token"] == nil)
        #expect(Self.query(requests[1])["next_token"] == "t1")
        #expect(Self.query(requests[2])["next_token"] == "t2")
        #expect(requests.allSatisfy { $0.headerFields[.authorization] == "Bearer bearer-SECRET-token" })
    }

    @Test("v1.1 walks max_id = oldest - 1 until next_results is gone")
    func walksV1Pages() async throws {
        let big: UInt64 = 1_149_825_924_029_980_674
        let transport = MockTransport([
            .json(v1Page([(big, "new", false, false), (big - 10, "mid", true, false)], nextResults: "?max_id=x")),
            .json(v1Page([(big - 20, "old", false, true)], nextResults: nil)),
        ])
        let tweets = try await Self.client(transport, api: .v1_1).search(SearchQuery("tweepy", sinceID: 1_000))
        #expect(tweets.map(\.id) == [big, big - 10, big - 20])
        #expect(tweets.map(\.kind) == [.original, .retweet, .reply])
        let first = Self.query(transport.requests[0])
        #expect(transport.requests[0].url.path == "/1.1/search/tweets.json")
        #expect(first["q"] == "tweepy")
        #expect(first["result_type"] == "recent")
        #expect(first["count"] == "100")
        #expect(first["tweet_mode"] == "extended")
        #expect(first["since_id"] == "1000")
        #expect(first["max_id"] == nil)
        #expect(Self.query(transport.requests[1])["max_id"] == String(big - 11))
        #expect(Self.query(transport.requests[1])["since_id"] == "1000")
    }

    @Test("since_id is sent exactly and a page reaching it ends the walk without the tweets at or below it")
    func sinceIDIsExact() async throws {
        let since: UInt64 = 9_007_199_254_740_993  // 2^53 + 1: a Double would send ...992
        let transport = MockTransport([
            .json(
                v2Page(
                    [(since + 2, "new", []), (since + 1, "newer", []), (since, "stored", []), (since - 1, "old", [])],
                    next: "more"))
        ])
        let tweets = try await Self.client(transport).search(SearchQuery("x", sinceID: since))
        #expect(tweets.map(\.id) == [since + 2, since + 1])
        #expect(Self.query(transport.requests[0])["since_id"] == "9007199254740993")
        #expect(transport.requests.count == 1)
    }

    @Test("untilID resumes a walk: v2 until_id, v1.1 max_id = untilID - 1")
    func untilIDResumes() async throws {
        let v2 = MockTransport([.json(v2Page([(99, "a", [])], next: nil))])
        _ = try await Self.client(v2).search(SearchQuery("x", sinceID: 10, untilID: 100))
        #expect(Self.query(v2.requests[0])["until_id"] == "100")
        let v1 = MockTransport([.json(v1Page([(99, "a", false, false)], nextResults: nil))])
        _ = try await Self.client(v1, api: .v1_1).search(SearchQuery("x", untilID: 100))
        #expect(Self.query(v1.requests[0])["max_id"] == "99")
    }

    @Test("an empty v2 page that still has a next_token does not end the walk")
    func followsTokenPastEmptyPage() async throws {
        let transport = MockTransport([
            .json(v2Page([(30, "c", [])], next: "t1")), .json(v2Page([], next: "t2")),
            .json(v2Page([(10, "a", [])], next: nil)),
        ])
        #expect(try await Self.client(transport).search(SearchQuery("x")).map(\.id) == [30, 10])
        #expect(transport.requests.count == 3)
    }

    @Test("a tweet repeated on a later page is returned once")
    func dedupesAcrossPages() async throws {
        let transport = MockTransport([
            .json(v2Page([(30, "c", []), (20, "b", [])], next: "t1")),
            .json(v2Page([(20, "b", []), (10, "a", [])], next: nil)),
        ])
        #expect(try await Self.client(transport).search(SearchQuery("x")).map(\.id) == [30, 20, 10])
    }

    @Test("a since_id older than seven days is its own error, with the id the API suggests")
    func staleSinceID() async throws {
        let body = #"""
            {"errors":[{"parameters":{"since_id":["100"]},"message":"'since_id' must be a tweet id created after 2026-06-23T10:50Z. Please use a 'since_id' that is larger than 150"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}
            """#
        let transport = MockTransport([.json(body, status: 400)])
        let error = try await #require(throws: SearchError.self) {
            try await Self.client(transport).search(SearchQuery("x", sinceID: 100))
        }
        #expect(error.code == .staleSinceID)
        #expect(error.httpStatus == 400)
        #expect(error.suggestedSinceID == 150)
        #expect(error.problemTitle == "Invalid Request")
        #expect(error.problemType == "https://api.twitter.com/2/problems/invalid-request")
        #expect(transport.requests.count == 1)
    }

    @Test(
        "each error response maps to its code with Twitter's payload, and none is retried",
        arguments: [
            (
                400,
                #"{"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request","errors":[{"message":"The `query` param is invalid"}]}"#,
                "badRequest", Int?.none
            ),
            (401, #"{"errors":[{"code":32,"message":"Could not authenticate you."}]}"#, "unauthorized", 32),
            (401, #"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#, "unauthorized", 89),
            (403, #"{"title":"Forbidden","detail":"Forbidden","type":"about:blank","status":403}"#, "forbidden", nil),
            (404, #"{"errors":[{"code":34,"message":"Sorry, that page does not exist."}]}"#, "notFound", 34),
        ])
    func mapsErrors(status: Int, body: String, code: String, twitterCode: Int?) async throws {
        let transport = MockTransport([.json(body, status: status), .json(v2Page([], next: nil))])
        let error = try await #require(throws: SearchError.self) {
            try await Self.client(transport).search(SearchQuery("x", sinceID: 7))
        }
        #expect(error.code.description == code)
        #expect(error.httpStatus == status)
        #expect(error.twitterCode == twitterCode)
        #expect(error.message != nil)
        #expect(error.bodyExcerpt?.hasPrefix("{") == true)
        #expect(transport.requests.count == 1)
    }

    @Test("a 429 waits on the clock until the reset (plus margin), then retries")
    func waitsOutRateLimit() async throws {
        let clock = ManualClock(now: Self.start)
        let events = Locked<[SearchEvent]>([])
        let transport = MockTransport([
            .status(
                429,
                headers: [
                    "x-rate-limit-reset": "1700000060", "x-rate-limit-remaining": "0", "x-rate-limit-limit": "450",
                ]),
            .json(
                v2Page([(5, "a", [])], next: nil),
                headers: [
                    "x-rate-limit-remaining": "449", "x-rate-limit-limit": "450", "x-rate-limit-reset": "1700000960",
                ]),
        ])
        let client = try Self.client(transport, clock: clock) {
            $0.eventHandler = { event in events.withLock { $0.append(event) } }
        }
        async let pages = client.pages(SearchQuery("x")).reduce(into: [SearchPage]()) { $0.append($1) }
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Date(timeIntervalSince1970: 1_700_000_061))
        #expect(transport.requests.count == 1)
        clock.advance(to: Date(timeIntervalSince1970: 1_700_000_061))
        let result = try await pages
        #expect(
            result.first?.rateLimit
                == RateLimit(limit: 450, remaining: 449, reset: Date(timeIntervalSince1970: 1_700_000_960)))
        #expect(transport.requests.count == 2)
        #expect(await client.lastRateLimit?.remaining == 449)
        #expect(
            events.withLock { $0 }.first
                == .rateLimitWait(until: Date(timeIntervalSince1970: 1_700_000_061), reason: "429 too many requests"))
    }

    @Test("a 429 with only Retry-After waits that many seconds")
    func honoursRetryAfter() async throws {
        let clock = ManualClock(now: Self.start)
        let transport = MockTransport([
            .status(429, headers: ["retry-after": "12"]), .json(v2Page([(5, "a", [])], next: nil)),
        ])
        let client = try Self.client(transport, clock: clock)
        async let tweets = client.search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.start.addingTimeInterval(13))
        clock.advance(by: .seconds(13))
        #expect(try await tweets.map(\.id) == [5])
    }

    @Test("a 420 (Enhance Your Calm, the old v1 rate limit) waits like a 429, and fails as rateLimited")
    func enhanceYourCalmIsARateLimit() async throws {
        let clock = ManualClock(now: Self.start)
        let calm = MockTransport.Reply.status(
            420, headers: ["retry-after": "20"],
            body: Data(#"{"errors":[{"code":420,"message":"Enhance Your Calm"}]}"#.utf8))
        let transport = MockTransport([calm, .json(v2Page([(9, "a", [])], next: nil))])
        let client = try Self.client(transport, clock: clock)
        async let tweets = client.search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.start.addingTimeInterval(21))
        clock.advance(by: .seconds(21))
        #expect(try await tweets.map(\.id) == [9])

        let stubborn = MockTransport(Array(repeating: calm, count: 4))
        let failing = Task { try await Self.client(stubborn, clock: clock).search(SearchQuery("x")) }
        for _ in 0..<3 {
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(21))
        }
        let error = await #expect(throws: SearchError.self) { try await failing.value }
        #expect(error?.code == .rateLimited)
        #expect(error?.httpStatus == 420)
        #expect(error?.message == "Enhance Your Calm")
    }

    @Test("rate-limit waits are clamped: never negative, never beyond the maximum")
    func clampsRateLimitWaits() {
        var policy = RequestPolicy()
        policy.maxRateLimitWait = .seconds(120)
        #expect(policy.rateLimitWait(reset: Self.start.addingTimeInterval(-500), now: Self.start) == .zero)
        #expect(policy.rateLimitWait(reset: Self.start.addingTimeInterval(86_400), now: Self.start) == .seconds(120))
        #expect(policy.rateLimitWait(reset: Self.start.addingTimeInterval(30), now: Self.start) == .seconds(31))
        #expect(policy.rateLimitWait(reset: nil, now: Self.start) == .seconds(60))
    }

    @Test("too many 429s in a row fail as rateLimited with the reset time")
    func rateLimitBudget() async throws {
        let clock = ManualClock(now: Self.start)
        // A reset in the past: no wait.
        let limited = MockTransport.Reply.status(429, headers: ["x-rate-limit-reset": "1699999000"])
        let transport = MockTransport([limited, limited, limited, limited])
        let error = try await #require(throws: SearchError.self) {
            try await Self.client(transport, clock: clock).search(SearchQuery("x"))
        }
        #expect(error.code == .rateLimited)
        #expect(error.rateLimitReset == Date(timeIntervalSince1970: 1_699_999_000))
        #expect(transport.requests.count == 4)
    }

    @Test("5xx backs off exponentially on the clock and gives up after the attempt budget")
    func retryBudget() async throws {
        let clock = ManualClock(now: Self.start)
        let transport = MockTransport(Array(repeating: .status(503), count: 4))
        let client = try Self.client(transport, clock: clock)
        let outcome = Task { try await client.search(SearchQuery("x")) }
        var delays: [TimeInterval] = []
        for attempt in 1...3 {
            await clock.waitForSleepers(1)
            let deadline = try #require(clock.nextSleeperDeadline)
            delays.append(deadline.timeIntervalSince(clock.now))
            #expect(transport.requests.count == attempt)
            clock.advance(to: deadline)
        }
        let result = await outcome.result
        let error = try #require(throws: SearchError.self) { try result.get() }
        #expect(error.code == .serverError)
        #expect(error.httpStatus == 503)
        #expect(delays == [0.5, 1, 2])
        #expect(transport.requests.count == 4)
    }

    @Test("jitter takes up to its share off the backoff, from the injected random source")
    func jitter() {
        var policy = RequestPolicy()
        policy.random = .fixed(0.5)
        policy.jitter = 0.5
        #expect(policy.backoff(afterAttempt: 1) == .milliseconds(375))
        #expect(policy.backoff(afterAttempt: 3) == .milliseconds(1500))
        policy.random = .fixed(0)
        #expect(policy.backoff(afterAttempt: 20) == .seconds(30))
    }

    @Test("network errors and undecodable bodies are retried, then the walk goes on")
    func retriesTransportFailures() async throws {
        let clock = ManualClock(now: Self.start)
        let transport = MockTransport([
            .connectionReset, .json(#"{"data":[{"id":"1","te"#), .json(v2Page([(7, "ok", [])], next: nil)),
        ])
        let client = try Self.client(transport, clock: clock)
        async let tweets = client.search(SearchQuery("x"))
        for _ in 1...2 {
            await clock.waitForSleepers(1)
            clock.advance(to: try #require(clock.nextSleeperDeadline))
        }
        #expect(try await tweets.map(\.id) == [7])
        #expect(transport.requests.count == 3)
    }

    @Test("few requests remaining spreads requests over the window; none remaining waits for the reset")
    func pacesWhenRemainingIsLow() {
        let policy = RequestPolicy()
        let reset = Self.start.addingTimeInterval(59)
        let none = policy.delayBeforeRequest(
            now: Self.start, lastRequest: nil, rateLimit: RateLimit(remaining: 0, reset: reset))
        #expect(none?.0 == .seconds(60))
        let one = policy.delayBeforeRequest(
            now: Self.start, lastRequest: nil, rateLimit: RateLimit(remaining: 1, reset: reset))
        #expect(one?.0 == .seconds(30))
        #expect(
            policy.delayBeforeRequest(
                now: Self.start, lastRequest: nil, rateLimit: RateLimit(remaining: 100, reset: reset)) == nil)
        var spaced = RequestPolicy()
        spaced.minimumInterval = .seconds(1)
        let gap = spaced.delayBeforeRequest(
            now: Self.start, lastRequest: Self.start.addingTimeInterval(-0.25), rateLimit: nil)
        #expect(gap?.0 == .milliseconds(750))
        #expect(gap?.1 == "minimum interval")
    }

    @Test("the minimum interval separates the requests of a walk on the clock")
    func minimumIntervalBetweenPages() async throws {
        let clock = ManualClock(now: Self.start)
        let transport = MockTransport([
            .json(v2Page([(9, "a", [])], next: "n")), .json(v2Page([(8, "b", [])], next: nil)),
        ])
        let client = try Self.client(transport, clock: clock) { $0.policy.minimumInterval = .seconds(1) }
        async let tweets = client.search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.start.addingTimeInterval(1))
        clock.advance(by: .seconds(1))
        #expect(try await tweets.map(\.id) == [9, 8])
    }

    @Test("app-only: the bearer token is obtained once with Basic auth and cached")
    func appOnlyTokenExchange() async throws {
        let transport = MockTransport([
            .json(#"{"token_type":"bearer","access_token":"AAAA%2FTOKEN"}"#),
            .json(v2Page([(3, "a", [])], next: nil)),
            .json(v2Page([(4, "b", [])], next: nil)),
        ])
        let client = try Self.client(
            transport, credentials: .appOnly(consumerKey: "key one", consumerSecret: Secret("s&cret")))
        _ = try await client.search(SearchQuery("x"))
        _ = try await client.search(SearchQuery("y"))
        let requests = transport.requests
        #expect(requests.count == 3)
        #expect(requests[0].method == .post)
        #expect(requests[0].url.absoluteString == "https://api.twitter.com/oauth2/token")
        #expect(requests[0].body == Data("grant_type=client_credentials".utf8))
        #expect(requests[0].headerFields[.contentType] == "application/x-www-form-urlencoded;charset=UTF-8")
        // base64("key%20one:s%26cret")
        #expect(
            requests[0].headerFields[.authorization] == "Basic " + Data("key%20one:s%26cret".utf8).base64EncodedString()
        )
        #expect(requests[1].headerFields[.authorization] == "Bearer AAAA%2FTOKEN")
        #expect(requests[2].headerFields[.authorization] == "Bearer AAAA%2FTOKEN")
    }

    @Test("a token response without a bearer token fails as tokenExchange, without the body")
    func appOnlyTokenFailure() async throws {
        let transport = MockTransport(Array(repeating: .json(#"{"token_type":"mac","access_token":"x"}"#), count: 4))
        let clock = ManualClock(now: Self.start)
        let client = try Self.client(
            transport, clock: clock, credentials: .appOnly(consumerKey: "k", consumerSecret: Secret("s"))
        ) { $0.policy.maxAttempts = 1 }
        let error = try await #require(throws: SearchError.self) { try await client.search(SearchQuery("x")) }
        #expect(error.code == .tokenExchange)
        #expect(error.bodyExcerpt == nil)
    }

    @Test(
        "credentials never go over plain http except to loopback hosts",
        arguments: [
            ("http://api.twitter.com", false), ("http://example.com:8080", false), ("ftp://127.0.0.1", false),
            ("http://127.0.0.1:8080", true), ("http://localhost", true), ("http://[::1]:9000", true),
            ("https://api.twitter.com", true), ("https://proxy.example/twitter", true),
        ])
    func refusesInsecureURLs(url: String, accepted: Bool) throws {
        var configuration = SearchClient.Configuration()
        configuration.baseURL = try #require(URL(string: url))
        let make = { () throws(SearchError) -> SearchClient in
            try SearchClient(credentials: Self.bearer, configuration: configuration, transport: MockTransport())
        }
        if accepted {
            _ = try make()
        } else {
            let error = try #require(throws: SearchError.self) { try make() }
            #expect(error.code == .insecureURL)
        }
    }

    @Test("OAuth 1.0a requests carry a signature over the exact URL sent")
    func signsOAuth1() async throws {
        let transport = MockTransport([.json(v2Page([(3, "a", [])], next: nil))])
        let credentials = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret("cs-SECRET"), token: "tok", tokenSecret: Secret("ts-SECRET"))
        _ = try await Self.client(transport, credentials: .oauth1(credentials)).search(SearchQuery("a b"))
        let header = try #require(transport.requests.first?.headerFields[.authorization])
        #expect(header.hasPrefix("OAuth "))
        #expect(header.contains(#"oauth_consumer_key="ck""#))
        #expect(header.contains(#"oauth_token="tok""#))
        #expect(header.contains(#"oauth_timestamp="1700000000""#))
        #expect(!header.contains("SECRET"))
    }

    @Test("a trace-level log of a whole walk, with errors, never contains a secret")
    func logsNoSecrets() async throws {
        let (logger, box) = CapturingLogHandler.logger()
        let clock = ManualClock(now: Self.start)
        let secrets = ["cs-SECRET-1", "ts-SECRET-2", "bearer-SECRET-3", "appsecret-SECRET-4", "AAAA-TOKEN-SECRET-5"]
        let oauth = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret(secrets[0]), token: "t", tokenSecret: Secret(secrets[1]))
        var failures: [String] = []
        for credentials in [
            SearchCredentials.oauth1(oauth), .bearer(BearerCredentials(token: Secret(secrets[2]))),
            .appOnly(consumerKey: "k", consumerSecret: Secret(secrets[3])),
        ] {
            var replies: [MockTransport.Reply] = [
                .json(v2Page([(3, "a", [])], next: "n")),
                .json(#"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#, status: 401),
            ]
            if case .appOnly = credentials {
                replies.insert(.json(#"{"token_type":"bearer","access_token":"AAAA-TOKEN-SECRET-5"}"#), at: 0)
            }
            let transport = MockTransport(replies)
            let client = try Self.client(transport, clock: clock, credentials: credentials, logger: logger)
            let error = try await #require(throws: SearchError.self) { try await client.search(SearchQuery("x")) }
            failures.append("\(error) \(String(reflecting: error))")
        }
        let text = box.text + failures.joined()
        #expect(box.all.contains { $0.level == .trace })
        for secret in secrets { #expect(!text.contains(secret), "\(secret) leaked") }
        #expect(!text.contains("Authorization") && !text.contains("Bearer "))
    }
}
