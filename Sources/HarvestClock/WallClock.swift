import Foundation

/// A source of wall-clock time that can also sleep until a given date.
///
/// Every component of TweetHarvester that needs the time of day or has to wait takes a `WallClock`
/// instead of calling `Date()` or `Task.sleep`: the scheduler (cron fires at dates in a time zone),
/// the search client (rate-limit resets are wall-clock dates, retries back off) and the OAuth signer
/// (timestamps). Production code uses ``SystemClock``; tests use `ManualClock` from `HarvestTesting`
/// and advance hours of schedule in microseconds.
///
/// The protocol reads wall time (`Date`) rather than a monotonic instant because cron schedules,
/// rate-limit resets and OAuth timestamps are all wall-clock dates. It is deliberately not named
/// `Clock`, which would shadow the standard library's `Clock` protocol for every importer.
///
/// ```swift
/// let clock: any WallClock = .system
/// try await clock.sleep(until: clock.now.addingTimeInterval(5))
/// ```
public protocol WallClock: Sendable {
    /// The current wall-clock time.
    var now: Date { get }

    /// Suspends the calling task until `deadline` has passed.
    ///
    /// Returns at once when `deadline` is not in the future.
    ///
    /// - Parameter deadline: The wall-clock time to wake at.
    /// - Throws: `CancellationError` when the calling task is cancelled before the deadline.
    func sleep(until deadline: Date) async throws
}

extension WallClock {
    /// Suspends the calling task for `duration`, measured from ``now``.
    ///
    /// - Parameter duration: How long to sleep; zero or negative durations return at once.
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now.addingTimeInterval(duration.timeInterval))
    }
}

/// The real wall clock: `Date()` for the time and `Task.sleep` on the continuous clock for waits.
///
/// Sleeps are computed from the wall-clock distance to the deadline when the sleep starts, with zero
/// tolerance, so a timer fires as close to its deadline as the operating system allows. Callers that
/// must never act early (the scheduler) re-read ``now`` after waking, which also covers the wall
/// clock being stepped while they slept. A distance longer than ``longestTimer`` is slept in timers of at
/// most that length, each computed afresh, so that any deadline, however far, is a valid timer.
public struct SystemClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current time from the operating system.
    public var now: Date { Date() }

    /// The longest single timer ``sleep(until:)`` sets: 30 days. (A timer's length must fit the continuous
    /// clock's 64-bit seconds; a deadline such as `Date.distantFuture` is slept in several.)
    public static let longestTimer: Duration = .seconds(30 * 86_400)

    /// Sleeps until `deadline` on the system's continuous clock.
    public func sleep(until deadline: Date) async throws {
        var interval = deadline.timeIntervalSinceNow
        guard interval > 0 else {
            try Task.checkCancellation()
            return
        }
        let longest = Self.longestTimer.timeInterval
        while interval > longest {
            try await Task.sleep(for: Self.longestTimer, tolerance: .zero, clock: .continuous)
            interval = deadline.timeIntervalSinceNow
        }
        guard interval > 0 else { return }
        try await Task.sleep(for: .seconds(interval), tolerance: .zero, clock: .continuous)
    }
}

extension WallClock where Self == SystemClock {
    /// The real wall clock, ``SystemClock``.
    public static var system: SystemClock { SystemClock() }
}

extension Duration {
    /// This duration in seconds, as a `TimeInterval`.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
