import Foundation
import HarvestClock
import Logging
import ServiceLifecycle

/// Runs named jobs on their schedules: on time, once per occurrence, within a concurrency limit.
///
/// ```swift
/// let scheduler = JobScheduler(configuration: .init(), clock: .system, logger: logger)
/// try await scheduler.add("harvest", schedule: .cron(try CronExpression("0 * * * *"), timeZone: .gmt)) {
///     try await harvester.runOnce()
/// }
/// try await scheduler.run()          // until cancelled or a graceful shutdown; or in a ServiceGroup
/// ```
///
/// - A job never starts before its scheduled instant: the scheduler sleeps on the injected
///   `WallClock` until the next due time (it never polls) and reads the clock again when it
///   wakes, so a sleep that returns early or a clock set back only delays a run.
/// - Each occurrence runs at most once: occurrences are handled in order and never revisited.
/// - At most ``Configuration/maxConcurrentRuns`` jobs run at once (1 on the classic free tier, 10 on
///   paid ones), and never two runs of one job; a run due while the previous one runs follows the job's
///   ``JobOptions/OverlapPolicy``; missed runs follow its ``JobOptions/MisfirePolicy``.
/// - Every run leaves a ``RunRecord``; the last ``Configuration/historyLimit`` per job are kept, and
///   ``Configuration/onRunFinished`` lets the caller persist them.
/// - It is a swift-service-lifecycle `Service`: on graceful shutdown it starts nothing new, waits up to
///   ``Configuration/shutdownTimeout`` for running jobs, then cancels them. Cancelling ``run()`` cancels
///   running jobs at once.
public actor JobScheduler: Service {
    /// The scheduler's settings.
    public struct Configuration: Sendable {
        /// How many jobs may run at once. The default is 1.
        public var maxConcurrentRuns = 1
        /// How many run records are kept per job. The default is 50.
        public var historyLimit = 50
        /// How long a graceful shutdown waits for running jobs before cancelling them. The default is 30 seconds.
        public var shutdownTimeout: Duration = .seconds(30)
        /// Called after every run and every skipped occurrence, for example to persist the record.
        /// The default is none.
        public var onRunFinished: (@Sendable (RunRecord) async -> Void)?
        /// Decides which process runs each occurrence when several processes run the same jobs. The default,
        /// ``LocalRunCoordinator``, runs every occurrence here; a fleet shares one coordinator (such as
        /// `PostgresRunCoordinator`), so that each occurrence runs in exactly one process.
        public var coordinator: any RunCoordinator = LocalRunCoordinator()

        /// The defaults.
        public init() {}
    }

    private enum Event: Sendable {
        case changed
        case timer(UInt64)
        case shutdown
    }

    private struct Waiter {
        var job: String
        var continuation: CheckedContinuation<RunRecord, Never>
    }

    private let configuration: Configuration
    private let clock: any WallClock
    private let logger: Logger
    private var core: SchedulerCore
    private var work: [String: @Sendable () async throws -> Void] = [:]
    private var history: [String: [RunRecord]] = [:]
    private var manualWaiters: [Waiter] = []
    private var isRunning = false
    private let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    /// Ends the armed timer's child task; `nil` when none is armed.
    private var timerDisarm: TimerDisarm?
    private var timerDeadline: Date?
    private var timerToken: UInt64 = 0

    /// Creates a scheduler with no jobs.
    ///
    /// - Parameters:
    ///   - configuration: The limits, history size, shutdown timeout and run hook.
    ///   - clock: The wall clock it sleeps on. The default is the system clock; tests pass a `ManualClock`.
    ///   - logger: Where decisions, skips and failures are logged.
    public init(configuration: Configuration = .init(), clock: any WallClock = .system, logger: Logger = .current) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        core = SchedulerCore(maxConcurrentRuns: configuration.maxConcurrentRuns)
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
    }

    // MARK: - Jobs

    /// Adds a job.
    ///
    /// - Parameters:
    ///   - name: A unique name.
    ///   - schedule: When it runs.
    ///   - options: Overlap and misfire policies, grace period, and whether it starts enabled.
    ///   - work: The job. It should return promptly when its task is cancelled.
    /// - Throws: ``SchedulerError`` for a duplicate name or a schedule that never fires.
    public func add(
        _ name: String, schedule: Schedule, options: JobOptions = .init(),
        work: @escaping @Sendable () async throws -> Void
    ) throws(SchedulerError) {
        try core.add(name: name, schedule: schedule, options: options, now: clock.now)
        self.work[name] = work
        logger.debug(
            "job added",
            metadata: [
                "th.job": "\(name)", "th.schedule": "\(schedule)",
                "th.next": "\(core.job(name)?.nextDue.map { "\($0)" } ?? "none")",
            ])
        eventSink.yield(.changed)
    }

    /// Removes a job; a run in progress finishes, but no new one starts.
    ///
    /// - Throws: ``SchedulerError`` for an unknown name.
    public func remove(_ name: String) throws(SchedulerError) {
        _ = try core.remove(name)
        work[name] = nil
        eventSink.yield(.changed)
    }

    /// Enables a job; its next occurrence is the first one after now (time spent disabled is not a misfire).
    public func enable(_ name: String) throws(SchedulerError) {
        try core.setEnabled(name, true, now: clock.now)
        eventSink.yield(.changed)
    }

    /// Disables a job: it runs only when asked with ``runNow(_:)``.
    public func disable(_ name: String) throws(SchedulerError) {
        try core.setEnabled(name, false, now: clock.now)
        eventSink.yield(.changed)
    }

    /// Runs a job now (also when disabled; its schedule is untouched) and returns the run's record.
    ///
    /// The run respects the concurrency limit and never overlaps another run of the same job: it starts
    /// as soon as both allow.
    ///
    /// - Throws: ``SchedulerError`` for an unknown name, or when ``run()`` is not going.
    public func runNow(_ name: String) async throws(SchedulerError) -> RunRecord {
        guard isRunning else {
            throw SchedulerError(code: .notRunning, job: name, reason: "run() must be going for runNow")
        }
        try core.requestRun(name, now: clock.now)
        eventSink.yield(.changed)
        return await withCheckedContinuation { continuation in
            manualWaiters.append(Waiter(job: name, continuation: continuation))
        }
    }

    /// The last runs of a job, oldest first.
    public func runs(of name: String) -> [RunRecord] { history[name] ?? [] }

    /// The job's next scheduled occurrence, or `nil` when it has none or is disabled.
    public func nextFireDate(of name: String) -> Date? {
        guard let job = core.job(name), job.isEnabled else { return nil }
        return job.nextDue
    }

    /// The names of the jobs, sorted.
    public var jobNames: [String] { core.jobs.keys.sorted() }

    // MARK: - Running

    /// Runs the scheduler until its task is cancelled or a graceful shutdown is triggered.
    ///
    /// On graceful shutdown no new run starts; running jobs get up to ``Configuration/shutdownTimeout``
    /// to finish and are then cancelled. When the task running this method is cancelled, running jobs are
    /// cancelled at once. A scheduler runs once: call this method one time.
    ///
    /// - Throws: ``SchedulerError`` when it has run already.
    public func run() async throws {
        guard !hasRun else {
            throw SchedulerError(code: .alreadyRunning, job: nil, reason: "run() was called already")
        }
        hasRun = true
        isRunning = true
        let sink = eventSink
        logger.info("scheduler started", metadata: ["th.jobs": "\(core.jobs.count)"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                await loop(&group)
                // The armed timer is a child of this group: end it, so that the group (and run()) can return.
                disarmTimer()
            }
        } onGracefulShutdown: {
            sink.yield(.shutdown)
        }
        isRunning = false
        for (job, occurrence) in core.dropPendingManualRuns() {
            finishWaiter(
                job,
                RunRecord(
                    job: job, scheduledAt: occurrence.scheduledAt, startedAt: nil, endedAt: nil,
                    outcome: .skipped("the scheduler stopped"), isManual: true))
        }
        logger.info("scheduler stopped")
    }

    private var hasRun = false

    private func loop(_ group: inout DiscardingTaskGroup) async {
        var iterator = events.makeAsyncIterator()
        eventSink.yield(.changed)
        var isStopping = false
        while let event = await iterator.next() {
            switch event {
            case .shutdown:
                guard !isStopping else { continue }
                isStopping = true
                guard core.running > 0 else { return }
                logger.info("scheduler waiting for running jobs", metadata: ["th.running": "\(core.running)"])
                armTimer(at: clock.now.addingTimeInterval(configuration.shutdownTimeout.timeInterval), in: &group)
            case .timer(let token):
                guard token == timerToken else { continue }
                timerDeadline = nil  // this timer has ended; the next one is armed below
                if isStopping {
                    logger.warning(
                        "shutdown timeout: cancelling running jobs", metadata: ["th.running": "\(core.running)"])
                    group.cancelAll()
                    return
                }
                await apply(core.tick(now: clock.now), in: &group)
                armTimer(at: core.nextWake(), in: &group)
            case .changed:
                if isStopping {
                    if core.running == 0 { return }
                    continue
                }
                await apply(core.tick(now: clock.now), in: &group)
                armTimer(at: core.nextWake(), in: &group)
            }
        }
    }

    private func apply(_ actions: SchedulerCore.Actions, in group: inout DiscardingTaskGroup) async {
        for (job, count) in actions.coalesced {
            logger.warning("missed runs coalesced into one", metadata: ["th.job": "\(job)", "th.missed": "\(count)"])
        }
        for skipped in actions.skipped {
            logger.warning("run skipped", metadata: ["th.job": "\(skipped.job)", "th.reason": "\(skipped.outcome)"])
            record(skipped)
            // Awaited here, in order, before any run starts: a skip is reported before what follows it.
            if let hook = configuration.onRunFinished { await hook(skipped) }
        }
        for (job, occurrence) in actions.starts {
            guard let work = work[job] else {
                core.finished(job)
                continue
            }
            group.addTask {
                await self.execute(job, occurrence, work)
            }
        }
    }

    private func finishWaiter(_ job: String, _ record: RunRecord) {
        if let index = manualWaiters.firstIndex(where: { $0.job == job }) {
            manualWaiters.remove(at: index).continuation.resume(returning: record)
        }
    }

    private func execute(
        _ job: String, _ occurrence: SchedulerCore.Occurrence, _ work: @escaping @Sendable () async throws -> Void
    ) async {
        var logger = self.logger
        logger[metadataKey: "th.job"] = "\(job)"
        let scheduled = ScheduledOccurrence(
            job: job, scheduledAt: occurrence.scheduledAt, isManual: occurrence.isManual)
        let coordinator = configuration.coordinator
        let claim: RunClaim
        do {
            switch try await coordinator.claim(scheduled) {
            case .granted(let granted):
                claim = granted
            case .declined(let reason):
                logger.debug("run declined by the coordinator", metadata: ["th.reason": "\(reason)"])
                await conclude(
                    job, occurrence,
                    RunRecord(
                        job: job, scheduledAt: occurrence.scheduledAt, startedAt: nil, endedAt: nil,
                        outcome: .skipped(reason), isManual: occurrence.isManual))
                return
            }
        } catch {
            // Without a decision the run might happen twice in the fleet: it does not happen here.
            logger.warning("run not claimed", metadata: ["th.error": "\(error)"])
            await conclude(
                job, occurrence,
                RunRecord(
                    job: job, scheduledAt: occurrence.scheduledAt, startedAt: nil, endedAt: nil,
                    outcome: .failed("not claimed: \(error)"), isManual: occurrence.isManual))
            return
        }
        let started = clock.now
        logger.debug(
            "run started", metadata: ["th.scheduled": "\(occurrence.scheduledAt)", "th.holder": "\(claim.holder)"])
        var outcome = RunRecord.Outcome.succeeded
        do {
            try await RunClaim.$current.withValue(claim) {
                try await Self.run(work, keeping: claim, with: coordinator, clock: clock, logger: logger)
            }
        } catch let lost as ClaimLost {
            outcome = .failed("\(lost)")
        } catch is CancellationError {
            outcome = .cancelled
        } catch {
            outcome = Task.isCancelled ? .cancelled : .failed("\(error)")
        }
        let ended = clock.now
        let runRecord = RunRecord(
            job: job, scheduledAt: occurrence.scheduledAt, startedAt: started, endedAt: ended, outcome: outcome,
            isManual: occurrence.isManual)
        if case .failed(let text) = outcome {
            logger.warning("run failed", metadata: ["th.error": "\(text)"])
        } else {
            logger.debug("run finished", metadata: ["th.outcome": "\(outcome)"])
        }
        await coordinator.release(claim, record: runRecord)
        await conclude(job, occurrence, runRecord)
    }

    /// Records a run (or a declined or unclaimed occurrence), frees the job and reports it.
    private func conclude(_ job: String, _ occurrence: SchedulerCore.Occurrence, _ runRecord: RunRecord) async {
        record(runRecord)
        if occurrence.isManual { finishWaiter(job, runRecord) }
        core.finished(job)
        if let hook = configuration.onRunFinished { await hook(runRecord) }
        eventSink.yield(.changed)
    }

    /// Runs `work`, renewing `claim` every ``RunCoordinator/renewalInterval`` in a child task; when a renewal says
    /// the claim is lost, `work` is cancelled and ``ClaimLost`` is thrown.
    private static func run(
        _ work: @escaping @Sendable () async throws -> Void, keeping claim: RunClaim,
        with coordinator: any RunCoordinator, clock: any WallClock, logger: Logger
    ) async throws {
        guard let interval = coordinator.renewalInterval else {
            try await work()
            return
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await work()
                return true
            }
            group.addTask {
                while true {
                    try await clock.sleep(until: clock.now.addingTimeInterval(interval.timeInterval))
                    do {
                        if try await !coordinator.renew(claim) { return false }
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        logger.warning("claim not renewed; trying again", metadata: ["th.error": "\(error)"])
                    }
                }
            }
            // The first child to end decides: the work's end (or error), or the loss of the claim.
            let workEnded = try await group.next() ?? true
            group.cancelAll()
            if !workEnded {
                logger.warning("claim lost: the run is cancelled", metadata: ["th.claim": "\(claim)"])
                throw ClaimLost(claim: claim)
            }
        }
    }

    private func record(_ record: RunRecord) {
        var runs = history[record.job] ?? []
        runs.append(record)
        if runs.count > configuration.historyLimit { runs.removeFirst(runs.count - configuration.historyLimit) }
        history[record.job] = runs
    }

    /// Sleeps until `deadline` in a child task of `group`, replacing the previous timer; `nil` disarms it.
    ///
    /// The timer is structured: a child of ``run()``'s task group, ended by ``disarmTimer()`` when it is
    /// replaced and before the group returns, so no timer outlives the scheduler.
    private func armTimer(at deadline: Date?, in group: inout DiscardingTaskGroup) {
        guard deadline != timerDeadline else { return }
        disarmTimer()
        timerDeadline = deadline
        timerToken &+= 1
        guard let deadline else { return }
        let token = timerToken
        let clock = self.clock
        let sink = eventSink
        let disarm = TimerDisarm()
        timerDisarm = disarm
        group.addTask {
            await withTaskGroup(of: Void.self) { timer in
                timer.addTask {
                    do {
                        try await clock.sleep(until: deadline)
                        sink.yield(.timer(token))
                    } catch {}
                }
                timer.addTask { await disarm.wait() }
                // Whichever ends first, the deadline or the disarm, ends the other.
                await timer.next()
                timer.cancelAll()
            }
        }
    }

    /// Ends the armed timer's task, if any.
    private func disarmTimer() {
        timerDisarm?.fire()
        timerDisarm = nil
        timerDeadline = nil
    }
}

/// The error of a run whose claim another process took over while it ran.
struct ClaimLost: Error, CustomStringConvertible {
    var claim: RunClaim
    var description: String { "the claim was lost to another process: \(claim)" }
}

/// A one-shot signal that ends a timer's task: ``wait()`` returns once ``fire()`` is called (before or after it
/// started waiting) or when the waiting task is cancelled.
final class TimerDisarm: @unchecked Sendable {
    // The lock guards both stored properties; the continuation is resumed outside it.
    private let lock = NSLock()
    private var fired = false
    private var waiter: CheckedContinuation<Void, Never>?

    /// Ends ``wait()``, now or as soon as it is called.
    func fire() {
        lock.lock()
        fired = true
        let waiting = waiter
        waiter = nil
        lock.unlock()
        waiting?.resume()
    }

    /// Returns when ``fire()`` has been called or the calling task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if fired {
                    lock.unlock()
                    continuation.resume()
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            fire()
        }
    }
}
