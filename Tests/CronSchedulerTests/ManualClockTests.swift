import Foundation
import HarvestClock
import HarvestTesting
import Testing

@Suite("ManualClock")
struct ManualClockTests {
    private static let start = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("now stays put until the clock is advanced")
    func nowMovesOnlyWhenAdvanced() {
        let clock = ManualClock(now: Self.start)
        #expect(clock.now == Self.start)
        clock.advance(by: .seconds(90))
        #expect(clock.now == Self.start.addingTimeInterval(90))
        clock.advance(to: Self.start.addingTimeInterval(200))
        #expect(clock.now == Self.start.addingTimeInterval(200))
    }

    @Test("advance(to:) never moves backwards, setTime(_:) does")
    func setTimeStepsBack() {
        let clock = ManualClock(now: Self.start)
        clock.advance(to: Self.start.addingTimeInterval(-60))
        #expect(clock.now == Self.start)
        clock.advance(by: .seconds(-60))
        #expect(clock.now == Self.start)
        clock.setTime(Self.start.addingTimeInterval(-3600))
        #expect(clock.now == Self.start.addingTimeInterval(-3600))
    }

    @Test("a sleeper wakes only once the clock reaches its deadline")
    func sleeperWakesAtDeadline() async throws {
        let clock = ManualClock(now: Self.start)
        let woke = Locked<Date?>(nil)
        let task = Task {
            try await clock.sleep(until: Self.start.addingTimeInterval(60))
            woke.mutate { $0 = clock.now }
        }
        await clock.waitForSleepers(1)
        #expect(clock.sleeperCount == 1)
        #expect(clock.nextSleeperDeadline == Self.start.addingTimeInterval(60))
        clock.advance(by: .seconds(59))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        try await task.value
        #expect(woke.value == Self.start.addingTimeInterval(60))
        #expect(clock.sleeperCount == 0)
    }

    @Test("a deadline that is not in the future returns at once without sleeping")
    func pastDeadlineReturns() async throws {
        let clock = ManualClock(now: Self.start)
        try await clock.sleep(until: Self.start)
        try await clock.sleep(until: Self.start.addingTimeInterval(-1))
        #expect(clock.sleeperCount == 0)
    }

    @Test("advancing wakes exactly the sleepers whose deadline is reached")
    func deadlineOrder() async throws {
        let clock = ManualClock(now: Self.start)
        let order = Locked<[Int]>([])
        let tasks = [30, 10, 20].map { offset in
            Task {
                try await clock.sleep(until: Self.start.addingTimeInterval(TimeInterval(offset)))
                order.mutate { $0.append(offset) }
            }
        }
        await clock.waitForSleepers(3)
        clock.advance(by: .seconds(15))
        try await tasks[1].value
        #expect(order.value == [10])
        clock.advance(by: .seconds(100))
        for task in tasks { try await task.value }
        #expect(Set(order.value) == [10, 20, 30])
        #expect(clock.sleeperCount == 0)
    }

    @Test("a cancelled sleeper throws CancellationError and stops counting as a sleeper")
    func cancellation() async {
        let clock = ManualClock(now: Self.start)
        let task = Task { try await clock.sleep(until: Self.start.addingTimeInterval(3600)) }
        await clock.waitForSleepers(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test("a task cancelled before it sleeps throws at once")
    func cancelledBeforeSleeping() async {
        let clock = ManualClock(now: Self.start)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: Self.start.addingTimeInterval(3600))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test("waitForSleepers returns once enough tasks are asleep, and at once if they already are")
    func waitForSleepers() async throws {
        let clock = ManualClock(now: Self.start)
        let first = Task { try await clock.sleep(until: Self.start.addingTimeInterval(10)) }
        await clock.waitForSleepers(1)
        async let waitingForTwo: Void = clock.waitForSleepers(2)
        let second = Task { try await clock.sleep(until: Self.start.addingTimeInterval(20)) }
        await waitingForTwo
        #expect(clock.sleeperCount == 2)
        await clock.waitForSleepers(0)
        clock.advance(by: .seconds(20))
        try await first.value
        try await second.value
    }

    @Test("setTime forward wakes due sleepers; stepping back wakes no one")
    func setTimeWakes() async throws {
        let clock = ManualClock(now: Self.start)
        let task = Task { try await clock.sleep(until: Self.start.addingTimeInterval(10)) }
        await clock.waitForSleepers(1)
        clock.setTime(Self.start.addingTimeInterval(-100))
        #expect(clock.sleeperCount == 1)
        clock.setTime(Self.start.addingTimeInterval(10))
        try await task.value
        #expect(clock.sleeperCount == 0)
    }

    @Test("sleep(for:) from WallClock measures from the manual now")
    func sleepForDuration() async throws {
        let clock = ManualClock(now: Self.start)
        let task = Task { try await clock.sleep(for: .seconds(5)) }
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.start.addingTimeInterval(5))
        clock.advance(by: .seconds(5))
        try await task.value
    }
}
