import Foundation
import HarvestClock
import HarvestLocking

/// A `WallClock` whose sleeps return at once, moving its time forward to the deadline.
///
/// Use it where a test wants the code's waits (retry backoff, rate-limit resets, schedules) to cost nothing
/// and does not need to stop time in between; ``ManualClock`` is for tests that look at what happens while a
/// task is asleep. Every deadline asked for is kept in ``sleeps``, so a test can assert how long the code
/// under test would have waited.
///
/// ```swift
/// let clock = ImmediateClock(now: Date(timeIntervalSince1970: 1_700_000_000))
/// let client = try SearchClient(credentials: credentials, transport: transport, clock: clock)
/// let tweets = try await client.search(SearchQuery("#mobileservices"))   // 429s and backoff: no real wait
/// ```
public final class ImmediateClock: WallClock, Sendable {
    private struct State {
        var now: Date
        var sleeps: [Date] = []
    }

    private let state: Locked<State>

    /// Creates a clock that reads `now` until something sleeps past it.
    ///
    /// - Parameter now: The clock's initial time.
    public init(now: Date) {
        state = Locked(State(now: now))
    }

    /// The clock's current time: the initial time, or the latest deadline slept until.
    public var now: Date {
        state.withLock { $0.now }
    }

    /// Every deadline passed to ``sleep(until:)``, in the order they were asked for.
    public var sleeps: [Date] {
        state.withLock { $0.sleeps }
    }

    /// Returns at once, after moving ``now`` forward to `deadline` (never back).
    ///
    /// - Parameter deadline: The time the caller asked to wake at.
    /// - Throws: `CancellationError` when the calling task is cancelled.
    public func sleep(until deadline: Date) async throws {
        try Task.checkCancellation()
        state.withLock { state in
            state.now = max(state.now, deadline)
            state.sleeps.append(deadline)
        }
    }
}
