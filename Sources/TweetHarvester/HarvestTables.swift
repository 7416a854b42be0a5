import CronScheduler
import Foundation
import HarvestClock
import TableStorage
import TwitterSearch

/// The columns of the tables the harvester writes, and the conversions between rows and values.
///
/// Everything that depends on the shape of ``TableStorage`` records is here, so the job's logic reads as the
/// data flow of DESIGN.md.
enum HarvestTables {
    // MARK: The tweet table (`Updates`)

    /// The unique key of the tweet table: the tweet id as a 64-bit integer.
    static let twitterID = "twitterId"

    static func tweetTable(_ name: String) -> TableSchema {
        TableSchema(name: name, uniqueKey: twitterID, indexes: ["date"])
    }

    /// The tweet id of a row of the tweet table.
    static func tweetID(of record: TableRow) -> UInt64? {
        guard case .int(let id)? = record[twitterID] else { return nil }
        return UInt64(bitPattern: id)
    }

    /// The oldest `take` rows of a tweet table, by id.
    static func oldestFirst(in table: String, take: Int) -> Query {
        Query(table, order: [.ascending(twitterID)], take: take)
    }

    /// The rows of a tweet table whose id is at most `id`.
    static func upTo(_ id: UInt64, in table: String) -> Query {
        Query(table, filter: TableColumn(twitterID) <= .int(Int64(bitPattern: id)))
    }

    // MARK: The state table (`HarvestState`)

    static func stateTable(_ name: String) -> TableSchema {
        TableSchema(name: name, uniqueKey: "key", indexes: [])
    }

    static func record(for state: Watermark, key: String, at date: Date) -> TableRow {
        func id(_ value: UInt64?) -> Value { value.map { .int(Int64(bitPattern: $0)) } ?? .null }
        return TableRow([
            "key": .string(key),
            "covered": id(state.covered),
            "pending": .bool(state.pending != nil),
            "pendingSince": id(state.pending?.since),
            "pendingUntil": id(state.pending?.until),
            "pendingTop": id(state.pending?.top),
            "updatedAt": .date(date),
        ])
    }

    static func watermark(from record: TableRow) -> Watermark {
        func id(_ column: String) -> UInt64? {
            guard case .int(let value)? = record[column] else { return nil }
            return UInt64(bitPattern: value)
        }
        var state = Watermark(covered: id("covered"))
        if case .bool(true)? = record["pending"] {
            state.pending = Watermark.Range(since: id("pendingSince"), until: id("pendingUntil"), top: id("pendingTop"))
        }
        return state
    }

    // MARK: The runs table (`HarvestRuns`)

    static func runsTable(_ name: String) -> TableSchema {
        TableSchema(name: name, uniqueKey: nil, indexes: ["startedAt"])
    }

    static func record(for report: HarvestReport, query: String, table: String, outcome: String) -> TableRow {
        func id(_ value: UInt64?) -> Value { value.map { .int(Int64(bitPattern: $0)) } ?? .null }
        return TableRow([
            "runId": .string(report.runID.uuidString),
            "startedAt": .date(report.startedAt),
            "seconds": .double(report.duration.timeInterval),
            "query": .string(query),
            "table": .string(table),
            "outcome": .string(outcome),
            "fetched": .int(Int64(report.fetched)),
            "stored": .int(Int64(report.stored)),
            "filtered": .int(Int64(report.filteredTotal)),
            "filteredByReason": .string(report.filteredSummary),
            "duplicates": .int(Int64(report.duplicates)),
            "pages": .int(Int64(report.pages)),
            "rateLimitWaits": .int(Int64(report.rateLimitWaits)),
            "newestBefore": id(report.newestBefore),
            "newestAfter": id(report.newestAfter),
            "warnings": .string(report.warnings.joined(separator: "\n")),
            // The occurrence and the process: "each occurrence once across the fleet" is checked from these.
            "job": report.claim.map { .string($0.occurrence.job) } ?? .null,
            "scheduledAt": report.claim.map { .date($0.occurrence.scheduledAt) } ?? .null,
            "process": report.claim.map { .string($0.holder) } ?? .null,
            "fence": report.claim?.fence.map { .int($0) } ?? .null,
        ])
    }
}

/// The gap-safe watermark of one (table, query) pair: what is covered, and what an interrupted walk left to do.
///
/// A walk goes from the newest tweet down to `since_id`, page by page. Before a page is stored, the range still to
/// store, `(since, until)` with `until` the oldest id stored so far, is saved; only when the walk reaches `since`
/// does ``covered`` move up to the walk's newest id (``Range/top``). A run interrupted anywhere leaves a pending
/// range; the next run finishes it before it starts a new walk, so no tweet below the newest stored one is skipped.
struct Watermark: Sendable, Hashable {
    /// An unfinished walk.
    struct Range: Sendable, Hashable {
        /// The exclusive lower bound (`since_id`); `nil` for the whole search window.
        var since: UInt64?
        /// The exclusive upper bound: the oldest id stored so far; `nil` before the first page is stored.
        var until: UInt64?
        /// The walk's newest id, which becomes ``Watermark/covered`` when the walk is finished.
        var top: UInt64?
    }

    /// Every tweet the search window holds up to this id has been stored or filtered; `nil` when nothing is.
    var covered: UInt64?
    /// The walk in progress, if any.
    var pending: Range?

    /// Whether an id of the watermark is outside `1...Tweet.maxID` (stored, as a negative number, before ids were
    /// checked).
    var holdsInvalidID: Bool {
        [covered, pending?.since, pending?.until, pending?.top].contains { id in
            id.map { $0 == 0 || $0 > Tweet.maxID } ?? false
        }
    }
}
