import Foundation
import HarvestClock
import Testing

@Suite("SystemClock")
struct SystemClockTests {
    @Test("now tracks the operating system's time")
    func nowIsTheSystemTime() {
        let before = Date()
        let now = SystemClock().now
        let after = Date()
        #expect(before <= now && now <= after)
    }

    // What `SystemClock` promises is a sleep on the continuous clock for the wall-clock distance to the deadline
    // when the sleep starts, not that the wall clock has reached the deadline on waking (the wall clock can be
    // slewed or stepped meanwhile; callers that must never act early re-read `now`). So the tests below check the
    // sleep's length on the continuous clock against the distance at its start, and never bound it from above.
    @Test("sleep(until:) sleeps at least the wall-clock distance to its deadline at the start of the sleep")
    func sleepLastsTheDistanceAtItsStart() async throws {
        let clock: some WallClock = .system
        let deadline = clock.now.addingTimeInterval(0.05)
        let start = ContinuousClock.now
        try await clock.sleep(until: deadline)
        let slept = (ContinuousClock.now - start).timeInterval
        // The distance when the sleep started is at least the distance now, after it: the wall clock only moved
        // on in between. A sleep that did not wait fails this by the whole 50 ms. (A microsecond of slack covers
        // converting seconds to a `Duration`.)
        let distanceAfter = deadline.timeIntervalSince(clock.now)
        #expect(slept >= distanceAfter - 1e-6)
    }

    @Test("a deadline in the past returns without sleeping", .timeLimit(.minutes(1)))
    func pastDeadlineReturns() async throws {
        // Sleeping the hour's distance instead would run into the time limit; no bound on elapsed time is
        // asserted, since a loaded machine can take any time to schedule the task.
        try await SystemClock().sleep(until: Date().addingTimeInterval(-3600))
    }

    @Test("a deadline in the past still honours cancellation")
    func pastDeadlineChecksCancellation() async {
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await SystemClock().sleep(until: Date().addingTimeInterval(-3600))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("a deadline beyond the continuous clock's 64-bit seconds is a valid sleep, ended by cancellation")
    func farDeadline() async {
        // 10^19 s is past `Int64.max` seconds: one timer that long trapped ("Not enough bits").
        let task = Task { try await SystemClock().sleep(until: Date(timeIntervalSinceNow: 1e19)) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("a cancelled sleep throws CancellationError")
    func cancelledSleepThrows() async {
        let task = Task { try await SystemClock().sleep(for: .seconds(60)) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("Duration converts to seconds exactly enough for timers")
    func durationToTimeInterval() {
        #expect(Duration.seconds(90).timeInterval == 90)
        #expect(Duration.milliseconds(1500).timeInterval == 1.5)
        #expect(abs(Duration.nanoseconds(1).timeInterval - 1e-9) < 1e-18)
    }
}
