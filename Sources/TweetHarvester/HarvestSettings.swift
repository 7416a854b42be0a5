import CronScheduler
import Foundation
import OAuthSigning
import TwitterSearch

/// Everything a ``Harvester`` needs to know: whom to ask, what to search, where to store it, what to drop, and when.
///
/// Build it in code, or read the credentials from the environment with ``fromEnvironment(_:)``, then change the
/// fields you need:
///
/// ```swift
/// var settings = try HarvestSettings.fromEnvironment()
/// settings.query = "#mobileservices"
/// settings.table = "Updates"
/// settings.schedule = .cron(try CronExpression("@hourly"), timeZone: .gmt)
/// ```
///
/// Secrets stay redacted: ``description`` names only the kind of credentials, and the secrets themselves are
/// `Secret` values that print as `<redacted>`.
public struct HarvestSettings: Sendable, CustomStringConvertible {
    /// How the search API is authenticated.
    public var credentials: SearchCredentials
    /// The search client's configuration: API version, base URL, retry and rate-limit policy, page size.
    ///
    /// The default is the client's default configuration (v2 at `https://api.twitter.com`).
    public var search: SearchClient.Configuration = .init()
    /// The search query. The default is `#mobileservices`.
    public var query: String = "#mobileservices"
    /// The table tweets are stored in. The default is `Updates`.
    public var table: String = "Updates"
    /// Tweets asked for per page, 10 to 100. The default is `100`, the most the API returns.
    public var pageSize: Int = 100
    /// What a run drops before storing, in order; the first filter that drops a tweet names the reason.
    ///
    /// The default drops native retweets, manual `RT @user:` retweets and replies, as the classic job meant to,
    /// with the same rule for v1.1 and v2 (reasons `retweet`, `manualRetweet`, `reply`).
    public var filters: [TweetFilter] = [.retweets, .manualRetweets, .replies]
    /// When ``Harvester/run()`` runs the harvest job. The default is every hour, on the hour (UTC).
    public var schedule: Schedule = HarvestSettings.hourly
    /// The archive job, run on its own schedule by ``Harvester/run()``; `nil`, the default, runs none.
    public var archive: ArchivePolicy?
    /// The table each run's ``HarvestReport`` is stored in. The default is `HarvestRuns`.
    public var runsTable: String = "HarvestRuns"
    /// The table the gap-safe watermark is kept in. The default is `HarvestState`.
    public var stateTable: String = "HarvestState"
    /// How a kept tweet becomes a row of ``table``. The default is ``TweetRow/standard``: `twitterId`, `text`,
    /// `author`, `authorId`, `date`, `kind`.
    public var row: TweetRow = .standard
    /// Rows per insert when a page is stored. The default is `100`.
    public var batchSize: Int = 100
    /// The name of the harvest job in a scheduler, in logs and in ``HarvestService``; the archive job's name is
    /// this name followed by ` archive`. The default, `nil`, names it `harvest TABLE QUERY`.
    public var jobName: String?

    /// Every hour on the hour, UTC.
    public static var hourly: Schedule {
        .every(.hours(1), startingAt: Date(timeIntervalSince1970: 0))
    }

    /// Creates settings with the given credentials and every other field at its default.
    ///
    /// - Parameter credentials: How the search API is authenticated.
    public init(credentials: SearchCredentials) {
        self.credentials = credentials
    }

    /// The search API version. The default is `APIVersion.v2`.
    public var api: APIVersion {
        get { search.api }
        set { search.api = newValue }
    }

    /// The base URL of the search API. The default is `https://api.twitter.com`.
    public var baseURL: URL {
        get { search.baseURL }
        set { search.baseURL = newValue }
    }

    /// Settings for `DemoTransport` (module `HarvestDemo`): a placeholder bearer token the demo API accepts, everything else default.
    public static var demo: HarvestSettings {
        HarvestSettings(credentials: .bearer(BearerCredentials(token: Secret("demo-bearer-token"))))
    }

    /// The environment variables ``fromEnvironment(_:)`` reads.
    public enum EnvironmentVariable {
        /// `TWITTER_BEARER_TOKEN`: an OAuth 2.0 app-only bearer token. Used first when set.
        public static let bearerToken = "TWITTER_BEARER_TOKEN"
        /// `TWITTER_CONSUMER_KEY`: the app's API key.
        public static let consumerKey = "TWITTER_CONSUMER_KEY"
        /// `TWITTER_CONSUMER_SECRET`: the app's API key secret.
        public static let consumerSecret = "TWITTER_CONSUMER_SECRET"
        /// `TWITTER_ACCESS_TOKEN`: a user's access token (OAuth 1.0a user context).
        public static let accessToken = "TWITTER_ACCESS_TOKEN"
        /// `TWITTER_ACCESS_TOKEN_SECRET`: the access token's secret.
        public static let accessTokenSecret = "TWITTER_ACCESS_TOKEN_SECRET"
    }

    /// Reads credentials from the environment and leaves every other field at its default.
    ///
    /// The first complete set wins:
    /// 1. `TWITTER_BEARER_TOKEN`: app-only bearer authentication;
    /// 2. `TWITTER_CONSUMER_KEY`, `TWITTER_CONSUMER_SECRET`, `TWITTER_ACCESS_TOKEN` and
    ///    `TWITTER_ACCESS_TOKEN_SECRET`: OAuth 1.0a in a user's context;
    /// 3. `TWITTER_CONSUMER_KEY` and `TWITTER_CONSUMER_SECRET` alone: the app-only token exchange.
    ///
    /// Empty values count as unset; white space and line breaks around a value are dropped (a value read from a
    /// file often ends in a newline), but a value with a control character inside, such as a CR or LF that
    /// would fold or split the `Authorization` header, is refused.
    ///
    /// - Parameter environment: The variables to read. The default is the process's environment.
    /// - Returns: The settings.
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/missingCredentials`` whose
    ///   ``HarvestError/variable`` names the variable to set, or ``HarvestError/Code/invalidSetting`` naming the
    ///   variable whose value holds a control character; never the value.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(HarvestError) -> HarvestSettings {
        func value(_ name: String) throws(HarvestError) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty
            else { return nil }
            if Self.hasControlCharacter(value) { throw Self.controlCharacterError(in: name) }
            return value
        }
        typealias Variable = EnvironmentVariable
        if let bearer = try value(Variable.bearerToken) {
            return HarvestSettings(credentials: .bearer(BearerCredentials(token: Secret(bearer))))
        }
        guard let key = try value(Variable.consumerKey) else {
            throw HarvestError(
                .missingCredentials, variable: Variable.bearerToken,
                message: "no Twitter credentials: set \(Variable.bearerToken), or \(Variable.consumerKey) and "
                    + "\(Variable.consumerSecret) (with \(Variable.accessToken) and \(Variable.accessTokenSecret) "
                    + "for user context)")
        }
        guard let secret = try value(Variable.consumerSecret) else {
            throw HarvestError(
                .missingCredentials, variable: Variable.consumerSecret,
                message: "\(Variable.consumerKey) is set but \(Variable.consumerSecret) is not: set it too")
        }
        let token = try value(Variable.accessToken)
        let tokenSecret = try value(Variable.accessTokenSecret)
        switch (token, tokenSecret) {
        case (let token?, let tokenSecret?):
            let credentials = OAuth1Credentials(
                consumerKey: key, consumerSecret: Secret(secret), token: token, tokenSecret: Secret(tokenSecret))
            return HarvestSettings(credentials: .oauth1(credentials))
        case (.some, nil):
            throw HarvestError(
                .missingCredentials, variable: Variable.accessTokenSecret,
                message: "\(Variable.accessToken) is set but \(Variable.accessTokenSecret) is not: set it too")
        case (nil, .some):
            throw HarvestError(
                .missingCredentials, variable: Variable.accessToken,
                message: "\(Variable.accessTokenSecret) is set but \(Variable.accessToken) is not: set it too")
        case (nil, nil):
            return HarvestSettings(credentials: .appOnly(consumerKey: key, consumerSecret: Secret(secret)))
        }
    }

    /// Checks the settings once, before the first run.
    ///
    /// Besides the fields here, it refuses credentials with a control character (CR, LF, NUL, DEL…) in a
    /// token, key or secret: they would fold or split the `Authorization` header.
    ///
    /// - Throws: ``HarvestError`` with code ``HarvestError/Code/invalidSetting`` naming the setting, never a
    ///   secret's value.
    public func validate() throws(HarvestError) {
        if let field = credentialWithControlCharacter {
            throw Self.controlCharacterError(in: field)
        }
        if query.trimmingCharacters(in: .whitespaces).isEmpty {
            throw HarvestError(.invalidSetting, variable: "query", message: "the search query is empty")
        }
        if !(10...100).contains(pageSize) {
            throw HarvestError(
                .invalidSetting, variable: "pageSize", message: "pageSize must be 10 to 100, got \(pageSize)")
        }
        if batchSize < 1 {
            throw HarvestError(
                .invalidSetting, variable: "batchSize", message: "batchSize must be positive, got \(batchSize)")
        }
        let tables = [table, runsTable, stateTable]
        if tables.contains(where: \.isEmpty) || Set(tables).count != tables.count {
            throw HarvestError(
                .invalidSetting, variable: "table",
                message: "table, runsTable and stateTable must be three different non-empty names")
        }
    }

    /// The name of the first credential field with a control character in it, or `nil`.
    private var credentialWithControlCharacter: String? {
        let fields: [(String, String?)]
        switch credentials {
        case .bearer(let bearer): fields = [("credentials.token", bearer.token.revealed)]
        case .oauth1(let oauth):
            fields = [
                ("credentials.consumerKey", oauth.consumerKey),
                ("credentials.consumerSecret", oauth.consumerSecret.revealed),
                ("credentials.token", oauth.token), ("credentials.tokenSecret", oauth.tokenSecret?.revealed),
            ]
        case .appOnly(let key, let secret):
            fields = [("credentials.consumerKey", key), ("credentials.consumerSecret", secret.revealed)]
        }
        return fields.first { $0.1.map(Self.hasControlCharacter) ?? false }?.0
    }

    /// Whether `text` holds a C0 or C1 control character or DEL.
    private static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }

    /// The error for a credential with a control character; it names where, never the value.
    private static func controlCharacterError(in name: String) -> HarvestError {
        HarvestError(
            .invalidSetting, variable: name,
            message: "\(name) contains a control character (such as CR or LF), which cannot go into an HTTP header: "
                + "refused (the value is not shown)")
    }

    /// A one-line summary: API, base URL, query, table and the kind of credentials; never a secret.
    public var description: String {
        let kind =
            switch credentials {
            case .oauth1: "OAuth 1.0a user context"
            case .bearer: "bearer token"
            case .appOnly: "app-only (consumer key and secret)"
            }
        return "HarvestSettings(api: \(api.rawValue), base: \(baseURL.absoluteString), query: \"\(query)\", "
            + "table: \(table), credentials: \(kind), filters: \(filters.map(\.name).joined(separator: ", ")))"
    }
}
