import TwitterSearch

/// A named rule that drops tweets before they are stored.
///
/// Filters compose as a list in ``HarvestSettings/filters``: a tweet is stored only when no filter drops it, and
/// the first filter that drops it gives the reason counted in ``HarvestReport/filtered``.
///
/// ```swift
/// settings.filters = [.retweets, .replies, .authors(["spam_bot"]), .custom("short") { $0.text.count < 20 }]
/// ```
public struct TweetFilter: Sendable {
    /// The reason reported for the tweets this filter drops, such as `retweet`.
    public var name: String
    /// Returns `true` for a tweet this filter drops.
    public var drops: @Sendable (Tweet) -> Bool

    /// Creates a filter.
    ///
    /// - Parameters:
    ///   - name: The reason reported for the tweets it drops.
    ///   - drops: Returns `true` for a tweet to drop.
    public init(_ name: String, drops: @escaping @Sendable (Tweet) -> Bool) {
        self.name = name
        self.drops = drops
    }

    /// Creates a filter; the same as ``init(_:drops:)``.
    ///
    /// - Parameters:
    ///   - name: The reason reported for the tweets it drops.
    ///   - drops: Returns `true` for a tweet to drop.
    /// - Returns: The filter.
    public static func custom(_ name: String, drops: @escaping @Sendable (Tweet) -> Bool) -> TweetFilter {
        TweetFilter(name, drops: drops)
    }

    /// Drops native retweets (`retweeted_status` in v1.1, `referenced_tweets` of type `retweeted` in v2); reason
    /// `retweet`.
    public static let retweets = TweetFilter("retweet") { $0.isRetweet || $0.kind == .retweet }

    /// Drops manual retweets, texts starting `RT @user:` with no native retweet reference (`Tweet.isManualRetweet`,
    /// the same rule for v1.1 and v2); reason `manualRetweet`.
    public static let manualRetweets = TweetFilter("manualRetweet") { $0.isManualRetweet }

    /// Drops replies (`in_reply_to_status_id` in v1.1, `referenced_tweets` of type `replied_to` in v2); reason `reply`.
    public static let replies = TweetFilter("reply") { $0.isReply || $0.kind == .reply }

    /// Drops quote tweets; reason `quote`.
    public static let quotes = TweetFilter("quote") { $0.kind == .quote }

    /// Drops tweets by the given handles (without `@`, compared case-insensitively); reason `author`.
    ///
    /// - Parameter usernames: The handles to drop.
    /// - Returns: The filter.
    public static func authors(_ usernames: Set<String>) -> TweetFilter {
        let lowered = Set(usernames.map { $0.lowercased() })
        return TweetFilter("author") { tweet in
            tweet.authorUsername.map { lowered.contains($0.lowercased()) } ?? false
        }
    }

    /// Drops tweets whose text contains any of `words` (case-insensitively); reason `word`.
    ///
    /// - Parameter words: The words to look for.
    /// - Returns: The filter.
    public static func containing(_ words: [String]) -> TweetFilter {
        let lowered = words.map { $0.lowercased() }
        return TweetFilter("word") { tweet in
            let text = tweet.text.lowercased()
            return lowered.contains { text.contains($0) }
        }
    }
}

extension [TweetFilter] {
    /// The name of the first filter that drops `tweet`, or `nil` to keep it.
    func reason(toDrop tweet: Tweet) -> String? {
        first { $0.drops(tweet) }?.name
    }
}
