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

    @Test("sleep(until:) never returns before its deadline")
    func sleepIsNeverEarly() async throws {
        let clock: some WallClock = .system
        let deadline = clock.now.addingTimeInterval(0.02)
        try await clock.sleep(until: deadline)
        #expect(clock.now >= deadline)
    }

    @Test("a deadline in the past returns at once")
    func pastDeadlineReturns() async throws {
        let clock = SystemClock()
        let start = ContinuousClock.now
        try await clock.sleep(until: clock.now.addingTimeInterval(-3600))
        #expect(ContinuousClock.now - start < .seconds(1))
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
