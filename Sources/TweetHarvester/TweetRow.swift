import Foundation
import TableStorage
import TwitterSearch

/// How a kept tweet becomes a row of the tweet table: the ``standard`` columns, a `Codable` row type of yours, or a
/// closure.
///
/// Whatever the mapping, the row's `twitterId` column (the table's unique key, from which each run reads its
/// newest stored id) is always the tweet's id: the harvester sets it after the mapping, so a mapping cannot lose
/// or move the watermark. The table's `date` index serves the archive job; keep a `date` column if you archive.
///
/// Ask the search for the fields a row needs (``HarvestSettings/search``'s `fields`), then map them:
///
/// ```swift
/// struct Row: Codable {
///     var twitterId: Int64
///     var text: String
///     var date: Date?
///     var lang: String?
///     var likes: Int?
/// }
/// settings.search.fields = [.language, .metrics]
/// settings.row = .codable { tweet in
///     Row(twitterId: Int64(tweet.id), text: tweet.text, date: tweet.createdAt, lang: tweet.language,
///         likes: tweet.metrics?.likeCount)
/// }
/// ```
///
/// A mapping that throws fails the run with its error before anything of that page is stored.
public struct TweetRow: Sendable {
    private let make: @Sendable (Tweet) throws -> TableRow

    /// A mapping by a closure that builds the whole record.
    ///
    /// Start from ``standard``'s row to add columns to it: `var row = try TweetRow.standard.record(for: tweet)`.
    public init(_ make: @escaping @Sendable (Tweet) throws -> TableRow) {
        self.make = make
    }

    /// A mapping to a `Codable` row type, encoded by `RecordEncoder`: each stored property becomes a column
    /// (`Bool`, `String`, integers, `Double`, `Date`, optionals of those; `nil` stores nothing).
    public static func codable<Row: Encodable & SendableMetatype>(_ row: @escaping @Sendable (Tweet) throws -> Row)
        -> TweetRow
    {
        TweetRow { tweet in try RecordEncoder().encode(try row(tweet)) }
    }

    /// The row of the classic job: `twitterId` (the id as a 64-bit integer), `text` (HTML escapes undone),
    /// `author` (the username, when the API sent it), `authorId`, `date` (`created_at`) and `kind` (`original`,
    /// `retweet`, `quote` or `reply`).
    public static let standard = TweetRow { tweet in
        TableRow([
            HarvestTables.twitterID: .int(Int64(bitPattern: tweet.id)),
            "text": .string(tweet.text),
            "author": tweet.authorUsername.map(Value.string) ?? .null,
            "authorId": tweet.authorID.map { .int(Int64(bitPattern: $0)) } ?? .null,
            "date": tweet.createdAt.map(Value.date) ?? .null,
            "kind": .string(tweet.kind.rawValue),
        ])
    }

    /// The row for `tweet`, its `twitterId` set to the tweet's id whatever the mapping wrote there.
    ///
    /// - Throws: What the mapping throws (for ``codable(_:)``, a `StorageError` for a property that is not a
    ///   single value).
    public func record(for tweet: Tweet) throws -> TableRow {
        var record = try make(tweet)
        record[HarvestTables.twitterID] = .int(Int64(bitPattern: tweet.id))
        return record
    }
}
