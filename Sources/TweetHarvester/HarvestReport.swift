import CronScheduler
import Foundation
import HarvestClock

/// What one run of the harvest job did.
///
/// ``Harvester/runOnce()`` returns it, the scheduled job logs it at `info`, and every run's report is also
/// stored as a row of ``HarvestSettings/runsTable`` (`HarvestRuns`), so `harvest browse --table HarvestRuns`
/// shows the history.
public struct HarvestReport: Sendable, Hashable, CustomStringConvertible {
    /// The run's identifier, unique across processes: the `runId` column of its `HarvestRuns` row and the
    /// `th.run.id` metadata of its log lines, so a row leads to its logs.
    public var runID: UUID
    /// When the run started, by the harvester's clock.
    public var startedAt: Date
    /// How long the run took, by the harvester's clock (rate-limit waits included).
    public var duration: Duration = .zero
    /// Tweets the search API returned (before filters; a tweet returned twice counts twice).
    public var fetched: Int = 0
    /// Tweets newly stored.
    public var stored: Int = 0
    /// Tweets dropped by the filters, by reason (``TweetFilter/name``), such as `["retweet": 12, "reply": 3]`.
    public var filtered: [String: Int] = [:]
    /// Tweets that passed the filters but were already stored (insert-or-ignore on `twitterId`).
    public var duplicates: Int = 0
    /// Pages fetched.
    public var pages: Int = 0
    /// Times the run waited for a rate-limit window to reset.
    public var rateLimitWaits: Int = 0
    /// Requests the search client retried after a network error or a 5xx.
    public var retries: Int = 0
    /// The newest covered tweet id before the run: the `since_id` of its search.
    public var newestBefore: UInt64?
    /// The newest covered tweet id after the run.
    public var newestAfter: UInt64?
    /// Whether the run first finished the range left pending by an interrupted run.
    public var resumedInterruptedRun: Bool = false
    /// Things the caller should know that did not stop the run, such as a stale `since_id` fallback.
    public var warnings: [String] = []
    /// The scheduled occurrence the run was for and the process that ran it (with its fencing token in a fleet);
    /// `nil` for a run not started by a `JobScheduler`, such as a direct ``Harvester/runOnce()``.
    public var claim: RunClaim?

    /// Creates an empty report for a run that starts at `startedAt`.
    ///
    /// - Parameters:
    ///   - startedAt: When the run started.
    ///   - runID: The run's identifier; a new random one by default.
    public init(startedAt: Date, runID: UUID = UUID()) {
        self.startedAt = startedAt
        self.runID = runID
    }

    /// All tweets the filters dropped.
    public var filteredTotal: Int { filtered.values.reduce(0, +) }

    /// The filter counts as `reply 3, retweet 12`, by reason name; `none` when nothing was dropped.
    public var filteredSummary: String {
        filtered.isEmpty
            ? "none" : filtered.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// One line: `fetched 240 in 3 pages, stored 131, filtered 109 (reply 21, retweet 88), 0 duplicates, …`.
    public var description: String {
        var line =
            "fetched \(fetched) in \(pages) page\(pages == 1 ? "" : "s"), stored \(stored), "
            + "filtered \(filteredTotal) (\(filteredSummary)), \(duplicates) duplicate\(duplicates == 1 ? "" : "s")"
        if rateLimitWaits > 0 { line += ", \(rateLimitWaits) rate-limit wait\(rateLimitWaits == 1 ? "" : "s")" }
        if retries > 0 { line += ", \(retries) retr\(retries == 1 ? "y" : "ies")" }
        line += ", newest \(newestAfter.map(String.init) ?? "none")"
        if resumedInterruptedRun { line += ", resumed an interrupted run" }
        line += String(format: " (%.2f s)", duration.timeInterval)
        for warning in warnings { line += "; warning: \(warning)" }
        return line
    }
}

/// What the archive job keeps, and where the rest goes.
///
/// ```swift
/// settings.archive = ArchivePolicy(olderThan: .seconds(30 * 86_400), keepingAtMost: 100_000, moveTo: "UpdatesArchive")
/// ```
public struct ArchivePolicy: Sendable, Hashable {
    /// Records whose `date` is older than this are archived; `nil` archives none by age.
    public var olderThan: Duration?
    /// The newest rows kept; older rows beyond this count are archived. `nil` archives none by count.
    public var keepingAtMost: Int?
    /// The table archived rows are moved to; `nil` deletes them.
    public var destination: String?
    /// Rows moved or deleted per batch. The default is `500`.
    public var batchSize: Int = 500
    /// When ``Harvester/run()`` runs the archive job. The default is daily at 03:00 UTC.
    public var schedule: Schedule = .every(.days(1), startingAt: Date(timeIntervalSince1970: 3 * 3600))

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - olderThan: The age past which records are archived, or `nil`.
    ///   - keepingAtMost: How many of the newest rows to keep, or `nil`.
    ///   - destination: The table to move archived rows to; `nil`, the default, deletes them.
    public init(olderThan: Duration? = nil, keepingAtMost: Int? = nil, moveTo destination: String? = nil) {
        self.olderThan = olderThan
        self.keepingAtMost = keepingAtMost
        self.destination = destination
    }
}

/// What one run of the archive job did.
public struct ArchiveReport: Sendable, Hashable, CustomStringConvertible {
    /// Rows archived because they were older than ``ArchivePolicy/olderThan``.
    public var byAge: Int = 0
    /// Rows archived because the table held more than ``ArchivePolicy/keepingAtMost``.
    public var byCount: Int = 0
    /// Batches written.
    public var batches: Int = 0
    /// The table rows were moved to, or `nil` when they were deleted.
    public var destination: String?

    /// Creates an empty report.
    public init() {}

    /// One line: `archived 120 (100 by age, 20 by count) in 1 batch, deleted`.
    public var description: String {
        "archived \(byAge + byCount) (\(byAge) by age, \(byCount) by count) in \(batches) batch\(batches == 1 ? "" : "es"), "
            + (destination.map { "moved to \($0)" } ?? "deleted")
    }
}
