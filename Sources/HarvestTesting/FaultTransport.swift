import Foundation
import HarvestClock
import HarvestLocking
import TwitterSearch

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An `HTTPTransport` that wraps another and injects faults: time-outs, connection
/// resets, 429s, 5xx, truncated and malformed bodies, at chosen request indexes or at seeded-random ones.
///
/// ```swift
/// let faulty = FaultTransport(wrapping: replay, faults: [0: .serverError(503), 2: .truncatedBody])
/// let random = FaultTransport(wrapping: replay, seed: 42, probability: 0.2, choices: [.timeout, .serverError(503)])
/// ```
public final class FaultTransport: HTTPTransport, Sendable {
    /// One injected fault.
    public enum Fault: Sendable, Hashable {
        /// The request fails with `URLError(.timedOut)`; the wrapped transport is not called.
        case timeout
        /// The request fails with `URLError(.networkConnectionLost)`; the wrapped transport is not called.
        case connectionReset
        /// A `429` with `x-rate-limit-remaining: 0` and a reset `resetAfter` from the clock's now.
        case rateLimited(resetAfter: Duration)
        /// A `5xx` (or any status) with an empty JSON problem body.
        case serverError(Int)
        /// The wrapped transport's response with only the first half of its body.
        case truncatedBody
        /// A `200` whose body is not JSON (an HTML error page, as proxies send).
        case malformedBody
    }

    private enum Plan: Sendable {
        case indexes([Int: Fault])
        case random(probability: Double, choices: [Fault])
    }

    private struct State {
        var next = 0
        var rng: UInt64
        var injected: [(index: Int, fault: Fault)] = []
    }

    private let inner: any HTTPTransport
    private let plan: Plan
    private let clock: any WallClock
    private let state: Locked<State>

    /// Injects `faults[n]` into the n-th request (from 0); other requests pass through.
    ///
    /// - Parameters:
    ///   - inner: The transport to wrap.
    ///   - faults: The fault for each request index that should fail.
    ///   - clock: The clock for `x-rate-limit-reset` values. The default is the system clock.
    public init(wrapping inner: any HTTPTransport, faults: [Int: Fault], clock: any WallClock = .system) {
        self.inner = inner
        self.plan = .indexes(faults)
        self.clock = clock
        self.state = Locked(State(rng: 0))
    }

    /// Injects a fault into each request with `probability`, choosing among `choices`, from a seeded
    /// generator: the same seed gives the same faults at the same requests.
    ///
    /// - Parameters:
    ///   - inner: The transport to wrap.
    ///   - seed: The generator's seed.
    ///   - probability: The chance, `0...1`, that a request gets a fault.
    ///   - choices: The faults to choose from, uniformly.
    ///   - clock: The clock for `x-rate-limit-reset` values. The default is the system clock.
    public init(
        wrapping inner: any HTTPTransport, seed: UInt64, probability: Double, choices: [Fault],
        clock: any WallClock = .system
    ) {
        self.inner = inner
        self.plan = .random(probability: probability, choices: choices)
        self.clock = clock
        self.state = Locked(State(rng: seed))
    }

    /// The faults injected so far, with the index of the request each hit.
    public var injected: [(index: Int, fault: Fault)] {
        state.withLock { $0.injected }
    }

    /// Sends `request` through the wrapped transport, or fails or alters it as planned.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        let fault = state.withLock { state -> Fault? in
            let index = state.next
            state.next += 1
            let fault: Fault?
            switch plan {
            case .indexes(let faults):
                fault = faults[index]
            case .random(let probability, let choices):
                let roll = Self.unit(&state.rng)
                let pick = Self.unit(&state.rng)
                fault = roll < probability && !choices.isEmpty ? choices[Int(pick * Double(choices.count))] : nil
            }
            if let fault { state.injected.append((index, fault)) }
            return fault
        }
        switch fault {
        case nil:
            return try await inner.send(request)
        case .timeout:
            throw URLError(.timedOut)
        case .connectionReset:
            throw URLError(.networkConnectionLost)
        case .rateLimited(let resetAfter):
            let reset = clock.now.addingTimeInterval(resetAfter.timeInterval).timeIntervalSince1970
            return TransportResponse(
                status: .tooManyRequests,
                headerFields: MockTransport.fields([
                    "x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": String(Int(reset.rounded(.up))), "content-type": "application/json",
                ]),
                body: Data(
                    #"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#
                        .utf8))
        case .serverError(let status):
            return TransportResponse(
                status: .init(code: status), headerFields: MockTransport.fields(["content-type": "application/json"]),
                body: Data(#"{"title":"Service Unavailable","detail":"Service Unavailable","type":"about:blank"}"#.utf8)
            )
        case .truncatedBody:
            var response = try await inner.send(request)
            response.body = response.body.prefix(response.body.count / 2)
            return response
        case .malformedBody:
            return TransportResponse(
                status: .ok, headerFields: MockTransport.fields(["content-type": "text/html"]),
                body: Data("<html><body><h1>502 Bad Gateway</h1></body></html>".utf8))
        }
    }

    /// SplitMix64, mapped to `0..<1`.
    private static func unit(_ state: inout UInt64) -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}
