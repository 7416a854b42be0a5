import TwitterSearch

/// An error of the harvest facade: settings that cannot work, or a run that could not finish.
///
/// Errors of the modules below (`SearchError`, the store's errors) reach callers unchanged
/// when a run fails because of them; `HarvestError` covers what the facade itself checks. Its
/// ``description`` is one line and never contains a secret.
public struct HarvestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of a ``HarvestError``.
    ///
    /// A struct wrapping a private enum, so that new kinds can be added without breaking `switch` statements.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case missingCredentials, invalidSetting, storeLayout, alreadyRunning
        }

        private let kind: Kind

        /// No credentials were found; ``HarvestError/variable`` names the environment variable to set.
        public static let missingCredentials = Code(kind: .missingCredentials)
        /// A setting has a value that cannot work (an empty query, a page size out of range, a bad URL).
        public static let invalidSetting = Code(kind: .invalidSetting)
        /// A table in the store does not have the columns the harvester writes (for example, the state table
        /// was written by another program).
        public static let storeLayout = Code(kind: .storeLayout)
        /// ``Harvester/run()`` was called while the same harvester's `run()` is going.
        public static let alreadyRunning = Code(kind: .alreadyRunning)

        /// The code's name, such as `missingCredentials`.
        public var description: String {
            switch kind {
            case .missingCredentials: "missingCredentials"
            case .invalidSetting: "invalidSetting"
            case .storeLayout: "storeLayout"
            case .alreadyRunning: "alreadyRunning"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// The environment variable or setting concerned, such as `TWITTER_CONSUMER_SECRET` or `pageSize`.
    public var variable: String?
    /// A one-line explanation, without secrets.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - variable: The environment variable or setting concerned, if any.
    ///   - message: A one-line explanation; it must not contain a secret.
    public init(_ code: Code, variable: String? = nil, message: String) {
        self.code = code
        self.variable = variable
        self.message = message
    }

    /// The message, one line: control characters in it (from a setting's value) are shown escaped, as `\n`.
    public var description: String { SearchError.escapingControlCharacters(message) }
}
