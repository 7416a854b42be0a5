import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`, as libpq reads it.
///
/// The scheme may be `postgres` or `postgresql`; the user, password and database are percent-decoded; the host may
/// be a name, an IPv4 address or an IPv6 address in brackets; the port defaults to 5432. `sslmode` is `disable`,
/// `prefer` (the default, as libpq's: TLS when the server offers it, unverified), `require` (TLS, unverified, as
/// libpq's), `verify-ca` (TLS with a certificate the system trusts) or `verify-full` (that, and the host name).
///
/// The password never appears in ``description`` or in an error.
///
/// ```swift
/// let url = try PostgresURL("postgres://harvest@127.0.0.1:5432/tweets?sslmode=disable", password: "secret")
/// let client = PostgresClient(configuration: url.client())
/// ```
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// How the connection uses TLS (libpq's `sslmode`).
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS when the server offers it, without checking its certificate. The default.
        case prefer
        /// TLS, without checking the server's certificate.
        case require
        /// TLS with a certificate the system trusts, for any host name.
        case verifyCA = "verify-ca"
        /// TLS with a certificate the system trusts, for the URL's host name.
        case verifyFull = "verify-full"
    }

    /// The user name.
    public var user: String
    /// The host name or address (an IPv6 address without its brackets).
    public var host: String
    /// The port. The default is 5432.
    public var port: Int
    /// The database.
    public var database: String
    /// The TLS mode. The default is ``TLSMode/prefer``.
    public var tls: TLSMode
    /// The password, when the URL or the caller gave one. Kept out of ``description``.
    private var password: String?

    /// Whether a password is known (from the URL or the `password` argument).
    public var hasPassword: Bool { password != nil }

    /// Parses a URL.
    ///
    /// - Parameters:
    ///   - text: The URL.
    ///   - password: The password to use when the URL has none (for example the `PGPASSWORD` environment
    ///     variable). The URL's own password wins.
    /// - Throws: ``PostgresURLError`` naming the part that is wrong, never quoting the password.
    public init(_ text: String, password: String? = nil) throws(PostgresURLError) {
        let rest: Substring
        if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else {
            throw PostgresURLError(.scheme, "a PostgreSQL URL starts with postgres:// or postgresql://")
        }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var query: Substring = ""
        if let mark = path.firstIndex(of: "?") {
            query = path[path.index(after: mark)...]
            path = path[..<mark]
        }
        guard let at = authority.lastIndex(of: "@") else {
            throw PostgresURLError(.user, "the URL names no user (postgres://USER@HOST:PORT/DATABASE)")
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let userText: Substring
        var urlPassword: String?
        if let colon = userInfo.firstIndex(of: ":") {
            userText = userInfo[..<colon]
            guard let decoded = Self.decode(userInfo[userInfo.index(after: colon)...]) else {
                throw PostgresURLError(.password, "the password is not valid percent-encoding")
            }
            urlPassword = decoded
        } else {
            userText = userInfo
        }
        guard let user = Self.decode(userText), !user.isEmpty else {
            throw PostgresURLError(.user, "the user name is empty or not valid percent-encoding")
        }
        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw PostgresURLError(.host, "an IPv6 host lacks its closing ]")
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw PostgresURLError(.host, "unexpected text after the host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) else {
            throw PostgresURLError(.host, "the URL names no host")
        }
        var port = 5432
        if let portText {
            guard let number = Int(portText), (1...65_535).contains(number), portText.allSatisfy(\.isASCII) else {
                throw PostgresURLError(.port, "the port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = number
        }
        guard let database = Self.decode(path), !database.isEmpty else {
            throw PostgresURLError(.database, "the URL names no database (postgres://USER@HOST:PORT/DATABASE)")
        }
        var tls = TLSMode.prefer
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            let value = parts.count > 1 ? String(parts[1]) : ""
            guard name == "sslmode" else {
                throw PostgresURLError(.parameter, "unknown parameter \"\(name)\": only sslmode is understood")
            }
            guard let mode = TLSMode(rawValue: value) else {
                throw PostgresURLError(
                    .parameter,
                    "sslmode \"\(value)\" is not one of "
                        + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            tls = mode
        }
        self.user = user
        self.host = String(host)
        self.port = port
        self.database = database
        self.tls = tls
        self.password = urlPassword ?? password
    }

    private static func decode(_ text: Substring) -> String? {
        String(text).removingPercentEncoding
    }

    /// The URL without its password, such as `postgres://harvest@127.0.0.1:5432/tweets?sslmode=disable`.
    public var description: String {
        let user = self.user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? self.user
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let database = self.database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? self.database
        return "postgres://\(user)@\(host):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// The same as ``description``.
    public var debugDescription: String { description }

    /// The URL's parts without the password, for `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: ["user": user, "host": host, "port": port, "database": database, "tls": tls],
            displayStyle: .struct)
    }

    /// A postgres-nio configuration for one connection to this URL (``PostgresTableStore/checkConnection(to:logger:)``).
    ///
    /// - Throws: NIOSSL's error when a TLS context cannot be made.
    public func connection() throws -> PostgresConnection.Configuration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        let mode: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable:
            mode = .disable
        case .prefer, .require:
            configuration.certificateVerification = .none
            let context = try NIOSSLContext(configuration: configuration)
            mode = tls == .prefer ? .prefer(context) : .require(context)
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
            mode = .require(try NIOSSLContext(configuration: configuration))
        case .verifyFull:
            mode = .require(try NIOSSLContext(configuration: configuration))
        }
        return PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: mode)
    }

    /// A postgres-nio client configuration for this URL.
    public func client() -> PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS
        switch tls {
        case .disable:
            mode = .disable
        case .prefer, .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            mode = tls == .prefer ? .prefer(configuration) : .require(configuration)
        case .verifyCA:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .noHostnameVerification
            mode = .require(configuration)
        case .verifyFull:
            mode = .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: mode)
    }
}

/// Why a ``PostgresURL`` does not parse. Its ``description`` never holds the password.
public struct PostgresURLError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The part of the URL that is wrong. New kinds may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable { case scheme, user, password, host, port, database, parameter }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The URL does not start with `postgres://` or `postgresql://`.
        public static let scheme = Code(.scheme)
        /// The user is missing or badly encoded.
        public static let user = Code(.user)
        /// The password is badly encoded.
        public static let password = Code(.password)
        /// The host is missing or malformed.
        public static let host = Code(.host)
        /// The port is not a number from 1 to 65535.
        public static let port = Code(.port)
        /// The database is missing or badly encoded.
        public static let database = Code(.database)
        /// A query parameter is unknown, or `sslmode` has an unknown value.
        public static let parameter = Code(.parameter)

        /// The code's name, such as `port`.
        public var description: String { kind.rawValue }
    }

    /// What is wrong.
    public var code: Code
    /// One line saying what is wrong and what is expected.
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
