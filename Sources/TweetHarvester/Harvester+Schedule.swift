import CronScheduler
import ServiceLifecycle

extension Harvester: Service {
    /// Runs the harvest job (and the archive job, if configured) on their schedules until the task is
    /// cancelled or a `ServiceGroup` shuts down gracefully; a run in progress finishes first
    /// on a graceful shutdown.
    ///
    /// - Throws: The scheduler's error when a schedule cannot be added.
    public func run() async throws {
        try await HarvestService([self], clock: job.clock, logger: job.logger).run()
    }

    /// Starts running on the schedule in the background; ``stop()`` ends it.
    ///
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/alreadyRunning`` when already started.
    public func start() throws(HarvestError) {
        guard started == nil else {
            throw HarvestError(.alreadyRunning, message: "the harvester is already running on its schedule")
        }
        let group = ServiceGroup(services: [self], logger: job.logger)
        started = (group, Task { try await group.run() })
    }

    /// Stops the schedule started by ``start()`` gracefully: no new run starts, and a run in progress finishes.
    ///
    /// Returns when everything has stopped; does nothing when the harvester was not started.
    public func stop() async {
        guard let (group, task) = started else { return }
        started = nil
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
