import Foundation
import TwitterSearch

/// One tweet of the demo search API's simulated timeline.
///
/// ``DemoTransport`` answers searches from this timeline; tests and tools can read it directly with
/// ``DemoTransport/timeline(after:through:query:)`` to know exactly what a complete harvest must store.
public struct DemoTweet: Sendable, Hashable {
    /// What a tweet is: the search client's own `Tweet.Kind` (original, retweet, quote, reply).
    public typealias Kind = Tweet.Kind

    /// The tweet's snowflake id: its creation time in milliseconds since Twitter's epoch, shifted left by 22 bits.
    public var id: UInt64
    /// The text, which contains the search terms of the query it was found by.
    public var text: String
    /// What the tweet is.
    public var kind: Kind
    /// The author's numeric id.
    public var authorID: UInt64
    /// The author's handle, without `@`.
    public var authorUsername: String
    /// The author's display name.
    public var authorName: String
    /// When the tweet was created, to the millisecond.
    public var createdAt: Date
    /// The tweet a retweet, quote or reply refers to; `nil` for an original.
    public var referencedID: UInt64?
}

/// The deterministic tweet stream behind ``DemoTransport``.
///
/// Time is cut into slots of `60_000 / tweetsPerMinute` milliseconds counted from Twitter's epoch; slot `n` holds
/// exactly one tweet, created at a seeded offset inside the slot. Ids are snowflakes of the creation time, so they
/// increase with time, exceed 2^53, and are the same in every process that uses the same seed and rate.
struct DemoTimeline: Sendable {
    /// Twitter's snowflake epoch, 2010-11-04T01:42:54.657Z, in Unix milliseconds.
    static let twitterEpochMilliseconds: Int64 = 1_288_834_974_657

    let seed: UInt64
    let slotMilliseconds: Int64

    init(seed: UInt64, tweetsPerMinute: Int) {
        self.seed = seed
        self.slotMilliseconds = max(1, 60_000 / Int64(max(1, tweetsPerMinute)))
    }

    /// The slot a date falls in (dates before Twitter's epoch fall in slot 0).
    func slot(at date: Date) -> Int64 {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) - Self.twitterEpochMilliseconds
        return max(0, milliseconds) / slotMilliseconds
    }

    /// The slot of a tweet id (the inverse of ``id(ofSlot:)`` for ids this timeline made).
    func slot(ofID id: UInt64) -> Int64 {
        Int64(id >> 22) / slotMilliseconds
    }

    private func hash(_ slot: Int64, _ salt: UInt64 = 0) -> UInt64 {
        // SplitMix64 of (seed, slot, salt): cheap, well mixed, the same everywhere.
        var value = seed &+ UInt64(bitPattern: slot) &* 0x9E37_79B9_7F4A_7C15 &+ salt &* 0xD1B5_4A32_D192_ED03
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// Milliseconds since Twitter's epoch at which the tweet of `slot` was created.
    private func offsetMilliseconds(ofSlot slot: Int64) -> Int64 {
        slot * slotMilliseconds + Int64(hash(slot, 1) % UInt64(slotMilliseconds))
    }

    /// The id of the tweet in `slot`.
    func id(ofSlot slot: Int64) -> UInt64 {
        (UInt64(offsetMilliseconds(ofSlot: slot)) << 22) | (hash(slot, 2) & 0x3F_FFFF)
    }

    /// The creation date of the tweet in `slot`.
    func createdAt(ofSlot slot: Int64) -> Date {
        let unixMilliseconds = offsetMilliseconds(ofSlot: slot) + Self.twitterEpochMilliseconds
        return Date(timeIntervalSince1970: Double(unixMilliseconds) / 1000)
    }

    /// The newest original at or before `slot` (every fourth slot is an original).
    private func originalSlot(atOrBefore slot: Int64) -> Int64 {
        max(0, slot - slot % 4)
    }

    private func kind(ofSlot slot: Int64) -> DemoTweet.Kind {
        guard slot % 4 != 0 else { return .original }
        switch hash(slot, 3) % 100 {
        case 0..<45: return .retweet
        case 45..<60: return .reply
        case 60..<75: return .quote
        default: return .original
        }
    }

    /// The tweet in `slot`, with its text written for `terms` (the query's plain search terms).
    func tweet(inSlot slot: Int64, terms: String) -> DemoTweet {
        let author = DemoAuthor.all[Int(hash(slot, 4) % UInt64(DemoAuthor.all.count))]
        let kind = kind(ofSlot: slot)
        var tweet = DemoTweet(
            id: id(ofSlot: slot), text: "", kind: kind, authorID: author.id, authorUsername: author.username,
            authorName: author.name, createdAt: createdAt(ofSlot: slot), referencedID: nil)
        let pick = Int(hash(slot, 5) % 1_000)
        let suffix = terms.isEmpty ? "" : " " + terms
        switch kind {
        case .original:
            tweet.text = DemoAuthor.originalTexts[pick % DemoAuthor.originalTexts.count] + suffix
        case .retweet, .quote, .reply:
            let target = originalSlot(atOrBefore: slot - 1 - Int64(hash(slot, 6) % 40))
            let original = self.tweet(inSlot: target, terms: terms)
            tweet.referencedID = original.id
            switch kind {
            case .retweet: tweet.text = "RT @\(original.authorUsername): \(original.text)"
            case .quote: tweet.text = DemoAuthor.quoteTexts[pick % DemoAuthor.quoteTexts.count] + suffix
            default:
                tweet.text =
                    "@\(original.authorUsername) "
                    + DemoAuthor.replyTexts[pick % DemoAuthor.replyTexts.count] + suffix
            }
        }
        return tweet
    }

    /// The query's plain search terms (operators such as `-is:retweet` or `lang:en` are left out).
    static func terms(of query: String) -> String {
        query.split(separator: " ")
            .filter { !$0.contains(":") && !$0.hasPrefix("-") && !$0.hasPrefix("(") && $0 != "OR" }
            .joined(separator: " ")
    }
}

/// The demo's cast: handles, display names (Unicode and emoji included) and ids, some above 2^53.
struct DemoAuthor: Sendable {
    let id: UInt64
    let username: String
    let name: String
    let location: String
    let followers: Int

    static let all: [DemoAuthor] = [
        DemoAuthor(id: 783_214, username: "Twitter", name: "Twitter", location: "Everywhere", followers: 61_000_000),
        DemoAuthor(
            id: 2_244_994_945, username: "TwitterDev", name: "Twitter Dev", location: "127.0.0.1", followers: 512_000),
        DemoAuthor(
            id: 1_262_891_233_071_566_848, username: "ana_builds", name: "Ana Beatriz 🚀", location: "São Paulo",
            followers: 1_204),
        DemoAuthor(id: 15_761_916, username: "jkowalski", name: "Jakub Kowalski", location: "Kraków", followers: 873),
        DemoAuthor(
            id: 1_440_713_161_355_583_489, username: "mobile_ops", name: "Mobile Ops 📱", location: "Cloud",
            followers: 45_120),
        DemoAuthor(id: 44_196_397, username: "zoe_codes", name: "Zoë Müller", location: "Zürich", followers: 3_310),
        DemoAuthor(
            id: 1_149_825_924_029_980_674, username: "haruto_dev", name: "春人 (Haruto)", location: "東京", followers: 9_870
        ),
        DemoAuthor(id: 305_278_762, username: "lina_ux", name: "Lina Haddad", location: "بيروت", followers: 640),
        DemoAuthor(
            id: 1_578_516_068_309_794_817, username: "backend_bob", name: "Bob ☕️ on call", location: "Dublin",
            followers: 220),
        DemoAuthor(id: 789_181_790, username: "olga_sec", name: "Ольга 🔐", location: "Tallinn", followers: 5_102),
        DemoAuthor(id: 4_203_239_195, username: "cafe_app", name: "Café App ☕", location: "Lyon", followers: 18_400),
        DemoAuthor(
            id: 1_717_521_084, username: "priya_ships", name: "Priya 🌙", location: "Bengaluru", followers: 2_777),
    ]

    static let originalTexts: [String] = [
        "Shipping version 4.2 of our app today 🚀",
        "Offline sync finally works on the train 🚆",
        "Push notifications in three lines of code? Yes please.",
        "Our café app now takes orders in Zürich, Kraków and São Paulo ☕️",
        "Benchmarked the new backend: p99 < 42 ms & p50 > 3 ms 📉",
        "Tip: keep tweet ids as 64-bit integers, ids above 2^53 don't fit in a double 🤓",
        "Bonne nouvelle : l’application est disponible en français 🇫🇷",
        "新しいバージョンをリリースしました 🎉",
        "A scheduled job every hour, new tweets in the Updates table 📬",
        "Вход через OAuth наконец-то работает 🔐",
        "Who else is at the meetup tonight? 🙋‍♀️",
        "Rate limited again 😅 waiting for x-rate-limit-reset…",
        "مرحبا! تطبيقنا يدعم العربية الآن",
        "Dark mode shipped. Your eyes can thank us later 🌙",
        "Q&A at 5 pm: bring your <questions> and your http://example.com/links 🎤",
        "Migrated 1.2M rows without downtime 💪 (in HTML you write &amp; for &)",
    ]

    static let replyTexts: [String] = [
        "thanks, that fixed it 🙏",
        "which version are you on?",
        "+1, same here 👍",
        "did you try turning sync off and on again? 😄",
    ]

    static let quoteTexts: [String] = [
        "This! 👇",
        "Great thread on sync strategies",
        "Couldn't agree more 💯",
    ]
}
