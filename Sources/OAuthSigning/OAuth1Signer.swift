import Crypto
import Foundation
import HTTPTypes
import HarvestClock

/// How an OAuth 1.0a signature is computed (RFC 5849 §3.4).
public enum SignatureMethod: String, Sendable, Hashable, CaseIterable {
    /// HMAC-SHA1 over the signature base string (§3.4.2); what Twitter requires.
    case hmacSHA1 = "HMAC-SHA1"
    /// HMAC-SHA256 over the signature base string; the same construction with SHA-256.
    case hmacSHA256 = "HMAC-SHA256"
    /// The key itself, `consumerSecret&tokenSecret`, both encoded (§3.4.4); only over TLS.
    case plaintext = "PLAINTEXT"
}

/// Where the `oauth_nonce` of each request comes from.
///
/// The default, ``secureRandom``, draws 128 bits from BoringSSL's cryptographically secure generator
/// (through swift-crypto) for every request. Tests and the `harvest oauth sign` command pin it with
/// ``fixed(_:)``.
public struct NonceSource: Sendable {
    private let make: @Sendable () -> String

    /// 128 random bits from a cryptographically secure generator, as 32 lower-case hexadecimal digits.
    public static var secureRandom: NonceSource {
        NonceSource {
            SymmetricKey(size: .bits128).withUnsafeBytes { bytes in
                var hex = [UInt8]()
                hex.reserveCapacity(32)
                for byte in bytes {
                    hex.append(Self.lowerHex(byte >> 4))
                    hex.append(Self.lowerHex(byte & 0x0F))
                }
                return String(decoding: hex, as: UTF8.self)
            }
        }
    }

    /// Always `nonce`; for tests and for reproducing a documented example.
    public static func fixed(_ nonce: String) -> NonceSource { NonceSource { nonce } }

    /// Calls `make` for every request.
    public static func custom(_ make: @escaping @Sendable () -> String) -> NonceSource { NonceSource(make: make) }

    private init(make: @escaping @Sendable () -> String) {
        self.make = make
    }

    /// A new nonce.
    public func next() -> String { make() }

    private static func lowerHex(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble + UInt8(ascii: "0") : nibble - 10 + UInt8(ascii: "a")
    }
}

/// Signs HTTP requests with OAuth 1.0a (RFC 5849), producing the `Authorization` header.
///
/// The signer collects the request's parameters (the URL's query, a form-encoded body and the
/// `oauth_` parameters), normalises and sorts them, builds the signature base string, signs it and
/// formats the header (§3.5.1). The timestamp comes from the injected `WallClock` (HarvestClock) and the nonce from
/// a ``NonceSource``, so both can be pinned.
///
/// ```swift
/// let signer = OAuth1Signer(credentials: credentials)
/// let header = try signer.authorizationHeader(
///     method: "GET", url: URL(string: "https://api.twitter.com/1.1/search/tweets.json?q=%23mobileservices")!)
/// ```
///
/// A signer is an immutable value and safe to share between tasks. The signing key is derived once, in
/// `init`, so signing many requests costs little more than the HMAC itself.
public struct OAuth1Signer: Sendable, CustomStringConvertible, CustomReflectable {
    /// Options of the header and the base string.
    public struct Configuration: Sendable, Hashable {
        /// The signature method. The default is ``SignatureMethod/hmacSHA1``.
        public var signatureMethod: SignatureMethod = .hmacSHA1
        /// Whether `oauth_version="1.0"` is sent (and signed). It is optional in RFC 5849; Twitter's
        /// documentation sends it. The default is `true`.
        public var includesVersion: Bool = true
        /// A `realm` for the header (§3.5.1), which is not signed. The default is none.
        public var realm: String?

        /// Creates the default configuration.
        public init() {}
    }

    /// The credentials; their secrets stay redacted in every description.
    public let credentials: OAuth1Credentials
    /// The options.
    public let configuration: Configuration
    private let clock: any WallClock
    private let nonce: NonceSource
    private let key: Secret
    private let keyed: Keyed

    /// The HMAC with its key already absorbed: each signature copies it and hashes only the base string.
    private enum Keyed: Sendable {
        case sha1(HMAC<Insecure.SHA1>)
        case sha256(HMAC<SHA256>)
        case plaintext
    }

    /// Creates a signer.
    ///
    /// - Parameters:
    ///   - credentials: The consumer and, for user context, the token to sign with.
    ///   - signatureMethod: The signature method. The default is HMAC-SHA1.
    ///   - clock: Where `oauth_timestamp` comes from. The default is the system clock.
    ///   - nonce: Where `oauth_nonce` comes from. The default is a secure random generator.
    public init(
        credentials: OAuth1Credentials,
        signatureMethod: SignatureMethod = .hmacSHA1,
        clock: any WallClock = .system,
        nonce: NonceSource = .secureRandom
    ) {
        var configuration = Configuration()
        configuration.signatureMethod = signatureMethod
        self.init(credentials: credentials, configuration: configuration, clock: clock, nonce: nonce)
    }

    /// Creates a signer with a full configuration.
    ///
    /// - Parameters:
    ///   - credentials: The consumer and, for user context, the token to sign with.
    ///   - configuration: The signature method, `oauth_version` and `realm` options.
    ///   - clock: Where `oauth_timestamp` comes from. The default is the system clock.
    ///   - nonce: Where `oauth_nonce` comes from. The default is a secure random generator.
    public init(
        credentials: OAuth1Credentials,
        configuration: Configuration,
        clock: any WallClock = .system,
        nonce: NonceSource = .secureRandom
    ) {
        self.credentials = credentials
        self.configuration = configuration
        self.clock = clock
        self.nonce = nonce
        // §3.4.2: key = encode(consumer secret) & encode(token secret), the "&" always present.
        var key = ByteWriter(capacity: 128)
        key.appendPercentEncoded(credentials.consumerSecret.revealed)
        key.append(UInt8(ascii: "&"))
        if let tokenSecret = credentials.tokenSecret { key.appendPercentEncoded(tokenSecret.revealed) }
        let symmetricKey = SymmetricKey(data: UnsafeRawBufferPointer(key.bytes))
        self.key = Secret(key.string)
        switch configuration.signatureMethod {
        case .hmacSHA1: keyed = .sha1(HMAC(key: symmetricKey))
        case .hmacSHA256: keyed = .sha256(HMAC(key: symmetricKey))
        case .plaintext: keyed = .plaintext
        }
    }

    /// `OAuth1Signer(consumerKey: …, method: HMAC-SHA1)`, never a secret.
    public var description: String {
        "OAuth1Signer(consumerKey: \(credentials.consumerKey), token: \(credentials.token ?? "nil"), "
            + "method: \(configuration.signatureMethod.rawValue))"
    }

    /// The `Authorization` header value for a request, with a fresh nonce and the clock's timestamp.
    ///
    /// - Parameters:
    ///   - method: The HTTP method, such as `GET`; it is upper-cased.
    ///   - url: The absolute request URL; its query parameters are signed.
    ///   - formParameters: The parameters of an `application/x-www-form-urlencoded` body, decoded
    ///     (plain text). The default is none.
    /// - Returns: `OAuth oauth_consumer_key="…", oauth_nonce="…", oauth_signature="…", …`.
    /// - Throws: ``OAuthError`` when the URL is not absolute http(s), its query is badly encoded, or a
    ///   token is given without its secret.
    public func authorizationHeader(
        method: String, url: URL, formParameters: [(name: String, value: String)] = []
    ) throws(OAuthError) -> String {
        try authorizationHeader(
            method: method, url: url.absoluteString, formParameters: formParameters,
            nonce: nonce.next(), timestamp: Self.timestamp(clock.now))
    }

    /// The `Authorization` header value with an explicit nonce and timestamp, for reproducing a
    /// documented example or another implementation's output.
    ///
    /// - Parameters:
    ///   - method: The HTTP method, such as `GET`; it is upper-cased.
    ///   - url: The absolute request URL as text; its query parameters are signed.
    ///   - formParameters: The decoded parameters of a form-encoded body. The default is none.
    ///   - nonce: The `oauth_nonce` value.
    ///   - timestamp: The `oauth_timestamp` value, seconds since 1970.
    /// - Returns: The header value.
    /// - Throws: ``OAuthError`` as ``authorizationHeader(method:url:formParameters:)`` does.
    public func authorizationHeader(
        method: String, url: String, formParameters: [(name: String, value: String)] = [],
        nonce: String, timestamp: String
    ) throws(OAuthError) -> String {
        let signature = try signature(
            method: method, url: url, formParameters: formParameters, encodedForm: nil, nonce: nonce,
            timestamp: timestamp)
        return header(signature: signature, nonce: nonce, timestamp: timestamp)
    }

    /// The signature base string (§3.4.1), for debugging a "could not authenticate you" reply.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - url: The absolute request URL as text.
    ///   - formParameters: The decoded parameters of a form-encoded body.
    ///   - nonce: The `oauth_nonce` value.
    ///   - timestamp: The `oauth_timestamp` value.
    /// - Returns: The base string, such as `GET&https%3A%2F%2Fapi.twitter.com%2F…`.
    /// - Throws: ``OAuthError`` as ``authorizationHeader(method:url:formParameters:)`` does.
    public func signatureBaseString(
        method: String, url: String, formParameters: [(name: String, value: String)] = [],
        nonce: String, timestamp: String
    ) throws(OAuthError) -> String {
        try baseString(
            method: method, url: url, formParameters: formParameters, encodedForm: nil, nonce: nonce,
            timestamp: timestamp
        ).string
    }

    /// Signs a swift-http-types request in place: sets its `Authorization` header field.
    ///
    /// The URL is the request's scheme, authority and path (with its query). When the request's
    /// `Content-Type` is `application/x-www-form-urlencoded`, the parameters of `body` are signed too
    /// (§3.4.1.3.1); any other body is not part of the signature.
    ///
    /// - Parameters:
    ///   - request: The request to sign; it must have a scheme and an authority.
    ///   - body: The request body, if any.
    /// - Throws: ``OAuthError`` as ``authorizationHeader(method:url:formParameters:)`` does.
    public func sign(_ request: inout HTTPRequest, body: Data? = nil) throws(OAuthError) {
        let url = "\(request.scheme ?? ""):" + "//\(request.authority ?? "")\(request.path ?? "/")"
        var form: ArraySlice<UInt8>?
        if let body, let contentType = request.headerFields[.contentType],
            contentType.lowercased().hasPrefix("application/x-www-form-urlencoded")
        {
            form = ArraySlice(body)
        }
        let nonce = nonce.next()
        let timestamp = Self.timestamp(clock.now)
        let signature = try signature(
            method: request.method.rawValue, url: url, formParameters: [], encodedForm: form, nonce: nonce,
            timestamp: timestamp)
        request.headerFields[.authorization] = header(signature: signature, nonce: nonce, timestamp: timestamp)
    }

    /// A mirror of the public parts only: the signing key and the keyed HMAC state never show in a dump.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: ["credentials": credentials, "configuration": configuration],
            displayStyle: .struct)
    }

    // MARK: - The algorithm

    static func timestamp(_ date: Date) -> String {
        String(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    private func baseString(
        method: String, url: String, formParameters: [(name: String, value: String)],
        encodedForm: ArraySlice<UInt8>?, nonce: String, timestamp: String
    ) throws(OAuthError) -> ByteWriter {
        if (credentials.token == nil) != (credentials.tokenSecret == nil) {
            throw OAuthError(
                .missingTokenSecret, subject: "tokenSecret",
                reason: credentials.token == nil
                    ? "a token secret was given without its token" : "the token was given without its token secret")
        }
        let target = try RequestTarget(url)
        var parameters = ParameterList(capacity: 3 * (target.query.count + (encodedForm?.count ?? 0)) + 512)
        try parameters.addFormEncoded(target.query)
        if let encodedForm { try parameters.addFormEncoded(encodedForm) }
        for (name, value) in formParameters { parameters.add(name: name, value: value) }
        parameters.add(name: "oauth_consumer_key", value: credentials.consumerKey)
        parameters.add(name: "oauth_nonce", value: nonce)
        parameters.add(name: "oauth_signature_method", value: configuration.signatureMethod.rawValue)
        parameters.add(name: "oauth_timestamp", value: timestamp)
        if let token = credentials.token { parameters.add(name: "oauth_token", value: token) }
        if configuration.includesVersion { parameters.add(name: "oauth_version", value: "1.0") }
        parameters.sort()

        var out = ByteWriter(capacity: 3 * (parameters.storage.count + target.baseURI.count + method.utf8.count) + 64)
        for byte in method.utf8 {
            let upper = Self.uppercased(byte)
            if PercentEncoding.isUnreserved(upper) {
                out.append(upper)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(PercentEncoding.hexDigit(upper >> 4))
                out.append(PercentEncoding.hexDigit(upper & 0x0F))
            }
        }
        out.append(UInt8(ascii: "&"))
        target.baseURI.withUnsafeBufferPointer { out.appendPercentEncoded($0) }
        out.append(UInt8(ascii: "&"))
        parameters.appendNormalizedReencoded(to: &out)
        return out
    }

    private func signature(
        method: String, url: String, formParameters: [(name: String, value: String)],
        encodedForm: ArraySlice<UInt8>?, nonce: String, timestamp: String
    ) throws(OAuthError) -> String {
        let base = try baseString(
            method: method, url: url, formParameters: formParameters, encodedForm: encodedForm, nonce: nonce,
            timestamp: timestamp)
        switch keyed {
        case .plaintext:
            return key.revealed  // §3.4.4; the request was still validated above
        case .sha1(var hmac):
            hmac.update(data: UnsafeRawBufferPointer(base.bytes))
            return hmac.finalize().withUnsafeBytes(Self.base64)
        case .sha256(var hmac):
            hmac.update(data: UnsafeRawBufferPointer(base.bytes))
            return hmac.finalize().withUnsafeBytes(Self.base64)
        }
    }

    private func header(signature: String, nonce: String, timestamp: String) -> String {
        var out = ByteWriter(capacity: 512)
        out.append("OAuth ")
        if let realm = configuration.realm {
            Self.field(&out, "realm=\"", realm)
            out.append(", ")
        }
        Self.field(&out, "oauth_consumer_key=\"", credentials.consumerKey)
        Self.field(&out, ", oauth_nonce=\"", nonce)
        Self.field(&out, ", oauth_signature=\"", signature)
        Self.field(&out, ", oauth_signature_method=\"", configuration.signatureMethod.rawValue)
        Self.field(&out, ", oauth_timestamp=\"", timestamp)
        if let token = credentials.token { Self.field(&out, ", oauth_token=\"", token) }
        if configuration.includesVersion { out.append(", oauth_version=\"1.0\"") }
        return out.string
    }

    @inline(__always)
    private static func field(_ out: inout ByteWriter, _ prefix: StaticString, _ value: String) {
        out.append(prefix)
        out.appendPercentEncoded(value)
        out.append(UInt8(ascii: "\""))
    }

    /// Standard base64 (RFC 4648 §4, with padding) of a MAC, written straight into a string.
    private static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let table = alphabet.utf8Start
        return String(unsafeUninitializedCapacity: (bytes.count + 2) / 3 * 4) { out in
            var written = 0
            var index = 0
            while index < bytes.count {
                let b0 = UInt32(bytes[index])
                let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
                let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
                let triple = b0 << 16 | b1 << 8 | b2
                out[written] = table[Int(triple >> 18 & 63)]
                out[written + 1] = table[Int(triple >> 12 & 63)]
                out[written + 2] = index + 1 < bytes.count ? table[Int(triple >> 6 & 63)] : UInt8(ascii: "=")
                out[written + 3] = index + 2 < bytes.count ? table[Int(triple & 63)] : UInt8(ascii: "=")
                written += 4
                index += 3
            }
            return written
        }
    }

    @inline(__always)
    private static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte & ~0x20 : byte
    }
}
