import Foundation
import OAuthSigning
import Testing

/// Invariant 4: secrets never appear in a description, a debug description, a dump or an error.
@Suite("Secrets stay redacted")
struct SecretRedactionTests {
    static let consumerSecret = "CONSUMER-SECRET-kAcSOqF21Fu85e7"
    static let tokenSecret = "TOKEN-SECRET-LswwdoUaIvS8ltyTt5"
    static let bearer = "BEARER-AAAAAAAAAAAAAAAAAAAAA%2Fsecret"

    private static func renderings(of value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), String(reflecting: value), dumped, "\(value)"]
    }

    private static func expectNoSecret(in texts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for text in texts {
            for secret in [consumerSecret, tokenSecret, bearer] {
                #expect(!text.contains(secret), "secret leaked in: \(text)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("Secret, credentials and the signer show <redacted> in description, debugDescription and dump")
    func valuesAreRedacted() {
        let credentials = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret(Self.consumerSecret), token: "tk",
            tokenSecret: Secret(Self.tokenSecret))
        let bearer = BearerCredentials(token: Secret(Self.bearer))
        let signer = OAuth1Signer(credentials: credentials)
        for value in [credentials.consumerSecret, bearer.token] as [Any] + [credentials, bearer, signer] {
            let texts = Self.renderings(of: value)
            Self.expectNoSecret(in: texts)
            #expect(texts.allSatisfy { $0.contains("redacted") || $0.contains("OAuth1Signer") })
        }
        #expect(String(describing: Secret("x")) == "<redacted>")
        #expect(Secret("same") == Secret("same") && Secret("same") != Secret("other"))
    }

    @Test("errors raised while signing with secrets never contain them")
    func errorsAreRedacted() {
        let signer = OAuth1Signer(
            credentials: OAuth1Credentials(
                consumerKey: "ck", consumerSecret: Secret(Self.consumerSecret), token: "tk", tokenSecret: nil))
        for url in ["https://example.com/", "no-scheme", "https://example.com/?q=%zz"] {
            do {
                _ = try signer.authorizationHeader(method: "GET", url: url, nonce: "n", timestamp: "1")
                Issue.record("expected an error for \(url)")
            } catch {
                Self.expectNoSecret(in: Self.renderings(of: error) + [error.localizedDescription])
            }
        }
    }
}
