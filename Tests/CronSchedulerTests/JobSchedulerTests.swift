import CronScheduler
import Foundation
import HarvestClock
import HarvestTesting
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The scheduler actor on a manual clock: hours of schedule in microseconds, no real sleeps, no yields.
@Suite("JobScheduler")
struct JobSchedulerTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// Records as they finish, in order.
    private static func recorder() -> (AsyncStream<RunRecord>, JobScheduler.Configuration) {
        let (stream, sink) = AsyncStream.makeStream(of: RunRecord.self)
        var configuration = JobScheduler.Configuration()
        configuration.onRunFinished = { sink.yield($0) }
        return (stream, configuration)
    }

    @Test("a cron job starts exactly at its instant, not before")
    func startsOnTime() async throws {
        let clock = ManualClock(now: Self.t0.addingTimeInterval(30))
        let (records, configuration) = Self.recorder()
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        let starts = Locked<[Date]>([])
        try await scheduler.add("five", schedule: .cron(try CronExpression("*/5 * * * *"), timeZone: .gmt)) {
            starts.mutate { $0.append(clock.now) }
        }
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.t0.addingTimeInterval(300))
        clock.advance(to: Self.t0.addingTimeInterval(299))
        #expect(starts.value.isEmpty)
        clock.advance(to: Self.t0.addingTimeInterval(300))
        var iterator = records.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(first.outcome == .succeeded)
        #expect(first.scheduledAt == Self.t0.addingTimeInterval(300))
        #expect(starts.value == [Self.t0.addingTimeInterval(300)])
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.t0.addingTimeInterval(600))
        running.cancel()
        _ = await running.result
    }

    @Test("no timer outlives run(): when it returns, by cancellation or by shutdown, nothing sleeps on the clock")
    func nothingOutlivesRun() async throws {
        for graceful in [false, true] {
            let clock = ManualClock(now: Self.t0)
            let scheduler = JobScheduler(clock: clock)
            try await scheduler.add("h", schedule: .cron(try CronExpression("@hourly"), timeZone: .gmt)) {}
            await testGracefulShutdown { trigger in
                let running = Task { try await scheduler.run() }
                await clock.waitForSleepers(1)
                #expect(clock.nextSleeperDeadline == Self.t0.addingTimeInterval(3600))
                if graceful { trigger.triggerGracefulShutdown() } else { running.cancel() }
                _ = await running.result
                #expect(clock.sleeperCount == 0, "graceful: \(graceful)")
            }
        }
    }

    @Test("run now works on a disabled job and leaves its schedule alone; errors are recorded")
    func runNowWhileDisabled() async throws {
        let clock = ManualClock(now: Self.t0)
        let scheduler = JobScheduler(clock: clock)
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        try await scheduler.add("h", schedule: .cron(try CronExpression("@hourly"), timeZone: .gmt)) { throw Boom() }
        try await scheduler.disable("h")
        await #expect(throws: SchedulerError.self) { try await scheduler.runNow("h") }  // not running yet
        // A second, enabled job gives the running scheduler a timer to sleep on: then it is surely going.
        try await scheduler.add("daily", schedule: .cron(try CronExpression("@daily"), timeZone: .gmt)) {}
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        let record = try await scheduler.runNow("h")
        #expect(record.isManual)
        #expect(record.outcome == .failed("boom"))
        #expect(await scheduler.nextFireDate(of: "h") == nil)
        try await scheduler.enable("h")
        #expect(await scheduler.nextFireDate(of: "h") == Self.t0.addingTimeInterval(3600))
        #expect(await scheduler.runs(of: "h").count == 1)
        running.cancel()
        _ = await running.result
    }

    @Test("with a limit of one, a second due job waits for the first; one job never runs twice at once")
    func limitAndNoOverlap() async throws {
        let clock = ManualClock(now: Self.t0)
        let (records, base) = Self.recorder()
        var configuration = base
        configuration.maxConcurrentRuns = 1
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        let active = Locked(0)
        let maximum = Locked(0)
        for name in ["a", "b"] {
            try await scheduler.add(name, schedule: .cron(try CronExpression("0 * * * *"), timeZone: .gmt)) {
                let now = active.mutate {
                    $0 += 1; return $0
                }
                maximum.mutate { $0 = max($0, now) }
                // Each run lasts ten simulated minutes.
                try await clock.sleep(for: .seconds(600))
                active.mutate { $0 -= 1 }
            }
        }
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        clock.advance(to: Self.t0.addingTimeInterval(3600))
        await clock.waitForSleepers(2)  // job a's ten minutes, and the scheduler's timer
        clock.advance(by: .seconds(600))
        var iterator = records.makeAsyncIterator()
        #expect(try #require(await iterator.next()).job == "a")
        await clock.waitForSleepers(2)  // now job b
        clock.advance(by: .seconds(600))
        let second = try #require(await iterator.next())
        #expect(second.job == "b")
        #expect(second.startedAt == Self.t0.addingTimeInterval(4200))
        #expect(maximum.value == 1)
        running.cancel()
        _ = await running.result
    }

    @Test("graceful shutdown waits for a running job, then stops")
    func gracefulShutdownWaits() async throws {
        let clock = ManualClock(now: Self.t0)
        let (records, configuration) = Self.recorder()
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        try await scheduler.add("slow", schedule: .once(at: Self.t0)) { try await clock.sleep(for: .seconds(5)) }
        try await testGracefulShutdown { trigger in
            let running = Task { try await scheduler.run() }
            await clock.waitForSleepers(1)  // the job is running
            trigger.triggerGracefulShutdown()
            await clock.waitForSleepers(2)  // and the shutdown timeout is armed
            clock.advance(by: .seconds(5))
            var iterator = records.makeAsyncIterator()
            #expect(try #require(await iterator.next()).outcome == .succeeded)
            try await running.value
        }
    }

    @Test("graceful shutdown cancels a job that outlives the timeout")
    func gracefulShutdownTimeout() async throws {
        let clock = ManualClock(now: Self.t0)
        let (records, base) = Self.recorder()
        var configuration = base
        configuration.shutdownTimeout = .seconds(10)
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        try await scheduler.add("stuck", schedule: .once(at: Self.t0)) { try await clock.sleep(for: .seconds(3600)) }
        try await testGracefulShutdown { trigger in
            let running = Task { try await scheduler.run() }
            await clock.waitForSleepers(1)
            trigger.triggerGracefulShutdown()
            await clock.waitForSleepers(2)
            clock.advance(by: .seconds(10))
            var iterator = records.makeAsyncIterator()
            #expect(try #require(await iterator.next()).outcome == .cancelled)
            try await running.value
        }
    }

    @Test("cancelling run() cancels running jobs at once")
    func cancellation() async throws {
        let clock = ManualClock(now: Self.t0)
        let (records, configuration) = Self.recorder()
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        try await scheduler.add("stuck", schedule: .once(at: Self.t0)) { try await clock.sleep(for: .seconds(3600)) }
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        running.cancel()
        var iterator = records.makeAsyncIterator()
        #expect(try #require(await iterator.next()).outcome == .cancelled)
        _ = await running.result
    }

    @Test("a timer that wakes early does not start a job before its instant")
    func earlyWake() async throws {
        let clock = ManualClock(now: Self.t0)
        let (records, configuration) = Self.recorder()
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        try await scheduler.add("h", schedule: .cron(try CronExpression("0 * * * *"), timeZone: .gmt)) {}
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        // Step the wall clock back while the timer sleeps: the timer is due later now, the job no earlier.
        clock.setTime(Self.t0.addingTimeInterval(-600))
        clock.advance(to: Self.t0.addingTimeInterval(3599))
        #expect(await scheduler.runs(of: "h").isEmpty)
        clock.advance(to: Self.t0.addingTimeInterval(3600))
        var iterator = records.makeAsyncIterator()
        #expect(try #require(await iterator.next()).scheduledAt == Self.t0.addingTimeInterval(3600))
        running.cancel()
        _ = await running.result
    }
}
