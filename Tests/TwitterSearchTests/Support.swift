import Foundation
import HarvestClock
import HarvestLocking
import Logging
import TwitterSearch

/// Test helpers shared by the TwitterSearch suites.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static var v1: Data { get throws { try data("v1.1_search_tweets_q_tweepy.json") } }
    static var v2Minimal: Data { get throws { try data("v2_search_recent_q_Tweepy.json") } }
    static var v2Brexit: Data { get throws { try data("v2_search_recent_q_brexit_expansions.json") } }

    /// A JSON object through Foundation's own parser, as an independent reference.
    static func object(_ data: Data) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// A v2 page built from values, serialised by Foundation (an independent encoder).
func v2Page(_ tweets: [(id: UInt64, text: String, refs: [String])], next: String?, author: String = "alice") -> Data {
    var meta: [String: Any] = ["result_count": tweets.count]
    if let next { meta["next_token"] = next }
    if let newest = tweets.map(\.id).max(), let oldest = tweets.map(\.id).min() {
        meta["newest_id"] = String(newest)
        meta["oldest_id"] = String(oldest)
    }
    let data: [[String: Any]] = tweets.map { tweet in
        var object: [String: Any] = [
            "id": String(tweet.id), "text": tweet.text, "author_id": "42", "created_at": "2026-11-24T12:00:00.000Z",
            "edit_history_tweet_ids": [String(tweet.id)],
        ]
        if !tweet.refs.isEmpty {
            object["referenced_tweets"] = tweet.refs.map { ["type": $0, "id": "1"] }
        }
        return object
    }
    var page: [String: Any] = ["meta": meta]
    if !data.isEmpty {
        page["data"] = data
        page["includes"] = ["users": [["id": "42", "username": author, "name": "Alice"]]]
    }
    return (try? JSONSerialization.data(withJSONObject: page, options: [.sortedKeys])) ?? Data()
}

/// A v1.1 page built from values, serialised by Foundation.
func v1Page(_ tweets: [(id: UInt64, text: String, retweet: Bool, reply: Bool)], nextResults: String?) -> Data {
    let statuses: [[String: Any]] = tweets.map { tweet in
        var object: [String: Any] = [
            "id": NSNumber(value: tweet.id), "id_str": String(tweet.id), "full_text": tweet.text,
            "created_at": "Tue Nov 24 12:00:00 +0000 2026",
            "in_reply_to_status_id_str": tweet.reply ? "7" as Any : NSNull(),
            "user": ["id_str": "42", "screen_name": "alice"],
        ]
        if tweet.retweet { object["retweeted_status"] = ["id_str": "5", "full_text": "original"] }
        return object
    }
    var metadata: [String: Any] = ["count": 100]
    if let nextResults { metadata["next_results"] = nextResults }
    let page: [String: Any] = ["statuses": statuses, "search_metadata": metadata]
    return (try? JSONSerialization.data(withJSONObject: page, options: [.sortedKeys])) ?? Data()
}

/// A swift-log handler that keeps every record in memory.
struct CapturingLogHandler: LogHandler {
    struct TableRow: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    final class Box: Sendable {
        let records = Locked<[TableRow]>([])
        var all: [TableRow] { records.withLock { $0 } }
        /// Every message and metadata value, as text.
        var text: String {
            all.map { record in
                ([record.message] + record.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                    .joined(separator: " ")
            }.joined(separator: "\n")
        }
    }

    let box: Box
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        box.records.withLock {
            $0.append(TableRow(level: event.level, message: "\(event.message)", metadata: merged))
        }
    }

    static func logger() -> (Logger, Box) {
        let box = Box()
        return (Logger(label: "test") { _ in CapturingLogHandler(box: box) }, box)
    }
}
