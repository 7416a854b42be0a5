/// The credentials of an OAuth 1.0a client: the consumer (the application) and, for user context,
/// the token of the user it acts for.
///
/// The secrets are ``Secret`` values, so printing or dumping credentials never shows them.
///
/// ```swift
/// let credentials = OAuth1Credentials(
///     consumerKey: "xvz1evFS4wEEPTGEFPHBog", consumerSecret: Secret(env["TWITTER_CONSUMER_SECRET"]!),
///     token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", tokenSecret: Secret(env["TWITTER_ACCESS_TOKEN_SECRET"]!))
/// ```
public struct OAuth1Credentials: Sendable, Hashable, CustomStringConvertible {
    /// The consumer key (Twitter's "API key"); public, sent with every request.
    public var consumerKey: String
    /// The consumer secret (Twitter's "API key secret").
    public var consumerSecret: Secret
    /// The access token of the user, or `nil` to sign with the consumer alone (two-legged).
    public var token: String?
    /// The access token's secret, or `nil` when there is no token.
    public var tokenSecret: Secret?

    /// Creates credentials.
    ///
    /// - Parameters:
    ///   - consumerKey: The consumer key.
    ///   - consumerSecret: The consumer secret.
    ///   - token: The user's access token. The default is none.
    ///   - tokenSecret: The access token's secret. The default is none.
    public init(consumerKey: String, consumerSecret: Secret, token: String? = nil, tokenSecret: Secret? = nil) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.token = token
        self.tokenSecret = tokenSecret
    }

    /// The consumer key and token, with both secrets redacted.
    public var description: String {
        "OAuth1Credentials(consumerKey: \(consumerKey), consumerSecret: <redacted>, token: \(token ?? "nil"), "
            + "tokenSecret: \(tokenSecret == nil ? "nil" : "<redacted>"))"
    }
}

/// An OAuth 2.0 bearer token, as Twitter's app-only authentication issues it.
///
/// The token is a ``Secret``. Obtaining one from a consumer key and secret (`POST /oauth2/token`) is the
/// search client's job; this value only carries it.
public struct BearerCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The token.
    public var token: Secret

    /// Creates bearer credentials.
    ///
    /// - Parameter token: The bearer token.
    public init(token: Secret) {
        self.token = token
    }

    /// The `Authorization` header value, `Bearer <token>`. Package access: it contains the secret.
    package var authorizationHeaderValue: String { "Bearer " + token.revealed }

    /// `BearerCredentials(token: <redacted>)`.
    public var description: String { "BearerCredentials(token: <redacted>)" }
}
