import Foundation
import OAuthSigning
import Testing

/// Compares our signatures with oauthlib's (an independent implementation) on 400 random requests:
/// reserved and non-ASCII characters, repeated keys, query plus form parameters, '+' and '%20', ports,
/// upper-case hosts and schemes. The data is generated offline by `Resources/generate_oauthlib_cases.py`.
@Suite("Differential against oauthlib")
struct OAuthlibDifferentialTests {
    struct Case: Decodable {
        var method: String
        var url: String
        var form: [[String]]
        var consumerKey: String
        var consumerSecret: String
        var token: String?
        var tokenSecret: String?
        var nonce: String
        var timestamp: String
        var signature: String
    }

    struct File: Decodable {
        var generator: String
        var cases: [Case]
    }

    @Test("every oauthlib signature is reproduced exactly")
    func matchesOAuthlib() throws {
        let url = try #require(Bundle.module.url(forResource: "Resources/oauthlib_cases", withExtension: "json"))
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        #expect(file.cases.count >= 300)
        for testCase in file.cases {
            let credentials = OAuth1Credentials(
                consumerKey: testCase.consumerKey, consumerSecret: Secret(testCase.consumerSecret),
                token: testCase.token, tokenSecret: testCase.tokenSecret.map(Secret.init))
            let header = try OAuth1Signer(credentials: credentials).authorizationHeader(
                method: testCase.method, url: testCase.url,
                formParameters: testCase.form.map { (name: $0[0], value: $0[1]) }, nonce: testCase.nonce,
                timestamp: testCase.timestamp)
            let expected = "oauth_signature=\"\(PercentEncoding.encode(testCase.signature))\""
            #expect(header.contains(expected), "\(testCase.method) \(testCase.url) form \(testCase.form)")
        }
    }
}
