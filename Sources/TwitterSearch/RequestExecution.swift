import Foundation
import HarvestClock
import Logging
import OAuthSigning

extension SearchClient {
    /// Sends one logical request under the ``RequestPolicy``: waits before it when the rate limit or the
    /// minimum interval says so, authenticates every attempt afresh, retries network errors, 5xx and
    /// undecodable bodies with backoff, waits out 429s, and maps every other failure to a ``SearchError``.
    func exchange<T>(
        method: HTTPRequest.Method,
        url: URL,
        body: Data?,
        contentType: String? = nil,
        sinceID: UInt64?,
        isTokenRequest: Bool = false,
        logger: Logger,
        decode: (TransportResponse) throws(SearchError) -> T
    ) async throws -> (T, RateLimit?) {
        let policy = configuration.policy
        var failures = 0
        var rateLimitWaits = 0
        var lastFailure: SearchError?
        while true {
            try await waitBeforeRequest(logger: logger)
            var request = TransportRequest(method: method, url: url, body: body, timeout: configuration.requestTimeout)
            if let contentType { request.headerFields[.contentType] = contentType }
            request.headerFields[.accept] = "application/json"
            request.headerFields[.authorization] = try await authorization(
                method: method, url: url, isTokenRequest: isTokenRequest, logger: logger)
            await gate.recordRequest(at: clock.now)
            logger.trace(
                "sending request",
                metadata: [
                    "th.http.method": "\(method.rawValue)", "th.http.url": "\(url.absoluteString)",
                    "th.attempt": "\(failures + 1)",
                ])

            let response: TransportResponse
            do {
                response = try await transport.send(request)
            } catch {
                if error is CancellationError || Task.isCancelled { throw CancellationError() }
                // A transport's own SearchError keeps its code and message; only network errors and time-outs
                // are retried (a body over the cap would be as large the next time).
                let failure = SearchError.transportFailure(error, url: url)
                guard failure.code == .transport || failure.code == .timedOut else { throw failure }
                failures += 1
                try await backOff(after: failures, failure: failure, reason: "network error", logger: logger)
                continue
            }
            let rateLimit = RateLimit(response.headerFields)
            await gate.record(rateLimit)
            logger.trace(
                "received response",
                metadata: ["th.http.status": "\(response.status.code)", "th.bytes": "\(response.body.count)"])

            switch response.status.code {
            case 200..<300:
                do throws(SearchError) {
                    return (try decode(response), rateLimit)
                } catch {
                    var failure = error
                    if isTokenRequest { failure.bodyExcerpt = nil }
                    failures += 1
                    try await backOff(after: failures, failure: failure, reason: "undecodable body", logger: logger)
                }
            case 429, 420:
                // 420 "Enhance Your Calm" is how the old v1 search and streaming APIs said 429.
                rateLimitWaits += 1
                // `x-rate-limit-reset`, else a `Retry-After` in seconds (as some proxies send), else the default.
                let retryAfter = response.headerFields[.retryAfter].flatMap { TimeInterval($0) }
                let reset = rateLimit?.reset ?? retryAfter.map { clock.now.addingTimeInterval($0) }
                guard rateLimitWaits <= policy.maxRateLimitRetries else {
                    var failure = responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest)
                    failure.rateLimitReset = reset
                    throw failure
                }
                let wait = policy.rateLimitWait(reset: reset, now: clock.now)
                let reason = response.status.code == 420 ? "420 enhance your calm" : "429 too many requests"
                try await sleep(wait, reason: reason, logger: logger)
            case 500..<600:
                failures += 1
                lastFailure = responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest)
                try await backOff(
                    after: failures, failure: lastFailure ?? SearchError(.serverError),
                    reason: "HTTP \(response.status.code)",
                    logger: logger)
            case 401:
                if case .appOnly(_, _, let cache) = authorizer, !isTokenRequest { await cache.invalidate() }
                throw responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest)
            default:
                throw responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest)
            }
        }
    }

    /// Sleeps the policy's backoff, or throws `failure` when the attempt budget is spent.
    private func backOff(after failures: Int, failure: SearchError, reason: String, logger: Logger) async throws {
        guard failures < configuration.policy.maxAttempts else { throw failure }
        let delay = configuration.policy.backoff(afterAttempt: failures)
        logger.warning(
            "retrying request",
            metadata: [
                "th.attempt": "\(failures)", "th.delay": "\(delay)", "th.reason": "\(reason)",
                "th.error": "\(failure.code)",
            ])
        configuration.eventHandler?(.retry(attempt: failures, after: delay, reason: reason))
        try await clock.sleep(until: clock.now.addingTimeInterval(delay.timeInterval))
    }

    /// Waits as the rate limit and the minimum interval require before the next request.
    private func waitBeforeRequest(logger: Logger) async throws {
        let (last, limit) = (await gate.lastRequest, await gate.rateLimit)
        guard
            let (delay, reason) = configuration.policy.delayBeforeRequest(
                now: clock.now, lastRequest: last, rateLimit: limit)
        else { return }
        try await sleep(delay, reason: reason, logger: logger)
    }

    private func sleep(_ delay: Duration, reason: String, logger: Logger) async throws {
        let until = clock.now.addingTimeInterval(delay.timeInterval)
        logger.warning(
            "waiting for rate limit",
            metadata: [
                "th.wait.until": "\(until.timeIntervalSince1970)", "th.delay": "\(delay)", "th.reason": "\(reason)",
            ])
        configuration.eventHandler?(.rateLimitWait(until: until, reason: reason))
        try await clock.sleep(until: until)
    }

    /// The error for a response the client does not retry.
    func responseError(_ response: TransportResponse, sinceID: UInt64?, isTokenRequest: Bool) -> SearchError {
        let status = response.status.code
        let payload = TwitterErrorPayload(body: response.body)
        let code: SearchError.Code
        switch status {
        case 400 where sinceID != nil && payload.mentionsSinceID: code = .staleSinceID
        case 400: code = .badRequest
        case 401: code = .unauthorized
        case 403: code = .forbidden
        case 404: code = .notFound
        case 429, 420: code = .rateLimited
        case 500..<600: code = .serverError
        default: code = payload.code == 32 || payload.code == 89 ? .unauthorized : .unexpectedStatus
        }
        return SearchError(
            code, httpStatus: status, twitterCode: payload.code, message: payload.message, problemTitle: payload.title,
            problemType: payload.type, rateLimitReset: RateLimit(response.headerFields)?.reset,
            suggestedSinceID: code == .staleSinceID ? payload.suggestedSinceID : nil,
            bodyExcerpt: isTokenRequest || response.body.isEmpty ? nil : SearchError.excerpt(of: response.body))
    }

    // MARK: Authentication

    private func authorization(method: HTTPRequest.Method, url: URL, isTokenRequest: Bool, logger: Logger) async throws
        -> String
    {
        switch authorizer {
        case .oauth1(let signer):
            do {
                return try signer.authorizationHeader(method: method.rawValue, url: url)
            } catch {
                throw SearchError(.signing, message: error.description)
            }
        case .bearer(let token):
            return "Bearer \(token.revealed)"
        case .appOnly(let key, let secret, let cache):
            if isTokenRequest {
                let pair = "\(PercentEncoding.encode(key)):\(PercentEncoding.encode(secret.revealed))"
                return "Basic \(Data(pair.utf8).base64EncodedString())"
            }
            let token = try await cache.token { [self] in try await obtainBearerToken(key: key, logger: logger) }
            return "Bearer \(token.revealed)"
        }
    }

    /// `POST /oauth2/token` with `grant_type=client_credentials`; the body is never logged or excerpted.
    private func obtainBearerToken(key: String, logger: Logger) async throws -> Secret {
        logger.debug("obtaining app-only bearer token")
        let (token, _) = try await exchange(
            method: .post, url: endpoint("/oauth2/token"), body: Data("grant_type=client_credentials".utf8),
            contentType: "application/x-www-form-urlencoded;charset=UTF-8", sinceID: nil, isTokenRequest: true,
            logger: logger
        ) { response throws(SearchError) -> Secret in
            let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]
            guard let token = object?["access_token"] as? String, !token.isEmpty,
                (object?["token_type"] as? String)?.lowercased() == "bearer"
            else {
                throw SearchError(
                    .tokenExchange, httpStatus: response.status.code, message: "no bearer token in the response")
            }
            return Secret(token)
        }
        configuration.eventHandler?(.tokenObtained)
        return token
    }
}
