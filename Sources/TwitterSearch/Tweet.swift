import Foundation

/// One tweet as the search API returned it, in the same shape for the v2 and v1.1 endpoints.
///
/// Ids are parsed from the API's decimal strings (`id_str` in v1.1, `id` in v2) straight into
/// `UInt64`; nothing passes through `Double`, so ids above 2^53 stay exact.
public struct Tweet: Sendable, Hashable, Codable {
    /// What a tweet is, as far as the harvest job's filters care.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A tweet of its author's own.
        case original
        /// A native retweet: v1.1 `retweeted_status`, v2 `referenced_tweets` type `retweeted`.
        ///
        /// A manual retweet (text typed as `RT @user: …`, with no such reference) is not one: its kind is what its
        /// references make it, in both API versions; see ``Tweet/isManualRetweet``.
        case retweet
        /// A quote tweet: v1.1 `is_quote_status`/`quoted_status`, v2 `referenced_tweets` type `quoted`.
        case quote
        /// A reply: v1.1 `in_reply_to_status_id_str`, v2 `referenced_tweets` type `replied_to`.
        case reply
    }

    /// The tweet's id.
    public var id: UInt64
    /// The full text (`full_text` with v1.1 `tweet_mode=extended`), as people read it: the API's `&amp;`,
    /// `&lt;` and `&gt;` are undone, exactly once.
    public var text: String
    /// The author's user id, when the response carried it.
    public var authorID: UInt64?
    /// The author's username (screen name), when the response carried it.
    public var authorUsername: String?
    /// When the tweet was posted, when the response carried it.
    public var createdAt: Date?
    /// The tweet's kind; a retweet wins over a reply, and a reply over a quote.
    public var kind: Kind
    /// Whether the tweet is a retweet.
    public var isRetweet: Bool
    /// Whether the tweet answers another tweet (even when it is also a quote).
    public var isReply: Bool

    // MARK: Fields asked for with TweetFields

    /// The language the API detected (`lang`: a BCP 47 tag such as `en`, or `und`), with
    /// ``TweetFields/language``; `nil` when not asked for or not sent.
    public var language: String?
    /// The id of the tweet that started the conversation (v2 `conversation_id`), with ``TweetFields/conversation``;
    /// v1.1 has no such field.
    public var conversationID: UInt64?
    /// The tweet's public engagement counts, with ``TweetFields/metrics``.
    public var metrics: Metrics?
    /// Whether the tweet's links may lead to sensitive content (`possibly_sensitive`), with
    /// ``TweetFields/sensitivity``.
    public var possiblySensitive: Bool?
    /// The hashtags, mentions and links of the text, with ``TweetFields/entities``.
    public var entities: Entities?
    /// The tweet's JSON object exactly as the API sent it, with ``TweetFields/json``: every field this type does not
    /// model (such as `context_annotations`, or fields asked for with
    /// ``SearchClient/Configuration/extraTweetFields``).
    public var json: Data?

    /// A tweet's public engagement counts (v2 `public_metrics`; v1.1 `retweet_count` and `favorite_count`).
    ///
    /// A count is `nil` when the API did not send it: v1.1 has no reply, quote, bookmark or impression counts.
    public struct Metrics: Sendable, Hashable, Codable {
        /// Retweets (`retweet_count`).
        public var retweetCount: Int?
        /// Replies (`reply_count`).
        public var replyCount: Int?
        /// Likes (v2 `like_count`, v1.1 `favorite_count`).
        public var likeCount: Int?
        /// Quotes (`quote_count`).
        public var quoteCount: Int?
        /// Bookmarks (v2 `bookmark_count`).
        public var bookmarkCount: Int?
        /// Impressions (v2 `impression_count`).
        public var impressionCount: Int?

        /// Counts with the values given; the others `nil`.
        public init(
            retweetCount: Int? = nil, replyCount: Int? = nil, likeCount: Int? = nil, quoteCount: Int? = nil,
            bookmarkCount: Int? = nil, impressionCount: Int? = nil
        ) {
            self.retweetCount = retweetCount
            self.replyCount = replyCount
            self.likeCount = likeCount
            self.quoteCount = quoteCount
            self.bookmarkCount = bookmarkCount
            self.impressionCount = impressionCount
        }
    }

    /// The entities of a tweet's text, as plain strings in the order the API lists them.
    public struct Entities: Sendable, Hashable, Codable {
        /// Hashtags without `#` (v2 `entities.hashtags[].tag`, v1.1 `entities.hashtags[].text`).
        public var hashtags: [String]
        /// Mentioned usernames without `@` (v2 `entities.mentions[].username`, v1.1
        /// `entities.user_mentions[].screen_name`).
        public var mentions: [String]
        /// Links as their targets (`entities.urls[].expanded_url`).
        public var urls: [String]

        /// Entities with the values given.
        public init(hashtags: [String] = [], mentions: [String] = [], urls: [String] = []) {
            self.hashtags = hashtags
            self.mentions = mentions
            self.urls = urls
        }
    }

    /// Creates a tweet.
    ///
    /// - Parameters:
    ///   - id: The tweet's id.
    ///   - text: The full text.
    ///   - authorID: The author's user id.
    ///   - authorUsername: The author's username.
    ///   - createdAt: When the tweet was posted.
    ///   - kind: The tweet's kind. The default is ``Kind/original``.
    ///   - isReply: Whether the tweet answers another tweet. The default is `kind == .reply`.
    public init(
        id: UInt64,
        text: String,
        authorID: UInt64? = nil,
        authorUsername: String? = nil,
        createdAt: Date? = nil,
        kind: Kind = .original,
        isReply: Bool? = nil
    ) {
        self.id = id
        self.text = text
        self.authorID = authorID
        self.authorUsername = authorUsername
        self.createdAt = createdAt
        self.kind = kind
        self.isRetweet = kind == .retweet
        self.isReply = isReply ?? (kind == .reply)
    }
}

extension Tweet {
    /// Copies the optional fields of `other` (a tweet the decoder filled field by field) and sets ``json``.
    mutating func takeFields(of other: Tweet, json: Data?) {
        language = other.language
        conversationID = other.conversationID
        metrics = other.metrics
        possiblySensitive = other.possiblySensitive
        entities = other.entities
        self.json = json
    }

    /// Whether the text is a manual retweet, `RT @user:` at its start (a handle of 1–15 letters, digits or
    /// underscores), on a tweet that is not a native ``Kind/retweet``.
    ///
    /// The same rule for v1.1 and v2. The native-retweet flag comes from the API's references; this one only from
    /// the text people typed before native retweets existed (and some clients still type). It is narrower than the
    /// classic script's "text starts with `RT`", which also dropped tweets such as `RTX 4090 review`.
    public var isManualRetweet: Bool {
        guard kind != .retweet else { return false }
        var bytes = text.utf8[...]
        guard bytes.starts(with: "RT @".utf8) else { return false }
        bytes = bytes.dropFirst(4)
        let handle = bytes.prefix { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
        return (1...15).contains(handle.count) && bytes.dropFirst(handle.count).first == UInt8(ascii: ":")
    }

    /// The largest tweet id, 2^63 − 1: the API's ids are positive signed 64-bit integers.
    ///
    /// A page holding an id outside `1...maxID` is refused whole with ``SearchError/Code/invalidTweetID``, so
    /// that every stored id fits the table's signed 64-bit `twitterId` column exactly.
    public static let maxID = UInt64(Int64.max)

    /// How far an id's embedded creation time may lie after the tweet's own `created_at` (or, for a tweet without
    /// one, after the client's clock) before the page is refused: one day, in seconds.
    public static let creationTimeTolerance: TimeInterval = 86_400

    /// The creation time a Snowflake id carries in its high bits (`(id >> 22) + 1288834974657` ms since 1970),
    /// or `nil` for ids below 2^40, which hand-written test pages and the pre-2010 sequential ids use.
    ///
    /// - Parameter id: A tweet id.
    /// - Returns: The embedded time, or `nil` when `id` is too small to be a Snowflake id.
    public static func creationTime(ofID id: UInt64) -> Date? {
        guard id >= 1 << 40 else { return nil }
        return Date(timeIntervalSince1970: (Double(id >> 22) + 1_288_834_974_657) / 1000)
    }
}

/// The optional parts of a tweet a search asks for and decodes, beyond its id, text, author, date and kind.
///
/// With the v2 API each field is added to the request's `tweet.fields`; v1.1 always sends them, and only those
/// asked for are decoded. Fields not asked for stay `nil`, and cost nothing to decode.
///
/// ```swift
/// var configuration = SearchClient.Configuration()
/// configuration.fields = [.language, .metrics]
/// ```
public struct TweetFields: OptionSet, Sendable, Hashable {
    public let rawValue: Int

    /// Creates a set from its raw bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// ``Tweet/language`` (`lang`).
    public static let language = TweetFields(rawValue: 1 << 0)
    /// ``Tweet/conversationID`` (v2 `conversation_id`).
    public static let conversation = TweetFields(rawValue: 1 << 1)
    /// ``Tweet/metrics`` (v2 `public_metrics`; v1.1 `retweet_count`, `favorite_count`).
    public static let metrics = TweetFields(rawValue: 1 << 2)
    /// ``Tweet/possiblySensitive`` (`possibly_sensitive`).
    public static let sensitivity = TweetFields(rawValue: 1 << 3)
    /// ``Tweet/entities`` (`entities`: hashtags, mentions, links).
    public static let entities = TweetFields(rawValue: 1 << 4)
    /// ``Tweet/json``: the tweet's whole JSON object, as sent.
    public static let json = TweetFields(rawValue: 1 << 5)

    /// Every typed field and the JSON object.
    public static let all: TweetFields = [.language, .conversation, .metrics, .sensitivity, .entities, .json]

    /// The v2 `tweet.fields` names these fields need.
    var v2Names: [String] {
        var names: [String] = []
        if contains(.language) { names.append("lang") }
        if contains(.conversation) { names.append("conversation_id") }
        if contains(.metrics) { names.append("public_metrics") }
        if contains(.sensitivity) { names.append("possibly_sensitive") }
        if contains(.entities) { names.append("entities") }
        return names
    }
}

/// The search endpoint a ``SearchClient`` talks to.
public enum APIVersion: String, Sendable, Hashable, CaseIterable {
    /// `GET /2/tweets/search/recent`.
    case v2 = "v2"
    /// `GET /1.1/search/tweets.json`.
    case v1_1 = "v1.1"
}

/// What a search asks for.
public struct SearchQuery: Sendable, Hashable {
    /// The search expression, such as `#mobileservices`.
    public var text: String
    /// Only tweets with a larger id; exclusive, sent as is (the newest id already stored).
    public var sinceID: UInt64?
    /// Only tweets with a smaller id; exclusive (v2 `until_id`; v1.1 `max_id = untilID - 1`). Resumes a walk.
    public var untilID: UInt64?
    /// Tweets per page, 10...100 for v2 and 1...100 for v1.1. The default is 100.
    public var pageSize: Int

    /// Creates a query.
    ///
    /// - Parameters:
    ///   - text: The search expression.
    ///   - sinceID: The exclusive lower bound: the newest id already stored. The default is none.
    ///   - untilID: The exclusive upper bound, to resume an interrupted walk. The default is none.
    public init(_ text: String, sinceID: UInt64? = nil, untilID: UInt64? = nil) {
        self.text = text
        self.sinceID = sinceID
        self.untilID = untilID
        self.pageSize = 100
    }
}

/// The rate-limit state the API reported on a response (`x-rate-limit-*` headers).
public struct RateLimit: Sendable, Hashable {
    /// Requests allowed in the window (`x-rate-limit-limit`).
    public var limit: Int?
    /// Requests left in the window (`x-rate-limit-remaining`).
    public var remaining: Int?
    /// When the window resets (`x-rate-limit-reset`, seconds since 1970).
    public var reset: Date?

    /// Creates a rate-limit state.
    public init(limit: Int? = nil, remaining: Int? = nil, reset: Date? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.reset = reset
    }
}

/// One page of search results.
public struct SearchPage: Sendable {
    /// The page's tweets, newest first, without any tweet an earlier page of the same walk already gave.
    public var tweets: [Tweet]
    /// The page's number in the walk, from 1.
    public var number: Int
    /// The rate-limit state reported with the page.
    public var rateLimit: RateLimit?
    /// Whether this is the walk's last page.
    public var isLast: Bool
    /// The smallest id on the page, as the API reported it (before de-duplication).
    public var oldestID: UInt64?
    /// The largest id on the page, as the API reported it.
    public var newestID: UInt64?

    /// Creates a page.
    public init(
        tweets: [Tweet], number: Int, rateLimit: RateLimit? = nil, isLast: Bool,
        oldestID: UInt64? = nil, newestID: UInt64? = nil
    ) {
        self.tweets = tweets
        self.number = number
        self.rateLimit = rateLimit
        self.isLast = isLast
        self.oldestID = oldestID
        self.newestID = newestID
    }
}
