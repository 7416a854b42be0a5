import Foundation
import TwitterSearch

/// Writes demo tweets in the v2 and v1.1 wire shapes of the recorded fixtures.
enum DemoWire {
    /// `text` as both API versions write tweet text: `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`, and nothing
    /// else escaped (entity offsets still count the characters people read).
    static func htmlEscaped(_ text: String) -> String {
        guard text.contains(where: { $0 == "&" || $0 == "<" || $0 == ">" }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: v2

    static func v2Tweet(_ tweet: DemoTweet) -> DemoJSON {
        var fields: [(String, DemoJSON)] = [
            ("author_id", .string(String(tweet.authorID))),
            ("conversation_id", .string(String(tweet.kind == .reply ? tweet.referencedID ?? tweet.id : tweet.id))),
            ("created_at", .string(DemoDates.v2(tweet.createdAt))),
            ("edit_history_tweet_ids", .array([.string(String(tweet.id))])),
            ("entities", v2Entities(tweet.text)),
            ("id", .string(String(tweet.id))),
        ]
        if tweet.kind == .reply {
            let mentioned = Entities(tweet.text).mentions.first?.name
            let user = DemoAuthor.all.first { $0.username == mentioned }
            fields.append(("in_reply_to_user_id", .string(String(user?.id ?? 0))))
        }
        fields.append(("lang", .string("en")))
        fields.append(
            (
                "public_metrics",
                .object([
                    ("retweet_count", .unsigned(tweet.id % 7)), ("reply_count", .unsigned(tweet.id % 3)),
                    ("like_count", .unsigned(tweet.id % 41)), ("quote_count", .unsigned(tweet.id % 2)),
                ])
            ))
        if let referenced = tweet.referencedID {
            let type =
                switch tweet.kind {
                case .retweet: "retweeted"
                case .quote: "quoted"
                default: "replied_to"
                }
            fields.append(
                (
                    "referenced_tweets",
                    .array([.object([("type", .string(type)), ("id", .string(String(referenced)))])])
                ))
        }
        fields.append(("reply_settings", .string("everyone")))
        fields.append(("text", .string(htmlEscaped(tweet.text))))
        return .object(fields)
    }

    static func v2Includes(_ tweets: [DemoTweet], timeline: DemoTimeline, terms: String) -> DemoJSON {
        var referenced: [DemoTweet] = []
        var seenTweets = Set<UInt64>()
        for tweet in tweets {
            guard let id = tweet.referencedID, seenTweets.insert(id).inserted else { continue }
            referenced.append(timeline.tweet(inSlot: timeline.slot(ofID: id), terms: terms))
        }
        var users: [DemoJSON] = []
        var seenUsers = Set<UInt64>()
        for tweet in tweets + referenced where seenUsers.insert(tweet.authorID).inserted {
            guard let author = DemoAuthor.all.first(where: { $0.id == tweet.authorID }) else { continue }
            users.append(
                .object([
                    ("created_at", .string("2012-03-14T09:26:53.000Z")),
                    ("id", .string(String(author.id))),
                    ("location", .string(author.location)),
                    ("name", .string(author.name)),
                    (
                        "public_metrics",
                        .object([
                            ("followers_count", .unsigned(UInt64(author.followers))),
                            ("following_count", .unsigned(UInt64(author.followers / 7 + 12))),
                            ("tweet_count", .unsigned(UInt64(author.followers * 3 + 101))),
                            ("listed_count", .unsigned(UInt64(author.followers / 100))),
                        ])
                    ),
                    ("protected", .bool(false)),
                    ("username", .string(author.username)),
                    ("verified", .bool(author.followers > 100_000)),
                ]))
        }
        var includes: [(String, DemoJSON)] = [("users", .array(users))]
        if !referenced.isEmpty { includes.append(("tweets", .array(referenced.map(v2Tweet)))) }
        return .object(includes)
    }

    private static func v2Entities(_ text: String) -> DemoJSON {
        let entities = Entities(text)
        var fields: [(String, DemoJSON)] = []
        if !entities.hashtags.isEmpty {
            fields.append(
                (
                    "hashtags",
                    .array(
                        entities.hashtags.map {
                            .object([
                                ("start", .unsigned(UInt64($0.start))), ("end", .unsigned(UInt64($0.end))),
                                ("tag", .string($0.name)),
                            ])
                        })
                ))
        }
        if !entities.mentions.isEmpty {
            fields.append(
                (
                    "mentions",
                    .array(
                        entities.mentions.map { mention in
                            let id = DemoAuthor.all.first { $0.username == mention.name }?.id ?? 0
                            return .object([
                                ("start", .unsigned(UInt64(mention.start))), ("end", .unsigned(UInt64(mention.end))),
                                ("username", .string(mention.name)), ("id", .string(String(id))),
                            ])
                        })
                ))
        }
        return .object(fields)
    }

    // MARK: v1.1

    static func v1Status(_ tweet: DemoTweet, timeline: DemoTimeline, terms: String, extended: Bool) -> DemoJSON {
        let entities = Entities(tweet.text)
        var fields: [(String, DemoJSON)] = [
            ("created_at", .string(DemoDates.v1(tweet.createdAt))),
            ("id", .unsigned(tweet.id)),
            ("id_str", .string(String(tweet.id))),
        ]
        let length = UInt64(tweet.text.unicodeScalars.count)
        if extended {
            fields.append(("full_text", .string(htmlEscaped(tweet.text))))
            fields.append(("truncated", .bool(false)))
            fields.append(("display_text_range", .array([.unsigned(0), .unsigned(length)])))
        } else {
            fields.append(("text", .string(htmlEscaped(tweet.text))))
            fields.append(("truncated", .bool(false)))
        }
        fields.append(
            (
                "entities",
                .object([
                    (
                        "hashtags",
                        .array(
                            entities.hashtags.map {
                                .object([
                                    ("text", .string($0.name)),
                                    ("indices", .array([.unsigned(UInt64($0.start)), .unsigned(UInt64($0.end))])),
                                ])
                            })
                    ),
                    ("symbols", .array([])),
                    (
                        "user_mentions",
                        .array(
                            entities.mentions.map { mention in
                                let author = DemoAuthor.all.first { $0.username == mention.name }
                                return .object([
                                    ("screen_name", .string(mention.name)), ("name", .optional(author?.name)),
                                    ("id", .optional(author?.id)), ("id_str", .optional(author.map { String($0.id) })),
                                    (
                                        "indices",
                                        .array([.unsigned(UInt64(mention.start)), .unsigned(UInt64(mention.end))])
                                    ),
                                ])
                            })
                    ),
                    ("urls", .array([])),
                ])
            ))
        fields.append(
            ("metadata", .object([("iso_language_code", .string("en")), ("result_type", .string("recent"))])))
        fields.append(
            (
                "source",
                .string("<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>")
            ))
        let replyTo = tweet.kind == .reply ? tweet.referencedID : nil
        let replyUser = replyTo.flatMap { _ in
            DemoAuthor.all.first { $0.username == entities.mentions.first?.name }
        }
        fields += [
            ("in_reply_to_status_id", .optional(replyTo)),
            ("in_reply_to_status_id_str", .optional(replyTo.map { String($0) })),
            ("in_reply_to_user_id", .optional(replyUser?.id)),
            ("in_reply_to_user_id_str", .optional(replyUser.map { String($0.id) })),
            ("in_reply_to_screen_name", .optional(replyUser?.username)),
            ("user", v1User(tweet.authorID)),
            ("geo", .null), ("coordinates", .null), ("place", .null), ("contributors", .null),
        ]
        if tweet.kind == .retweet, let original = tweet.referencedID {
            let source = timeline.tweet(inSlot: timeline.slot(ofID: original), terms: terms)
            fields.append(("retweeted_status", v1Status(source, timeline: timeline, terms: terms, extended: extended)))
        }
        fields.append(("is_quote_status", .bool(tweet.kind == .quote)))
        if tweet.kind == .quote, let quoted = tweet.referencedID {
            let source = timeline.tweet(inSlot: timeline.slot(ofID: quoted), terms: terms)
            fields.append(("quoted_status_id", .unsigned(quoted)))
            fields.append(("quoted_status_id_str", .string(String(quoted))))
            fields.append(("quoted_status", v1Status(source, timeline: timeline, terms: terms, extended: extended)))
        }
        fields += [
            ("retweet_count", .unsigned(tweet.id % 7)), ("favorite_count", .unsigned(tweet.id % 41)),
            ("favorited", .bool(false)), ("retweeted", .bool(false)), ("lang", .string("en")),
        ]
        return .object(fields)
    }

    private static func v1User(_ id: UInt64) -> DemoJSON {
        guard let author = DemoAuthor.all.first(where: { $0.id == id }) else { return .null }
        return .object([
            ("id", .unsigned(author.id)), ("id_str", .string(String(author.id))),
            ("name", .string(author.name)), ("screen_name", .string(author.username)),
            ("location", .string(author.location)),
            ("description", .string("Mobile apps and the services behind them")),
            ("url", .null), ("protected", .bool(false)),
            ("followers_count", .unsigned(UInt64(author.followers))),
            ("friends_count", .unsigned(UInt64(author.followers / 7 + 12))),
            ("listed_count", .unsigned(UInt64(author.followers / 100))),
            ("created_at", .string("Wed Mar 14 09:26:53 +0000 2012")),
            ("favourites_count", .unsigned(UInt64(author.followers / 3))),
            ("verified", .bool(author.followers > 100_000)),
            ("statuses_count", .unsigned(UInt64(author.followers * 3 + 101))),
            ("profile_image_url_https", .string("https://pbs.twimg.com/profile_images/\(author.id)/avatar_normal.jpg")),
        ])
    }
}

/// Hashtags and mentions of a text, with code-point offsets as Twitter counts them.
struct Entities {
    struct Span {
        var name: String
        var start: Int
        var end: Int
    }

    var hashtags: [Span] = []
    var mentions: [Span] = []

    init(_ text: String) {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let marker = scalars[index]
            guard marker == "#" || marker == "@", index == 0 || !Self.isWordScalar(scalars[index - 1]) else {
                index += 1
                continue
            }
            var end = index + 1
            while end < scalars.count && Self.isWordScalar(scalars[end]) { end += 1 }
            if end > index + 1 {
                var name = String.UnicodeScalarView()
                name.append(contentsOf: scalars[(index + 1)..<end])
                let span = Span(name: String(name), start: index, end: end)
                if marker == "#" { hashtags.append(span) } else { mentions.append(span) }
            }
            index = end
        }
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
    }
}

/// The date formats of the two API versions, fixed to UTC and the POSIX locale.
enum DemoDates {
    /// v2: `2021-09-22T16:37:29.000Z`.
    static func v2(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// v2 error messages: `2021-09-22T16:37Z`.
    static func v2Minute(_ date: Date) -> String {
        let text = date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        return String(text.prefix(16)) + "Z"
    }

    /// v1.1: `Fri Jul 12 23:40:37 +0000 2019`.
    static func v1(_ date: Date) -> String {
        date.formatted(
            Date.VerbatimFormatStyle(
                format:
                    "\(weekday: .abbreviated) \(month: .abbreviated) \(day: .twoDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits) +0000 \(year: .defaultDigits)",
                locale: Locale(identifier: "en_US_POSIX"), timeZone: .gmt, calendar: Calendar(identifier: .gregorian)))
    }
}
