import Foundation

/// One decoded search response body, v2 or v1.1, in the shared model.
///
/// ``SearchClient`` decodes every page with it; it is public so tools and tests can decode recorded
/// bodies (`--demo` data, fixtures, benchmarks) exactly as the client does.
///
/// ```swift
/// let response = try SearchResponse(decoding: body, api: .v2)
/// let kept = response.tweets.filter { $0.kind == .original || $0.kind == .quote }
/// ```
public struct SearchResponse: Sendable, Hashable {
    /// The tweets in the order the API gave them (newest first).
    public var tweets: [Tweet]
    /// v2 `meta.next_token`: present when more pages follow.
    public var nextToken: String?
    /// v1.1 `search_metadata.next_results` (a query string such as `?max_id=…&q=…`): present when more pages follow.
    public var nextResults: String?
    /// The smallest tweet id in the response (v2 `meta.oldest_id`, or computed).
    public var oldestID: UInt64?
    /// The largest tweet id in the response (v2 `meta.newest_id`, or computed).
    public var newestID: UInt64?
    /// Whether a v1.1 body had a `search_metadata` object (whose missing `next_results` then means "no more").
    var hasSearchMetadata = false

    /// Creates a response from its parts.
    public init(
        tweets: [Tweet], nextToken: String? = nil, nextResults: String? = nil,
        oldestID: UInt64? = nil, newestID: UInt64? = nil
    ) {
        self.tweets = tweets
        self.nextToken = nextToken
        self.nextResults = nextResults
        self.oldestID = oldestID
        self.newestID = newestID
    }

    /// Whether the API says more pages follow.
    public var hasMore: Bool { nextToken != nil || nextResults != nil }

    /// Decodes a response body of `api`'s shape.
    ///
    /// Reads only the fields the model needs and skips the rest without building it. Ids are parsed
    /// from their decimal strings into `UInt64`; dates from their text. Tweet text has the API's HTML escapes
    /// (`&amp;`, `&lt;`, `&gt;`) undone exactly once.
    ///
    /// - Parameters:
    ///   - body: The response body: v2 `{"data":[…],"includes":{"users":[…]},"meta":{…}}` or
    ///     v1.1 `{"statuses":[…],"search_metadata":{…}}`.
    ///   - api: The shape to expect.
    ///   - fields: The optional parts of each tweet to decode; the others are skipped. The default is none.
    /// - Throws: ``SearchError`` with code ``SearchError/Code/undecodableBody`` and a short excerpt
    ///   when the body is not JSON of that shape (truncated, malformed, not UTF-8, ids that are not digits), or
    ///   ``SearchError/Code/invalidTweetID`` naming an id outside `1...Tweet.maxID`, or one whose embedded
    ///   creation time lies more than a day after its `created_at`.
    public init(decoding body: Data, api: APIVersion, fields: TweetFields = []) throws(SearchError) {
        let result: Result<SearchResponse, JSONScanError> = body.withUnsafeBytes { buffer in
            guard var scanner = JSONScanner(buffer) else {
                return .failure(JSONScanError(offset: 0, reason: "empty body"))
            }
            do throws(JSONScanError) {
                let response =
                    api == .v2 ? try Self.decodeV2(&scanner, fields) : try Self.decodeV1(&scanner, fields)
                guard scanner.isAtEnd() else { throw scanner.fail("trailing data") }
                return .success(response)
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let response): self = response
        case .failure(let error) where error.invalidID != nil:
            throw SearchError(
                .invalidTweetID, httpStatus: 200,
                message: "tweet id \(error.invalidID ?? "") \(error.reason); the page is refused",
                bodyExcerpt: SearchError.excerpt(of: body))
        case .failure(let error):
            throw SearchError(
                .undecodableBody, httpStatus: 200,
                message: "\(error.reason) at byte \(error.offset)", bodyExcerpt: SearchError.excerpt(of: body))
        }
    }

    // MARK: v2

    private static func decodeV2(_ scanner: inout JSONScanner, _ fields: TweetFields) throws(JSONScanError)
        -> SearchResponse
    {
        var response = SearchResponse(tweets: [])
        var usernames: [UInt64: String] = [:]
        var first = try scanner.beginObject()
        while let key = try scanner.nextKey(&first) {
            if key.equals("data") {
                if try scanner.consumeNull() { continue }
                try scanner.beginArray()
                response.tweets.reserveCapacity(100)
                var firstElement = true
                while try scanner.nextElement(&firstElement) {
                    response.tweets.append(try decodeV2Tweet(&scanner, fields))
                }
            } else if key.equals("includes") {
                var firstInclude = try scanner.beginObject()
                while let includeKey = try scanner.nextKey(&firstInclude) {
                    guard includeKey.equals("users") else {
                        try scanner.skipValue()
                        continue
                    }
                    try scanner.beginArray()
                    var firstUser = true
                    while try scanner.nextElement(&firstUser) {
                        var id: UInt64?
                        var username: String?
                        var firstField = try scanner.beginObject()
                        while let field = try scanner.nextKey(&firstField) {
                            if field.equals("id") {
                                id = try scanner.readIDString()
                            } else if field.equals("username") {
                                username = try scanner.readString()
                            } else {
                                try scanner.skipValue()
                            }
                        }
                        if let id, let username { usernames[id] = username }
                    }
                }
            } else if key.equals("meta") {
                var firstField = try scanner.beginObject()
                while let field = try scanner.nextKey(&firstField) {
                    if field.equals("next_token") {
                        response.nextToken = try scanner.consumeNull() ? nil : try scanner.readString()
                    } else if field.equals("oldest_id") {
                        response.oldestID = try scanner.readTweetIDString()
                    } else if field.equals("newest_id") {
                        response.newestID = try scanner.readTweetIDString()
                    } else {
                        try scanner.skipValue()
                    }
                }
            } else {
                try scanner.skipValue()
            }
        }
        if !usernames.isEmpty {
            for index in response.tweets.indices {
                if let author = response.tweets[index].authorID {
                    response.tweets[index].authorUsername = usernames[author]
                }
            }
        }
        fillBounds(&response)
        return response
    }

    private static func decodeV2Tweet(_ scanner: inout JSONScanner, _ fields: TweetFields) throws(JSONScanError)
        -> Tweet
    {
        var extra = Tweet(id: 0, text: "")
        _ = try scanner.peek()
        let start = scanner.index
        var id: UInt64?
        var text: String?
        var authorID: UInt64?
        var createdAt: Date?
        var isRetweet = false
        var isReply = false
        var isQuote = false
        var first = try scanner.beginObject()
        while let key = try scanner.nextKey(&first) {
            if key.equals("id") {
                id = try scanner.readTweetIDString()
            } else if key.equals("text") {
                text = try scanner.readText()
            } else if key.equals("author_id") {
                authorID = try scanner.readIDString()
            } else if key.equals("created_at") {
                if let raw = try scanner.readRawString() {
                    guard let date = TwitterDate.parseISO8601(raw) else { throw scanner.fail("bad created_at") }
                    createdAt = date
                }
            } else if !fields.isEmpty, try decodeField(key, &scanner, fields, into: &extra, api: .v2) {
                continue
            } else if key.equals("referenced_tweets") {
                if try scanner.consumeNull() { continue }
                try scanner.beginArray()
                var firstReference = true
                while try scanner.nextElement(&firstReference) {
                    var firstField = try scanner.beginObject()
                    while let field = try scanner.nextKey(&firstField) {
                        guard field.equals("type"), let type = try scanner.readRawString() else {
                            try scanner.skipValue()
                            continue
                        }
                        let key = JSONKey(start: type.baseAddress ?? scanner.base, count: type.count)
                        if key.equals("retweeted") {
                            isRetweet = true
                        } else if key.equals("replied_to") {
                            isReply = true
                        } else if key.equals("quoted") {
                            isQuote = true
                        }
                    }
                }
            } else {
                try scanner.skipValue()
            }
        }
        guard let id else { throw scanner.fail("tweet without id") }
        try checkCreationTime(of: id, createdAt: createdAt, scanner)
        var tweet = Tweet(
            id: id, text: text ?? "", authorID: authorID, createdAt: createdAt,
            kind: classify(retweet: isRetweet, reply: isReply, quote: isQuote), isReply: isReply)
        if !fields.isEmpty {
            tweet.takeFields(of: extra, json: fields.contains(.json) ? scanner.bytes(from: start) : nil)
        }
        return tweet
    }

    // MARK: v1.1

    private static func decodeV1(_ scanner: inout JSONScanner, _ fields: TweetFields) throws(JSONScanError)
        -> SearchResponse
    {
        var response = SearchResponse(tweets: [])
        var first = try scanner.beginObject()
        while let key = try scanner.nextKey(&first) {
            if key.equals("statuses") {
                try scanner.beginArray()
                response.tweets.reserveCapacity(100)
                var firstElement = true
                while try scanner.nextElement(&firstElement) {
                    response.tweets.append(try decodeV1Status(&scanner, fields))
                }
            } else if key.equals("search_metadata") {
                response.hasSearchMetadata = true
                var firstField = try scanner.beginObject()
                while let field = try scanner.nextKey(&firstField) {
                    if field.equals("next_results") {
                        response.nextResults = try scanner.consumeNull() ? nil : try scanner.readString()
                    } else {
                        try scanner.skipValue()
                    }
                }
            } else {
                try scanner.skipValue()
            }
        }
        fillBounds(&response)
        return response
    }

    private static func decodeV1Status(_ scanner: inout JSONScanner, _ fields: TweetFields) throws(JSONScanError)
        -> Tweet
    {
        var extra = Tweet(id: 0, text: "")
        _ = try scanner.peek()
        let start = scanner.index
        var id: UInt64?
        var numericID: UInt64?
        var text: String?
        var fullText: String?
        var authorID: UInt64?
        var username: String?
        var createdAt: Date?
        var isRetweet = false
        var isReply = false
        var isQuote = false
        var first = try scanner.beginObject()
        while let key = try scanner.nextKey(&first) {
            if key.equals("id_str") {
                id = try scanner.readTweetIDString()
            } else if key.equals("id") {
                numericID = try scanner.readTweetIDNumber()
            } else if key.equals("full_text") {
                fullText = try scanner.readText()
            } else if key.equals("text") {
                text = try scanner.readText()
            } else if key.equals("created_at") {
                if let raw = try scanner.readRawString() {
                    guard let date = TwitterDate.parseClassic(raw) else { throw scanner.fail("bad created_at") }
                    createdAt = date
                }
            } else if !fields.isEmpty, try decodeField(key, &scanner, fields, into: &extra, api: .v1_1) {
                continue
            } else if key.equals("in_reply_to_status_id_str") {
                if try !scanner.consumeNull() {
                    isReply = true
                    try scanner.skipValue()
                }
            } else if key.equals("retweeted_status") {
                if try !scanner.consumeNull() {
                    isRetweet = true
                    try scanner.skipValue()
                }
            } else if key.equals("quoted_status") || key.equals("quoted_status_id_str") {
                if try !scanner.consumeNull() {
                    isQuote = true
                    try scanner.skipValue()
                }
            } else if key.equals("is_quote_status") {
                if try scanner.readBool() { isQuote = true }
            } else if key.equals("user") {
                var firstField = try scanner.beginObject()
                while let field = try scanner.nextKey(&firstField) {
                    if field.equals("id_str") {
                        authorID = try scanner.readIDString()
                    } else if field.equals("screen_name") {
                        username = try scanner.readString()
                    } else {
                        try scanner.skipValue()
                    }
                }
            } else {
                try scanner.skipValue()
            }
        }
        guard let tweetID = id ?? numericID else { throw scanner.fail("status without id_str") }
        try checkCreationTime(of: tweetID, createdAt: createdAt, scanner)
        let body = fullText ?? text ?? ""
        var tweet = Tweet(
            id: tweetID, text: body, authorID: authorID, authorUsername: username, createdAt: createdAt,
            kind: classify(retweet: isRetweet, reply: isReply, quote: isQuote), isReply: isReply)
        if !fields.isEmpty {
            tweet.takeFields(of: extra, json: fields.contains(.json) ? scanner.bytes(from: start) : nil)
        }
        return tweet
    }

    // MARK: Optional fields

    /// Decodes `key`'s value into `tweet` when it is one of the optional `fields` of `api`'s shape; `false` (and
    /// nothing consumed) otherwise.
    private static func decodeField(
        _ key: JSONKey, _ scanner: inout JSONScanner, _ fields: TweetFields, into tweet: inout Tweet, api: APIVersion
    ) throws(JSONScanError) -> Bool {
        if key.equals("lang"), fields.contains(.language) {
            tweet.language = try scanner.consumeNull() ? nil : try scanner.readString()
        } else if key.equals("possibly_sensitive"), fields.contains(.sensitivity) {
            tweet.possiblySensitive = try scanner.consumeNull() ? nil : try scanner.readBool()
        } else if key.equals("conversation_id"), api == .v2, fields.contains(.conversation) {
            tweet.conversationID = try scanner.readIDString()
        } else if key.equals("public_metrics"), api == .v2, fields.contains(.metrics) {
            if try scanner.consumeNull() { return true }
            var metrics = Tweet.Metrics()
            var first = try scanner.beginObject()
            while let field = try scanner.nextKey(&first) {
                if field.equals("retweet_count") {
                    metrics.retweetCount = try readCount(&scanner)
                } else if field.equals("reply_count") {
                    metrics.replyCount = try readCount(&scanner)
                } else if field.equals("like_count") {
                    metrics.likeCount = try readCount(&scanner)
                } else if field.equals("quote_count") {
                    metrics.quoteCount = try readCount(&scanner)
                } else if field.equals("bookmark_count") {
                    metrics.bookmarkCount = try readCount(&scanner)
                } else if field.equals("impression_count") {
                    metrics.impressionCount = try readCount(&scanner)
                } else {
                    try scanner.skipValue()
                }
            }
            tweet.metrics = metrics
        } else if api == .v1_1, fields.contains(.metrics),
            key.equals("retweet_count") || key.equals("favorite_count") || key.equals("reply_count")
                || key.equals("quote_count")
        {
            var metrics = tweet.metrics ?? Tweet.Metrics()
            let count = try readCount(&scanner)
            if key.equals("retweet_count") {
                metrics.retweetCount = count
            } else if key.equals("favorite_count") {
                metrics.likeCount = count
            } else if key.equals("reply_count") {
                metrics.replyCount = count
            } else {
                metrics.quoteCount = count
            }
            tweet.metrics = metrics
        } else if key.equals("entities"), fields.contains(.entities) {
            if try scanner.consumeNull() { return true }
            var entities = Tweet.Entities()
            var first = try scanner.beginObject()
            while let field = try scanner.nextKey(&first) {
                if field.equals("hashtags") {
                    entities.hashtags = try readStrings(&scanner, field: api == .v2 ? "tag" : "text")
                } else if field.equals(api == .v2 ? "mentions" : "user_mentions") {
                    entities.mentions = try readStrings(&scanner, field: api == .v2 ? "username" : "screen_name")
                } else if field.equals("urls") {
                    entities.urls = try readStrings(&scanner, field: "expanded_url")
                } else {
                    try scanner.skipValue()
                }
            }
            tweet.entities = entities
        } else {
            return false
        }
        return true
    }

    /// A count, or `nil` for `null`; a count beyond `Int` is clamped.
    private static func readCount(_ scanner: inout JSONScanner) throws(JSONScanError) -> Int? {
        try scanner.readUInt64Number().map { Int(clamping: $0) }
    }

    /// The string `field` of each object of an array (`[{"tag":"Brexit",…},…]`), in order; objects without it are
    /// left out.
    private static func readStrings(_ scanner: inout JSONScanner, field: StaticString) throws(JSONScanError)
        -> [String]
    {
        if try scanner.consumeNull() { return [] }
        var strings: [String] = []
        try scanner.beginArray()
        var firstElement = true
        while try scanner.nextElement(&firstElement) {
            var firstKey = try scanner.beginObject()
            while let key = try scanner.nextKey(&firstKey) {
                if key.equals(field), try !scanner.consumeNull() {
                    strings.append(try scanner.readString())
                } else {
                    try scanner.skipValue()
                }
            }
        }
        return strings
    }

    // MARK: Shared

    /// Throws when `id`'s embedded creation time lies more than ``Tweet/creationTimeTolerance`` after `createdAt`.
    private static func checkCreationTime(
        of id: UInt64, createdAt: Date?, _ scanner: JSONScanner
    ) throws(JSONScanError) {
        guard let createdAt, let embedded = Tweet.creationTime(ofID: id),
            embedded.timeIntervalSince(createdAt) > Tweet.creationTimeTolerance
        else { return }
        var error = scanner.fail(
            "was made at \(embedded.formatted(.iso8601)) by its own clock, more than a day after its created_at "
                + createdAt.formatted(.iso8601))
        error.invalidID = String(id)
        throw error
    }

    /// A retweet wins over a reply, and a reply over a quote.
    private static func classify(retweet: Bool, reply: Bool, quote: Bool) -> Tweet.Kind {
        if retweet { return .retweet }
        if reply { return .reply }
        if quote { return .quote }
        return .original
    }

    private static func fillBounds(_ response: inout SearchResponse) {
        guard !response.tweets.isEmpty else { return }
        var low = UInt64.max
        var high = UInt64.min
        for tweet in response.tweets {
            low = min(low, tweet.id)
            high = max(high, tweet.id)
        }
        response.oldestID = min(response.oldestID ?? low, low)
        response.newestID = max(response.newestID ?? high, high)
    }
}
