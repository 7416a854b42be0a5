import Crypto
import Foundation
import OAuthSigning

/// Where ``SearchClient``s keep the rate-limit state they learn, so that every client on one set of credentials
/// spends one budget.
///
/// Before each request a client asks the ledger for the state of its ``RateLimitKey`` and waits as its
/// ``RequestPolicy`` says (until the reset when `remaining` is 0, spread out when it is low); after each response
/// it records what the response reported. A 429 is recorded as `remaining` 0 until the reset the client itself
/// waits for, so every other client on the ledger pauses until then instead of learning it by a 429 of its own.
///
/// ``InMemoryRateLimitLedger`` shares the budget within one process (it is the default of
/// ``SearchClient/Configuration/rateLimits``); `PostgresRateLimitLedger` of `TableStoragePostgres` shares it
/// between processes through a database table.
///
/// ```swift
/// let ledger = InMemoryRateLimitLedger()
/// var configuration = SearchClient.Configuration()
/// configuration.rateLimits = ledger            // every client made with it spends one budget
/// ```
///
/// ### Merging
///
/// A state recorded for a key is merged with the one the ledger holds, so that a response to an older request
/// cannot undo a newer 429: a state with a later ``RateLimit/reset`` replaces the held one (a new window); one with
/// the same reset keeps the smaller `remaining` (requests only use the window up); one with an earlier reset is
/// ignored. ``RateLimit/merged(with:)`` is that rule; an implementation must follow it.
///
/// ### Failures
///
/// The ledger advises; it does not stand between a client and the API. When ``state(for:)`` or
/// ``record(_:for:)`` throws, the client logs a warning, goes on with what it learnt itself, and sends the
/// request. Only `CancellationError` ends the request.
public protocol RateLimitLedger: Sendable {
    /// The state last recorded (and merged) for `key`, or `nil` when none is known.
    ///
    /// - Parameter key: The credentials and endpoint.
    /// - Returns: A state whose ``RateLimit/remaining`` and ``RateLimit/reset`` are set, or `nil`.
    /// - Throws: When the ledger cannot be read; the client then goes on without it.
    func state(for key: RateLimitKey) async throws -> RateLimit?

    /// Merges `state`, seen on a response (or a 429), into the state held for `key`.
    ///
    /// - Parameters:
    ///   - state: What the response reported; its ``RateLimit/remaining`` and ``RateLimit/reset`` are set.
    ///   - key: The credentials and endpoint.
    /// - Throws: When the ledger cannot be written; the client then goes on without it.
    func record(_ state: RateLimit, for key: RateLimitKey) async throws
}

/// The credentials and endpoint a rate-limit window belongs to: the key of a ``RateLimitLedger``.
///
/// ``credential`` never holds a secret: it is ``SearchCredentials/rateLimitIdentity``, a kind and a truncated
/// SHA-256, so it may be logged and stored in a shared table.
public struct RateLimitKey: Sendable, Hashable, CustomStringConvertible {
    /// The credentials' ``SearchCredentials/rateLimitIdentity``, such as `bearer-3f2a9c0d41b7e658`.
    public var credential: String
    /// The endpoint's path, such as `/2/tweets/search/recent`.
    public var endpoint: String

    /// Creates a key.
    ///
    /// - Parameters:
    ///   - credential: A name for the credentials that reveals no secret.
    ///   - endpoint: The endpoint's path.
    public init(credential: String, endpoint: String) {
        self.credential = credential
        self.endpoint = endpoint
    }

    /// `credential endpoint`.
    public var description: String { "\(credential) \(endpoint)" }
}

extension SearchCredentials {
    /// The name a ``RateLimitLedger`` keeps these credentials' windows under; it reveals no secret.
    ///
    /// It is the kind (`oauth1`, `bearer`, `app`) and the first 16 hexadecimal digits of a SHA-256 of what tells
    /// one budget from another: the consumer key and access token for OAuth 1.0a (user-context limits are per user
    /// and app), the token for a bearer token, the consumer key for app-only credentials. Secrets that only sign
    /// (the consumer secret, the token secret) are not part of it. The same credentials give the same name in
    /// every process.
    public var rateLimitIdentity: String {
        switch self {
        case .oauth1(let credentials):
            Self.identity("oauth1", [credentials.consumerKey, credentials.token ?? ""])
        case .bearer(let credentials):
            Self.identity("bearer", [credentials.token.revealed])
        case .appOnly(let consumerKey, _):
            Self.identity("app", [consumerKey])
        }
    }

    private static func identity(_ kind: String, _ parts: [String]) -> String {
        let digest = SHA256.hash(
            data: Data((["tweetharvester-rate-limit", kind] + parts).joined(separator: "\0").utf8))
        return kind + "-" + digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

extension RateLimit {
    /// This state (the one held) merged with `newer` (the one just seen), as a ``RateLimitLedger`` merges them.
    ///
    /// A later reset replaces this state; the same reset keeps the smaller `remaining` and the newer `limit` (or
    /// this one's, when the newer has none); an earlier reset leaves this state as it is. A state without a reset
    /// is replaced by any with one.
    ///
    /// - Parameter newer: The state just seen.
    /// - Returns: The state to hold.
    public func merged(with newer: RateLimit) -> RateLimit {
        guard let reset else { return newer }
        guard let newerReset = newer.reset, newerReset >= reset else { return self }
        if newerReset > reset { return newer }
        let fewer: Int? =
            switch (remaining, newer.remaining) {
            case (let held?, let seen?): Swift.min(held, seen)
            case (let held, let seen): seen ?? held
            }
        return RateLimit(limit: newer.limit ?? limit, remaining: fewer, reset: reset)
    }
}

/// A ``RateLimitLedger`` in memory: clients that share one instance share one budget within the process.
///
/// It is the default of ``SearchClient/Configuration/rateLimits``. Each new `Configuration` holds a new ledger, so
/// clients made from copies of one configuration share it (as the jobs of one `Harvester` settings value do), and
/// clients made from separate configurations do not. For several processes, use a ledger in a database such as
/// `PostgresRateLimitLedger`.
public actor InMemoryRateLimitLedger: RateLimitLedger {
    private var states: [RateLimitKey: RateLimit] = [:]

    /// Creates an empty ledger.
    public init() {}

    /// See ``RateLimitLedger/state(for:)``.
    public func state(for key: RateLimitKey) -> RateLimit? {
        states[key]
    }

    /// See ``RateLimitLedger/record(_:for:)``.
    public func record(_ state: RateLimit, for key: RateLimitKey) {
        states[key] = states[key].map { $0.merged(with: state) } ?? state
    }

    /// Every key the ledger holds a state for.
    public var keys: [RateLimitKey] {
        Array(states.keys)
    }
}
