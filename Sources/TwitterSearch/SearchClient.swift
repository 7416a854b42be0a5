import Foundation
import HarvestClock
import Logging
import OAuthSigning

/// A client for the Twitter/X search API (v2 recent search or v1.1 standard search) that walks pages
/// until it is caught up, waits out rate limits, retries what is worth retrying, and never returns a
/// tweet twice in one walk.
///
/// ```swift
/// let client = try SearchClient(credentials: .bearer(BearerCredentials(token: Secret(token))))
/// for try await page in client.pages(SearchQuery("#mobileservices", sinceID: newestStored)) {
///     try await store(page.tweets)            // page by page: an interrupted walk loses nothing stored
/// }
/// ```
///
/// Every request is authenticated, sent through the ``HTTPTransport``, and judged by the
/// ``RequestPolicy``: 429s wait until the reset, 5xx and network errors back off and retry, 400/401/403/404
/// fail at once with a ``SearchError``. Waits sleep on the injected `WallClock`.
public struct SearchClient: Sendable {
    /// Settings of a ``SearchClient``.
    public struct Configuration: Sendable {
        /// The search endpoint. The default is ``APIVersion/v2``.
        public var api: APIVersion = .v2
        /// The API's base URL. The default is `https://api.twitter.com`.
        ///
        /// Plain `http` is accepted only for loopback hosts (`127.0.0.1`, `::1`, `localhost`), so a
        /// mistyped URL cannot send credentials in the clear.
        public var baseURL: URL = SearchClient.defaultBaseURL
        /// Rate limits, spacing and retries. The default is ``RequestPolicy/init()``.
        public var policy: RequestPolicy = .init()
        /// Where the rate-limit state of every response is kept and read before every request. The default is a
        /// new ``InMemoryRateLimitLedger`` of this configuration's own.
        ///
        /// Clients that share a ledger (and credentials) share one budget: a 429 answered to one pauses the others
        /// until the reset. Copies of a configuration share its ledger; give a ledger in a database (such as
        /// `PostgresRateLimitLedger`) to share the budget between processes.
        public var rateLimits: any RateLimitLedger = InMemoryRateLimitLedger()
        /// The time limit of one request, or `nil` for the transport's own. The default is 30 seconds.
        public var requestTimeout: Duration? = .seconds(30)
        /// The most pages one walk may fetch before it stops with ``SearchError/Code/pageLimit``. The default is 1,000.
        ///
        /// A bound on what a misbehaving server can make a walk do, far above a busy hour: 1,000 pages of 100 are
        /// 100,000 tweets, more than two 15-minute windows of v2 recent search's app rate limit (450 requests). A
        /// walk that stops here has stored what it fetched; the harvest job resumes it on its next run.
        public var maxPagesPerWalk: Int = 1000
        /// Called for every wait, retry and page; keep it quick. The default is none.
        public var eventHandler: (@Sendable (SearchEvent) -> Void)?
        /// The optional parts of every tweet to ask for and decode (``Tweet/language``, ``Tweet/metrics``, …). The
        /// default is none: the id, text, author, date and kind only.
        public var fields: TweetFields = []
        /// More v2 `tweet.fields` to ask for, by their API names (such as `context_annotations`), read from
        /// ``Tweet/json`` with ``TweetFields/json``. v1.1 ignores them. The default is none.
        public var extraTweetFields: [String] = []
        /// More v2 `expansions` to ask for (such as `attachments.media_keys`); the default, always asked for, is
        /// `author_id`. v1.1 ignores them.
        public var extraExpansions: [String] = []
        /// More v2 `user.fields` to ask for (such as `verified`); the default, always asked for, is `username`.
        /// v1.1 ignores them.
        public var extraUserFields: [String] = []

        /// Creates the default settings.
        public init() {}
    }

    enum Authorizer: Sendable {
        case oauth1(OAuth1Signer)
        case bearer(Secret)
        case appOnly(consumerKey: String, consumerSecret: Secret, cache: BearerTokenCache)
    }

    /// The client's settings.
    public let configuration: Configuration
    let authorizer: Authorizer
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger
    let gate = RequestGate()
    /// The ``SearchCredentials/rateLimitIdentity`` of the client's credentials.
    let rateLimitIdentity: String

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - credentials: How to authenticate.
    ///   - configuration: The client's settings. The default is ``Configuration/init()``.
    ///   - transport: How requests travel. The default is ``AsyncHTTPClientTransport/shared``, the process-wide
    ///     transport on AsyncHTTPClient, which needs no shutdown.
    ///   - clock: Where time and waits come from. The default is the system clock.
    ///   - logger: Where the client logs: requests at `.trace`, pages at `.debug`, waits and retries at `.warning`.
    /// - Throws: ``SearchError`` with code ``SearchError/Code/insecureURL`` when the base URL is not
    ///   `https` (or `http` to a loopback host).
    public init(
        credentials: SearchCredentials,
        configuration: Configuration = .init(),
        transport: any HTTPTransport = AsyncHTTPClientTransport.shared,
        clock: any WallClock = .system,
        logger: Logger = .current
    ) throws(SearchError) {
        try Self.validate(configuration.baseURL)
        self.configuration = configuration
        self.transport = transport
        self.clock = clock
        self.logger = logger
        rateLimitIdentity = credentials.rateLimitIdentity
        switch credentials {
        case .oauth1(let credentials):
            authorizer = .oauth1(OAuth1Signer(credentials: credentials, clock: clock))
        case .bearer(let bearer):
            authorizer = .bearer(bearer.token)
        case .appOnly(let key, let secret):
            authorizer = .appOnly(consumerKey: key, consumerSecret: secret, cache: BearerTokenCache())
        }
    }

    /// Whether credentials may go to `url`: `https`, or `http` to a loopback host.
    static func validate(_ url: URL) throws(SearchError) {
        let scheme = url.scheme?.lowercased()
        let host = (url.host ?? "").lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if scheme == "https", !host.isEmpty { return }
        if scheme == "http", host == "localhost" || host == "::1" || host.hasPrefix("127.") { return }
        throw SearchError(
            .insecureURL,
            message:
                "credentials are sent only over https, or http to 127.0.0.1, ::1 or localhost (got \(scheme ?? "no scheme")://\(host))"
        )
    }

    /// The pages of results for `query`, newest first, until the walk is caught up.
    ///
    /// The walk follows v2 `next_token` or v1.1 `max_id` (oldest seen minus one) and ends when the API
    /// reports no further page or a page reaches `query.sinceID`. Tweets at or below `sinceID`, at or
    /// above `untilID`, or already returned by an earlier page of the walk are left out.
    ///
    /// - Parameter query: What to search for.
    /// - Returns: An `AsyncSequence` of ``SearchPage``; iterating it throws ``SearchError`` (or
    ///   `CancellationError`).
    public func pages(_ query: SearchQuery) -> SearchPages {
        SearchPages(client: self, query: query)
    }

    /// The rate-limit state of the most recent response that reported one, or `nil` before any did.
    public var lastRateLimit: RateLimit? {
        get async { await gate.rateLimit }
    }

    /// Every tweet for `query`, newest first: all of ``pages(_:)`` collected.
    ///
    /// - Throws: ``SearchError``, or `CancellationError`.
    public func search(_ query: SearchQuery) async throws -> [Tweet] {
        var tweets: [Tweet] = []
        for try await page in pages(query) { tweets += page.tweets }
        return tweets
    }
}

extension SearchClient {
    /// `https://api.twitter.com`, the default ``Configuration/baseURL``.
    public static var defaultBaseURL: URL {
        URL(string: "https://api.twitter.com") ?? URL(fileURLWithPath: "/")
    }
}

/// The pages of one search walk; see ``SearchClient/pages(_:)``.
public struct SearchPages: AsyncSequence, Sendable {
    /// A page.
    public typealias Element = SearchPage

    let client: SearchClient
    let query: SearchQuery

    /// Starts the walk.
    public func makeAsyncIterator() -> Iterator {
        Iterator(client: client, query: query)
    }

    /// Walks the pages one request at a time.
    public struct Iterator: AsyncIteratorProtocol {
        let client: SearchClient
        let query: SearchQuery
        var number = 0
        var nextToken: String?
        var maxID: UInt64?
        var finished = false
        var seen: Set<UInt64> = []
        /// Every `next_token` (v2) or `max_id` (v1.1) this walk has sent: one the API sends again would loop forever.
        var usedCursors: Set<String> = []

        init(client: SearchClient, query: SearchQuery) {
            self.client = client
            self.query = query
            if client.configuration.api == .v1_1, let untilID = query.untilID { maxID = untilID &- 1 }
        }

        /// The next page, or `nil` when the walk is caught up.
        ///
        /// - Throws: ``SearchError``, or `CancellationError`.
        public mutating func next() async throws -> SearchPage? {
            guard !finished else { return nil }
            do {
                return try await fetch()
            } catch {
                finished = true
                throw error
            }
        }

        /// Records `cursor` as sent, or throws ``SearchError/Code/repeatedCursor`` when this walk has sent it before.
        private mutating func useCursor(_ cursor: String, name: String) async throws {
            guard usedCursors.insert(cursor).inserted else {
                // The cursor is the server's text: scrubbed whole, like any other, before it is cut and named.
                let shown = await client.secretScrubber(authorization: nil).scrub(cursor).prefix(80)
                throw SearchError(
                    .repeatedCursor, message: "the API sent \(name) \(shown) again; following it would page forever")
            }
        }

        private mutating func fetch() async throws -> SearchPage {
            try query.validate(for: client.configuration.api)
            let limit = client.configuration.maxPagesPerWalk
            guard number < limit else {
                throw SearchError(
                    .pageLimit,
                    message: "the walk reached its limit of \(limit) pages; the rest is left for the next run")
            }
            number += 1
            let api = client.configuration.api
            let fields = client.configuration.fields
            let url = client.searchURL(query, nextToken: nextToken, maxID: maxID)
            var logger = client.logger
            logger[metadataKey: "th.page"] = "\(number)"
            let (response, rateLimit) = try await client.exchange(
                method: .get, url: url, body: nil, sinceID: query.sinceID, logger: logger
            ) { response throws(SearchError) in
                try SearchResponse(decoding: response.body, api: api, fields: fields)
            }

            guard response.tweets.count <= query.pageSize else {
                throw SearchError(
                    .notAPage, httpStatus: 200,
                    message: "\(response.tweets.count) tweets on a page of at most \(query.pageSize)")
            }
            // An id made by a clock running ahead of this one would move the watermark past every tweet still to
            // come. The decoder has already refused one that contradicts its own created_at; a tweet without a
            // created_at is held to this client's clock instead. (Tweets with one are not: a test on a manual
            // clock set years back must still read pages recorded today.)
            let latest = client.clock.now.addingTimeInterval(Tweet.creationTimeTolerance)
            if let future = response.tweets.first(where: {
                $0.createdAt == nil && (Tweet.creationTime(ofID: $0.id) ?? .distantPast) > latest
            }) {
                throw SearchError(
                    .invalidTweetID, httpStatus: 200,
                    message: "tweet id \(future.id) was made at "
                        + "\((Tweet.creationTime(ofID: future.id) ?? latest).formatted(.iso8601)) by its own clock, "
                        + "more than a day from now; the page is refused")
            }
            let sinceID = query.sinceID ?? 0
            let untilID = query.untilID ?? .max
            let tweets = response.tweets.filter { $0.id > sinceID && $0.id < untilID && seen.insert($0.id).inserted }
            let reachedSince = query.sinceID != nil && (response.oldestID ?? .max) <= sinceID
            var isLast = reachedSince
            switch api {
            case .v2:
                // v2 may send an empty page that still has a next_token: only the token decides.
                if response.nextToken == nil { isLast = true }
                if !isLast, let token = response.nextToken { try await useCursor(token, name: "next_token") }
                nextToken = response.nextToken
            case .v1_1:
                if response.tweets.isEmpty || (response.hasSearchMetadata && response.nextResults == nil) {
                    isLast = true
                }
                let next = (response.oldestID ?? 0) &- 1
                if (response.oldestID ?? 0) == 0 { isLast = true }
                // A page whose oldest tweet is not below the max_id sent ignored it: the next max_id would be one
                // this walk has already sent (or a larger one), and the walk would go round forever.
                if !isLast, let maxID, next >= maxID {
                    throw SearchError(
                        .repeatedCursor,
                        message: "max_id \(next) is not below the max_id \(maxID) already sent; the API ignores it")
                }
                if !isLast { try await useCursor(String(next), name: "max_id") }
                maxID = next
            }
            finished = isLast
            logger.debug(
                "page fetched",
                metadata: [
                    "th.tweets": "\(tweets.count)", "th.received": "\(response.tweets.count)", "th.last": "\(isLast)",
                ])
            client.configuration.eventHandler?(.page(number: number, tweets: tweets.count, rateLimit: rateLimit))
            return SearchPage(
                tweets: tweets, number: number, rateLimit: rateLimit, isLast: isLast, oldestID: response.oldestID,
                newestID: response.newestID)
        }
    }
}

extension SearchQuery {
    func validate(for api: APIVersion) throws(SearchError) {
        if text.isEmpty { throw SearchError(.invalidQuery, message: "the query text is empty") }
        let range = api == .v2 ? 10...100 : 1...100
        if !range.contains(pageSize) {
            throw SearchError(
                .invalidQuery, message: "page size \(pageSize) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        if let sinceID, let untilID, untilID <= sinceID &+ 1 {
            throw SearchError(.invalidQuery, message: "untilID \(untilID) leaves nothing above sinceID \(sinceID)")
        }
    }
}

extension SearchClient {
    /// The v2 `tweet.fields`, `expansions` and `user.fields` of every request: what the model needs, the
    /// ``Configuration/fields`` asked for, and the extra names, each once, in that order.
    var v2Fields: [(String, String)] {
        func joined(_ base: [String], _ more: [String]) -> String {
            var seen = Set<String>()
            return (base + more).filter { !$0.isEmpty && seen.insert($0).inserted }.joined(separator: ",")
        }
        let configuration = self.configuration
        return [
            (
                "tweet.fields",
                joined(
                    ["created_at", "author_id", "referenced_tweets", "in_reply_to_user_id"]
                        + configuration.fields.v2Names,
                    configuration.extraTweetFields)
            ),
            ("expansions", joined(["author_id"], configuration.extraExpansions)),
            ("user.fields", joined(["username"], configuration.extraUserFields)),
        ]
    }

    /// The search URL for one page; values are percent-encoded as RFC 3986 (and OAuth) require.
    func searchURL(_ query: SearchQuery, nextToken: String?, maxID: UInt64?) -> URL {
        var items: [(String, String)]
        let path: String
        switch configuration.api {
        case .v2:
            path = "/2/tweets/search/recent"
            items = [("query", query.text), ("max_results", String(query.pageSize))] + v2Fields
            if let sinceID = query.sinceID { items.append(("since_id", String(sinceID))) }
            if let untilID = query.untilID { items.append(("until_id", String(untilID))) }
            if let nextToken { items.append(("next_token", nextToken)) }
        case .v1_1:
            path = "/1.1/search/tweets.json"
            items = [
                ("q", query.text), ("result_type", "recent"), ("count", String(query.pageSize)),
                ("tweet_mode", "extended"),
            ]
            if let sinceID = query.sinceID { items.append(("since_id", String(sinceID))) }
            if let maxID { items.append(("max_id", String(maxID))) }
        }
        let queryString = items.map { "\(PercentEncoding.encode($0.0))=\(PercentEncoding.encode($0.1))" }.joined(
            separator: "&")
        return endpoint(path + "?" + queryString)
    }

    /// `path` (with its query) under the base URL.
    func endpoint(_ path: String) -> URL {
        var base = configuration.baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return URL(string: base + path) ?? configuration.baseURL
    }
}
