import Dispatch
import HarvestLocking

/// Holds one chosen request on the server's connection thread until the test releases it, and tells the test
/// that it arrived: a test can then act at that exact moment (kill the client between two pages, say) instead
/// of hoping a random delay lands there.
///
/// A route handler calls ``pass(_:)`` first; the test arms the hold, starts the client, waits for the arrival,
/// acts, and releases:
///
/// ```swift
/// let hold = RequestHold { $0.queryValue("next_token") != nil }   // any page after the first
/// let route = TestHTTPServer.Route("GET", "/2/tweets/search/recent") { request in
///     hold.pass(request)
///     return .json(page(for: request))
/// }
/// hold.arm(atMatch: 2)                                              // the second such request from now
/// let child = try startClient()
/// if hold.waitForArrival(while: { child.isRunning }) { child.kill() }
/// hold.release()
/// ```
public final class RequestHold: Sendable {
    private struct State {
        /// How many more matching requests pass before the one that is held; `nil` when disarmed.
        var countdown: Int?
        /// Whether a request is held now.
        var holding = false
    }

    private let matches: @Sendable (TestHTTPServer.Request) -> Bool
    private let state = Locked(State())
    private let arrived = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    /// Creates a disarmed hold for the requests `matches` accepts.
    public init(matching matches: @escaping @Sendable (TestHTTPServer.Request) -> Bool) {
        self.matches = matches
    }

    /// Arms the hold: the `number`-th matching request from now (counting from 1) is held.
    public func arm(atMatch number: Int) {
        state.withLock { $0.countdown = max(1, number) }
        // A signal left over from an arrival nobody waited for must not count for this one.
        while arrived.wait(timeout: .now()) == .success {}
    }

    /// Called by a route handler for each request: returns at once, or, for the armed request, signals its
    /// arrival and returns only after ``release()``.
    public func pass(_ request: TestHTTPServer.Request) {
        let hold = state.withLock { state -> Bool in
            guard let countdown = state.countdown, matches(request) else { return false }
            guard countdown == 1 else {
                state.countdown = countdown - 1
                return false
            }
            state.countdown = nil
            state.holding = true
            return true
        }
        guard hold else { return }
        arrived.signal()
        released.wait()
    }

    /// Waits until the armed request arrives, or until `condition` turns false (the client exited without
    /// sending it). It looks at `condition` between short waits, so it never decides by elapsed time.
    ///
    /// - Returns: Whether the request arrived and is held now.
    public func waitForArrival(while condition: () -> Bool) -> Bool {
        while true {
            if arrived.wait(timeout: .now() + .milliseconds(20)) == .success { return true }
            if !condition() {
                // One last look: the request may have arrived just before the client went.
                return arrived.wait(timeout: .now()) == .success
            }
        }
    }

    /// Lets a held request go on (and disarms the hold); harmless when nothing is held.
    public func release() {
        let wasHolding = state.withLock { state -> Bool in
            state.countdown = nil
            defer { state.holding = false }
            return state.holding
        }
        if wasHolding { released.signal() }
    }
}
