import CronScheduler
import Foundation
import HarvestClock
import HarvestLocking
import Logging
import TableStorage
import TwitterSearch

/// One run of the harvest job, as DESIGN.md's data flow has it:
/// watermark → search since it, page back until caught up → filters → batched insert-or-ignore → report.
struct HarvestJob {
    let settings: HarvestSettings
    let store: any TableStore
    let transport: any HTTPTransport
    let clock: any WallClock
    let logger: Logger

    /// The key of this job's watermark in the state table: one per (table, query) pair.
    var stateKey: String { "\(settings.table)\u{1F}\(settings.query)" }

    /// Creates the tables the job writes (idempotent).
    func prepareTables() async throws {
        try await store.createTable(HarvestTables.tweetTable(settings.table))
        try await store.createTable(HarvestTables.stateTable(settings.stateTable))
        try await store.createTable(HarvestTables.runsTable(settings.runsTable))
    }

    /// Runs the job once and returns its report; the report is also stored in the runs table, also when
    /// the run fails (the error is rethrown).
    ///
    /// Inside a run a `JobScheduler` started, the run records the scheduler's `RunClaim.current`, and its writes
    /// carry the claim's fencing token (`WriteFence.current`), so that a store shared by a fleet refuses them once
    /// another process has been granted the job.
    func run(runNumber: Int) async throws -> HarvestReport {
        let claim = RunClaim.current
        guard let fence = claim?.fence else { return try await run(runNumber: runNumber, claim: claim) }
        let job = claim?.occurrence.job ?? settings.resolvedJobName
        return try await WriteFence.$current.withValue(WriteFence(job: job, token: fence)) {
            try await run(runNumber: runNumber, claim: claim)
        }
    }

    private func run(runNumber: Int, claim: RunClaim?) async throws -> HarvestReport {
        var logger = self.logger
        let runID = UUID()
        logger[metadataKey: "th.run"] = "\(runNumber)"
        logger[metadataKey: "th.run.id"] = "\(runID.uuidString)"
        let events = EventCounter()
        var configuration = settings.search
        let previousHandler = configuration.eventHandler
        configuration.eventHandler = { event in
            events.record(event)
            previousHandler?(event)
        }
        let client = try SearchClient(
            credentials: settings.credentials, configuration: configuration, transport: transport, clock: clock,
            logger: logger)
        var started = HarvestReport(startedAt: clock.now, runID: runID)
        started.claim = claim
        var walk = Walk(job: self, client: client, logger: logger, report: started)
        var failure: (any Error)?
        do {
            try await prepareTables()
            try await walk.run()
        } catch {
            failure = error
        }
        var report = walk.report
        report.rateLimitWaits = events.rateLimitWaits
        report.retries = events.retries
        report.duration = .seconds(clock.now.timeIntervalSince(report.startedAt))
        let outcome = failure.map { "failed: \($0)" } ?? "succeeded"
        do {
            let row = HarvestTables.record(for: report, query: settings.query, table: settings.table, outcome: outcome)
            _ = try await store.insert([row], into: settings.runsTable, onConflict: .ignore)
        } catch  where failure == nil {
            failure = error
        } catch {
            // The run's own failure is the one the caller needs; this one only goes to the log.
            logger.error("run report not stored", metadata: ["th.error": "\(error)"])
        }
        if let failure {
            logger.warning("harvest run failed", metadata: ["th.error": "\(failure)", "th.pages": "\(report.pages)"])
            throw failure
        }
        logger.info(
            "harvest run finished",
            metadata: [
                "th.fetched": "\(report.fetched)", "th.stored": "\(report.stored)",
                "th.filtered": "\(report.filteredTotal)", "th.filtered.by": "\(report.filteredSummary)",
                "th.duplicates": "\(report.duplicates)",
                "th.pages": "\(report.pages)", "th.newest": "\(report.newestAfter.map(String.init) ?? "none")",
            ])
        return report
    }

    /// The state of one run's walk: the report so far and the watermark as last saved.
    struct Walk {
        let job: HarvestJob
        let client: SearchClient
        let logger: Logger
        var report: HarvestReport
        var state = Watermark()
        /// Ids at or below this are older than the API's search window, as its first refusal in this run said.
        var staleAtOrBelow: UInt64?

        var settings: HarvestSettings { job.settings }

        mutating func run() async throws {
            state = try await loadState()
            report.newestBefore = state.covered
            if let pending = state.pending {
                report.resumedInterruptedRun = true
                logger.debug(
                    "finishing an interrupted walk",
                    metadata: [
                        "th.since": "\(pending.since.map(String.init) ?? "none")",
                        "th.until": "\(pending.until.map(String.init) ?? "none")",
                    ])
                try await walk(pending)
            }
            try await walk(Watermark.Range(since: state.covered, until: nil, top: nil))
            report.newestAfter = state.covered
        }

        /// The saved watermark, or for a table without one, the newest stored tweet (as the classic job did).
        private mutating func loadState() async throws -> Watermark {
            let rows = try await job.store.read(Query(settings.stateTable))
            if let row = rows.first(where: { $0["key"] == .string(job.stateKey) }) {
                let state = HarvestTables.watermark(from: row)
                guard state.holdsInvalidID else { return state }
                // Written before ids were checked: an id of 2^63 or more was stored as a negative number, and as a
                // watermark it would make every later search ask for nothing. Start again from the table.
                logger.warning("watermark with an invalid tweet id ignored", metadata: ["th.key": "\(job.stateKey)"])
                report.warnings.append(
                    "the saved watermark held a tweet id above \(Tweet.maxID) and was ignored; "
                        + "searched from the newest stored tweet instead")
            }
            let newest = try await job.store.newest(in: settings.table, by: HarvestTables.twitterID)
            let id = newest.flatMap(HarvestTables.tweetID(of:)).flatMap { $0 >= 1 && $0 <= Tweet.maxID ? $0 : nil }
            return Watermark(covered: id)
        }

        private func save() async throws {
            let row = HarvestTables.record(for: state, key: job.stateKey, at: job.clock.now)
            _ = try await job.store.insert([row], into: settings.stateTable, onConflict: .replace)
        }

        /// Walks `range` newest first, storing page by page, and moves the watermark up when it is done.
        ///
        /// When the API refuses a bound as older than its search window, the first refusal is enough: it names the
        /// bound, and usually the smallest id it accepts (``staleAtOrBelow``). A range whose upper end is out of the
        /// window too is dropped, a `since` out of it is left out (the whole window is searched), and a later walk of
        /// the same run whose `since` is known to be too old falls back without being refused again.
        private mutating func walk(_ start: Watermark.Range) async throws {
            var range = start
            state.pending = range
            try await save()
            while true {
                if let floor = staleAtOrBelow {
                    if let until = range.until, until <= floor {
                        logger.warning(
                            "interrupted range older than the search window dropped",
                            metadata: ["th.since": "\(range.since.map(String.init) ?? "none")", "th.until": "\(until)"])
                        report.warnings.append(
                            "the interrupted range below \(until) is older than the search window and was dropped; "
                                + "tweets in it that were not stored before the interruption are missing")
                        break
                    }
                    if let since = range.since, since <= floor {
                        logger.warning(
                            "since_id older than the search window; searching the whole window",
                            metadata: ["th.since": "\(since)", "th.window.floor": "\(floor)"])
                        report.warnings.append(
                            "since_id \(since) is older than the search window (the API accepts ids above \(floor)); "
                                + "searched the whole window instead, so tweets between \(since) and the window's "
                                + "start may be missing")
                        range.since = nil
                        state.pending = range
                        try await save()
                    }
                }
                do {
                    try await fetch(&range)
                    break
                } catch let error as SearchError where Self.isOutOfWindow(error) {
                    // The bound the API named, and anything below the smallest id it said it accepts, is too old.
                    guard let refused = error.code == .staleSinceID ? range.since : range.until else { throw error }
                    logger.debug("search window bound refused", metadata: ["th.error": "\(error)"])
                    staleAtOrBelow = max(staleAtOrBelow ?? 0, refused, error.suggestedSinceID ?? 0)
                }
            }
            if let top = range.top ?? range.since {
                state.covered = max(state.covered ?? 0, top)
            }
            state.pending = nil
            try await save()
        }

        /// Whether the API refused the range because a bound is older than its search window: a stale `since_id`,
        /// or an `until_id` (the resume point of an interrupted walk) that has fallen out of the window.
        static func isOutOfWindow(_ error: SearchError) -> Bool {
            error.code == .staleSinceID
                || (error.code == .badRequest && (error.message ?? "").contains("until_id")
                    && (error.message ?? "").contains("created after"))
        }

        /// Fetches and stores the pages of `range`, saving the shrinking range before each page is stored.
        private mutating func fetch(_ range: inout Watermark.Range) async throws {
            var query = SearchQuery(settings.query, sinceID: range.since, untilID: range.until)
            query.pageSize = settings.pageSize
            for try await page in client.pages(query) {
                report.pages += 1
                report.fetched += page.tweets.count
                let ids = page.tweets.map(\.id)
                // The client refuses such a page; this keeps the table's signed column and the watermark exact
                // whatever transport or decoder is plugged in.
                if let bad = ids.first(where: { $0 == 0 || $0 > Tweet.maxID }) {
                    throw SearchError(.invalidTweetID, message: "tweet id \(bad) is not in 1...\(Tweet.maxID)")
                }
                if range.top == nil, let newest = ids.max() { range.top = newest }
                try await store(page.tweets)
                if let oldest = ids.min() {
                    range.until = min(range.until ?? .max, oldest)
                    state.pending = range
                    try await save()
                }
            }
            // A page sequence may end quietly when its task is cancelled; that is not the end of the walk.
            try Task.checkCancellation()
        }

        /// Filters `tweets` and inserts the rest in batches, ignoring rows already stored.
        private mutating func store(_ tweets: [Tweet]) async throws {
            var rows: [TableRow] = []
            for tweet in tweets {
                if let reason = settings.filters.reason(toDrop: tweet) {
                    report.filtered[reason, default: 0] += 1
                } else {
                    rows.append(try settings.row.record(for: tweet))
                }
            }
            var start = 0
            while start < rows.count {
                let batch = Array(rows[start..<min(rows.count, start + settings.batchSize)])
                let summary = try await job.store.insert(batch, into: settings.table, onConflict: .ignore)
                report.stored += summary.inserted.count
                report.duplicates += summary.duplicates.count
                start += batch.count
            }
        }
    }
}

/// Counts the search client's rate-limit waits and retries during one run.
final class EventCounter: Sendable {
    // The client reports events through a synchronous handler; a lock keeps the counts.
    private let counts = Locked<(waits: Int, retries: Int)>((0, 0))

    func record(_ event: SearchEvent) {
        switch event {
        case .rateLimitWait: counts.withLock { $0.waits += 1 }
        case .retry: counts.withLock { $0.retries += 1 }
        default: break
        }
    }

    var rateLimitWaits: Int { counts.withLock { $0.waits } }
    var retries: Int { counts.withLock { $0.retries } }
}
