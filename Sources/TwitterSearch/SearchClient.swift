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
        /// The time limit of one request, or `nil` for the transport's own. The default is 30 seconds.
        public var requestTimeout: Duration? = .seconds(30)
        /// Called for every wait, retry and page; keep it quick. The default is none.
        public var eventHandler: (@Sendable (SearchEvent) -> Void)?

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

        private mutating func fetch() async throws -> SearchPage {
            try query.validate(for: client.configuration.api)
            number += 1
            let api = client.configuration.api
            let url = client.searchURL(query, nextToken: nextToken, maxID: maxID)
            var logger = client.logger
            logger[metadataKey: "th.page"] = "\(number)"
            let (response, rateLimit) = try await client.exchange(
                method: .get, url: url, body: nil, sinceID: query.sinceID, logger: logger
            ) { response throws(SearchError) in try SearchResponse(decoding: response.body, api: api) }

            let sinceID = query.sinceID ?? 0
            let untilID = query.untilID ?? .max
            let tweets = response.tweets.filter { $0.id > sinceID && $0.id < untilID && seen.insert($0.id).inserted }
            let reachedSince = query.sinceID != nil && (response.oldestID ?? .max) <= sinceID
            var isLast = reachedSince
            switch api {
            case .v2:
                // v2 may send an empty page that still has a next_token: only the token decides.
                if response.nextToken == nil || response.nextToken == nextToken { isLast = true }
                nextToken = response.nextToken
            case .v1_1:
                if response.tweets.isEmpty || (response.hasSearchMetadata && response.nextResults == nil) {
                    isLast = true
                }
                let next = (response.oldestID ?? 0) &- 1
                if (response.oldestID ?? 0) == 0 || (maxID.map { next >= $0 } ?? false) { isLast = true }
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
    static let v2Fields: [(String, String)] = [
        ("tweet.fields", "created_at,author_id,referenced_tweets,in_reply_to_user_id"),
        ("expansions", "author_id"),
        ("user.fields", "username"),
    ]

    /// The search URL for one page; values are percent-encoded as RFC 3986 (and OAuth) require.
    func searchURL(_ query: SearchQuery, nextToken: String?, maxID: UInt64?) -> URL {
        var items: [(String, String)]
        let path: String
        switch configuration.api {
        case .v2:
            path = "/2/tweets/search/recent"
            items = [("query", query.text), ("max_results", String(query.pageSize))] + Self.v2Fields
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
