import CronScheduler
import ServiceLifecycle

extension Harvester: Service {
    /// Runs the harvest job (and the archive job, if configured) on their schedules until the task is
    /// cancelled or a `ServiceGroup` shuts down gracefully; a run in progress finishes first
    /// on a graceful shutdown.
    ///
    /// Run it in a `ServiceGroup` (as the README shows), or from a task of yours and cancel that task to stop it:
    /// nothing it starts outlives it.
    ///
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/alreadyRunning`` when this harvester's `run()` is
    ///   going already; the scheduler's error when a schedule cannot be added.
    public func run() async throws {
        guard !isScheduled else {
            throw HarvestError(.alreadyRunning, message: "the harvester is already running on its schedule")
        }
        isScheduled = true
        defer { isScheduled = false }
        try await HarvestService([self], clock: job.clock, logger: job.logger).run()
    }
}
