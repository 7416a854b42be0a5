import Foundation
import HarvestClock

/// A source of uniformly distributed numbers in `0..<1` for backoff jitter; inject a fixed or seeded one in tests.
public struct RandomSource: Sendable {
    private let next: @Sendable () -> Double

    /// Creates a source from a closure returning numbers in `0..<1`.
    public init(_ next: @escaping @Sendable () -> Double) {
        self.next = next
    }

    /// The next number, clamped into `0..<1`.
    public func callAsFunction() -> Double {
        min(max(next(), 0), 0.999_999_999)
    }

    /// The system's random number generator.
    public static var system: RandomSource {
        RandomSource { Double.random(in: 0..<1) }
    }

    /// Always `value`: backoff becomes exactly predictable.
    public static func fixed(_ value: Double) -> RandomSource {
        RandomSource { value }
    }
}

/// The one policy for rate limits and retries that ``SearchClient`` applies to every request.
///
/// - Rate limits: `x-rate-limit-limit/remaining/reset` are read from every response and exposed on
///   ``SearchPage/rateLimit``. A 429 waits until the reset plus ``resetMargin``, never less than zero
///   and never more than ``maxRateLimitWait``, then retries, at most ``maxRateLimitRetries`` times.
///   When `remaining` falls to ``pacingThreshold`` or below, requests are spread over the rest of the
///   window; at zero the client waits for the reset before asking.
/// - Spacing: at least ``minimumInterval`` between the starts of two requests.
/// - Retries: network errors, 5xx and undecodable 200 bodies are retried with exponential backoff
///   (``initialBackoff`` × ``backoffMultiplier``^(n−1), capped at ``maxBackoff``, times a jitter factor
///   in `1 − jitter ... 1` drawn from ``random``), up to ``maxAttempts`` attempts in all.
///   400, 401, 403 and 404 are never retried.
///
/// All waits sleep on the client's `WallClock`, are logged at `.warning` and are reported as
/// ``SearchEvent``s.
public struct RequestPolicy: Sendable {
    /// Attempts per request for network errors, 5xx and undecodable bodies, the first included. The default is 4.
    public var maxAttempts: Int = 4
    /// The first backoff. The default is half a second.
    public var initialBackoff: Duration = .milliseconds(500)
    /// The factor between successive backoffs. The default is 2.
    public var backoffMultiplier: Double = 2
    /// The longest backoff. The default is 30 seconds.
    public var maxBackoff: Duration = .seconds(30)
    /// The share of a backoff that jitter may remove, `0...1`. The default is 0.5.
    public var jitter: Double = 0.5
    /// Where jitter comes from. The default is ``RandomSource/system``.
    public var random: RandomSource = .system
    /// How many 429s one request may wait out before failing with ``SearchError/Code/rateLimited``. The default is 3.
    public var maxRateLimitRetries: Int = 3
    /// The longest single rate-limit wait; a reset further away is clamped to it. The default is 15 minutes.
    public var maxRateLimitWait: Duration = .seconds(900)
    /// The wait after a 429 without a usable reset header. The default is 60 seconds.
    public var defaultRateLimitWait: Duration = .seconds(60)
    /// Added to every reset time, for clock skew between this machine and the API. The default is 1 second.
    public var resetMargin: Duration = .seconds(1)
    /// When `remaining` is at or below this, requests are spread over the rest of the window. The default is 2.
    public var pacingThreshold: Int = 2
    /// The least time between the starts of two requests. The default is zero (none).
    ///
    /// Some endpoints enforce an undocumented one request a second; set `.seconds(1)` for those.
    public var minimumInterval: Duration = .zero

    /// Creates the default policy.
    public init() {}

    /// The backoff before attempt `attempt + 1`, after `attempt` failed attempts (from 1).
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(max(attempt - 1, 0))
        let base = initialBackoff.timeInterval * pow(backoffMultiplier, exponent)
        let capped = min(base, maxBackoff.timeInterval)
        let factor = 1 - min(max(jitter, 0), 1) * random()
        return .milliseconds(Int64((capped * factor * 1000).rounded()))
    }

    /// How long to wait after a 429 whose window resets at `reset`, at time `now`: never negative,
    /// never more than ``maxRateLimitWait``.
    public func rateLimitWait(reset: Date?, now: Date) -> Duration {
        guard let reset else { return clamp(defaultRateLimitWait.timeInterval) }
        return clamp(reset.timeIntervalSince(now) + resetMargin.timeInterval)
    }

    /// How long to wait before the next request, given the last reported rate limit and the start of the
    /// last request; `nil` when it may go now. The reason names the rule.
    public func delayBeforeRequest(now: Date, lastRequest: Date?, rateLimit: RateLimit?) -> (Duration, String)? {
        var wait: Duration = .zero
        var reason = ""
        if let rateLimit, let remaining = rateLimit.remaining, let reset = rateLimit.reset, reset > now,
            remaining <= pacingThreshold
        {
            let untilReset = reset.timeIntervalSince(now) + resetMargin.timeInterval
            if remaining <= 0 {
                wait = clamp(untilReset)
                reason = "rate limit exhausted"
            } else {
                wait = clamp(untilReset / Double(remaining + 1))
                reason = "rate limit low"
            }
        }
        if let lastRequest, minimumInterval > .zero {
            let spacing = Duration.milliseconds(
                Int64(((minimumInterval.timeInterval - now.timeIntervalSince(lastRequest)) * 1000).rounded()))
            if spacing > wait {
                wait = spacing
                reason = "minimum interval"
            }
        }
        return wait > .zero ? (wait, reason) : nil
    }

    private func clamp(_ seconds: TimeInterval) -> Duration {
        let bounded = min(max(seconds, 0), maxRateLimitWait.timeInterval)
        return .milliseconds(Int64((bounded * 1000).rounded()))
    }
}

/// Something a ``SearchClient`` did that explains how long a search takes.
public enum SearchEvent: Sendable, Hashable {
    /// The client waits until `until` because of the rate limit (a 429, few requests remaining, or the
    /// minimum interval); `reason` says which.
    case rateLimitWait(until: Date, reason: String)
    /// Attempt `attempt` failed for `reason`; the client tries again after `after`.
    case retry(attempt: Int, after: Duration, reason: String)
    /// Page `number` arrived with `tweets` new tweets.
    case page(number: Int, tweets: Int, rateLimit: RateLimit?)
    /// The app-only bearer token was obtained from `POST /oauth2/token`.
    case tokenObtained
}
