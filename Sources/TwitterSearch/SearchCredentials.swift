import Foundation
import OAuthSigning

/// How a ``SearchClient`` authenticates.
public enum SearchCredentials: Sendable {
    /// OAuth 1.0a user context: every request is signed with `OAuth1Signer`.
    case oauth1(OAuth1Credentials)
    /// OAuth 2.0 app-only, with a bearer token you already have.
    case bearer(BearerCredentials)
    /// OAuth 2.0 app-only, with a bearer token the client obtains from `POST /oauth2/token` (Basic auth
    /// of the consumer key and secret, `grant_type=client_credentials`) on first use and caches.
    case appOnly(consumerKey: String, consumerSecret: Secret)
}

/// The app-only bearer token, obtained once and shared by every request of a client.
///
/// The first request that needs the token obtains it in its own task; requests that ask meanwhile wait for that
/// result (no task of its own that could outlive its callers). When the obtaining request is cancelled, a waiting
/// one tries again itself.
actor BearerTokenCache {
    private var token: Secret?
    private var isObtaining = false
    private var waiters: [CheckedContinuation<Result<Secret, any Error>, Never>] = []

    /// The cached token, or the result of `obtain` (run once even when many requests ask at once).
    func token(obtain: @Sendable () async throws -> Secret) async throws -> Secret {
        while true {
            if let token { return token }
            guard isObtaining else { break }
            let result = await withCheckedContinuation { waiters.append($0) }
            switch result {
            case .success(let value): return value
            case .failure(is CancellationError):
                // The request that was obtaining it was cancelled, not this one: try again, unless this one is too.
                try Task.checkCancellation()
            case .failure(let error): throw error
            }
        }
        isObtaining = true
        let result: Result<Secret, any Error>
        do {
            result = .success(try await obtain())
        } catch {
            result = .failure(error)
        }
        isObtaining = false
        if case .success(let value) = result { token = value }
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume(returning: result) }
        return try result.get()
    }

    /// How many requests wait for the token being obtained (for tests).
    var waiterCount: Int { waiters.count }

    /// The cached token, without obtaining one.
    var current: Secret? { token }

    /// Forgets the token after the API refused it, so the next request obtains a new one.
    func invalidate() {
        token = nil
    }
}

/// The rate-limit state and request spacing shared by every request of a client.
actor RequestGate {
    private(set) var lastRequest: Date?
    private(set) var rateLimit: RateLimit?

    func recordRequest(at date: Date) {
        lastRequest = date
    }

    func record(_ limit: RateLimit?) {
        if let limit, limit.remaining != nil || limit.reset != nil { rateLimit = limit }
    }
}

extension RateLimit {
    /// The `x-rate-limit-*` header fields of `fields`, or `nil` when none is present.
    init?(_ fields: HTTPFields) {
        func value(_ name: String) -> String? {
            HTTPField.Name(name).flatMap { fields[$0] }?.trimmingCharacters(in: .whitespaces)
        }
        let limit = value("x-rate-limit-limit").flatMap { Int($0) }
        let remaining = value("x-rate-limit-remaining").flatMap { Int($0) }
        let reset = value("x-rate-limit-reset").flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
        guard limit != nil || remaining != nil || reset != nil else { return nil }
        self.init(limit: limit, remaining: remaining, reset: reset)
    }
}
