import Foundation
import HarvestClock
import Logging
import ServiceLifecycle
import TableStorage
import TwitterSearch

/// Keeps a table of tweets current: the harvest job, run once or on a schedule.
///
/// Give it settings and a store; it searches for tweets newer than those it has covered, pages back until it
/// is caught up, drops what the filters drop, and stores the rest exactly once (insert-or-ignore on the
/// `twitterId` key). Each run returns a ``HarvestReport``, which is also stored in the `HarvestRuns` table.
///
/// ```swift
/// let harvester = try Harvester(settings: .fromEnvironment(), store: try await FileTableStore(directory: url))
/// let report = try await harvester.runOnce()      // the portal's "Run Once"
/// try await harvester.run()                        // every hour, until the task is cancelled
/// ```
///
/// A harvester is also a ServiceLifecycle `Service`: put it in a `ServiceGroup` and ``run()`` runs the schedule
/// until the group shuts down gracefully (the run in progress finishes first) or is cancelled.
///
/// Runs never overlap: ``runOnce()`` waits for a run in progress to end before it starts, and the scheduler
/// queues (at most one) tick that falls while a run is still going.
///
/// ## Interruptions
/// The harvester keeps a gap-safe watermark in the state table (`HarvestState`): before it stores a page it
/// records the range still to fetch, and the next run finishes that range before it searches for anything
/// newer. A run that is cancelled, crashes or loses the network in the middle of a walk therefore leaves no
/// hole below the newest stored tweet, and nothing is stored twice.
public actor Harvester {
    /// What the harvester was configured with.
    public nonisolated let settings: HarvestSettings
    let job: HarvestJob
    private let onRun: (@Sendable (Result<HarvestReport, any Error>) async -> Void)?
    private var runNumber = 0
    private var isHarvesting = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Whether ``run()`` is going.
    var isScheduled = false

    /// Creates a harvester.
    ///
    /// - Parameters:
    ///   - settings: Credentials, query, table, filters, schedule.
    ///   - store: Where tweets, reports and the watermark are stored.
    ///   - transport: How requests reach the search API. The default is `AsyncHTTPClientTransport.shared`, the
    ///     process-wide transport on AsyncHTTPClient, which needs no shutdown; use `DemoTransport` (module `HarvestDemo`) for the
    ///     simulated API.
    ///   - clock: The clock for the schedule, rate-limit waits and reports. The default is the system clock.
    ///   - logger: Where the harvester logs. The default is the task's current logger.
    ///   - onRun: Called after every harvest run, scheduled or not, with its report or its error.
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/invalidSetting`` when the settings cannot work.
    public init(
        settings: HarvestSettings,
        store: any TableStore,
        transport: any HTTPTransport = AsyncHTTPClientTransport.shared,
        clock: any WallClock = .system,
        logger: Logger = .current,
        onRun: (@Sendable (Result<HarvestReport, any Error>) async -> Void)? = nil
    ) throws(HarvestError) {
        try settings.validate()
        self.settings = settings
        // Every line of this harvester's runs says whose it is, also when several share one scheduler and logger.
        var logger = logger
        logger[metadataKey: "th.job"] = "\(settings.resolvedJobName)"
        logger[metadataKey: "th.query"] = "\(settings.query)"
        logger[metadataKey: "th.table"] = "\(settings.table)"
        self.job = HarvestJob(settings: settings, store: store, transport: transport, clock: clock, logger: logger)
        self.onRun = onRun
    }

    /// Runs the harvest job now and returns its report.
    ///
    /// When a run is already in progress, waits for it to end first. The report is also stored in
    /// ``HarvestSettings/runsTable``.
    ///
    /// - Returns: What the run fetched, stored, filtered and skipped.
    /// - Throws: The search client's `SearchError` or the store's error when the run could not
    ///   finish; what it stored is kept, and the next run resumes where it stopped. `CancellationError` when the
    ///   calling task is cancelled.
    public func runOnce() async throws -> HarvestReport {
        await acquire()
        defer { release() }
        runNumber += 1
        do {
            let report = try await job.run(runNumber: runNumber)
            await onRun?(.success(report))
            return report
        } catch {
            await onRun?(.failure(error))
            throw error
        }
    }

    /// Runs the archive job of ``HarvestSettings/archive`` now.
    ///
    /// - Returns: What was archived; an empty report when the settings have no archive policy.
    /// - Throws: The store's error.
    public func archiveOnce() async throws -> ArchiveReport {
        guard let policy = settings.archive else { return ArchiveReport() }
        await acquire()
        defer { release() }
        return try await ArchiveJob(
            policy: policy, table: settings.table, store: job.store, clock: job.clock, logger: job.logger
        ).run()
    }

    // MARK: One run at a time

    private func acquire() async {
        guard isHarvesting else {
            isHarvesting = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            isHarvesting = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
