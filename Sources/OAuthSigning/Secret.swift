/// A credential that must never be shown: a consumer secret, a token secret or a bearer token.
///
/// `Secret` holds the value but never prints it. Its `description`, `debugDescription`, mirror (what
/// `dump(_:)` and `String(reflecting:)` show) and its `Codable`-free design all show `<redacted>`, so a
/// secret that ends up in a log line, an error message or a debugger dump reveals nothing. Only code in
/// this package reads the value, through `revealed`.
///
/// ```swift
/// let secret = Secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw")
/// print(secret)          // <redacted>
/// ```
///
/// Two secrets compare equal when their values do; hashing uses the value, so a `Secret` can be a
/// dictionary key without exposing it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// Wraps `value`.
    ///
    /// - Parameter value: The secret text, exactly as the provider issued it.
    public init(_ value: String) {
        self.value = value
    }

    /// The secret text. Package access only: the signer and the search client read it; users cannot.
    package var revealed: String { value }

    /// Whether the secret is the empty string (a missing credential), without revealing it.
    public var isEmpty: Bool { value.isEmpty }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }

    /// Always `Secret(<redacted>)`.
    public var debugDescription: String { "Secret(<redacted>)" }

    /// A mirror with no children, so `dump(_:)` shows `<redacted>` and nothing else.
    public var customMirror: Mirror { Mirror(reflecting: "<redacted>") }
}
