import Foundation
import HarvestTesting
import OAuthSigning
import Testing

/// Parameter collection, normalisation and base string URI rules at their edges (RFC 5849 §3.4.1).
@Suite("OAuth signing edge cases")
struct EdgeCaseTests {
    static let credentials = OAuth1Credentials(
        consumerKey: "key", consumerSecret: Secret("consumer-secret"), token: "token",
        tokenSecret: Secret("token-secret"))

    private static func base(_ url: String, method: String = "GET", form: [(name: String, value: String)] = [])
        throws -> String
    {
        var configuration = OAuth1Signer.Configuration()
        configuration.includesVersion = false
        return try OAuth1Signer(credentials: credentials, configuration: configuration).signatureBaseString(
            method: method, url: url, formParameters: form, nonce: "n", timestamp: "1")
    }

    private static let oauthTail =
        "oauth_consumer_key%3Dkey%26oauth_nonce%3Dn%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1"
        + "%26oauth_token%3Dtoken"

    @Test("scheme and host are lower-cased, default ports dropped, other ports kept (§3.4.1.2)")
    func baseStringURI() throws {
        #expect(
            try Self.base("HTTPS://API.Twitter.COM/1.1/x.json").hasPrefix(
                "GET&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fx.json&"))
        #expect(try Self.base("https://example.com:443/a").hasPrefix("GET&https%3A%2F%2Fexample.com%2Fa&"))
        #expect(try Self.base("http://example.com:80/a").hasPrefix("GET&http%3A%2F%2Fexample.com%2Fa&"))
        #expect(try Self.base("http://example.com:443/a").hasPrefix("GET&http%3A%2F%2Fexample.com%3A443%2Fa&"))
        #expect(try Self.base("https://example.com:8443/a").hasPrefix("GET&https%3A%2F%2Fexample.com%3A8443%2Fa&"))
        #expect(try Self.base("https://example.com").hasPrefix("GET&https%3A%2F%2Fexample.com%2F&"))
        // The path keeps its case; the query and fragment are not part of the URI.
        #expect(
            try Self.base("https://example.com/Path/To?q=1#frag").hasPrefix(
                "GET&https%3A%2F%2Fexample.com%2FPath%2FTo&"))
    }

    @Test("the method is upper-cased")
    func methodCase() throws {
        #expect(try Self.base("https://example.com/", method: "post").hasPrefix("POST&"))
    }

    @Test("'+' and '%20' in a query both mean a space and sign as %2520")
    func plusAndPercent20() throws {
        let plus = try Self.base("https://example.com/?q=a+b")
        let percent = try Self.base("https://example.com/?q=a%20b")
        #expect(plus == percent)
        #expect(plus.hasSuffix("%26q%3Da%2520b"))
        // A literal plus sign is %2B in the query and %252B in the base string.
        #expect(try Self.base("https://example.com/?q=a%2Bb").hasSuffix("%26q%3Da%252Bb"))
    }

    @Test("repeated names are kept and sorted by value; empty values are kept")
    func repeatedAndEmpty() throws {
        let base = try Self.base("https://example.com/?b=2&a=z&a=&b=1&a=y&c")
        #expect(base.hasSuffix("&a%3D%26a%3Dy%26a%3Dz%26b%3D1%26b%3D2%26c%3D%26" + Self.oauthTail))
    }

    @Test("names sort by their encoded bytes: upper case before lower case, '%' escapes by their hex")
    func sortOrder() throws {
        let base = try Self.base("https://example.com/?a=1&B=2&%C3%A9=3&_=4&~=5")
        // Encoded names in byte order: "%C3%A9" (0x25 first), B, _, a, oauth_…, ~ last.
        #expect(base.hasSuffix("&%25C3%25A9%3D3%26B%3D2%26_%3D4%26a%3D1%26" + Self.oauthTail + "%26~%3D5"))
    }

    @Test("reserved and non-ASCII characters in form parameters are encoded as UTF-8 with upper-case hex")
    func reservedAndUnicode() throws {
        let base = try Self.base("https://example.com/", method: "POST", form: [("text", "Grüße & 🙂!*'()"), ("x", "")])
        #expect(
            base.contains(
                "%26text%3DGr%25C3%25BC%25C3%259Fe%2520%2526%2520%25F0%259F%2599%2582%2521%252A%2527%2528%2529%26x%3D"))
    }

    @Test("an oauth_signature in the query is not signed (§3.4.1.3.1)")
    func signatureExcluded() throws {
        #expect(
            try Self.base("https://example.com/?oauth_signature=abc&q=1") == (try Self.base("https://example.com/?q=1"))
        )
    }

    @Test("consumer-only credentials sign with an empty token secret and send no token")
    func twoLegged() throws {
        let signer = OAuth1Signer(
            credentials: OAuth1Credentials(consumerKey: "dpf43f3p2l4k3l03", consumerSecret: Secret("kd94hf93k423kf44")),
            signatureMethod: .plaintext)
        let header = try signer.authorizationHeader(
            method: "GET", url: "https://example.com/", nonce: "n", timestamp: "1")
        #expect(header.contains("oauth_signature=\"kd94hf93k423kf44%26\""))
        #expect(!header.contains("oauth_token"))
    }

    @Test("URLs without scheme or host, or with another scheme, are typed errors naming the URL")
    func invalidURLs() {
        let signer = OAuth1Signer(credentials: Self.credentials)
        for url in [
            "api.twitter.com/1.1/search", "https:/api.twitter.com", "https://", "ftp://example.com/", "https://h:x/",
        ] {
            #expect {
                try signer.authorizationHeader(method: "GET", url: url, nonce: "n", timestamp: "1")
            } throws: { error in
                let error = error as? OAuthError
                return error?.code == .invalidURL && error?.description.contains(url) == true
            }
        }
    }

    @Test("a '%' without two hex digits in the query is a typed error")
    func badPercentEncoding() throws {
        let signer = OAuth1Signer(credentials: Self.credentials)
        #expect(throws: OAuthError.self) {
            try signer.authorizationHeader(
                method: "GET", url: "https://example.com/?q=100%", nonce: "n", timestamp: "1")
        }
        #expect(throws: OAuthError.self) { try PercentEncoding.formDecode("a%G1") }
        #expect(try PercentEncoding.formDecode("r%20b+c%2B") == "r b c+")
    }

    @Test("a token without its secret is refused")
    func tokenWithoutSecret() {
        let signer = OAuth1Signer(
            credentials: OAuth1Credentials(consumerKey: "k", consumerSecret: Secret("s"), token: "t", tokenSecret: nil))
        #expect {
            try signer.authorizationHeader(method: "GET", url: "https://example.com/", nonce: "n", timestamp: "1")
        } throws: { ($0 as? OAuthError)?.code == .missingTokenSecret }
    }

    @Test("the timestamp comes from the injected clock, the nonce from the nonce source")
    func injectedClockAndNonce() throws {
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_700_000_000.9))
        let signer = OAuth1Signer(credentials: Self.credentials, clock: clock, nonce: .fixed("pinned"))
        let url = try #require(URL(string: "https://example.com/"))
        let header = try signer.authorizationHeader(method: "GET", url: url)
        #expect(header.contains("oauth_timestamp=\"1700000000\""))
        #expect(header.contains("oauth_nonce=\"pinned\""))
        clock.advance(by: .seconds(60))
        #expect(try signer.authorizationHeader(method: "GET", url: url).contains("oauth_timestamp=\"1700000060\""))
    }

    @Test("secure random nonces are 32 hex digits and do not repeat")
    func secureNonces() {
        let source = NonceSource.secureRandom
        let nonces = (0..<2000).map { _ in source.next() }
        #expect(Set(nonces).count == nonces.count)
        #expect(nonces.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }
}
