/// An error from OAuth signing: the request could not be signed as given.
///
/// The ``description`` is one line naming what was wrong; it never contains a secret.
public struct OAuthError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error. New kinds may be added without breaking a `switch` over known ones.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case invalidURL, invalidPercentEncoding, missingTokenSecret, invalidBody
        }
        private let kind: Kind

        /// The URL is not absolute (it has no scheme or no host), or its scheme is not http or https.
        public static let invalidURL = Code(kind: .invalidURL)
        /// A query string or form body holds a `%` not followed by two hexadecimal digits.
        public static let invalidPercentEncoding = Code(kind: .invalidPercentEncoding)
        /// A token was given without its secret, or a secret without its token.
        public static let missingTokenSecret = Code(kind: .missingTokenSecret)
        /// A form-encoded body that is not UTF-8 text.
        public static let invalidBody = Code(kind: .invalidBody)

        /// The kind's name, such as `invalidURL`.
        public var description: String {
            switch kind {
            case .invalidURL: "invalidURL"
            case .invalidPercentEncoding: "invalidPercentEncoding"
            case .missingTokenSecret: "missingTokenSecret"
            case .invalidBody: "invalidBody"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// What the error is about: the URL, the malformed parameter text, or the missing field's name.
    /// Never a secret.
    public let subject: String
    /// A human-readable explanation.
    public let reason: String

    /// Creates an error.
    package init(_ code: Code, subject: String, reason: String) {
        self.code = code
        self.subject = subject
        self.reason = reason
    }

    /// One line, such as `OAuth signing: invalid URL 'api.twitter.com/1.1': the URL has no scheme`.
    public var description: String {
        switch code {
        case .invalidURL: "OAuth signing: invalid URL '\(subject)': \(reason)"
        case .invalidPercentEncoding: "OAuth signing: bad percent-encoding in '\(subject)': \(reason)"
        case .missingTokenSecret: "OAuth signing: \(reason)"
        default: "OAuth signing: \(subject): \(reason)"
        }
    }
}
