import Foundation
import OAuthSigning

/// Takes every credential out of text a server sent back, before that text reaches an error, a log line, a report
/// or a stored row.
///
/// A server (or a proxy, or a hostile test server) may echo the request's `Authorization` header in an error body,
/// a problem's `detail` or a page it was not meant to send. The search client builds one scrubber per attempt, from
/// the configured secrets (consumer secret, token secret, bearer token, the app-only bearer token obtained from
/// `POST /oauth2/token`) and the exact `Authorization` value sent, and passes every ``SearchError`` it makes from a
/// response through it. Each secret is replaced wherever it appears as sent, percent-encoded or percent-decoded.
/// Values shorter than four characters, which no real credential is, are left alone so that messages stay readable.
struct SecretScrubber: Sendable {
    /// What replaces a secret.
    static let mask = "<redacted>"

    /// The secrets as given; the forms to look for are worked out only when there is text to scrub, so a page
    /// that decodes costs nothing more than this array.
    private let values: [String]

    /// A scrubber for `values` (empty and very short ones are ignored).
    init(_ values: [String]) {
        self.values = values.filter { $0.count >= 4 }
    }

    /// Every form of every secret to replace, longest first (so that a header goes whole before the token in it).
    private var needles: [String] {
        var needles = Set<String>()
        for value in values {
            var forms = [value, PercentEncoding.encode(value)]
            if let decoded = value.removingPercentEncoding { forms.append(decoded) }
            for form in forms {
                needles.insert(form)
                // As a JSON body carries it (an OAuth header's quotes as `\"`), for excerpts of the raw body.
                let json = form.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                    of: "\"", with: "\\\"")
                needles.insert(json)
                needles.insert(json.replacingOccurrences(of: "/", with: "\\/"))
            }
        }
        return needles.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by ``mask``.
    func scrub(_ text: String) -> String {
        Self.scrub(text, needles: needles)
    }

    private static func scrub(_ text: String, needles: [String]) -> String {
        var text = text
        for needle in needles where text.contains(needle) {
            text = text.replacingOccurrences(of: needle, with: mask)
        }
        return text
    }

    /// `error` with every text that came from the server scrubbed; its body excerpt, if it has one, is taken anew
    /// from `body` scrubbed whole, so that no secret survives cut in half at the excerpt's end.
    func scrub(_ error: SearchError, body: Data) -> SearchError {
        let needles = needles
        func scrub(_ text: String) -> String { Self.scrub(text, needles: needles) }
        var error = error
        error.message = error.message.map(scrub)
        error.problemTitle = error.problemTitle.map(scrub)
        error.problemType = error.problemType.map(scrub)
        if error.bodyExcerpt != nil {
            error.bodyExcerpt = SearchError.excerpt(of: Data(scrub(String(decoding: body, as: UTF8.self)).utf8))
        }
        return error
    }
}

extension SearchClient {
    /// The scrubber for one attempt: the client's secrets and the `Authorization` value that attempt sent (whole,
    /// and its credentials after the scheme).
    func secretScrubber(authorization: String?) async -> SecretScrubber {
        var values: [String] = []
        switch authorizer {
        case .oauth1(let signer):
            values.append(signer.credentials.consumerSecret.revealed)
            if let tokenSecret = signer.credentials.tokenSecret { values.append(tokenSecret.revealed) }
        case .bearer(let token):
            values.append(token.revealed)
        case .appOnly(_, let secret, let cache):
            values.append(secret.revealed)
            if let token = await cache.current { values.append(token.revealed) }
        }
        if let authorization {
            values.append(authorization)
            if let space = authorization.firstIndex(of: " ") {
                values.append(String(authorization[authorization.index(after: space)...]))
            }
        }
        return SecretScrubber(values)
    }
}
