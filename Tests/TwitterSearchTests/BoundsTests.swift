import Foundation
import HarvestClock
import HarvestTesting
import Logging
import OAuthSigning
import Testing
import TwitterSearch

/// What a reply may make the client do: only a 200 with JSON is a page, a walk is bounded, ids are checked,
/// server text never carries a secret, tweet text is unescaped once, one classification for both APIs, and error
/// lines a person can act on.
@Suite("Bounds on what a reply may do")
struct BoundsTests {
    private static let start = Date(timeIntervalSince1970: 1_700_000_000)
    private static let token =
        "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"

    private static func client(
        _ transport: any HTTPTransport, api: APIVersion = .v2, clock: any WallClock = ImmediateClock(now: start),
        credentials: SearchCredentials? = nil, maxAttempts: Int = 4,
        configure: (inout SearchClient.Configuration) -> Void = { _ in }
    ) throws -> SearchClient {
        var configuration = SearchClient.Configuration()
        configuration.api = api
        configuration.policy.random = .fixed(0)
        configuration.policy.maxAttempts = maxAttempts
        configure(&configuration)
        return try SearchClient(
            credentials: credentials ?? .bearer(BearerCredentials(token: Secret(token))),
            configuration: configuration, transport: transport, clock: clock,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    private static func searchError(
        _ client: SearchClient, _ query: SearchQuery = SearchQuery("x")
    ) async throws -> SearchError {
        try await #require(throws: SearchError.self) { try await client.search(query) }
    }

    // MARK: Only a 200 with JSON is a page

    @Test("a 2xx other than 200 is notAPage at once, not retried, nothing returned", arguments: [201, 204, 299])
    func otherSuccessIsNotAPage(status: Int) async throws {
        let transport = MockTransport([.json(v2Page([(5, "a", [])], next: nil), status: status)])
        let error = try await Self.searchError(try Self.client(transport))
        #expect(error.code == .notAPage)
        #expect(error.httpStatus == status)
        #expect(transport.requests.count == 1)
    }

    @Test("a text/html 200 is notAPage: retried like a damaged body, and the error when it stays HTML")
    func htmlIsNotAPage() async throws {
        let html = Data("<html><body>Please log in to the proxy</body></html>".utf8)
        let page = MockTransport.Reply.status(200, headers: ["content-type": "text/html; charset=utf-8"], body: html)
        let failing = MockTransport([page, page])
        let error = try await Self.searchError(try Self.client(failing, maxAttempts: 2))
        #expect(error.code == .notAPage)
        #expect(error.message?.contains("text/html") == true)
        #expect(failing.requests.count == 2)
        // The same bytes as JSON with a wrong type are refused too: the type decides, not the body.
        let mislabelled = MockTransport([
            .status(200, headers: ["content-type": "text/plain"], body: v2Page([(5, "a", [])], next: nil))
        ])
        #expect(try await Self.searchError(try Self.client(mislabelled, maxAttempts: 1)).code == .notAPage)
        let recovering = MockTransport([page, .json(v2Page([(5, "a", [])], next: nil))])
        #expect(try await Self.client(recovering).search(SearchQuery("x")).map(\.id) == [5])
    }

    @Test(
        "JSON content types are pages, with parameters and in any case; a reply without one goes to the decoder",
        arguments: [
            "application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json",
        ])
    func jsonTypesArePages(type: String) async throws {
        let body = v2Page([(5, "a", [])], next: nil)
        let typed = MockTransport([.status(200, headers: ["content-type": type], body: body)])
        #expect(try await Self.client(typed).search(SearchQuery("x")).map(\.id) == [5])
        let untyped = MockTransport([.status(200, body: body)])
        #expect(try await Self.client(untyped).search(SearchQuery("x")).map(\.id) == [5])
    }

    @Test("a redirect the transport refused is redirectRefused, naming scheme://host:port and why, not retried")
    func redirectIsRefused() async throws {
        let away = MockTransport([
            .status(302, headers: ["location": "http://127.0.0.1:9999/collect?token=stolen#x"])
        ])
        let error = try await Self.searchError(try Self.client(away))
        #expect(error.code == .redirectRefused)
        #expect(error.httpStatus == 302)
        #expect(
            error.message
                == "redirect to http://127.0.0.1:9999 refused: another origin than https://api.twitter.com:443")
        #expect(!error.description.contains("collect") && !error.description.contains("stolen"))
        #expect(away.requests.count == 1)
        let loop = MockTransport([.status(301, headers: ["location": "/2/tweets/search/recent?again"])])
        let looped = try await Self.searchError(try Self.client(loop))
        #expect(looped.message == "redirect to https://api.twitter.com:443 refused: too many redirects")
    }

    // MARK: A bounded walk

    @Test("a next_token cycle A, B, A stops with repeatedCursor naming A, after the pages before it")
    func tokenCycleStops() async throws {
        let transport = MockTransport([
            .json(v2Page([(30, "c", [])], next: "A")), .json(v2Page([(20, "b", [])], next: "B")),
            .json(v2Page([(10, "a", [])], next: "A")), .json(v2Page([(5, "never", [])], next: "C")),
        ])
        var ids: [UInt64] = []
        let error = try await #require(throws: SearchError.self) {
            for try await page in try Self.client(transport).pages(SearchQuery("x")) { ids += page.tweets.map(\.id) }
        }
        #expect(error.code == .repeatedCursor)
        #expect(error.message?.contains("next_token A again") == true)
        #expect(ids == [30, 20])
        #expect(transport.requests.count == 3)
        let same = MockTransport([.json(v2Page([(30, "c", [])], next: "A")), .json(v2Page([(20, "b", [])], next: "A"))])
        #expect(try await Self.searchError(try Self.client(same)).code == .repeatedCursor)
        #expect(same.requests.count == 2)
    }

    @Test("a repeated cursor that echoes the bearer token is named scrubbed")
    func repeatedCursorIsScrubbed() async throws {
        let transport = MockTransport([
            .json(v2Page([(30, "c", [])], next: Self.token)), .json(v2Page([(20, "b", [])], next: Self.token)),
        ])
        let error = try await Self.searchError(try Self.client(transport))
        #expect(error.code == .repeatedCursor)
        #expect(error.message == "the API sent next_token <redacted> again; following it would page forever")
    }

    @Test("a v1.1 page that ignores max_id stops with repeatedCursor instead of paging forever or ending quietly")
    func ignoredMaxIDStops() async throws {
        let page = MockTransport.Reply.json(
            v1Page([(900, "new", false, false), (800, "old", false, false)], nextResults: "?max_id=799"))
        let transport = MockTransport([page, page, page])
        let error = try await Self.searchError(try Self.client(transport, api: .v1_1))
        #expect(error.code == .repeatedCursor)
        #expect(error.message?.contains("max_id 799") == true)
        #expect(transport.requests.count == 2)
    }

    @Test("a walk stops at maxPagesPerWalk with pageLimit; the default is 1,000")
    func pageLimitStops() async throws {
        #expect(SearchClient.Configuration().maxPagesPerWalk == 1000)
        let transport = MockTransport(
            (1...10).map { MockTransport.Reply.json(v2Page([(UInt64(100 - $0), "t", [])], next: "token\($0)")) })
        var pages = 0
        let error = try await #require(throws: SearchError.self) {
            for try await _ in try Self.client(transport, configure: { $0.maxPagesPerWalk = 3 }).pages(SearchQuery("x"))
            {
                pages += 1
            }
        }
        #expect(error.code == .pageLimit)
        #expect(error.message?.contains("3 pages") == true)
        #expect(pages == 3)
        #expect(transport.requests.count == 3)
    }

    @Test("a page with more tweets than max_results or count is notAPage, not retried", arguments: APIVersion.allCases)
    func oversizedPageIsRefused(api: APIVersion) async throws {
        let ids = (1...11).map { UInt64(100 + $0) }
        let body =
            api == .v2
            ? v2Page(ids.map { ($0, "t", []) }, next: nil)
            : v1Page(ids.map { ($0, "t", false, false) }, nextResults: nil)
        let transport = MockTransport([.json(body)])
        var query = SearchQuery("x")
        query.pageSize = 10
        let error = try await Self.searchError(try Self.client(transport, api: api), query)
        #expect(error.code == .notAPage)
        #expect(error.message == "11 tweets on a page of at most 10")
        #expect(transport.requests.count == 1)
    }

    // MARK: Tweet ids

    @Test(
        "an id outside 1...2^63-1 refuses the page with invalidTweetID naming it, in both APIs, not retried",
        arguments: ["0", "9223372036854775808", "18446744073709551614", "18446744073709551615", "18446744073709551616"])
    func outOfRangeIDIsRefused(id: String) async throws {
        let v2 = #"{"data":[{"id":"7","text":"ok"},{"id":"\#(id)","text":"bad"}],"meta":{"result_count":2}}"#
        let v1 = #"{"statuses":[{"id_str":"7","full_text":"ok"},{"id_str":"\#(id)","full_text":"bad"}]}"#
        for (api, body) in [(APIVersion.v2, v2), (.v1_1, v1)] {
            let transport = MockTransport([.json(body)])
            let error = try await Self.searchError(try Self.client(transport, api: api))
            #expect(error.code == .invalidTweetID)
            #expect(error.message?.contains("tweet id \(id) ") == true, "\(error)")
            #expect(transport.requests.count == 1)
        }
        // v1.1's numeric id, when there is no id_str, is checked the same way.
        let numeric = #"{"statuses":[{"id":\#(id),"full_text":"bad"}]}"#
        #expect(throws: SearchError.self) { try SearchResponse(decoding: Data(numeric.utf8), api: .v1_1) }
        #expect(
            (try? SearchResponse(decoding: Data(#"{"data":[],"meta":{"oldest_id":"0"}}"#.utf8), api: .v2)) == nil)
    }

    @Test("2^63-1 and small hand-written ids are valid; 2^63-1 is refused only when its embedded time is in the future")
    func edgeIDs() async throws {
        let body = #"{"data":[{"id":"9223372036854775807","text":"max"},{"id":"1","text":"one"}]}"#
        let response = try SearchResponse(decoding: Data(body.utf8), api: .v2)
        #expect(response.tweets.map(\.id) == [Tweet.maxID, 1])
        #expect(Tweet.maxID == 9_223_372_036_854_775_807)
        // Its Snowflake time is in 2080: the client, on a clock in 2023, refuses the page.
        let error = try await Self.searchError(try Self.client(MockTransport([.json(body)])))
        #expect(error.code == .invalidTweetID)
        #expect(error.message?.contains("9223372036854775807") == true)
        let small = #"{"statuses":[{"id_str":"12345","full_text":"hi","created_at":"Fri Jul 12 23:40:37 +0000 2019"}]}"#
        #expect(try SearchResponse(decoding: Data(small.utf8), api: .v1_1).tweets.first?.id == 12345)
    }

    @Test("an id whose Snowflake time is more than a day after its own created_at refuses the real fixture's page")
    func snowflakeAfterCreatedAtIsRefused() throws {
        let fixture = try String(decoding: Fixture.v2Brexit, as: UTF8.self)
        // 1440716895355764743 carries 2021-09-22T16:37:29.xxxZ; its created_at says so too.
        #expect(
            Tweet.creationTime(ofID: 1_440_716_895_355_764_743).map { Int($0.timeIntervalSince1970) } == 1_632_328_649)
        let original = #""id": "1440716895355764743", "created_at": "2021-09-22T16:37:29.000Z""#
        #expect(fixture.contains(original))
        let hoursEarlier = fixture.replacingOccurrences(
            of: original, with: #""id": "1440716895355764743", "created_at": "2021-09-22T00:37:29.000Z""#)
        #expect(try SearchResponse(decoding: Data(hoursEarlier.utf8), api: .v2).tweets.count == 100)
        let daysEarlier = fixture.replacingOccurrences(
            of: original, with: #""id": "1440716895355764743", "created_at": "2021-09-20T16:37:29.000Z""#)
        let error = try #require(throws: SearchError.self) {
            try SearchResponse(decoding: Data(daysEarlier.utf8), api: .v2)
        }
        #expect(error.code == .invalidTweetID)
        #expect(error.message?.hasPrefix("tweet id 1440716895355764743 was made at 2021-09-22T16:37:29Z") == true)
        let v1 = try String(decoding: Fixture.v1, as: UTF8.self).replacingOccurrences(
            of: #""created_at":"Fri Jul 12 23:40:37 +0000 2019","id":1149825924029980674"#,
            with: #""created_at":"Fri Jul 12 23:40:37 +0000 2018","id":1149825924029980674"#)
        #expect(throws: SearchError.self) { try SearchResponse(decoding: Data(v1.utf8), api: .v1_1) }
    }

    @Test("the real fixtures' ids are accepted on a clock after they were made, refused on one long before")
    func fixtureIDsAgainstTheClock() async throws {
        let body = try Fixture.v2Brexit
        let later = try Self.client(MockTransport([.json(body)]))
        var pages = later.pages(SearchQuery("x")).makeAsyncIterator()
        #expect(try await pages.next()?.tweets.count == 100)
        let before = try Self.client(
            MockTransport([.json(body)]), clock: ImmediateClock(now: Date(timeIntervalSince1970: 1_600_000_000)))
        #expect(try await Self.searchError(before).code == .invalidTweetID)
    }

    // MARK: Secrets in server text

    @Test("a 401 detail and a 400 errors[].message that echo the Authorization header are scrubbed of it")
    func echoedAuthorizationIsScrubbed() async throws {
        let oauth = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret("consumer-SECRET-1"), token: "t",
            tokenSecret: Secret("token-SECRET-2"))
        for credentials in [SearchCredentials.bearer(BearerCredentials(token: Secret(Self.token))), .oauth1(oauth)] {
            for status in [401, 400] {
                let transport = MockTransport([
                    .handler { request in
                        let header = request.headerFields[.authorization] ?? ""
                        let credentials = header.split(separator: " ", maxSplits: 1).last.map(String.init) ?? ""
                        let echoed = try JSONSerialization.data(withJSONObject: [
                            "title": "Unauthorized " + header, "detail": "you sent " + credentials,
                            "errors": [["message": "bad header: " + header + " (" + credentials + ")"]],
                        ])
                        return TransportResponse(
                            status: .init(code: status), headerFields: [.contentType: "application/json"], body: echoed)
                    }
                ])
                let error = try await Self.searchError(try Self.client(transport, credentials: credentials))
                let header = try #require(transport.requests.first?.headerFields[.authorization])
                let text = [
                    error.description, String(reflecting: error), error.message ?? "", error.problemTitle ?? "",
                    error.bodyExcerpt ?? "",
                ].joined(separator: "\n")
                for secret in [header, Self.token, "consumer-SECRET-1", "token-SECRET-2", "oauth_signature"] {
                    #expect(!text.contains(secret), "HTTP \(status) leaked \(secret.prefix(12))")
                }
                #expect(error.message?.contains("<redacted>") == true)
            }
        }
    }

    // MARK: Tweet text

    @Test("the real v2 fixture's &amp; are unescaped exactly once, as Foundation's text with the entities undone")
    func unescapesTheFixture() throws {
        let data = try Fixture.v2Brexit
        let raw = (try Fixture.object(data)["data"] as? [[String: Any]] ?? []).map { $0["text"] as? String ?? "" }
        #expect(raw.reduce(0) { $0 + $1.components(separatedBy: "&amp;").count - 1 } == 8)
        let expected = raw.map {
            $0.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
        let tweets = try SearchResponse(decoding: data, api: .v2).tweets
        #expect(tweets.map(\.text) == expected)
        #expect(!tweets.contains { $0.text.contains("&amp;") })
        #expect(tweets.contains { $0.text.contains("Debt & owned") })
    }

    @Test(
        "exactly &amp; &lt; &gt;, exactly once, in both APIs",
        arguments: [
            ("AT&amp;T", "AT&T"), ("&amp;lt;", "&lt;"), ("&amp;amp;", "&amp;"), ("&lt;b&gt;x&lt;/b&gt;", "<b>x</b>"),
            ("&quot;q&quot; &#39; &AMP; &amp &", "&quot;q&quot; &#39; &AMP; &amp &"),
            ("a &gt;= b &lt;= c", "a >= b <= c"),
        ])
    func unescapesOnce(wire: String, read: String) throws {
        let v2 = v2Page([(5, wire, [])], next: nil)
        #expect(try SearchResponse(decoding: v2, api: .v2).tweets.first?.text == read)
        let v1 = v1Page([(5, wire, false, false)], nextResults: nil)
        #expect(try SearchResponse(decoding: v1, api: .v1_1).tweets.first?.text == read)
    }

    @Test("invalid UTF-8 in a tweet's text refuses the page as undecodable, escaped or not, never a crash")
    func invalidUTF8IsRefused() async throws {
        for bad: [UInt8] in [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            for escaped in [false, true] {
                var body = Data(#"{"data":[{"id":"5","text":"ok "#.utf8)
                if escaped { body += Data(#"\n"#.utf8) }
                body += Data(bad) + Data(#" end"}]}"#.utf8)
                let transport = MockTransport([.json(body)])
                let error = try await Self.searchError(try Self.client(transport, maxAttempts: 1))
                #expect(error.code == .undecodableBody)
                #expect(error.message?.hasPrefix("invalid UTF-8 in a string") == true)
            }
        }
    }

    // MARK: One classification for both APIs

    @Test("a manual retweet is the same in both APIs: its kind from its references, isManualRetweet from its text")
    func manualRetweetsClassifyAlike() throws {
        // The real retweets of both fixtures, with their native reference taken out.
        var v1 = try Fixture.object(try Fixture.v1)
        var statuses = try #require(v1["statuses"] as? [[String: Any]])
        let v1Index = try #require(statuses.firstIndex { $0["id_str"] as? String == "1149603837826629632" })
        statuses[v1Index]["retweeted_status"] = nil
        v1["statuses"] = statuses
        var v2 = try Fixture.object(try Fixture.v2Brexit)
        var data = try #require(v2["data"] as? [[String: Any]])
        let v2Index = try #require(data.firstIndex { $0["id"] as? String == "1440716856763977732" })
        data[v2Index]["referenced_tweets"] = nil
        v2["data"] = data
        let manual = [
            try SearchResponse(decoding: try JSONSerialization.data(withJSONObject: v1), api: .v1_1).tweets[v1Index],
            try SearchResponse(decoding: try JSONSerialization.data(withJSONObject: v2), api: .v2).tweets[v2Index],
        ]
        for tweet in manual {
            #expect(tweet.text.hasPrefix("RT @"))
            #expect(tweet.kind == .original)
            #expect(!tweet.isRetweet)
            #expect(tweet.isManualRetweet)
        }
        // The untouched fixtures: native retweets are retweets and not manual ones; their counts are the README's.
        let v1Tweets = try SearchResponse(decoding: try Fixture.v1, api: .v1_1).tweets
        let v2Tweets = try SearchResponse(decoding: try Fixture.v2Brexit, api: .v2).tweets
        #expect(v1Tweets.filter { $0.kind == .retweet }.count == 6)
        #expect(v2Tweets.filter { $0.kind == .retweet }.count == 67)
        #expect(!(v1Tweets + v2Tweets).contains { $0.isManualRetweet })
    }

    @Test(
        "the manual-retweet rule is RT @handle: at the start, nothing looser",
        arguments: [
            ("RT @bob: old style", true), ("RT @a_1: x", true), ("RT @bob old style", false),
            ("RTX 4090 review", false),
            ("RT @: x", false), ("rt @bob: x", false), ("so RT @bob: x", false), ("RT @sixteen_chars_xx: x", false),
        ])
    func manualRetweetRule(text: String, isManual: Bool) {
        #expect(Tweet(id: 1, text: text).isManualRetweet == isManual)
        #expect(!Tweet(id: 1, text: text, kind: .retweet).isManualRetweet)
    }

    // MARK: Error lines

    @Test("an auth error is one line without repeated words and without a rate-limit reset")
    func authErrorLine() async throws {
        let transport = MockTransport([
            .json(
                #"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#, status: 401,
                headers: ["x-rate-limit-reset": "1796157556", "x-rate-limit-remaining": "10"])
        ])
        let error = try await Self.searchError(try Self.client(transport))
        #expect(error.description == "search API: unauthorized; HTTP 401")
        let v1 = MockTransport([.json(#"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#, status: 401)])
        #expect(
            try await Self.searchError(try Self.client(v1)).description
                == "search API: unauthorized; HTTP 401; Twitter code 89; Invalid or expired token.")
    }

    @Test("a rate-limit error shows its reset in ISO 8601")
    func rateLimitLine() async throws {
        let limited = MockTransport.Reply.json(
            #"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
            status: 429, headers: ["x-rate-limit-reset": "1700000060", "x-rate-limit-remaining": "0"])
        let transport = MockTransport([limited])
        let error = try await Self.searchError(
            try Self.client(transport, configure: { $0.policy.maxRateLimitRetries = 0 }))
        #expect(
            error.description == "search API: rateLimited; HTTP 429; Too Many Requests; resets at 2023-11-14T22:14:20Z")
    }

    @Test("control characters a server sends are escaped, so the line stays one line")
    func controlCharactersAreEscaped() {
        let error = SearchError(
            .badRequest, httpStatus: 400, message: "line one\nline two\r\u{1B}[31mred\u{7F}\u{2028}",
            problemTitle: "Bad\tRequest")
        #expect(
            error.description
                == #"search API: badRequest; HTTP 400; line one\nline two\r\u{1B}[31mred\u{7F}\u{2028}; Bad\tRequest"#)
        #expect(!error.description.contains { $0.isNewline })
    }
}
