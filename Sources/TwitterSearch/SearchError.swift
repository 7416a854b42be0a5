import Foundation

/// Why a search failed: the module's one error type.
///
/// Carries the HTTP status and Twitter's own error payload when there was a response (v1.1
/// `errors[{code,message}]`, v2 problem JSON `title`/`detail`/`type`), the rate-limit reset for a 429,
/// and a short excerpt of an undecodable body. It never holds a credential: the `Authorization`
/// header is never copied into it, and bodies of token requests are never excerpted.
public struct SearchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New kinds may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case unauthorized, forbidden, notFound, badRequest, rateLimited, staleSinceID, serverError
            case transport, undecodableBody, insecureURL, invalidQuery, tokenExchange, signing, unexpectedStatus
            case timedOut, responseTooLarge, redirectRefused, notAPage, invalidTweetID, repeatedCursor, pageLimit
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// 401, or Twitter codes 32 ("Could not authenticate you") and 89 ("Invalid or expired token").
        public static let unauthorized = Code(.unauthorized)
        /// 403: the credentials may not use this endpoint.
        public static let forbidden = Code(.forbidden)
        /// 404: no such endpoint at the base URL.
        public static let notFound = Code(.notFound)
        /// 400 for any reason other than a stale `since_id`.
        public static let badRequest = Code(.badRequest)
        /// 429 (420 from the old v1 APIs, or Twitter code 88) and the waits allowed by the policy ran out; see
        /// ``rateLimitReset``.
        public static let rateLimited = Code(.rateLimited)
        /// 400 because `since_id` is older than the endpoint reaches back (v2 recent search: seven days).
        ///
        /// The harvest job falls back to a search without `since_id`; ``suggestedSinceID`` carries the
        /// smallest id the API said it would accept, when it said one.
        public static let staleSinceID = Code(.staleSinceID)
        /// 5xx, after the retry budget ran out.
        public static let serverError = Code(.serverError)
        /// No response arrived (connection refused or reset, time-out, DNS), after the retry budget ran out.
        public static let transport = Code(.transport)
        /// A response whose body is not what the endpoint returns (truncated, malformed), after retries.
        public static let undecodableBody = Code(.undecodableBody)
        /// Credentials would have gone over plain `http` to a host that is not loopback.
        public static let insecureURL = Code(.insecureURL)
        /// The query cannot be sent (empty text, page size out of range, `untilID` not above `sinceID`).
        public static let invalidQuery = Code(.invalidQuery)
        /// The app-only token exchange (`POST /oauth2/token`) answered without a bearer token.
        public static let tokenExchange = Code(.tokenExchange)
        /// The OAuth 1.0a signer refused the request.
        public static let signing = Code(.signing)
        /// A status the client has no meaning for (3xx, other 4xx).
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// No complete response arrived within a deadline (connect, first byte, whole body, or the whole run),
        /// after the retry budget ran out.
        public static let timedOut = Code(.timedOut)
        /// The response body, or its decompressed form, is larger than the transport's size cap.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// A redirect was not followed: it pointed to another scheme, host or port (credentials never leave their
        /// origin), or there were too many.
        public static let redirectRefused = Code(.redirectRefused)
        /// A success status whose reply is not a search page: a status other than 200, a content type that is
        /// not JSON (such as a proxy's `text/html` login page), or more tweets than `max_results` allows.
        public static let notAPage = Code(.notAPage)
        /// A page holds a tweet id outside `1...2^63−1`, or one whose embedded creation time lies well after the
        /// tweet's `created_at`; the page is refused whole and nothing of it is stored.
        public static let invalidTweetID = Code(.invalidTweetID)
        /// The API sent a pagination cursor (`next_token` or `max_id`) the walk had already followed: following it
        /// would page forever.
        public static let repeatedCursor = Code(.repeatedCursor)
        /// The walk reached its page limit for one run (`SearchClient.Configuration.maxPagesPerWalk`).
        public static let pageLimit = Code(.pageLimit)

        /// The code's name, such as `staleSinceID`.
        public var description: String { kind.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// The HTTP status of the last response, when there was one.
    public var httpStatus: Int?
    /// Twitter's numeric error code (v1.1 `errors[0].code`), when given.
    public var twitterCode: Int?
    /// Twitter's message (v1.1 `errors[0].message`, v2 `errors[0].message` or `detail`), or the client's own.
    public var message: String?
    /// The v2 problem's `title`, such as `Invalid Request`.
    public var problemTitle: String?
    /// The v2 problem's `type` URI, such as `https://api.twitter.com/2/problems/invalid-request`.
    public var problemType: String?
    /// When the rate-limit window resets (`x-rate-limit-reset`); `description` shows it for ``Code/rateLimited``
    /// only.
    public var rateLimitReset: Date?
    /// The smallest `since_id` the API said it accepts, for ``Code/staleSinceID``.
    public var suggestedSinceID: UInt64?
    /// The first bytes of the response body (at most 200 characters), for undecodable and unexpected bodies.
    public var bodyExcerpt: String?

    /// Creates an error.
    public init(
        _ code: Code, httpStatus: Int? = nil, twitterCode: Int? = nil, message: String? = nil,
        problemTitle: String? = nil, problemType: String? = nil, rateLimitReset: Date? = nil,
        suggestedSinceID: UInt64? = nil, bodyExcerpt: String? = nil
    ) {
        self.code = code
        self.httpStatus = httpStatus
        self.twitterCode = twitterCode
        self.message = message
        self.problemTitle = problemTitle
        self.problemType = problemType
        self.rateLimitReset = rateLimitReset
        self.suggestedSinceID = suggestedSinceID
        self.bodyExcerpt = bodyExcerpt
    }

    /// One line a person can act on: the code, the HTTP status, Twitter's code, its message and problem title, and
    /// for ``Code/rateLimited`` the reset time in ISO 8601, such as
    /// `search API: unauthorized; HTTP 401; Twitter code 89; Invalid or expired token.`
    ///
    /// A part whose words the line already holds (a title `Unauthorized` after the code `unauthorized`, a `detail`
    /// equal to the `title`) is left out, and control characters the server sent (line breaks, escapes) are shown
    /// escaped, as `\n` or `\u{1B}`, so the line stays one line.
    public var description: String {
        var line = "search API: \(code)"
        var words = Self.words(of: line)
        func add(_ part: String) {
            let new = Self.words(of: part)
            guard !new.isEmpty, !new.isSubset(of: words) else { return }
            line += "; " + part
            words.formUnion(new)
        }
        if let httpStatus { add("HTTP \(httpStatus)") }
        if let twitterCode { add("Twitter code \(twitterCode)") }
        if let message { add(message) }
        if let problemTitle { add(problemTitle) }
        if code == .rateLimited, let rateLimitReset { add("resets at \(rateLimitReset.formatted(.iso8601))") }
        return Self.escapingControlCharacters(line)
    }

    /// The lower-cased words (runs of letters and digits) of `text`.
    private static func words(of text: String) -> Set<String> {
        Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
    }

    /// `text` with every control character (C0, DEL, C1, and the Unicode line and paragraph separators) escaped.
    package static func escapingControlCharacters(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out.append(contentsOf: "\\n".unicodeScalars)
            case 0x0D: out.append(contentsOf: "\\r".unicodeScalars)
            case 0x09: out.append(contentsOf: "\\t".unicodeScalars)
            case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029:
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// The first 200 characters of `body`, lossily decoded, on one line (control characters escaped).
    static func excerpt(of body: Data) -> String {
        escapingControlCharacters(String(decoding: body.prefix(200), as: UTF8.self))
    }
}

/// Twitter's error payload in either shape, read leniently (a body that is not JSON reads as empty).
struct TwitterErrorPayload {
    var code: Int?
    var message: String?
    var title: String?
    var detail: String?
    var type: String?
    /// Whether any error names the `since_id` parameter or says a since_id is too old.
    var mentionsSinceID = false
    var suggestedSinceID: UInt64?

    init(body: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return }
        title = object["title"] as? String
        detail = object["detail"] as? String
        type = object["type"] as? String
        if let error = object["error"] as? String { message = error }
        for case let error as [String: Any] in object["errors"] as? [Any] ?? [] {
            if code == nil, let number = error["code"] as? Int { code = number }
            let text = error["message"] as? String
            if message == nil || text?.contains("since_id") == true { message = text ?? message }
            if let parameters = error["parameters"] as? [String: Any], parameters["since_id"] != nil {
                mentionsSinceID = true
            }
            // "'since_id' must be a tweet id created after 2026-06-23T10:50Z. Please use a 'since_id'
            // that is larger than 150" — Twitter's v2 wording for a since_id beyond the seven-day window.
            if let text, text.contains("since_id"), text.contains("created after") || text.contains("larger than") {
                mentionsSinceID = true
                if let range = text.range(of: "larger than ") {
                    let digits = text[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
                    suggestedSinceID = JSONScanner.parseUInt64(String(digits))
                }
            }
        }
        if message == nil { message = detail }
    }
}
