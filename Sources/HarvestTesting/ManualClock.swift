import Foundation
import HarvestClock
import HarvestLocking

/// A `WallClock` whose time moves only when a test moves it.
///
/// Code under test sleeps on the clock as it would on `SystemClock`; the test waits,
/// deterministically, until the expected number of tasks are asleep with ``waitForSleepers(_:)``, then
/// moves time with ``advance(by:)`` or ``advance(to:)``. Every sleeper whose deadline has been reached
/// is resumed, in deadline order. Hours of schedule pass in microseconds, and nothing depends on how
/// busy the machine is: there are no yield loops and no real sleeps.
///
/// ```swift
/// let clock = ManualClock(now: Date(timeIntervalSince1970: 1_700_000_000))
/// async let page = SearchClient(transport: transport, clock: clock).search("#mobileservices")
/// await clock.waitForSleepers(1)
/// clock.advance(by: .seconds(60))
/// let result = try await page
/// ```
///
/// A sleeping task that is cancelled throws `CancellationError` at once, and stops counting as a
/// sleeper. ``setTime(_:)`` steps the clock to any date, also backwards, to test code that must cope
/// with the wall clock being set back.
public final class ManualClock: WallClock, Sendable {
    private struct Sleeper {
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Waiter {
        var count: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: Date
        var nextID: UInt64 = 0
        /// Sleepers by registration number; the number breaks ties between equal deadlines.
        var sleepers: [UInt64: Sleeper] = [:]
        var waiters: [Waiter] = []

        /// Removes and returns the waiters satisfied by the current number of sleepers.
        mutating func takeSatisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
            let count = sleepers.count
            let ready = waiters.filter { $0.count <= count }.map(\.continuation)
            waiters.removeAll { $0.count <= count }
            return ready
        }

        /// Removes and returns the sleepers whose deadline has been reached, earliest deadline first.
        mutating func takeDueSleepers() -> [CheckedContinuation<Void, any Error>] {
            let due = sleepers.filter { $0.value.deadline <= now }
                .sorted { ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key) }
            for (id, _) in due { sleepers[id] = nil }
            return due.map(\.value.continuation)
        }
    }

    private let state: Locked<State>

    /// Creates a clock that reads `now` until it is advanced.
    ///
    /// - Parameter now: The clock's initial time.
    public init(now: Date) {
        state = Locked(State(now: now))
    }

    /// The clock's current time; it changes only through ``advance(by:)``, ``advance(to:)`` and ``setTime(_:)``.
    public var now: Date {
        state.withLock { $0.now }
    }

    /// The number of tasks currently suspended in ``sleep(until:)``.
    public var sleeperCount: Int {
        state.withLock { $0.sleepers.count }
    }

    /// The earliest deadline of the tasks currently asleep, or `nil` when none is.
    ///
    /// Tests use it to advance exactly to the moment the code under test asked to wake at.
    public var nextSleeperDeadline: Date? {
        state.withLock { $0.sleepers.values.map(\.deadline).min() }
    }

    /// Suspends the calling task until the clock has been moved to `deadline` or past it.
    ///
    /// Returns at once when `deadline` is not after ``now``.
    ///
    /// - Parameter deadline: The time to wake at.
    /// - Throws: `CancellationError` as soon as the calling task is cancelled.
    public func sleep(until deadline: Date) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Checking for cancellation under the lock closes the race with the cancellation handler:
                // the task's cancelled flag is set before the handler runs, and the handler takes the lock.
                enum Registration { case sleeping([CheckedContinuation<Void, Never>]), due, cancelled }
                let registration = state.withLock { state -> Registration in
                    if Task.isCancelled { return .cancelled }
                    if deadline <= state.now { return .due }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .sleeping(state.takeSatisfiedWaiters())
                }
                switch registration {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .due: continuation.resume()
                case .sleeping(let waiters): for waiter in waiters { waiter.resume() }
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and resumes every sleeper whose deadline is reached.
    ///
    /// Sleepers are resumed in deadline order (ties in the order they fell asleep).
    ///
    /// - Parameter duration: How far to move; a negative duration is ignored (use ``setTime(_:)`` to step back).
    public func advance(by duration: Duration) {
        let due = state.withLock { state in
            if duration > .zero {
                state.now = state.now.addingTimeInterval(duration.timeInterval)
            }
            return state.takeDueSleepers()
        }
        for sleeper in due { sleeper.resume() }
    }

    /// Moves the clock forward to `date` and resumes every sleeper whose deadline is reached.
    ///
    /// - Parameter date: The new time; a date before ``now`` leaves the time unchanged
    ///   (use ``setTime(_:)`` to step back).
    public func advance(to date: Date) {
        let due = state.withLock { state in
            state.now = max(state.now, date)
            return state.takeDueSleepers()
        }
        for sleeper in due { sleeper.resume() }
    }

    /// Sets the clock to `date`, forwards or backwards, as when an administrator or NTP steps the wall clock.
    ///
    /// Sleepers whose deadline is reached at `date` are resumed; stepping back wakes no one.
    ///
    /// - Parameter date: The new time.
    public func setTime(_ date: Date) {
        let due = state.withLock { state in
            state.now = date
            return state.takeDueSleepers()
        }
        for sleeper in due { sleeper.resume() }
    }

    /// Waits until at least `count` tasks are asleep on this clock.
    ///
    /// Returns at once when that many already are. The wait is signalled by ``sleep(until:)`` itself,
    /// so it is deterministic: no polling, no yields, no real time.
    ///
    /// - Parameter count: The number of sleepers to wait for.
    public func waitForSleepers(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let satisfied = state.withLock { state -> Bool in
                if state.sleepers.count >= count { return true }
                state.waiters.append(Waiter(count: count, continuation: continuation))
                return false
            }
            if satisfied { continuation.resume() }
        }
    }
}
