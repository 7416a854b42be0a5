import Foundation
import HTTPTypes
import HarvestClock
import HarvestLocking
import TwitterSearch

/// A simulated Twitter search API: an `HTTPTransport` that answers from a deterministic tweet stream,
/// with no network and no credentials.
///
/// `harvest --demo` runs on it, and so can your own tests and experiments. It speaks the real wire formats:
///
/// - `GET /2/tweets/search/recent` (v2): `data`, `includes.users`, `includes.tweets`, and `meta` with
///   `newest_id`, `oldest_id`, `result_count` and `next_token`; honours `query`, `max_results` (10–100,
///   default 10), `since_id`, `until_id` and `next_token`. A `since_id` or `until_id` older than the
///   searchable window is answered with Twitter's `400 Invalid Request`.
/// - `GET /1.1/search/tweets.json` (v1.1): `statuses` (with `id` and `id_str`, `user`, `retweeted_status`,
///   `quoted_status`, `in_reply_to_status_id_str`) and `search_metadata` with `next_results`; honours `q`,
///   `count` (1–100, default 15), `since_id` and `max_id`; escaped as Twitter escapes v1.1 bodies.
/// - `POST /oauth2/token`: the app-only bearer-token exchange.
///
/// Tweet text is HTML-escaped on the wire in both versions, as the real API escapes it (`&amp;`, `&lt;`, `&gt;`;
/// some texts have all three, and one a literal `&amp;` its author typed), so that a client sees what it will see
/// from the real API; ``DemoTweet/text`` is the text people read.
///
/// Every response carries `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset`; past the
/// limit of a 15-minute window the API answers `429 Too Many Requests`. A request without an
/// `Authorization` header gets `401`.
///
/// The stream: ``Configuration/tweetsPerMinute`` tweets a minute, forever, by a cast of authors with
/// Unicode and emoji in their names and texts, about four in ten of them retweets, replies or quotes, ids
/// above 2^53. A search sees the tweets created at or before the clock's `WallClock.now` and
/// within ``Configuration/window`` of it, so new tweets keep arriving as the clock moves. The same seed gives
/// the same tweets with the same ids in every process.
///
/// ```swift
/// let clock = ManualClock(now: Date(timeIntervalSince1970: 1_790_000_000))
/// let demo = DemoTransport(clock: clock)
/// let harvester = try Harvester(settings: .demo, store: InMemoryTableStore(), transport: demo, clock: clock)
/// let report = try await harvester.runOnce()
/// ```
public struct DemoTransport: HTTPTransport {
    /// How the simulated API behaves.
    public struct Configuration: Sendable, Hashable {
        /// The seed of the tweet stream. The default is `2026`.
        public var seed: UInt64 = 2026
        /// How many tweets arrive each minute. The default is `240`, which fills several pages of 100 between
        /// two runs a minute apart.
        public var tweetsPerMinute: Int = 240
        /// How far back a search can reach; older `since_id`s are rejected as the real API rejects ids
        /// older than seven days. The default is ten minutes.
        public var window: Duration = .seconds(600)
        /// Requests allowed per 15-minute window before `429`. The default is `450`, the v2 app limit.
        public var rateLimit: Int = 450

        /// Creates the default configuration.
        public init() {}
    }

    /// The configuration this transport was created with.
    public let configuration: Configuration
    private let clock: any WallClock
    private let timeline: DemoTimeline
    private let requests: RequestCounter
    private let requestCounter: (any DemoRequestCounter)?

    /// Creates a demo API whose stream moves with `clock`.
    ///
    /// - Parameters:
    ///   - configuration: The seed, the rate of new tweets, the window and the rate limit.
    ///   - clock: The clock that decides which tweets exist yet. The default is the system clock.
    ///   - requestCounter: Where ``send(_:)`` counts requests against the rate limit. The default, `nil`, counts
    ///     in this value (and its copies); give processes that should see one API with one rate limit (a fleet
    ///     on one database) one counter that all of them reach.
    public init(
        configuration: Configuration = .init(), clock: any WallClock = .system,
        requestCounter: (any DemoRequestCounter)? = nil
    ) {
        self.configuration = configuration
        self.clock = clock
        self.timeline = DemoTimeline(seed: configuration.seed, tweetsPerMinute: configuration.tweetsPerMinute)
        self.requests = RequestCounter()
        self.requestCounter = requestCounter
    }

    /// The tweets a search for `query` can find that were created after `start` and at or before `end`,
    /// newest first.
    ///
    /// This is the ground truth of the stream, for tests: a complete harvest stores exactly these tweets,
    /// less the ones its filters drop.
    ///
    /// - Parameters:
    ///   - start: The exclusive lower bound.
    ///   - end: The inclusive upper bound.
    ///   - query: The search query, whose plain terms appear in every text. The default is `#mobileservices`.
    /// - Returns: The tweets, newest first.
    public func timeline(after start: Date, through end: Date, query: String = "#mobileservices") -> [DemoTweet] {
        let terms = DemoTimeline.terms(of: query)
        var result: [DemoTweet] = []
        var slot = timeline.slot(at: end)
        while slot >= 0 {
            let created = timeline.createdAt(ofSlot: slot)
            if created <= start { break }
            if created <= end { result.append(timeline.tweet(inSlot: slot, terms: terms)) }
            slot -= 1
        }
        return result
    }

    /// Answers `request` as the search API would at the clock's current time.
    ///
    /// - Throws: `CancellationError` when the task is cancelled; a `SearchError` with code `transport` when the
    ///   ``DemoRequestCounter`` given to the initializer fails (as a real API that cannot be reached would).
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        guard let requestCounter, !Self.isTokenRequest(request) else { return response(to: request) }
        let now = clock.now
        let window = RequestCounter.window(at: now)
        let used: Int
        do {
            used = try await requestCounter.countRequest(inWindow: window)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw SearchError(.transport, message: "the demo API's request counter failed: \(error)")
        }
        let rateLimit = RateWindow(remaining: configuration.rateLimit - used, reset: (window + 1) * 900)
        return response(to: request, at: now, rateLimit: rateLimit)
    }

    /// The response to `request` at the clock's current time, computed synchronously.
    ///
    /// A server of your own can serve the demo API over real HTTP with it (the package's tests do, so that
    /// several `harvest` processes share one simulated API).
    ///
    /// It counts the request against the rate limit in this value (and its copies), also when the initializer was
    /// given a ``DemoRequestCounter`` (only ``send(_:)`` uses that).
    ///
    /// - Parameter request: The request, with its URL's path and query as the search API reads them.
    /// - Returns: What ``send(_:)`` would return for it.
    public func response(to request: TransportRequest) -> TransportResponse {
        let now = clock.now
        if Self.isTokenRequest(request) { return json(.ok, bearerTokenBody(), style: .v1_1, rateLimit: nil) }
        return response(to: request, at: now, rateLimit: requests.admit(at: now, limit: configuration.rateLimit))
    }

    /// Whether `request` asks for an app-only bearer token (not counted against the rate limit).
    private static func isTokenRequest(_ request: TransportRequest) -> Bool {
        request.url.path == "/oauth2/token" && request.method == .post
    }

    /// The response to a search request counted as `rateLimit` says.
    private func response(to request: TransportRequest, at now: Date, rateLimit: RateWindow) -> TransportResponse {
        let path = request.url.path
        let isV1 = path.hasPrefix("/1.1/")
        guard request.headerFields[.authorization] != nil else {
            return json(
                .unauthorized, isV1 ? v1Error(32, "Could not authenticate you.") : v2Unauthorized(),
                style: isV1 ? .v1_1 : .v2, rateLimit: rateLimit)
        }
        guard rateLimit.remaining >= 0 else {
            return json(
                .tooManyRequests, isV1 ? v1Error(88, "Rate limit exceeded") : v2TooManyRequests(),
                style: isV1 ? .v1_1 : .v2, rateLimit: rateLimit)
        }
        let parameters = Self.queryParameters(of: request.url)
        switch path {
        case "/2/tweets/search/recent": return searchV2(parameters, now: now, rateLimit: rateLimit)
        case "/1.1/search/tweets.json": return searchV1(parameters, now: now, rateLimit: rateLimit)
        default:
            return json(.notFound, v1Error(34, "Sorry, that page does not exist."), style: .v1_1, rateLimit: rateLimit)
        }
    }

    // MARK: Searching the stream

    /// The tweets strictly between `lower` and `upper` (ids), visible at `now`, newest first, at most `limit`;
    /// and whether older matching tweets remain.
    private func search(
        terms: String, since lower: UInt64?, before upper: UInt64?, limit: Int, now: Date
    ) -> (tweets: [DemoTweet], hasMore: Bool) {
        let oldestVisible = now.addingTimeInterval(-configuration.window.timeInterval)
        var slot = timeline.slot(at: now)
        if let upper { slot = min(slot, timeline.slot(ofID: upper)) }
        var found: [DemoTweet] = []
        while slot >= 0 {
            let id = timeline.id(ofSlot: slot)
            let created = timeline.createdAt(ofSlot: slot)
            if created <= oldestVisible { break }
            if let lower, id <= lower { break }
            if created <= now && upper.map({ id < $0 }) ?? true {
                if found.count == limit { return (found, true) }
                found.append(timeline.tweet(inSlot: slot, terms: terms))
            }
            slot -= 1
        }
        return (found, false)
    }

    /// Whether a `since_id` or `until_id` points before the searchable window.
    private func isTooOld(_ id: UInt64, now: Date) -> Bool {
        let created = Date(
            timeIntervalSince1970: Double(Int64(id >> 22) + DemoTimeline.twitterEpochMilliseconds) / 1000)
        return created < now.addingTimeInterval(-configuration.window.timeInterval)
    }

    private func searchV2(_ parameters: [String: String], now: Date, rateLimit: RateWindow) -> TransportResponse {
        guard let query = parameters["query"], !query.isEmpty else {
            return json(
                .badRequest, v2InvalidRequest("query", "", "The `query` query parameter can not be empty"),
                style: .v2, rateLimit: rateLimit)
        }
        let pageSize = parameters["max_results"].map { Int($0) ?? -1 } ?? 10
        guard (10...100).contains(pageSize) else {
            return json(
                .badRequest,
                v2InvalidRequest(
                    "max_results", parameters["max_results"] ?? "",
                    "The `max_results` query parameter value [\(parameters["max_results"] ?? "")] is not between 10 and 100"
                ),
                style: .v2, rateLimit: rateLimit)
        }
        var bounds: [String: UInt64] = [:]
        for name in ["since_id", "until_id"] {
            guard let text = parameters[name] else { continue }
            guard let id = UInt64(text), !isTooOld(id, now: now) else {
                let windowStart = now.addingTimeInterval(-configuration.window.timeInterval)
                let smallest =
                    UInt64(
                        max(0, Int64(windowStart.timeIntervalSince1970 * 1000) - DemoTimeline.twitterEpochMilliseconds))
                    << 22
                let message =
                    "Invalid '\(name)':'\(text)'. '\(name)' must be a tweet id created after "
                    + "\(DemoDates.v2Minute(windowStart)). Please use a '\(name)' that is larger than \(smallest)"
                return json(.badRequest, v2InvalidRequest(name, text, message), style: .v2, rateLimit: rateLimit)
            }
            bounds[name] = id
        }
        var upper = bounds["until_id"]
        if let token = parameters["next_token"] {
            guard let continuation = NextToken.decode(token, seed: configuration.seed) else {
                return json(
                    .badRequest,
                    v2InvalidRequest(
                        "next_token", token, "The `next_token` query parameter value [\(token)] is not valid"),
                    style: .v2, rateLimit: rateLimit)
            }
            upper = min(upper ?? continuation, continuation)
        }
        let terms = DemoTimeline.terms(of: query)
        let (tweets, hasMore) = search(
            terms: terms, since: bounds["since_id"], before: upper, limit: pageSize, now: now)
        var meta: [(String, DemoJSON)] = []
        if let newest = tweets.first, let oldest = tweets.last {
            meta.append(("newest_id", .string(String(newest.id))))
            meta.append(("oldest_id", .string(String(oldest.id))))
        }
        meta.append(("result_count", .unsigned(UInt64(tweets.count))))
        if hasMore, let oldest = tweets.last {
            meta.append(("next_token", .string(NextToken.encode(oldest.id, seed: configuration.seed))))
        }
        var body: [(String, DemoJSON)] = []
        if !tweets.isEmpty {
            body.append(("data", .array(tweets.map(DemoWire.v2Tweet))))
            body.append(("includes", DemoWire.v2Includes(tweets, timeline: timeline, terms: terms)))
        }
        body.append(("meta", .object(meta)))
        return json(.ok, .object(body), style: .v2, rateLimit: rateLimit)
    }

    private func searchV1(_ parameters: [String: String], now: Date, rateLimit: RateWindow) -> TransportResponse {
        guard let query = parameters["q"], !query.isEmpty else {
            return json(.badRequest, v1Error(25, "Query parameters are missing."), style: .v1_1, rateLimit: rateLimit)
        }
        let count = min(100, max(1, parameters["count"].flatMap { Int($0) } ?? 15))
        let since = parameters["since_id"].flatMap { UInt64($0) }
        let maxID = parameters["max_id"].flatMap { UInt64($0) }
        let upper = maxID.map { $0 == .max ? $0 : $0 + 1 }
        let terms = DemoTimeline.terms(of: query)
        let (tweets, hasMore) = search(terms: terms, since: since, before: upper, limit: count, now: now)
        let encodedQuery = Self.formEncode(query)
        var metadata: [(String, DemoJSON)] = [
            ("completed_in", .number(0.021)),
            ("max_id", .unsigned(tweets.first?.id ?? 0)),
            ("max_id_str", .string(String(tweets.first?.id ?? 0))),
        ]
        if hasMore, let oldest = tweets.last {
            var next = "?max_id=\(oldest.id - 1)&q=\(encodedQuery)"
            if let since { next += "&since_id=\(since)" }
            metadata.append(("next_results", .string(next + "&include_entities=1")))
        }
        metadata += [
            ("query", .string(encodedQuery)),
            (
                "refresh_url",
                .string("?since_id=\(tweets.first?.id ?? since ?? 0)&q=\(encodedQuery)&include_entities=1")
            ),
            ("count", .unsigned(UInt64(count))),
            ("since_id", .unsigned(since ?? 0)),
            ("since_id_str", .string(String(since ?? 0))),
        ]
        let extended = parameters["tweet_mode"] == "extended"
        let statuses = tweets.map { DemoWire.v1Status($0, timeline: timeline, terms: terms, extended: extended) }
        let body = DemoJSON.object([("statuses", .array(statuses)), ("search_metadata", .object(metadata))])
        return json(.ok, body, style: .v1_1, rateLimit: rateLimit)
    }

    // MARK: Responses

    private func json(
        _ status: HTTPResponse.Status, _ body: DemoJSON, style: DemoJSON.Style, rateLimit: RateWindow?
    ) -> TransportResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json; charset=utf-8"
        if let rateLimit {
            for (name, value) in [
                ("x-rate-limit-limit", configuration.rateLimit),
                ("x-rate-limit-remaining", max(0, rateLimit.remaining)),
                ("x-rate-limit-reset", Int(rateLimit.reset)),
            ] {
                if let name = HTTPField.Name(name) { fields[name] = String(value) }
            }
        }
        return TransportResponse(status: status, headerFields: fields, body: body.serialized(style))
    }

    private func bearerTokenBody() -> DemoJSON {
        .object([
            ("token_type", .string("bearer")),
            ("access_token", .string("AAAAAAAAAAAAAAAAAAAAADEMO%2Fdemo0token0for0the0simulated0search0api")),
        ])
    }

    private func v1Error(_ code: UInt64, _ message: String) -> DemoJSON {
        .object([("errors", .array([.object([("message", .string(message)), ("code", .unsigned(code))])]))])
    }

    private func v2InvalidRequest(_ parameter: String, _ value: String, _ message: String) -> DemoJSON {
        .object([
            (
                "errors",
                .array([
                    .object([
                        ("parameters", .object([(parameter, .array([.string(value)]))])),
                        ("message", .string(message)),
                    ])
                ])
            ),
            ("title", .string("Invalid Request")),
            ("detail", .string("One or more parameters to your request was invalid.")),
            ("type", .string("https://api.twitter.com/2/problems/invalid-request")),
        ])
    }

    private func v2Unauthorized() -> DemoJSON {
        .object([
            ("title", .string("Unauthorized")), ("type", .string("about:blank")),
            ("status", .unsigned(401)), ("detail", .string("Unauthorized")),
        ])
    }

    private func v2TooManyRequests() -> DemoJSON {
        .object([
            ("title", .string("Too Many Requests")), ("detail", .string("Too Many Requests")),
            ("type", .string("about:blank")), ("status", .unsigned(429)),
        ])
    }

    // MARK: URLs

    /// The decoded query parameters of `url` (`+` as a space, as form encoding has it); the last value wins.
    static func queryParameters(of url: URL) -> [String: String] {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery else {
            return [:]
        }
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }

    /// `text` percent-encoded as Twitter writes it into `next_results` (unreserved characters kept).
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Where a ``DemoTransport`` counts the requests of its 15-minute rate-limit windows.
///
/// By default each demo transport counts in its own process. Processes that should see one demo API with one
/// rate limit, such as a fleet of `harvest run --demo` processes on one PostgreSQL store, give their transports
/// one counter that all of them reach (the `harvest` command keeps it in the store's database). The timeline
/// needs nothing shared: it is a function of the seed and the time.
///
/// ```swift
/// actor Counted: DemoRequestCounter {
///     private var used: [Int64: Int] = [:]
///     func countRequest(inWindow window: Int64) -> Int {
///         used[window, default: 0] += 1
///         return used[window]!
///     }
/// }
/// let demo = DemoTransport(requestCounter: Counted())
/// ```
public protocol DemoRequestCounter: Sendable {
    /// Counts one request in rate-limit window `window` and returns how many requests that window has had, this
    /// one included.
    ///
    /// - Parameter window: The 15-minute window's number: Unix seconds divided by 900, rounded down.
    /// - Returns: The window's requests so far, at least 1.
    func countRequest(inWindow window: Int64) async throws -> Int
}

/// One 15-minute rate-limit window as a request sees it.
struct RateWindow: Sendable {
    /// Requests left after this one; negative when this one is over the limit.
    var remaining: Int
    /// The window's end, in Unix seconds.
    var reset: Int64
}

/// Counts requests per fixed 15-minute window of the clock.
final class RequestCounter: Sendable {
    // A lock, not an actor: `send` must count synchronously before it answers.
    private let state = Locked<(window: Int64, used: Int)>((window: -1, used: 0))

    /// The number of the 15-minute window `now` falls in: Unix seconds divided by 900, rounded down.
    static func window(at now: Date) -> Int64 {
        Int64((now.timeIntervalSince1970 / 900).rounded(.down))
    }

    func admit(at now: Date, limit: Int) -> RateWindow {
        let window = Self.window(at: now)
        let used = state.withLock { state -> Int in
            if state.window != window { state = (window, 0) }
            state.used += 1
            return state.used
        }
        return RateWindow(remaining: limit - used, reset: (window + 1) * 900)
    }
}

/// The demo's opaque `next_token`s: the page's exclusive upper id, scrambled with the seed, in base 36.
enum NextToken {
    private static let prefix = "b26v89c19zqg8o3f"

    static func encode(_ upper: UInt64, seed: UInt64) -> String {
        prefix + String(upper ^ (seed &* 0x9E37_79B9_7F4A_7C15), radix: 36)
    }

    static func decode(_ token: String, seed: UInt64) -> UInt64? {
        guard token.hasPrefix(prefix), let value = UInt64(token.dropFirst(prefix.count), radix: 36) else { return nil }
        return value ^ (seed &* 0x9E37_79B9_7F4A_7C15)
    }
}
