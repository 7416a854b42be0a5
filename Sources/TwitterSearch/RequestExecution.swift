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
        let key = RateLimitKey(credential: rateLimitIdentity, endpoint: url.path)
        while true {
            try await waitBeforeRequest(key: key, logger: logger)
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

            let status = response.status.code
            if status != 429, status != 420, let rateLimit, rateLimit.remaining != nil, rateLimit.reset != nil {
                try await recordShared(rateLimit, key: key, logger: logger)
            }
            // Everything the server sent back passes this before it reaches an error, and from it a log or a row.
            let scrubber = await secretScrubber(authorization: request.headerFields[.authorization])
            switch status {
            case 200..<300:
                do throws(SearchError) {
                    try Self.checkIsPage(response)
                    return (try decode(response), rateLimit)
                } catch {
                    var failure = scrubber.scrub(error, body: response.body)
                    if isTokenRequest { failure.bodyExcerpt = nil }
                    // A body damaged in transit, a proxy's page in place of the API's, or a token response
                    // without a token may come right on the next attempt; a well-formed reply that breaks the
                    // API's contract (a 299, an id out of range) will not.
                    let retried =
                        failure.code == .undecodableBody || failure.code == .tokenExchange
                        || (failure.code == .notAPage && status == 200)
                    guard retried else { throw failure }
                    failures += 1
                    try await backOff(
                        after: failures, failure: failure,
                        reason: failure.code == .notAPage ? "not a JSON reply" : "undecodable body", logger: logger)
                }
            case 300..<400:
                // The transport follows only same-origin redirects, and only a few; what reaches here it refused.
                throw scrubber.scrub(Self.redirectError(response, from: request.url), body: response.body)
            case 429, 420:
                // 420 "Enhance Your Calm" is how the old v1 search and streaming APIs said 429.
                rateLimitWaits += 1
                // `x-rate-limit-reset`, else a `Retry-After` in seconds (as some proxies send), else the default.
                let retryAfter = response.headerFields[.retryAfter].flatMap { TimeInterval($0) }
                let reset = rateLimit?.reset ?? retryAfter.map { clock.now.addingTimeInterval($0) }
                // Every client on the ledger pauses until the reset this one waits for, instead of learning it
                // by a 429 of its own.
                let pause = reset ?? clock.now.addingTimeInterval(policy.defaultRateLimitWait.timeInterval)
                try await recordShared(
                    RateLimit(limit: rateLimit?.limit, remaining: 0, reset: pause), key: key, logger: logger)
                guard rateLimitWaits <= policy.maxRateLimitRetries else {
                    var failure = responseError(
                        response, sinceID: sinceID, isTokenRequest: isTokenRequest, scrubber: scrubber)
                    failure.rateLimitReset = reset
                    throw failure
                }
                let wait = policy.rateLimitWait(reset: reset, now: clock.now)
                let reason = response.status.code == 420 ? "420 enhance your calm" : "429 too many requests"
                try await sleep(wait, reason: reason, logger: logger)
            case 500..<600:
                failures += 1
                lastFailure = responseError(
                    response, sinceID: sinceID, isTokenRequest: isTokenRequest, scrubber: scrubber)
                try await backOff(
                    after: failures, failure: lastFailure ?? SearchError(.serverError),
                    reason: "HTTP \(response.status.code)",
                    logger: logger)
            case 401:
                if case .appOnly(_, _, let cache) = authorizer, !isTokenRequest { await cache.invalidate() }
                throw responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest, scrubber: scrubber)
            default:
                throw responseError(response, sinceID: sinceID, isTokenRequest: isTokenRequest, scrubber: scrubber)
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

    /// Waits as the rate limit (as the ledger knows it) and the minimum interval require before the next request.
    private func waitBeforeRequest(key: RateLimitKey, logger: Logger) async throws {
        let last = await gate.lastRequest
        let limit: RateLimit?
        do {
            limit = try await configuration.rateLimits.state(for: key)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            // The ledger advises: without it, the client goes by what it learnt itself.
            logger.warning(
                "rate-limit ledger not read", metadata: ["th.error": "\(error)", "th.rate.key": "\(key)"])
            limit = await gate.rateLimit
        }
        guard
            let (delay, reason) = configuration.policy.delayBeforeRequest(
                now: clock.now, lastRequest: last, rateLimit: limit)
        else { return }
        try await sleep(delay, reason: reason, logger: logger)
    }

    /// Records `state` in the ledger; a ledger that fails is logged and passed over.
    private func recordShared(_ state: RateLimit, key: RateLimitKey, logger: Logger) async throws {
        do {
            try await configuration.rateLimits.record(state, for: key)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            logger.warning(
                "rate-limit ledger not written", metadata: ["th.error": "\(error)", "th.rate.key": "\(key)"])
        }
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

    /// Throws ``SearchError/Code/notAPage`` unless `response` is a `200` with a JSON content type.
    ///
    /// Only a `200` is a search page: another `2xx` (a `204`, a `299`) is not what the endpoint answers. The
    /// content type must be `application/json` or a `+json` type such as `application/problem+json`, with any
    /// parameters. A response without a `Content-Type` is let through to the decoder, which accepts only a body of
    /// the endpoint's exact JSON shape: users' own transports and recorded files often carry no headers at all, and
    /// an HTML page without one still fails, as an undecodable body.
    static func checkIsPage(_ response: TransportResponse) throws(SearchError) {
        let status = response.status.code
        guard status == 200 else {
            throw SearchError(
                .notAPage, httpStatus: status, message: "a success status other than 200 is not a search page")
        }
        guard let contentType = response.headerFields[.contentType] else { return }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let type = mediaType.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) else {
            throw SearchError(
                .notAPage, httpStatus: status,
                message: "content type \(String(contentType.prefix(60))) is not JSON",
                bodyExcerpt: response.body.isEmpty ? nil : SearchError.excerpt(of: response.body))
        }
    }

    /// The error for a redirect the transport did not follow: where it pointed (scheme, host and port only) and why.
    static func redirectError(_ response: TransportResponse, from url: URL) -> SearchError {
        let status = response.status.code
        guard let location = response.headerFields[.location],
            let target = URL(string: location, relativeTo: url)?.absoluteURL, let targetOrigin = origin(of: target)
        else {
            return SearchError(
                .redirectRefused, httpStatus: status, message: "redirect without a usable Location refused")
        }
        let reason =
            origin(of: url) == targetOrigin
            ? "too many redirects" : "another origin than \(origin(of: url) ?? "the request's")"
        return SearchError(
            .redirectRefused, httpStatus: status, message: "redirect to \(targetOrigin) refused: \(reason)")
    }

    /// `scheme://host:port` of `url`, with the scheme's default port when it names none.
    static func origin(of url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            return nil
        }
        let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
        return "\(scheme)://\(host):\(port)"
    }

    /// The error for a response the client does not retry, with every secret scrubbed from the server's text.
    func responseError(
        _ response: TransportResponse, sinceID: UInt64?, isTokenRequest: Bool, scrubber: SecretScrubber
    ) -> SearchError {
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
        return scrubber.scrub(
            SearchError(
                code, httpStatus: status, twitterCode: payload.code, message: payload.message,
                problemTitle: payload.title, problemType: payload.type,
                rateLimitReset: RateLimit(response.headerFields)?.reset,
                suggestedSinceID: code == .staleSinceID ? payload.suggestedSinceID : nil,
                bodyExcerpt: isTokenRequest || response.body.isEmpty ? nil : SearchError.excerpt(of: response.body)),
            body: response.body)
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
