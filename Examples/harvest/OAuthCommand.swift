import ArgumentParser
import Foundation
import OAuthSigning

/// `harvest oauth …`: OAuth 1.0a tools.
struct OAuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth",
        abstract: "OAuth 1.0a tools for debugging a \"could not authenticate you\" reply.",
        subcommands: [Sign.self]
    )

    /// `harvest oauth sign --method M --url URL [--form k=v]... --consumer-key K --consumer-secret S
    /// [--token T --token-secret TS] [--nonce N --timestamp T] [--base-string]`.
    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Print the Authorization header (or the signature base string) of a request.",
            discussion: """
                Signs with HMAC-SHA1 and oauth_version="1.0", as Twitter's documentation does. --url may \
                carry a query string; --form adds application/x-www-form-urlencoded body parameters \
                (plain text, not encoded), which are signed. Without --nonce and --timestamp a random nonce \
                and the current time are used.
                """
        )

        @Option(help: "The HTTP method, such as GET or POST (required).")
        var method: String?

        @Option(help: "The absolute request URL, with its query string (required).")
        var url: String?

        @Option(name: .customLong("form"), help: "A form body parameter as name=value (repeatable).")
        var formParameters: [String] = []

        @Option(name: .customLong("consumer-key"), help: "The consumer (API) key (default: TWITTER_CONSUMER_KEY).")
        var consumerKey: String?

        @Option(
            name: .customLong("consumer-secret"),
            help: "The consumer (API) secret (default: TWITTER_CONSUMER_SECRET, which keeps it out of shell history).")
        var consumerSecret: String?

        @Option(help: "The access token, for user context (default: TWITTER_ACCESS_TOKEN).")
        var token: String?

        @Option(
            name: .customLong("token-secret"), help: "The access token's secret (default: TWITTER_ACCESS_TOKEN_SECRET)."
        )
        var tokenSecret: String?

        @Option(help: "A fixed oauth_nonce.")
        var nonce: String?

        @Option(help: "A fixed oauth_timestamp, in seconds since 1970.")
        var timestamp: String?

        @Flag(name: .customLong("base-string"), help: "Print the signature base string instead of the header.")
        var printsBaseString = false

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            do {
                print(try output())
            } catch {
                printError("harvest oauth sign: \(error)")
                throw ExitCode.failure
            }
        }

        private func output() throws -> String {
            let environment = ProcessInfo.processInfo.environment
            func value(_ option: String?, _ flag: String, _ variable: String?) throws -> String {
                if let option, !option.isEmpty { return option }
                if let variable, let value = environment[variable], !value.isEmpty { return value }
                throw UsageError("missing \(flag)" + (variable.map { " (or set \($0))" } ?? ""))
            }
            let method = try value(method, "--method", nil)
            let url = try value(url, "--url", nil)
            guard method.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                throw UsageError("--method: \"\(method)\" is not an HTTP method such as GET or POST")
            }
            let consumerKey = try value(consumerKey, "--consumer-key", "TWITTER_CONSUMER_KEY")
            let consumerSecret = try value(consumerSecret, "--consumer-secret", "TWITTER_CONSUMER_SECRET")
            let token = token ?? (tokenSecret == nil ? environment["TWITTER_ACCESS_TOKEN"] : nil)
            let tokenSecret = tokenSecret ?? (token == nil ? nil : environment["TWITTER_ACCESS_TOKEN_SECRET"])
            if (token == nil) != (tokenSecret == nil) {
                throw UsageError(
                    token == nil
                        ? "--token-secret needs --token"
                        : "--token needs --token-secret (or set TWITTER_ACCESS_TOKEN_SECRET)")
            }
            if let timestamp, timestamp.isEmpty || !timestamp.allSatisfy(\.isASCII) || Int64(timestamp) == nil {
                throw UsageError("--timestamp: \"\(timestamp)\" is not a number of seconds since 1970")
            }
            let form = try formParameters.map { pair -> (name: String, value: String) in
                guard let equals = pair.firstIndex(of: "=") else {
                    throw UsageError("--form: \"\(pair)\" has no '=' (expected name=value)")
                }
                return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
            }
            let signer = OAuth1Signer(
                credentials: OAuth1Credentials(
                    consumerKey: consumerKey, consumerSecret: Secret(consumerSecret), token: token,
                    tokenSecret: tokenSecret.map(Secret.init)))
            let nonce = nonce ?? NonceSource.secureRandom.next()
            let timestamp = timestamp ?? String(Int64(Date().timeIntervalSince1970))
            if printsBaseString {
                return try signer.signatureBaseString(
                    method: method, url: url, formParameters: form, nonce: nonce, timestamp: timestamp)
            }
            return "Authorization: "
                + (try signer.authorizationHeader(
                    method: method, url: url, formParameters: form, nonce: nonce, timestamp: timestamp))
        }
    }
}
