import CronScheduler
import HarvestClock
import Logging
import ServiceLifecycle

/// Runs any number of harvesters, their harvest jobs and archive jobs, on one `JobScheduler` under one
/// concurrency limit.
///
/// Each harvester keeps its own query, table, store and schedule; the service adds every harvester's jobs to
/// one scheduler, so that at most `JobScheduler.Configuration.maxConcurrentRuns` of them run at once (the
/// hosted service this library replaces allowed one on its free tier and ten on paid ones), and one job never
/// overlaps itself. A harvester alone is a service too: its ``Harvester/run()`` is a `HarvestService` of one.
///
/// ```swift
/// var configuration = JobScheduler.Configuration()
/// configuration.maxConcurrentRuns = 1
/// let service = try HarvestService([swiftTweets, vaporTweets], configuration: configuration)
/// let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// Job names are ``HarvestSettings/jobName`` (by default `harvest TABLE QUERY`) and, for the archive job,
/// that name with ` archive` after it; two harvesters with the same name are refused when the service is made.
public struct HarvestService: Service {
    /// The harvesters whose jobs the service runs.
    public let harvesters: [Harvester]
    /// The scheduler's configuration: the concurrency limit, the history kept, the shutdown time-out, the hook.
    public let configuration: JobScheduler.Configuration
    private let clock: any WallClock
    private let logger: Logger

    /// Creates a service for the harvesters.
    ///
    /// - Parameters:
    ///   - harvesters: The harvesters; their order is the order in which jobs due at the same instant start.
    ///   - configuration: The scheduler's configuration. The default runs one job at a time.
    ///   - clock: The scheduler's clock. The default is the system clock; give the harvesters the same one.
    ///   - logger: Where the scheduler logs. The default is the task's current logger.
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/invalidSetting`` when two harvesters have the same
    ///   job name.
    public init(
        _ harvesters: [Harvester], configuration: JobScheduler.Configuration = .init(),
        clock: any WallClock = .system, logger: Logger = .current
    ) throws(HarvestError) {
        var names = Set<String>()
        for harvester in harvesters {
            let name = harvester.settings.resolvedJobName
            guard names.insert(name).inserted else {
                throw HarvestError(
                    .invalidSetting, variable: "jobName",
                    message: "two harvesters have the job name \"\(name)\"; give each its own jobName")
            }
        }
        self.harvesters = harvesters
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Runs every job on its schedule until the task is cancelled or a `ServiceGroup` shuts down gracefully;
    /// runs in progress finish first on a graceful shutdown.
    ///
    /// - Throws: The scheduler's `SchedulerError` when a schedule never fires.
    public func run() async throws {
        let scheduler = JobScheduler(configuration: configuration, clock: clock, logger: logger)
        for harvester in harvesters {
            try await harvester.addJobs(to: scheduler)
        }
        try await scheduler.run()
    }
}

extension Harvester {
    /// Adds this harvester's harvest job (and archive job, if configured) to a scheduler.
    func addJobs(to scheduler: JobScheduler) async throws(SchedulerError) {
        let name = settings.resolvedJobName
        // A tick that falls while a run is finishing is queued, not lost: it runs right after.
        var options = JobOptions()
        options.overlap = .queueOne
        try await scheduler.add(name, schedule: settings.schedule, options: options) { [self] in
            _ = try await self.runOnce()
        }
        if let archive = settings.archive {
            try await scheduler.add("\(name) archive", schedule: archive.schedule) { [self] in
                _ = try await self.archiveOnce()
            }
        }
    }
}

extension HarvestSettings {
    /// ``jobName``, or `harvest TABLE QUERY` when it is `nil`.
    var resolvedJobName: String { jobName ?? "harvest \(table) \(query)" }
}
